//! Scoped tokens never see another tenant's data (issue 10, "Checks that keep it true").
//!
//! For several seeds the test builds a random catalog (three clouds, one of them without
//! tenants; images with duplicate names, equal and missing dates, rescue images and random
//! links to their cloud's tenants; instances of every tenant, some deleted or shut off),
//! random scoped tokens (non-empty sets of tenants, one across clouds) and uses the staff
//! token as a control. It keeps a model of what it inserted and, for every read endpoint and
//! random combinations of every image filter, computes the answer from that model alone (an
//! image is the caller's when it is linked to one of the caller's tenants) and compares the
//! server's answer with it:
//!
//! - images: the list (count, uuids in order, each item's fields, a random page), `HEAD`,
//!   every image's retrieve (invisible: the answer an unknown uuid gets), `usage_stats`
//!   (rows and counts from the caller's tenants' instances only), each from the server that
//!   answers with its listing index and from a twin on the same database that answers by SQL;
//! - tenants and service settings: list (with filters) and retrieve;
//! - sync runs and offerings: staff only, 403 for a scoped token.
//!
//! A filter naming a tenant, cloud or offering outside the token's scope must answer exactly
//! (status, `X-Result-Count`, body, `Link`) as the same query with an unknown uuid in its
//! place. (`read_index` compares the index with SQL; this test compares both with the model.)
use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};

use crate::common::{Detail, Image, ImageSpec, Reply, ServiceSettings, Tenant, TestApp, UsageStat};

const SEEDS: [u64; 4] = [7, 1011, 20261125, 99991];
/// Image names: namesakes that differ in case only, LIKE wildcards, a non-ASCII one.
const NAMES: [&str; 8] = [
    "ubuntu",
    "Ubuntu",
    "ubuntu-22.04",
    "debian",
    "cirros",
    "win_2022",
    "rocky%9",
    "ä-image",
];
/// Creation dates, ties and missing ones included (the newest namesake is listed).
const DATES: [Option<&str>; 5] = [
    None,
    Some("2025-01-01T00:00:00Z"),
    Some("2025-01-01T00:00:00Z"),
    Some("2025-06-01T12:00:00Z"),
    Some("2026-01-01T00:00:00Z"),
];
/// `name` filter values (case-insensitive substrings).
const NEEDLES: [&str; 10] = ["u", "U", "ubuntu", "2", "%", "_", "Ä", "DEB", "-", "zz"];
/// Random image-list queries per caller, besides the fixed ones.
const RANDOM_QUERIES: usize = 30;
const RANDOM_USAGE_QUERIES: usize = 8;

// ---- The model: what the test inserted ----

struct CloudRow {
    api: ServiceSettings,
    shared: bool,
}

struct TenantRow {
    api: Tenant,
    cloud: usize,
}

/// An image as inserted; its place in `Model::images` is its insertion (database id) order.
struct ImageRow {
    uuid: String,
    cloud: usize,
    name: &'static str,
    created: Option<&'static str>,
    rescue: bool,
    tenants: Vec<usize>,
}

struct InstanceRow {
    cloud: usize,
    tenant: usize,
    image_name: &'static str,
    /// `ACTIVE` and not deleted.
    running: bool,
}

#[derive(Clone, Copy)]
enum OfferingScope {
    Tenant(usize),
    Cloud(usize),
}

struct OfferingRow {
    uuid: String,
    scope: OfferingScope,
}

struct Model {
    base: String,
    clouds: Vec<CloudRow>,
    tenants: Vec<TenantRow>,
    images: Vec<ImageRow>,
    instances: Vec<InstanceRow>,
    offerings: Vec<OfferingRow>,
}

/// Who asks: staff (`tenants: None`) or a scoped token and the tenants it sees.
struct Caller {
    label: String,
    secret: String,
    tenants: Option<BTreeSet<usize>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Cloud,
    Tenant,
    Offering,
}

/// The image filters that name an object: parameter, what it names, whether by URL.
const NAMED_PARAMS: [(&str, Kind, bool); 5] = [
    ("settings_uuid", Kind::Cloud, false),
    ("settings", Kind::Cloud, true),
    ("tenant_uuid", Kind::Tenant, false),
    ("tenant", Kind::Tenant, true),
    ("offering_uuid", Kind::Offering, false),
];

#[derive(Clone, PartialEq, Eq)]
enum Target {
    Known(usize),
    Unknown(String),
}

