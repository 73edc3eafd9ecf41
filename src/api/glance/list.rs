//! `GET /v2/images` as Glance 33 answers it, over the images a caller sees in one cloud:
//! the query's parameters read as Glance's `RequestDeserializer.index` and its database
//! layer read them (the same 400s, word for word), then filter, order, marker and limit.
//! Pure functions over the catalog's image details, so each rule is tested here.
use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::catalog::images::ImageDetail;
use crate::catalog::{ImageVisibility, MemberStatus};

/// Glance's `limit_param_default` and `api_limit_max`.
pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 1000;

/// What Glance sorts by (its `_available_sort_keys`, in its order: the 400 lists them so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Status,
    ContainerFormat,
    DiskFormat,
    Size,
    Id,
    CreatedAt,
    UpdatedAt,
}

impl SortKey {
    const ALL: [(SortKey, &'static str); 8] = [
        (SortKey::Name, "name"),
        (SortKey::Status, "status"),
        (SortKey::ContainerFormat, "container_format"),
        (SortKey::DiskFormat, "disk_format"),
        (SortKey::Size, "size"),
        (SortKey::Id, "id"),
        (SortKey::CreatedAt, "created_at"),
        (SortKey::UpdatedAt, "updated_at"),
    ];

    fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == raw)
            .map(|(key, _)| *key)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(_, n)| *n).collect();
                format!(
                    "Invalid sort key: {raw}. It must be one of the following: {}.",
                    names.join(", ")
                )
            })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Asc,
    Desc,
}

impl Dir {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "asc" => Ok(Dir::Asc),
            "desc" => Ok(Dir::Desc),
            _ => Err(format!("Invalid sort direction: {raw}")),
        }
    }
}

/// The `visibility` parameter: absent (Glance's default listing), `all`, or one value (an
/// empty one matches nothing, as in Glance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VisibilityFilter {
    Default,
    All,
    Only(Option<ImageVisibility>),
}

/// A comparison of `created_at` / `updated_at` (`gt:`, `gte:`, `lt:`, `lte:`, `eq:`, `neq:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// The image fields Glance filters on by equality or `in:` (`name=in:"a","b"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextField {
    Name,
    Id,
    Status,
    ContainerFormat,
    DiskFormat,
}

/// Numeric image fields, compared with an integer (`size_min`, `min_ram=512`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NumberField {
    Size,
    VirtualSize,
    MinDisk,
    MinRam,
}

impl NumberField {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "size" => Some(Self::Size),
            "virtual_size" => Some(Self::VirtualSize),
            "min_disk" => Some(Self::MinDisk),
            "min_ram" => Some(Self::MinRam),
            _ => None,
        }
    }
}

/// Nullable string fields Glance compares by plain equality.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OptionalText {
    Owner,
    Checksum,
    OsHashAlgo,
    OsHashValue,
}

/// One condition an image must meet.
#[derive(Clone, Debug, PartialEq)]
enum Condition {
    /// The field is one of these (`eq` is a one-element list).
    Text(TextField, Vec<String>),
    Optional(OptionalText, String),
    /// Equal to a number; `None`: a value that is not one, which nothing equals.
    NumberEq(NumberField, Option<i64>),
    AtLeast(NumberField, i64),
    AtMost(NumberField, i64),
    Time {
        updated: bool,
        op: TimeOp,
        at: DateTime<Utc>,
    },
    Protected(bool),
    Tag(String),
    Property(String, String),
}

/// A parsed `GET /v2/images` query.
#[derive(Clone, Debug, PartialEq)]
pub struct ListQuery {
    pub limit: usize,
    pub marker: Option<String>,
    /// The keys asked for, then `created_at` and `id` where missing (Glance's tie-breakers).
    pub sort: Vec<(SortKey, Dir)>,
    /// Which shared images of other projects the listing keeps, by the status of the
    /// caller's membership (`None`: `all`).
    pub member_status: Option<MemberStatus>,
    pub visibility: VisibilityFilter,
    pub os_hidden: bool,
    conditions: Vec<Condition>,
}

/// A 400's explanation.
pub type BadRequest = String;

/// The parameters that are not filters; everything else is one.
const NOT_FILTERS: [&str; 8] = [
    "limit",
    "marker",
    "member_status",
    "tag",
    "sort",
    "sort_key",
    "sort_dir",
    // Glance's controller overwrites it with `deleted=false`.
    "deleted",
];