/// A filter naming a cloud, tenant or offering.
#[derive(Clone)]
struct Named {
    param: &'static str,
    kind: Kind,
    by_url: bool,
    target: Target,
}

#[derive(Clone, Default)]
struct ImageQuery {
    needles: Vec<&'static str>,
    exact: Vec<&'static str>,
    named: Vec<Named>,
    rescue: Option<bool>,
    duplicates: Option<bool>,
}

/// `usage_stats` filters; providers are clouds.
#[derive(Clone, Default)]
struct UsageQuery {
    shared: Option<bool>,
    providers: Vec<Target>,
}

fn unknown_uuid() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Caller {
    fn has_tenant(&self, tenant: usize) -> bool {
        self.tenants.as_ref().is_none_or(|ts| ts.contains(&tenant))
    }
}

impl Model {
    fn uuid_of(&self, kind: Kind, i: usize) -> &str {
        match kind {
            Kind::Cloud => &self.clouds[i].api.uuid,
            Kind::Tenant => &self.tenants[i].api.uuid,
            Kind::Offering => &self.offerings[i].uuid,
        }
    }

    fn count_of(&self, kind: Kind) -> usize {
        match kind {
            Kind::Cloud => self.clouds.len(),
            Kind::Tenant => self.tenants.len(),
            Kind::Offering => self.offerings.len(),
        }
    }

    /// The query value of a named filter: the uuid, or the object's URL.
    fn value_of(&self, n: &Named) -> String {
        let uuid = match &n.target {
            Target::Known(i) => self.uuid_of(n.kind, *i),
            Target::Unknown(u) => u,
        };
        match (n.by_url, n.kind) {
            (true, Kind::Cloud) => format!("{}/api/service-settings/{uuid}/", self.base),
            (true, Kind::Tenant) => format!("{}/api/openstack-tenants/{uuid}/", self.base),
            _ => uuid.to_string(),
        }
    }

    /// Whether an image is linked to one of the caller's tenants (every image for staff).
    fn sees(&self, who: &Caller, image: &ImageRow) -> bool {
        who.tenants.is_none() || image.tenants.iter().any(|&t| who.has_tenant(t))
    }

    /// A cloud is in scope when one of the caller's tenants is in it.
    fn cloud_in_scope(&self, who: &Caller, cloud: usize) -> bool {
        who.tenants.is_none()
            || (0..self.tenants.len()).any(|t| who.has_tenant(t) && self.tenants[t].cloud == cloud)
    }

    /// Whether a named filter's object is known but outside the caller's scope.
    fn outside(&self, who: &Caller, kind: Kind, target: &Target) -> bool {
        let Target::Known(i) = *target else {
            return false;
        };
        match kind {
            Kind::Cloud => !self.cloud_in_scope(who, i),
            Kind::Tenant => !who.has_tenant(i),
            Kind::Offering => match self.offerings[i].scope {
                OfferingScope::Tenant(t) => !who.has_tenant(t),
                OfferingScope::Cloud(c) => !self.cloud_in_scope(who, c),
            },
        }
    }

    fn cloud_has_tenants(&self, cloud: usize) -> bool {
        self.tenants.iter().any(|t| t.cloud == cloud)
    }

    /// Whether an image passes one named filter (an unknown uuid passes nothing).
    fn named_matches(&self, n: &Named, image: &ImageRow) -> bool {
        let Target::Known(i) = n.target else {
            return false;
        };
        match n.kind {
            Kind::Cloud => image.cloud == i,
            Kind::Tenant => image.tenants.contains(&i),
            Kind::Offering => match self.offerings[i].scope {
                OfferingScope::Tenant(t) => image.tenants.contains(&t),
                // A cloud's offering: images linked to one of its tenants, or, for a cloud
                // without tenants, its images.
                OfferingScope::Cloud(c) if self.cloud_has_tenants(c) => {
                    image.tenants.iter().any(|&t| self.tenants[t].cloud == c)
                }
                OfferingScope::Cloud(c) => image.cloud == c,
            },
        }
    }

    fn passes(&self, q: &ImageQuery, image: &ImageRow) -> bool {
        let lower = image.name.to_lowercase();
        q.needles.iter().all(|n| lower.contains(&n.to_lowercase()))
            && q.exact.iter().all(|e| image.name == *e)
            && q.rescue.is_none_or(|r| r == image.rescue)
            && q.named.iter().all(|n| self.named_matches(n, image))
    }

    /// Whether image `a` hides its namesake `b` (same cloud and name): newer (a missing date
    /// is oldest), or as new and inserted first.
    fn hides(&self, a: usize, b: usize) -> bool {
        let (x, y) = (&self.images[a], &self.images[b]);
        a != b
            && x.cloud == y.cloud
            && x.name == y.name
            && (x.created, std::cmp::Reverse(a)) > (y.created, std::cmp::Reverse(b))
    }

    /// What the image list shows the caller, in order (name, then uuid).
    fn listing(&self, who: &Caller, q: &ImageQuery) -> Vec<&ImageRow> {
        if q.named.iter().any(|n| self.outside(who, n.kind, &n.target)) {
            return Vec::new();
        }
        let passing: Vec<usize> = (0..self.images.len())
            .filter(|&i| self.sees(who, &self.images[i]) && self.passes(q, &self.images[i]))
            .collect();
        let mut shown: Vec<&ImageRow> = passing
            .iter()
            .filter(|&&i| q.duplicates == Some(true) || !passing.iter().any(|&j| self.hides(j, i)))
            .map(|&i| &self.images[i])
            .collect();
        shown.sort_by(|a, b| (a.name, &a.uuid).cmp(&(b.name, &b.uuid)));
        shown
    }

    /// `usage_stats` for the caller: per name of an image it sees in the chosen clouds, the
    /// instances of its own tenants in those clouds.
    fn usage(&self, who: &Caller, q: &UsageQuery) -> Vec<UsageStat> {
        let chosen = |c: usize| {
            q.shared.is_none_or(|s| s == self.clouds[c].shared)
                && (q.providers.is_empty() || q.providers.contains(&Target::Known(c)))
        };
        let names: BTreeSet<&str> = self
            .images
            .iter()
            .filter(|i| chosen(i.cloud) && self.sees(who, i))
            .map(|i| i.name)
            .collect();
        names
            .into_iter()
            .map(|name| {
                let counted: Vec<&InstanceRow> = self
                    .instances
                    .iter()
                    .filter(|x| x.image_name == name && chosen(x.cloud) && who.has_tenant(x.tenant))
                    .collect();
                UsageStat {
                    name: name.to_string(),
                    running_instances_count: counted.iter().filter(|x| x.running).count() as i64,
                    created_instances_count: counted.len() as i64,
                }
            })
            .collect()
    }
}

impl ImageQuery {
    fn render(&self, m: &Model) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for n in &self.needles {
            s.append_pair("name", n);
        }
        for e in &self.exact {
            s.append_pair("name_exact", e);
        }
        for n in &self.named {
            s.append_pair(n.param, &m.value_of(n));
        }
        if let Some(r) = self.rescue {
            s.append_pair("is_rescue_image", &r.to_string());
        }
        if let Some(d) = self.duplicates {
            s.append_pair("show_duplicate_names", &d.to_string());
        }
        s.finish()
    }
}

impl UsageQuery {
    fn render(&self, m: &Model) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(shared) = self.shared {
            s.append_pair("shared", &shared.to_string());
        }
        for p in &self.providers {
            let uuid = match p {
                Target::Known(c) => m.uuid_of(Kind::Cloud, *c),
                Target::Unknown(u) => u,
            };
            s.append_pair("service_provider", uuid);
        }
        s.finish()
    }
}

/// Replaces every target outside the caller's scope with an unknown uuid (one per object);
/// returns the (old, new) uuids.
fn as_unknown(m: &Model, who: &Caller, targets: Vec<(Kind, &mut Target)>) -> Vec<(String, String)> {
    let mut replaced: HashMap<(Kind, usize), String> = HashMap::new();
    let mut pairs = Vec::new();
    for (kind, target) in targets {
        if let Target::Known(i) = *target
            && m.outside(who, kind, target)
        {
            let new = replaced
                .entry((kind, i))
                .or_insert_with(unknown_uuid)
                .clone();
            pairs.push((m.uuid_of(kind, i).to_string(), new.clone()));
            *target = Target::Unknown(new);
        }
    }
    pairs
}

// ---- Building the random catalog ----