impl ListQuery {
    /// Reads the decoded query pairs in order. A single-valued parameter given twice counts
    /// once: `limit`, `marker` and `member_status` by their first value (Glance pops them),
    /// filters by their last (Glance reads them into a dict); `tag` repeats, each must hold.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, BadRequest> {
        let first = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let member_status = match first("member_status").map(String::as_str) {
            None => Some(MemberStatus::Accepted),
            Some("all") => None,
            Some(raw) => {
                Some(MemberStatus::parse(raw).ok_or_else(|| format!("Invalid status: {raw}"))?)
            }
        };
        let filters = last_values(pairs);
        let filter = |key: &str| filters.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let visibility = match filter("visibility") {
            None => VisibilityFilter::Default,
            Some("all") => VisibilityFilter::All,
            Some("") => VisibilityFilter::Only(None),
            Some(raw) => VisibilityFilter::Only(Some(
                visibility_named(raw).ok_or_else(|| format!("Invalid visibility value: {raw}"))?,
            )),
        };
        if filter("changes-since").is_some_and(|v| !v.is_empty()) {
            return Err("The \"changes-since\" filter is no longer available on v2.".into());
        }
        let marker = first("marker").cloned();
        let limit = match first("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => parse_limit(raw)?,
        };
        let mut conditions: Vec<Condition> = pairs
            .iter()
            .filter(|(k, _)| k == "tag")
            .map(|(_, t)| Condition::Tag(t.trim().into()))
            .collect();
        let sort = sorting(pairs)?;
        let os_hidden = match filter("os_hidden").map(str::to_lowercase).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "Invalid value '{other}' for 'os_hidden' filter. Valid values are 'true' or 'false'."
                ));
            }
        };
        for (key, value) in filters {
            if let Some(condition) = condition(key, value)? {
                conditions.push(condition);
            }
        }
        Ok(Self {
            limit,
            marker,
            sort,
            member_status,
            visibility,
            os_hidden,
            conditions,
        })
    }
}

/// The filter pairs, each key once with its last value, in the order keys first appear.
fn last_values(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (key, value) in pairs {
        if NOT_FILTERS.contains(&key.as_str()) {
            continue;
        }
        match out.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out
}

fn visibility_named(raw: &str) -> Option<ImageVisibility> {
    match raw {
        "public" => Some(ImageVisibility::Public),
        "community" => Some(ImageVisibility::Community),
        "shared" => Some(ImageVisibility::Shared),
        "private" => Some(ImageVisibility::Private),
        _ => None,
    }
}

/// An integer as Python's `int()` reads one (surrounding blanks, a sign, `_` between digits).
fn python_int(raw: &str) -> Option<i64> {
    let s = raw.trim();
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !well_formed {
        return None;
    }
    s.replace('_', "").parse().ok()
}

fn parse_limit(raw: &str) -> Result<usize, BadRequest> {
    let limit = python_int(raw).ok_or("limit param must be an integer")?;
    if limit < 0 {
        return Err("limit param must be positive".into());
    }
    Ok(usize::try_from(limit).unwrap_or(usize::MAX).min(MAX_LIMIT))
}

/// `sort=key:dir,…` or the classic repeated `sort_key` / `sort_dir`, never both; then the
/// tie-breakers `created_at` and `id` in the default direction (the one direction given, if
/// only one was, else `desc`).
fn sorting(pairs: &[(String, String)]) -> Result<Vec<(SortKey, Dir)>, BadRequest> {
    let values = |key: &'static str| {
        pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.trim())
    };
    let has = |key: &str| pairs.iter().any(|(k, _)| k == key);
    let mut keys = Vec::new();
    let mut dirs = Vec::new();
    if let Some((_, sort)) = pairs.iter().find(|(k, _)| k == "sort") {
        if has("sort_key") || has("sort_dir") {
            return Err("Old and new sorting syntax cannot be combined".into());
        }
        for item in sort.trim().split(',') {
            let (key, dir) = item.split_once(':').unwrap_or((item, ""));
            let dir = if dir.is_empty() { "desc" } else { dir };
            keys.push(SortKey::parse(key.trim())?);
            dirs.push(Dir::parse(dir.trim())?);
        }
    } else {
        for key in values("sort_key") {
            keys.push(SortKey::parse(key)?);
        }
        for dir in values("sort_dir") {
            dirs.push(Dir::parse(dir)?);
        }
        if dirs.len() > 1 && dirs.len() != keys.len() {
            return Err("Number of sort dirs does not match the number of sort keys".into());
        }
    }
    if keys.is_empty() {
        keys.push(SortKey::CreatedAt);
    }
    let default = match dirs.as_slice() {
        [one] => *one,
        _ => Dir::Desc,
    };
    let mut sort: Vec<(SortKey, Dir)> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| (*key, dirs.get(i).copied().unwrap_or(default)))
        .collect();
    for tie_breaker in [SortKey::CreatedAt, SortKey::Id] {
        if !keys.contains(&tie_breaker) {
            sort.push((tie_breaker, default));
        }
    }
    Ok(sort)
}