/// Cloud a (2-3 tenants), shared cloud b (1-2 tenants), cloud c without tenants (shared or
/// not); 60-100 images, 24 instances, an offering for every tenant and every cloud.
async fn random_catalog(rng: &mut StdRng) -> (TestApp, Model) {
    let c_shared = rng.random_bool(0.5);
    let mut tenants: Vec<(String, usize)> = Vec::new();
    for (cloud, prefix, fewest, most) in [(0, "a", 2, 3), (1, "b", 1, 2)] {
        for k in 1..=rng.random_range(fewest..=most) {
            tenants.push((format!("{prefix}{k}"), cloud));
        }
    }
    let mut builder = TestApp::init()
        .with_cloud("cloud-a")
        .with_shared_cloud("cloud-b");
    builder = if c_shared {
        builder.with_shared_cloud("cloud-c")
    } else {
        builder.with_cloud("cloud-c")
    };
    for (name, cloud) in &tenants {
        builder = builder.with_tenant(["cloud-a", "cloud-b"][*cloud], name);
    }
    let srv = builder.start().await;
    let mut m = Model {
        base: srv.base.clone(),
        clouds: [("cloud-a", false), ("cloud-b", true), ("cloud-c", c_shared)]
            .into_iter()
            .map(|(name, shared)| CloudRow {
                api: srv.cloud(name).clone(),
                shared,
            })
            .collect(),
        tenants: tenants
            .iter()
            .map(|(name, cloud)| TenantRow {
                api: srv.tenant(name).clone(),
                cloud: *cloud,
            })
            .collect(),
        images: Vec::new(),
        instances: Vec::new(),
        offerings: Vec::new(),
    };
    insert_images(&srv, &mut m, rng).await;
    insert_instances(&srv, &mut m, rng).await;
    create_offerings(&srv, &mut m).await;
    srv.rebuild_index().await;
    (srv, m)
}

async fn insert_images(srv: &TestApp, m: &mut Model, rng: &mut StdRng) {
    for _ in 0..rng.random_range(60..=100) {
        let cloud = [0, 0, 1, 2][rng.random_range(0..4)];
        let linked: Vec<usize> = (0..m.tenants.len())
            .filter(|&t| m.tenants[t].cloud == cloud && rng.random_bool(0.5))
            .collect();
        let name = *NAMES.choose(rng).unwrap();
        let created = *DATES.choose(rng).unwrap();
        let rescue = rng.random_bool(0.2);
        let apis: Vec<&Tenant> = linked.iter().map(|&t| &m.tenants[t].api).collect();
        let mut spec = ImageSpec::new(name).tenants(&apis);
        if let Some(date) = created {
            spec = spec.created(date);
        }
        if rescue {
            spec = spec.rescue("cdrom");
        }
        // Written without a rebuild each; the catalog's index is rebuilt once at the end.
        let inserted = srv
            .insert_image_from_another_process(&m.clouds[cloud].api, spec)
            .await;
        m.images.push(ImageRow {
            uuid: inserted.uuid.simple().to_string(),
            cloud,
            name,
            created,
            rescue,
            tenants: linked,
        });
    }
}

async fn insert_instances(srv: &TestApp, m: &mut Model, rng: &mut StdRng) {
    for _ in 0..24 {
        let tenant = rng.random_range(0..m.tenants.len());
        let cloud = m.tenants[tenant].cloud;
        let image_name = if rng.random_bool(0.1) {
            "gone-image"
        } else {
            *NAMES.choose(rng).unwrap()
        };
        let status = *["ACTIVE", "SHUTOFF"].choose(rng).unwrap();
        let deleted = rng.random_bool(0.2);
        srv.insert_instance(
            &m.clouds[cloud].api,
            &m.tenants[tenant].api,
            image_name,
            status,
            deleted,
        )
        .await;
        m.instances.push(InstanceRow {
            cloud,
            tenant,
            image_name,
            running: status == "ACTIVE" && !deleted,
        });
    }
}

async fn create_offerings(srv: &TestApp, m: &mut Model) {
    for t in 0..m.tenants.len() {
        let uuid = srv.create_offering(&m.tenants[t].api.url).await;
        m.offerings.push(OfferingRow {
            uuid,
            scope: OfferingScope::Tenant(t),
        });
    }
    for c in 0..m.clouds.len() {
        let uuid = srv.create_offering(&m.clouds[c].api.url).await;
        m.offerings.push(OfferingRow {
            uuid,
            scope: OfferingScope::Cloud(c),
        });
    }
}

/// Staff, three tokens of random tenants, and one of a tenant of each cloud.
async fn random_callers(srv: &TestApp, m: &Model, rng: &mut StdRng) -> Vec<Caller> {
    let mut sets: Vec<BTreeSet<usize>> = Vec::new();
    while sets.len() < 3 {
        let set: BTreeSet<usize> = (0..m.tenants.len())
            .filter(|_| rng.random_bool(0.4))
            .collect();
        if !set.is_empty() {
            sets.push(set);
        }
    }
    let of_cloud = |c: usize| (0..m.tenants.len()).filter(move |&t| m.tenants[t].cloud == c);
    let across = [0, 1].map(|c| *of_cloud(c).collect::<Vec<_>>().choose(rng).unwrap());
    sets.push(across.into_iter().collect());

    let mut callers = vec![Caller {
        label: "staff".into(),
        secret: srv.staff_token.clone(),
        tenants: None,
    }];
    for (k, set) in sets.into_iter().enumerate() {
        let apis: Vec<&Tenant> = set.iter().map(|&t| &m.tenants[t].api).collect();
        let names: Vec<&str> = apis.iter().map(|t| t.name.as_str()).collect();
        callers.push(Caller {
            label: format!("token of {names:?}"),
            secret: srv.scoped_token(&format!("token-{k}"), &apis).await,
            tenants: Some(set),
        });
    }
    callers
}

// ---- Queries ----

fn random_named(rng: &mut StdRng, m: &Model) -> Named {
    let (param, kind, by_url) = *NAMED_PARAMS.choose(rng).unwrap();
    let target = if rng.random_bool(0.15) {
        Target::Unknown(unknown_uuid())
    } else {
        Target::Known(rng.random_range(0..m.count_of(kind)))
    };
    Named {
        param,
        kind,
        by_url,
        target,
    }
}

/// A random subset of the filters with random values.
fn random_query(rng: &mut StdRng, m: &Model) -> ImageQuery {
    let mut q = ImageQuery::default();
    for _ in 0..[0, 0, 1, 2][rng.random_range(0..4)] {
        q.needles.push(*NEEDLES.choose(rng).unwrap());
    }
    for _ in 0..[0, 0, 0, 1, 2][rng.random_range(0..5)] {
        q.exact
            .push(*[&NAMES[..], &["missing"]].concat().choose(rng).unwrap());
    }
    for _ in 0..[0, 1, 1, 2, 3][rng.random_range(0..5)] {
        q.named.push(random_named(rng, m));
    }
    q.rescue = *[None, None, Some(true), Some(false)].choose(rng).unwrap();
    q.duplicates = *[None, Some(true), Some(false)].choose(rng).unwrap();
    q
}

/// No filter, duplicates shown, and each cloud, tenant and offering alone (by uuid).
fn fixed_queries(m: &Model) -> Vec<ImageQuery> {
    let mut queries = vec![
        ImageQuery::default(),
        ImageQuery {
            duplicates: Some(true),
            ..ImageQuery::default()
        },
    ];
    for (param, kind) in [
        ("settings_uuid", Kind::Cloud),
        ("tenant_uuid", Kind::Tenant),
        ("offering_uuid", Kind::Offering),
    ] {
        for i in 0..m.count_of(kind) {
            queries.push(ImageQuery {
                named: vec![Named {
                    param,
                    kind,
                    by_url: false,
                    target: Target::Known(i),
                }],
                ..ImageQuery::default()
            });
        }
    }
    queries
}

fn random_usage_query(rng: &mut StdRng, m: &Model) -> UsageQuery {
    let mut q = UsageQuery {
        shared: *[None, Some(true), Some(false)].choose(rng).unwrap(),
        providers: Vec::new(),
    };
    for _ in 0..[0, 1, 1, 2][rng.random_range(0..4)] {
        q.providers.push(if rng.random_bool(0.15) {
            Target::Unknown(unknown_uuid())
        } else {
            Target::Known(rng.random_range(0..m.clouds.len()))
        });
    }
    q
}

// ---- Asking ----

/// A server under test: the one answering from its listing index, or the SQL twin.
struct Server<'a> {
    label: &'static str,
    base: &'a str,
    client: &'a reqwest::Client,
}

impl Server<'_> {
    async fn ask(&self, method: Method, who: &Caller, path: &str) -> Reply {
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Token {}", who.secret))
            .send()
            .await
            .expect("request");
        Reply::from_response(r).await
    }
}

/// A list path: the query, then the paging.
fn list_path(collection: &str, query: &str, paging: &str) -> String {
    if query.is_empty() {
        format!("/api/{collection}/?{paging}")
    } else {
        format!("/api/{collection}/?{query}&{paging}")
    }
}

/// How many image lists were checked, how many were not empty, and how many named something
/// outside the caller's scope.
#[derive(Default)]
struct Tally {
    lists: usize,
    nonempty: usize,
    out_of_scope: usize,
}