/// The condition a filter parameter sets (`None`: one that selects nothing more).
fn condition(key: &str, value: &str) -> Result<Option<Condition>, BadRequest> {
    let text = |field| text_condition(field, value).map(Some);
    match key {
        "visibility" | "os_hidden" | "changes-since" => Ok(None),
        "name" => text(TextField::Name),
        "id" => text(TextField::Id),
        "status" => text(TextField::Status),
        "container_format" => text(TextField::ContainerFormat),
        "disk_format" => text(TextField::DiskFormat),
        "created_at" | "updated_at" => time_condition(key, value, key == "updated_at").map(Some),
        "protected" => match value {
            "true" => Ok(Some(Condition::Protected(true))),
            "false" => Ok(Some(Condition::Protected(false))),
            other => Err(format!(
                "Invalid value '{other}' for 'protected' filter. Valid values are 'true' or 'false'."
            )),
        },
        "owner" => Ok(Some(Condition::Optional(OptionalText::Owner, value.into()))),
        "checksum" => Ok(Some(Condition::Optional(
            OptionalText::Checksum,
            value.into(),
        ))),
        "os_hash_algo" => Ok(Some(Condition::Optional(
            OptionalText::OsHashAlgo,
            value.into(),
        ))),
        "os_hash_value" => Ok(Some(Condition::Optional(
            OptionalText::OsHashValue,
            value.into(),
        ))),
        _ => {
            if let Some(field) = NumberField::parse(key) {
                return Ok(Some(Condition::NumberEq(field, python_int(value))));
            }
            if let Some((field, at_least)) = range_key(key) {
                let bound = python_int(value)
                    .ok_or("Unable to filter on a range with a non-numeric value.")?;
                let field = NumberField::parse(field).ok_or_else(|| {
                    format!("Unable to filter on a range of '{field}': it is not a number.")
                })?;
                return Ok(Some(if at_least {
                    Condition::AtLeast(field, bound)
                } else {
                    Condition::AtMost(field, bound)
                }));
            }
            Ok(Some(Condition::Property(key.into(), value.into())))
        }
    }
}

/// `size_min` → (`size`, true), `min_ram_max` → (`min_ram`, false).
fn range_key(key: &str) -> Option<(&str, bool)> {
    key.strip_suffix("_min")
        .map(|field| (field, true))
        .or_else(|| key.strip_suffix("_max").map(|field| (field, false)))
}

fn text_condition(field: TextField, raw: &str) -> Result<Condition, BadRequest> {
    let (op, value) = split_filter_op(raw);
    match op {
        "in" => Ok(Condition::Text(field, split_quoted_list(value)?)),
        "eq" => Ok(Condition::Text(field, vec![value.to_string()])),
        other => Err(format!("Unable to filter by unknown operator '{other}'.")),
    }
}

fn time_condition(key: &str, raw: &str, updated: bool) -> Result<Condition, BadRequest> {
    let (op, value) = split_filter_op(raw);
    let at = parse_isotime(value).ok_or_else(|| {
        format!("Bad \"{key}\" query filter format. Use ISO 8601 DateTime notation.")
    })?;
    let op = match op {
        "gt" => TimeOp::Gt,
        "gte" => TimeOp::Gte,
        "lt" => TimeOp::Lt,
        "lte" => TimeOp::Lte,
        "eq" => TimeOp::Eq,
        "neq" => TimeOp::Neq,
        _ => return Err("Unable to filter on a unknown operator.".into()),
    };
    Ok(Condition::Time { updated, op, at })
}

/// Glance's `split_filter_op`: `op:value`, or `eq` when there is no colon or the whole
/// expression is a timestamp (`2024-01-01T00:00:00Z` has colons of its own).
fn split_filter_op(expression: &str) -> (&str, &str) {
    match expression.split_once(':') {
        Some(_) if parse_isotime(expression).is_some() => ("eq", expression),
        Some((op, value)) => (op, value),
        None => ("eq", expression),
    }
}

/// An ISO 8601 timestamp as oslo's `parse_isotime` reads it: a date, optionally a time
/// (with fractions), optionally a zone; a time without a zone is UTC.
fn parse_isotime(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y%m%dT%H%M%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(raw, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t.and_utc());
        }
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Glance's `split_filter_value_for_quotes`: a comma-separated list whose items may be
/// double-quoted (then holding commas, and `\"`), after its `validate_quotes` checks.
fn split_quoted_list(value: &str) -> Result<Vec<String>, BadRequest> {
    validate_quotes(value)?;
    let chars: Vec<char> = value.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '"' {
            // A quoted item runs to the next unescaped quote; an optional comma follows.
            let mut item = String::new();
            let mut j = i + 1;
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' && j + 1 < chars.len() {
                    item.push(chars[j]);
                    j += 1;
                }
                item.push(chars[j]);
                j += 1;
            }
            items.push(item);
            i = j + 1;
            if chars.get(i) == Some(&',') {
                i += 1;
            }
        } else if chars[i] == ',' {
            items.push(String::new());
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && chars[i] != ',' {
                i += 1;
            }
            items.push(chars[start..i].iter().collect());
            if i < chars.len() {
                i += 1;
            }
        }
    }
    Ok(items)
}