/// What a list answer says: status, count, body and links (the old uuids of `renamed`
/// written as the new ones).
fn answer(r: &Reply, renamed: &[(String, String)]) -> (StatusCode, Option<String>, String, String) {
    let mut link = r.header("link").unwrap_or_default();
    for (old, new) in renamed {
        link = link.replace(old.as_str(), new);
    }
    (r.status, r.header("x-result-count"), r.text.clone(), link)
}

/// Each listed item is the model's image, as inserted.
fn assert_items_match(m: &Model, items: &[Image], want: &[&ImageRow], ctx: &str) {
    for (item, image) in items.iter().zip(want) {
        let created = item
            .backend_created_at
            .as_deref()
            .map(|c| chrono::DateTime::parse_from_rfc3339(c).unwrap());
        let want_created = image
            .created
            .map(|c| chrono::DateTime::parse_from_rfc3339(c).unwrap());
        let cloud = &m.clouds[image.cloud].api.uuid;
        assert_eq!(
            (item.name.as_str(), item.is_rescue_image, created),
            (image.name, image.rescue, want_created),
            "{ctx}: {}",
            image.uuid
        );
        assert!(item.settings.ends_with(&format!("/{cloud}/")), "{ctx}");
    }
}

/// The list, HEAD and a random page of one query against the model, and, when the query
/// names something outside the caller's scope, against the unknown-uuid query.
async fn check_list(
    s: &Server<'_>,
    m: &Model,
    who: &Caller,
    q: &ImageQuery,
    rng: &mut StdRng,
    tally: &mut Tally,
) {
    let want = m.listing(who, q);
    let want_uuids: Vec<&str> = want.iter().map(|i| i.uuid.as_str()).collect();
    let path = list_path("openstack-images", &q.render(m), "page_size=300");
    let ctx = format!("{} server, {}: {path}", s.label, who.label);
    let got = s.ask(Method::GET, who, &path).await;
    assert_eq!(got.status, StatusCode::OK, "{ctx}: {}", got.text);
    assert_eq!(got.count(), want.len() as u64, "{ctx}");
    assert_eq!(got.uuids(), want_uuids, "{ctx}");
    assert_items_match(m, &got.items(), &want, &ctx);

    let head = s.ask(Method::HEAD, who, &path).await;
    assert_eq!(
        (
            head.status,
            head.header("x-result-count"),
            head.header("link")
        ),
        (got.status, got.header("x-result-count"), got.header("link")),
        "{ctx}: HEAD"
    );
    check_random_page(s, m, who, q, &want_uuids, rng).await;

    let mut twin = q.clone();
    let targets = twin.named.iter_mut().map(|n| (n.kind, &mut n.target));
    let renamed = as_unknown(m, who, targets.collect());
    if !renamed.is_empty() {
        let twin_path = list_path("openstack-images", &twin.render(m), "page_size=300");
        let unknown = s.ask(Method::GET, who, &twin_path).await;
        assert_eq!(answer(&got, &renamed), answer(&unknown, &[]), "{ctx}");
        let unknown_head = s.ask(Method::HEAD, who, &twin_path).await;
        assert_eq!(answer(&head, &renamed), answer(&unknown_head, &[]), "{ctx}");
    }
    tally.lists += 1;
    tally.nonempty += usize::from(!want.is_empty());
    tally.out_of_scope += usize::from(!renamed.is_empty());
}

async fn check_random_page(
    s: &Server<'_>,
    m: &Model,
    who: &Caller,
    q: &ImageQuery,
    want: &[&str],
    rng: &mut StdRng,
) {
    let size = rng.random_range(1..=8);
    let pages = want.len().div_ceil(size).max(1);
    let page = rng.random_range(1..=pages);
    let paging = format!("page_size={size}&page={page}");
    let path = list_path("openstack-images", &q.render(m), &paging);
    let got = s.ask(Method::GET, who, &path).await;
    assert_eq!(got.status, StatusCode::OK, "{path}: {}", got.text);
    let from = (page - 1) * size;
    let slice = &want[from.min(want.len())..(from + size).min(want.len())];
    assert_eq!(
        got.uuids(),
        slice,
        "{} server, {}: {path}",
        s.label,
        who.label
    );
    assert_eq!(got.count(), want.len() as u64, "{path}");
}

/// Every image's retrieve: the caller's is shown, any other is answered as an unknown uuid.
async fn check_retrieves(s: &Server<'_>, m: &Model, who: &Caller) {
    let unknown = s
        .ask(
            Method::GET,
            who,
            &format!("/api/openstack-images/{}/", unknown_uuid()),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    for image in &m.images {
        let path = format!("/api/openstack-images/{}/", image.uuid);
        let got = s.ask(Method::GET, who, &path).await;
        let ctx = format!("{} server, {}: {path}", s.label, who.label);
        if m.sees(who, image) {
            assert_eq!(got.status, StatusCode::OK, "{ctx}: {}", got.text);
            assert_eq!(got.parse::<Image>().uuid, image.uuid, "{ctx}");
        } else {
            assert_eq!(
                (got.status, &got.text),
                (unknown.status, &unknown.text),
                "{ctx}"
            );
        }
    }
}

/// `usage_stats` rows and counts against the model, HEAD, and the unknown-uuid query.
async fn check_usage(s: &Server<'_>, m: &Model, who: &Caller, q: &UsageQuery) {
    let path = list_path(
        "openstack-images/usage_stats",
        &q.render(m),
        "page_size=300",
    );
    let ctx = format!("{} server, {}: {path}", s.label, who.label);
    let got = s.ask(Method::GET, who, &path).await;
    assert_eq!(got.status, StatusCode::OK, "{ctx}: {}", got.text);
    let want = m.usage(who, q);
    assert_eq!(got.items::<UsageStat>(), want, "{ctx}");
    assert_eq!(got.count(), want.len() as u64, "{ctx}");
    let head = s.ask(Method::HEAD, who, &path).await;
    assert_eq!(
        head.header("x-result-count"),
        got.header("x-result-count"),
        "{ctx}"
    );

    let mut twin = q.clone();
    let targets = twin.providers.iter_mut().map(|p| (Kind::Cloud, p));
    let renamed = as_unknown(m, who, targets.collect());
    if !renamed.is_empty() {
        let twin_path = list_path(
            "openstack-images/usage_stats",
            &twin.render(m),
            "page_size=300",
        );
        let unknown = s.ask(Method::GET, who, &twin_path).await;
        assert_eq!(answer(&got, &renamed), answer(&unknown, &[]), "{ctx}");
    }
}

/// The image endpoints for one caller on one server.
async fn check_images(
    s: &Server<'_>,
    m: &Model,
    who: &Caller,
    queries: &[ImageQuery],
    usage: &[UsageQuery],
    rng: &mut StdRng,
    tally: &mut Tally,
) {
    for q in queries {
        check_list(s, m, who, q, rng, tally).await;
    }
    check_retrieves(s, m, who).await;
    for q in usage {
        check_usage(s, m, who, q).await;
    }
}

/// A list of objects: its uuids as a set, checked against its count.
fn uuid_set(r: &Reply, ctx: &str) -> BTreeSet<String> {
    assert_eq!(r.status, StatusCode::OK, "{ctx}: {}", r.text);
    let uuids: BTreeSet<String> = r.uuids().into_iter().collect();
    assert_eq!(r.count(), uuids.len() as u64, "{ctx}");
    uuids
}

/// An object's retrieve: what staff gets when the caller may see it, else what an unknown
/// uuid gets.
async fn check_retrieve(srv: &Server<'_>, staff: &Caller, who: &Caller, path: &str, visible: bool) {
    let got = srv.ask(Method::GET, who, path).await;
    let want = if visible {
        srv.ask(Method::GET, staff, path).await
    } else {
        let collection = path.rsplitn(3, '/').nth(2).unwrap();
        let unknown = format!("{collection}/{}/", unknown_uuid());
        srv.ask(Method::GET, who, &unknown).await
    };
    assert_eq!(
        (got.status, got.text),
        (want.status, want.text),
        "{}: {path}",
        who.label
    );
}

/// Tenants: listed (all, per cloud, per unknown cloud) and retrieved only when the caller's.
async fn check_tenants(s: &Server<'_>, m: &Model, staff: &Caller, who: &Caller) {
    let mine = |cloud: Option<usize>| -> BTreeSet<String> {
        (0..m.tenants.len())
            .filter(|&t| who.has_tenant(t) && cloud.is_none_or(|c| m.tenants[t].cloud == c))
            .map(|t| m.tenants[t].api.uuid.clone())
            .collect()
    };
    let list = "/api/openstack-tenants/?page_size=300";
    let got = uuid_set(&s.ask(Method::GET, who, list).await, &who.label);
    assert_eq!(got, mine(None), "{}: {list}", who.label);
    for c in 0..m.clouds.len() {
        let path = format!("{list}&service_settings_uuid={}", m.clouds[c].api.uuid);
        let got = uuid_set(&s.ask(Method::GET, who, &path).await, &path);
        assert_eq!(got, mine(Some(c)), "{}: {path}", who.label);
    }
    let path = format!("{list}&service_settings_uuid={}", unknown_uuid());
    assert!(uuid_set(&s.ask(Method::GET, who, &path).await, &path).is_empty());
    for (t, tenant) in m.tenants.iter().enumerate() {
        let path = format!("/api/openstack-tenants/{}/", tenant.api.uuid);
        check_retrieve(s, staff, who, &path, who.has_tenant(t)).await;
    }
}

/// Service settings: the clouds of the caller's tenants, listed, by name, and retrieved.
async fn check_clouds(s: &Server<'_>, m: &Model, staff: &Caller, who: &Caller) {
    let list = "/api/service-settings/?page_size=300";
    let want: BTreeSet<String> = (0..m.clouds.len())
        .filter(|&c| m.cloud_in_scope(who, c))
        .map(|c| m.clouds[c].api.uuid.clone())
        .collect();
    let got = uuid_set(&s.ask(Method::GET, who, list).await, list);
    assert_eq!(got, want, "{}: {list}", who.label);
    for (c, cloud) in m.clouds.iter().enumerate() {
        let path = format!("{list}&name={}", cloud.api.name);
        let got = uuid_set(&s.ask(Method::GET, who, &path).await, &path);
        let want: BTreeSet<String> = want
            .iter()
            .filter(|u| **u == cloud.api.uuid)
            .cloned()
            .collect();
        assert_eq!(got, want, "{}: {path}", who.label);
        let path = format!("/api/service-settings/{}/", cloud.api.uuid);
        check_retrieve(s, staff, who, &path, m.cloud_in_scope(who, c)).await;
    }
}

/// Sync runs and offerings are staff's: a scoped token gets 403 whatever it names.
async fn check_staff_only(s: &Server<'_>, m: &Model, who: &Caller) {
    let tenant = &m.tenants[0].api.uuid;
    for path in [
        "/api/sync-runs/".to_string(),
        format!("/api/sync-runs/?tenant_uuid={tenant}"),
        "/api/offerings/".to_string(),
        format!("/api/offerings/{}/", m.offerings[0].uuid),
    ] {
        let r = s.ask(Method::GET, who, &path).await;
        if who.tenants.is_none() {
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            continue;
        }
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}: {path}", who.label);
        assert_eq!(
            r.parse::<Detail>(),
            Detail::new("You do not have permission to perform this action.")
        );
    }
}