fn validate_quotes(value: &str) -> Result<(), BadRequest> {
    let chars: Vec<char> = value.chars().collect();
    let mut opening = true;
    for (i, c) in chars.iter().enumerate() {
        if *c != '"' || (i > 0 && chars[i - 1] == '\\') {
            continue;
        }
        if opening && i > 0 && chars[i - 1] != ',' {
            return Err(format!(
                "Invalid filter value {value}. There is no comma before opening quotation mark."
            ));
        }
        if !opening && i + 1 != chars.len() && chars[i + 1] != ',' {
            return Err(format!(
                "Invalid filter value {value}. There is no comma after closing quotation mark."
            ));
        }
        opening = !opening;
    }
    if !opening {
        return Err(format!(
            "Invalid filter value {value}. The quote is not closed."
        ));
    }
    Ok(())
}

/// Whose listing this is: staff sees a cloud as Glance's admin does; a tenant's token as
/// the tenants' projects do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    Staff,
    /// The project ids of the tenants the listing is for.
    Projects(Vec<String>),
}

impl Viewer {
    fn owns(&self, image: &ImageDetail) -> bool {
        match self {
            Viewer::Staff => false,
            Viewer::Projects(ids) => image.owner.as_ref().is_some_and(|o| ids.contains(o)),
        }
    }
}

/// The image's min_disk as Glance has it: GB (the catalog keeps MiB).
pub fn min_disk_gb(image: &ImageDetail) -> i64 {
    image.min_disk / 1024
}

impl NumberField {
    fn of(self, image: &ImageDetail) -> Option<i64> {
        match self {
            NumberField::Size => image.size,
            NumberField::VirtualSize => image.virtual_size,
            NumberField::MinDisk => Some(min_disk_gb(image)),
            NumberField::MinRam => Some(image.min_ram),
        }
    }
}

/// The name as Glance shows it. The catalog names an image Glance left unnamed by its
/// `description` property, else by its id (the Waldur face needs a name): such a name is
/// Glance's null here. (An image really named like its description shows as unnamed too.)
pub fn glance_name(image: &ImageDetail) -> Option<&str> {
    let name = image.name.as_str();
    let stand_in = name.is_empty()
        || name == image.backend_id
        || image.properties.get("description").map(String::as_str) == Some(name);
    (!stand_in).then_some(name)
}

impl Condition {
    fn holds(&self, image: &ImageDetail) -> bool {
        match self {
            Condition::Text(field, values) => {
                let actual = match field {
                    TextField::Name => glance_name(image),
                    TextField::Id => Some(image.backend_id.as_str()),
                    TextField::Status => Some(image.status.as_str()),
                    TextField::ContainerFormat => image.container_format.as_deref(),
                    TextField::DiskFormat => image.disk_format.as_deref(),
                };
                actual.is_some_and(|a| values.iter().any(|v| v == a))
            }
            Condition::Optional(field, value) => {
                let actual = match field {
                    OptionalText::Owner => &image.owner,
                    OptionalText::Checksum => &image.checksum,
                    OptionalText::OsHashAlgo => &image.os_hash_algo,
                    OptionalText::OsHashValue => &image.os_hash_value,
                };
                actual.as_deref() == Some(value.as_str())
            }
            Condition::NumberEq(field, value) => value.is_some() && field.of(image) == *value,
            Condition::AtLeast(field, bound) => field.of(image).is_some_and(|v| v >= *bound),
            Condition::AtMost(field, bound) => field.of(image).is_some_and(|v| v <= *bound),
            Condition::Time { updated, op, at } => {
                let value = if *updated {
                    image.backend_updated_at
                } else {
                    image.backend_created_at
                };
                // SQL's comparisons with NULL: none holds, not even `neq`.
                value.is_some_and(|v| match op {
                    TimeOp::Gt => v > *at,
                    TimeOp::Gte => v >= *at,
                    TimeOp::Lt => v < *at,
                    TimeOp::Lte => v <= *at,
                    TimeOp::Eq => v == *at,
                    TimeOp::Neq => v != *at,
                })
            }
            Condition::Protected(p) => image.protected == *p,
            Condition::Tag(tag) => image.tags.contains(tag),
            Condition::Property(key, value) => image.properties.get(key) == Some(value),
        }
    }
}

impl ListQuery {
    /// Whether Glance lists the image for `viewer` (all of `images` being visible to it).
    fn selects(&self, image: &ImageDetail, viewer: &Viewer) -> bool {
        let own = viewer.owns(image);
        // Another project's shared image is listed to a project through its membership, by
        // the membership's status; to a viewer of several projects when one of their
        // memberships has it. Glance's admin (staff) lists images whatever their members
        // (its `_select_images_query` applies `member_status` to regular users only).
        let membership = matches!(viewer, Viewer::Projects(_))
            && image.visibility == ImageVisibility::Shared
            && !own;
        if membership
            && self
                .member_status
                .is_some_and(|wanted| !image.memberships.contains(&wanted))
        {
            return false;
        }
        let visible = match &self.visibility {
            VisibilityFilter::All => true,
            VisibilityFilter::Only(v) => *v == Some(image.visibility),
            // Without a visibility, community images are listed only to their owner.
            VisibilityFilter::Default => image.visibility != ImageVisibility::Community || own,
        };
        // Glance lists no killed image (the catalog keeps none deleted).
        visible
            && image.status != "killed"
            && image.os_hidden == self.os_hidden
            && self.conditions.iter().all(|c| c.holds(image))
    }
}

/// A sortable field's value; `None` sorts first ascending, last descending (as MySQL and
/// SQLite order NULLs, Glance's usual databases).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortValue<'a> {
    Text(Option<&'a str>),
    Number(Option<i64>),
    Time(Option<DateTime<Utc>>),
}

fn sort_value(image: &ImageDetail, key: SortKey) -> SortValue<'_> {
    match key {
        SortKey::Name => SortValue::Text(glance_name(image)),
        SortKey::Status => SortValue::Text(Some(&image.status)),
        SortKey::ContainerFormat => SortValue::Text(image.container_format.as_deref()),
        SortKey::DiskFormat => SortValue::Text(image.disk_format.as_deref()),
        SortKey::Size => SortValue::Number(image.size),
        SortKey::Id => SortValue::Text(Some(&image.backend_id)),
        SortKey::CreatedAt => SortValue::Time(image.backend_created_at),
        SortKey::UpdatedAt => SortValue::Time(image.backend_updated_at),
    }
}