/// One seed: a catalog, its callers, every check.
async fn check_seed(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let (srv, m) = random_catalog(&mut rng).await;
    let callers = random_callers(&srv, &m, &mut rng).await;
    let twin = srv.sql_twin().await;
    let servers = [
        Server {
            label: "index",
            base: &srv.base,
            client: &srv.client,
        },
        Server {
            label: "sql",
            base: &twin.base,
            client: &srv.client,
        },
    ];
    let served_before = srv.index_served();
    let mut tally = Tally::default();
    for who in &callers {
        let mut queries = fixed_queries(&m);
        queries.extend((0..RANDOM_QUERIES).map(|_| random_query(&mut rng, &m)));
        let mut usage = vec![UsageQuery::default()];
        usage.extend((0..RANDOM_USAGE_QUERIES).map(|_| random_usage_query(&mut rng, &m)));
        for s in &servers {
            check_images(s, &m, who, &queries, &usage, &mut rng, &mut tally).await;
        }
        check_tenants(&servers[0], &m, &callers[0], who).await;
        check_clouds(&servers[0], &m, &callers[0], who).await;
        check_staff_only(&servers[0], &m, who).await;
    }
    eprintln!(
        "seed {seed}: {} images, {} tenants; {} lists, {} not empty, {} out of scope",
        m.images.len(),
        m.tenants.len(),
        tally.lists,
        tally.nonempty,
        tally.out_of_scope
    );
    // The index server answered from its index; many lists were not empty, and many named
    // something outside the caller's scope.
    assert!(srv.index_served() > served_before);
    assert!(tally.nonempty * 4 > tally.lists, "seed {seed}");
    assert!(tally.out_of_scope * 10 > tally.lists, "seed {seed}");
    twin.stop().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scoped_tokens_see_exactly_what_their_tenants_links_give() {
    for seed in SEEDS {
        check_seed(seed).await;
    }
}