fn compare(a: &ImageDetail, b: &ImageDetail, sort: &[(SortKey, Dir)]) -> Ordering {
    for (key, dir) in sort {
        let order = sort_value(a, *key).cmp(&sort_value(b, *key));
        let order = match dir {
            Dir::Asc => order,
            Dir::Desc => order.reverse(),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// One page of a listing, and whether Glance would link a next page.
#[derive(Debug)]
pub struct Page<'a> {
    pub images: Vec<&'a ImageDetail>,
    /// The marker of the next page: the last image's id when the page is full.
    pub next_marker: Option<&'a str>,
}

/// The page `query` asks for among `images` (every image of the cloud `viewer` sees). The
/// marker must be one of them (whatever the filters), else Glance's 400.
pub fn select<'a>(
    images: &'a [ImageDetail],
    query: &ListQuery,
    viewer: &Viewer,
) -> Result<Page<'a>, BadRequest> {
    let marker = match &query.marker {
        None => None,
        Some(id) => Some(
            images
                .iter()
                .find(|i| &i.backend_id == id)
                .ok_or_else(|| format!("No image found with ID {id}"))?,
        ),
    };
    let mut selected: Vec<&ImageDetail> = images
        .iter()
        .filter(|i| query.selects(i, viewer))
        .filter(|i| marker.is_none_or(|m| compare(i, m, &query.sort) == Ordering::Greater))
        .collect();
    selected.sort_by(|a, b| compare(a, b, &query.sort));
    selected.truncate(query.limit);
    let next_marker = match selected.last() {
        Some(last) if selected.len() == query.limit => Some(last.backend_id.as_str()),
        _ => None,
    };
    Ok(Page {
        images: selected,
        next_marker,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    fn parse(query: &str) -> Result<ListQuery, BadRequest> {
        ListQuery::parse(&pairs(query))
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn image(id: &str, name: &str, visibility: ImageVisibility, owner: &str) -> ImageDetail {
        ImageDetail {
            uuid: uuid::Uuid::new_v4(),
            cloud_uuid: uuid::Uuid::nil(),
            name: name.into(),
            backend_id: id.into(),
            min_disk: 0,
            min_ram: 0,
            backend_created_at: Some(at("2026-01-01T00:00:00Z")),
            backend_updated_at: Some(at("2026-01-02T00:00:00Z")),
            hw_rescue_device: String::new(),
            hw_rescue_bus: String::new(),
            status: "active".into(),
            visibility,
            size: None,
            virtual_size: None,
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            owner: Some(owner.into()),
            protected: false,
            os_hidden: false,
            tags: vec![],
            properties: BTreeMap::new(),
            tenants_count: 1,
            memberships: vec![MemberStatus::Accepted],
        }
    }

    fn ids(page: &Page) -> Vec<String> {
        page.images.iter().map(|i| i.backend_id.clone()).collect()
    }

    fn list(images: &[ImageDetail], query: &str, viewer: &Viewer) -> Vec<String> {
        ids(&select(images, &parse(query).unwrap(), viewer).unwrap())
    }

    #[test]
    fn stand_in_names_are_glances_null() {
        let mut img = image("id-1", "alpha", ImageVisibility::Public, "p");
        assert_eq!(glance_name(&img), Some("alpha"));
        img.name = "id-1".into();
        assert_eq!(glance_name(&img), None);
        img.properties
            .insert("description".into(), "a snapshot".into());
        img.name = "a snapshot".into();
        assert_eq!(glance_name(&img), None);
        img.name = String::new();
        assert_eq!(glance_name(&img), None);
    }

    #[test]
    fn bad_values_get_glances_messages() {
        let cases = [
            ("limit=x", "limit param must be an integer"),
            ("limit=-1", "limit param must be positive"),
            (
                "sort_key=foo",
                "Invalid sort key: foo. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.",
            ),
            ("sort_dir=up", "Invalid sort direction: up"),
            (
                "sort=name&sort_key=name",
                "Old and new sorting syntax cannot be combined",
            ),
            ("sort=name:up", "Invalid sort direction: up"),
            (
                "sort_key=name&sort_key=size&sort_key=id&sort_dir=asc&sort_dir=desc",
                "Number of sort dirs does not match the number of sort keys",
            ),
            ("member_status=x", "Invalid status: x"),
            ("visibility=x", "Invalid visibility value: x"),
            (
                "os_hidden=x",
                "Invalid value 'x' for 'os_hidden' filter. Valid values are 'true' or 'false'.",
            ),
            (
                "protected=True",
                "Invalid value 'True' for 'protected' filter. Valid values are 'true' or 'false'.",
            ),
            (
                "name=in:\"a",
                "Invalid filter value \"a. The quote is not closed.",
            ),
            (
                "name=in:a\"b\"",
                "Invalid filter value a\"b\". There is no comma before opening quotation mark.",
            ),
            (
                "name=in:\"a\"b",
                "Invalid filter value \"a\"b. There is no comma after closing quotation mark.",
            ),
            ("name=gt:a", "Unable to filter by unknown operator 'gt'."),
            (
                "created_at=gt:yesterday",
                "Bad \"created_at\" query filter format. Use ISO 8601 DateTime notation.",
            ),
            (
                "updated_at=foo:2020-01-01T00:00:00Z",
                "Unable to filter on a unknown operator.",
            ),
            (
                "size_min=x",
                "Unable to filter on a range with a non-numeric value.",
            ),
            (
                "changes-since=2020-01-01",
                "The \"changes-since\" filter is no longer available on v2.",
            ),
        ];
        for (query, message) in cases {
            assert_eq!(parse(query).unwrap_err(), message, "{query}");
        }
    }

    #[test]
    fn defaults_and_limits() {
        let q = parse("").unwrap();
        assert_eq!(q.limit, DEFAULT_LIMIT);
        assert_eq!(
            q.sort,
            [(SortKey::CreatedAt, Dir::Desc), (SortKey::Id, Dir::Desc)]
        );
        assert_eq!(q.visibility, VisibilityFilter::Default);
        assert_eq!(q.member_status, Some(MemberStatus::Accepted));
        assert!(!q.os_hidden);
        assert_eq!(parse("limit=5000").unwrap().limit, MAX_LIMIT);
        assert_eq!(parse("limit=+1_0").unwrap().limit, 10);
        assert_eq!(parse("limit=0").unwrap().limit, 0);
        assert!(parse("os_hidden=TRUE").unwrap().os_hidden);
    }

    #[test]
    fn sort_directions_follow_glance() {
        let keys = |q: &str| parse(q).unwrap().sort;
        use Dir::*;
        use SortKey::*;
        // One direction applies to every key and to the tie-breakers.
        assert_eq!(
            keys("sort_key=name&sort_key=size&sort_dir=asc"),
            [(Name, Asc), (Size, Asc), (CreatedAt, Asc), (Id, Asc)]
        );
        // As many directions as keys: the tie-breakers keep `desc`.
        assert_eq!(
            keys("sort_key=name&sort_key=size&sort_dir=asc&sort_dir=asc"),
            [(Name, Asc), (Size, Asc), (CreatedAt, Desc), (Id, Desc)]
        );
        assert_eq!(
            keys("sort=name:asc,id"),
            [(Name, Asc), (Id, Desc), (CreatedAt, Desc)]
        );
        assert_eq!(
            keys("sort=status:asc"),
            [(Status, Asc), (CreatedAt, Asc), (Id, Asc)]
        );
        assert_eq!(keys("sort_dir=asc"), [(CreatedAt, Asc), (Id, Asc)]);
    }

    #[test]
    fn filter_values_split_like_glance() {
        assert_eq!(split_filter_op("in:a,b"), ("in", "a,b"));
        assert_eq!(split_filter_op("plain"), ("eq", "plain"));
        assert_eq!(
            split_filter_op("2024-01-01T10:00:00Z"),
            ("eq", "2024-01-01T10:00:00Z")
        );
        assert_eq!(
            split_filter_op("gte:2024-01-01T10:00:00Z"),
            ("gte", "2024-01-01T10:00:00Z")
        );
        assert_eq!(split_quoted_list("a,\"b,c\",d").unwrap(), ["a", "b,c", "d"]);
        assert_eq!(split_quoted_list("\"x\\\"y\"").unwrap(), ["x\\\"y"]);
        assert_eq!(split_quoted_list("a,,b").unwrap(), ["a", "", "b"]);
        assert_eq!(
            parse_isotime("2024-01-01"),
            Some(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            parse_isotime("2024-01-01T02:00:00+02:00"),
            Some(at("2024-01-01T00:00:00Z"))
        );
        assert_eq!(
            parse_isotime("2024-01-01T00:00:00.5"),
            Some(at("2024-01-01T00:00:00.5Z"))
        );
        assert_eq!(parse_isotime("yesterday"), None);
    }

    #[test]
    fn default_listing_hides_others_community_and_hidden_images() {
        use ImageVisibility::*;
        let mut hidden = image("hidden", "h", Public, "p");
        hidden.os_hidden = true;
        let images = vec![
            image("pub", "a", Public, "other"),
            image("comm-other", "b", Community, "other"),
            image("comm-own", "c", Community, "p"),
            image("shared-in", "d", Shared, "other"),
            image("private-own", "e", Private, "p"),
            hidden,
        ];
        let me = Viewer::Projects(vec!["p".into()]);
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(
            sorted(list(&images, "", &me)),
            ["comm-own", "private-own", "pub", "shared-in"]
        );
        assert_eq!(
            sorted(list(&images, "visibility=all", &me)),
            ["comm-other", "comm-own", "private-own", "pub", "shared-in"]
        );
        assert_eq!(
            list(&images, "visibility=community&sort=id:asc", &me),
            ["comm-other", "comm-own"]
        );
        assert_eq!(list(&images, "visibility=", &me), Vec::<String>::new());
        assert_eq!(list(&images, "os_hidden=true", &me), ["hidden"]);
        // The only membership here is accepted: a pending listing has none of them.
        assert_eq!(
            sorted(list(&images, "member_status=pending", &me)),
            ["comm-own", "private-own", "pub"]
        );
        // Staff (Glance's admin without a project): every community image is left out.
        assert_eq!(
            sorted(list(&images, "", &Viewer::Staff)),
            ["private-own", "pub", "shared-in"]
        );
    }

    #[test]
    fn memberships_list_by_status_as_glance_does() {
        use ImageVisibility::*;
        use MemberStatus::*;
        let shared = |id: &str, owner: &str, memberships: Vec<MemberStatus>| {
            let mut img = image(id, id, Shared, owner);
            img.memberships = memberships;
            img
        };
        let images = vec![
            shared("accepted", "other", vec![Accepted]),
            shared("pending", "other", vec![Pending]),
            shared("rejected", "other", vec![Rejected]),
            // Through two of the viewer's projects, one accepted, one pending.
            shared("both", "other", vec![Accepted, Pending]),
            // The viewer's own shared image, whatever another of its projects' membership.
            shared("own", "p", vec![Pending]),
            image("pub", "pub", Public, "other"),
        ];
        let me = Viewer::Projects(vec!["p".into(), "q".into()]);
        let q = |query: &str, viewer: &Viewer| {
            let mut ids = list(&images, query, viewer);
            ids.sort();
            ids
        };
        assert_eq!(q("", &me), ["accepted", "both", "own", "pub"]);
        assert_eq!(
            q("member_status=accepted", &me),
            ["accepted", "both", "own", "pub"]
        );
        assert_eq!(
            q("member_status=pending", &me),
            ["both", "own", "pending", "pub"]
        );
        assert_eq!(q("member_status=rejected", &me), ["own", "pub", "rejected"]);
        assert_eq!(
            q("member_status=all", &me),
            ["accepted", "both", "own", "pending", "pub", "rejected"]
        );
        assert_eq!(
            q("member_status=pending&visibility=shared", &me),
            ["both", "own", "pending"]
        );
        // Glance's admin lists every image whatever its members and `member_status`.
        for query in ["", "member_status=pending", "member_status=rejected"] {
            assert_eq!(
                q(query, &Viewer::Staff),
                ["accepted", "both", "own", "pending", "pub", "rejected"],
                "{query}"
            );
        }
    }

    #[test]
    fn filters_select() {
        use ImageVisibility::*;
        let mut a = image("a", "alpha", Public, "p");
        a.tags = vec!["x".into(), "y".into()];
        a.size = Some(100);
        a.min_disk = 2048;
        a.properties.insert("os_distro".into(), "ubuntu".into());
        a.properties
            .insert("hw_rescue_device".into(), "cdrom".into());
        let mut b = image("b", "beta", Public, "q");
        b.tags = vec!["x".into()];
        b.size = Some(300);
        b.protected = true;
        b.backend_created_at = Some(at("2026-03-01T00:00:00Z"));
        b.status = "queued".into();
        let c = image("c", "", Public, "q");
        let images = vec![a, b, c];
        let staff = Viewer::Staff;
        let q = |query: &str| {
            let mut ids = list(&images, query, &staff);
            ids.sort();
            ids
        };
        assert_eq!(q("name=alpha"), ["a"]);
        assert_eq!(q("name=in:alpha,\"beta\""), ["a", "b"]);
        assert_eq!(q("name=alpha&name=beta"), ["b"], "the last value counts");
        assert_eq!(q("tag=x"), ["a", "b"]);
        assert_eq!(q("tag=x&tag=y"), ["a"]);
        assert_eq!(q("size_min=100&size_max=200"), ["a"]);
        assert_eq!(q("size=300"), ["b"]);
        assert_eq!(q("size=abc"), Vec::<String>::new());
        assert_eq!(q("min_disk=2"), ["a"]);
        assert_eq!(q("owner=q"), ["b", "c"]);
        assert_eq!(q("protected=true"), ["b"]);
        assert_eq!(q("status=queued"), ["b"]);
        assert_eq!(q("os_distro=ubuntu"), ["a"]);
        assert_eq!(q("hw_rescue_device=cdrom"), ["a"]);
        assert_eq!(q("os_distro=debian"), Vec::<String>::new());
        assert_eq!(q("created_at=gt:2026-02-01T00:00:00Z"), ["b"]);
        assert_eq!(q("created_at=lte:2026-01-01T00:00:00Z"), ["a", "c"]);
        assert_eq!(q("created_at=2026-01-01T00:00:00Z"), ["a", "c"]);
        assert_eq!(q("created_at=neq:2026-01-01T00:00:00Z"), ["b"]);
        assert_eq!(q("updated_at=gte:2026-01-02"), ["a", "b", "c"]);
        assert_eq!(q("id=in:a,c"), ["a", "c"]);
        assert_eq!(
            q("disk_format=qcow2&container_format=bare"),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn markers_page_through_in_order() {
        use ImageVisibility::*;
        let mut images: Vec<ImageDetail> = (0..7)
            .map(|i| {
                let mut img = image(&format!("id{i}"), &format!("n{}", i % 3), Public, "p");
                img.size = if i % 2 == 0 { Some(i) } else { None };
                img
            })
            .collect();
        images[6].name = String::new();
        for query in [
            "sort=name:asc",
            "sort_key=size&sort_dir=desc",
            "sort=name:desc,size:asc",
            "",
        ] {
            let all = list(&images, &format!("{query}&limit=1000"), &Viewer::Staff);
            assert_eq!(all.len(), 7, "{query}");
            let mut paged = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                let q = match &marker {
                    Some(m) => format!("{query}&limit=3&marker={m}"),
                    None => format!("{query}&limit=3"),
                };
                let page = select(&images, &parse(&q).unwrap(), &Viewer::Staff).unwrap();
                paged.extend(ids(&page));
                match page.next_marker {
                    Some(next) => marker = Some(next.to_string()),
                    None => break,
                }
            }
            assert_eq!(paged, all, "{query}");
        }
        // By name ascending an unnamed image (null) comes first; by size descending the
        // images without a size come last.
        assert_eq!(
            list(&images, "sort=name:asc&limit=1", &Viewer::Staff),
            ["id6"]
        );
        let by_size = list(&images, "sort=size:desc,id:asc&limit=10", &Viewer::Staff);
        assert_eq!(by_size, ["id6", "id4", "id2", "id0", "id1", "id3", "id5"]);
        assert_eq!(
            select(&images, &parse("marker=nope").unwrap(), &Viewer::Staff).unwrap_err(),
            "No image found with ID nope"
        );
        // A full last page still links a next one, as Glance does.
        let page = select(&images, &parse("limit=7").unwrap(), &Viewer::Staff).unwrap();
        assert!(page.next_marker.is_some());
        let page = select(&images, &parse("limit=0").unwrap(), &Viewer::Staff).unwrap();
        assert!(page.images.is_empty() && page.next_marker.is_none());
    }
}
