//! `GET|HEAD /api/openstack-images/usage_report/`: instance-hours and size-hours per image
//! name, image, tenant or cloud, per day, month or the whole window, as a JSON page or as CSV
//! (every row) for billing jobs and spreadsheets.
use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, ResponseContent};

use super::auth::Caller;
use super::errors::{ApiError, ErrorResponse};
use super::params::{PAGE_PARAMS, ParamDoc, Params, QueryDocs, QueryParams};
use super::query::{RawQuery, parse_time};
use super::validate::Validator;
use super::{AppState, PageHeaders};
use crate::catalog::hex;
use crate::catalog::images::ImageFilter;
use crate::catalog::paging::PageRequest;
use crate::catalog::usage_report::{Basis, GroupKey, Period, Report, ReportQuery, ReportRow};
use crate::params;

pub struct UsageReportApi;

/// One group's usage in one period. Keys not grouped by are null.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(rename = "UsageReportRow")]
pub struct UsageReportRow {
    /// The image name the instances counted for, as it was then (grouped by `name`; grouped
    /// by `image` alone, the name the image last had in the period).
    #[oai(nullable)]
    pub name: Option<String>,
    /// The Glance image id (grouped by `image`).
    #[oai(nullable)]
    pub image_id: Option<String>,
    #[oai(nullable)]
    pub tenant_uuid: Option<String>,
    #[oai(nullable)]
    pub tenant_name: Option<String>,
    #[oai(nullable)]
    pub settings_uuid: Option<String>,
    #[oai(nullable)]
    pub settings_name: Option<String>,
    /// The start of the period (of the window for `period=none`).
    pub period_start: DateTime<Utc>,
    /// Instances created in the period: at Nova's `created`, or where the sync dated the start
    /// of the recorded life (a skewed clock).
    pub instances_created: i64,
    /// Instances terminated (or gone) in the period.
    pub instances_deleted: i64,
    /// Instances the basis counts at the period's end (or now, for a period not over yet).
    pub instances_running_at_end: i64,
    /// Hours the basis counts (`ACTIVE` by default) in the period, summed over instances.
    pub instance_hours: f64,
    pub vcpu_hours: f64,
    pub ram_gib_hours: f64,
    pub disk_gib_hours: f64,
}

#[derive(ResponseContent)]
pub enum ReportBody {
    Json(Json<Vec<UsageReportRow>>),
    /// Every row, with a header line; columns: the grouped keys, then the period and figures.
    #[oai(content_type = "text/csv; charset=utf-8")]
    Csv(CsvStream),
}

#[derive(ApiResponse)]
pub enum ReportResponse {
    /// A page of rows (JSON), or all of them (CSV: `format=csv` or `Accept: text/csv`).
    #[oai(status = 200)]
    Ok(
        ReportBody,
        #[oai(header = "X-Result-Count")] u64,
        #[oai(header = "Link")] Option<String>,
    ),
}

/// Figures are rounded to the microhour: sums of millisecond durations print exactly.
fn round(h: f64) -> f64 {
    (h * 1e6).round() / 1e6
}

fn shape(r: ReportRow) -> UsageReportRow {
    let (tenant_uuid, tenant_name) = r.keys.tenant.map(|(u, n)| (hex(&u), n)).unzip();
    let (settings_uuid, settings_name) = r.keys.settings.map(|(u, n)| (hex(&u), n)).unzip();
    UsageReportRow {
        name: r.keys.name,
        image_id: r.keys.image_id,
        tenant_uuid,
        tenant_name,
        settings_uuid,
        settings_name,
        period_start: r.period_start,
        instances_created: r.instances_created,
        instances_deleted: r.instances_deleted,
        instances_running_at_end: r.instances_running_at_end,
        instance_hours: round(r.instance_hours),
        vcpu_hours: round(r.vcpu_hours),
        ram_gib_hours: round(r.ram_gib_hours),
        disk_gib_hours: round(r.disk_gib_hours),
    }
}

/// A CSV field, quoted when it holds a separator, a quote or a line break (RFC 4180).
fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// A CSV key column: its header and how a row gives its value.
type KeyColumn = (&'static str, fn(&UsageReportRow) -> Option<&str>);

/// Writes report rows as CSV: the key columns of the grouping, then the figures.
struct CsvWriter {
    keys: Vec<KeyColumn>,
}

impl CsvWriter {
    fn new(group_by: &[GroupKey]) -> Self {
        let mut keys: Vec<KeyColumn> = Vec::new();
        for key in group_by {
            match key {
                GroupKey::Name => keys.push(("name", |r| r.name.as_deref())),
                GroupKey::Image => {
                    keys.push(("image_id", |r| r.image_id.as_deref()));
                    if !group_by.contains(&GroupKey::Name) {
                        keys.push(("name", |r| r.name.as_deref()));
                    }
                }
                GroupKey::Tenant => {
                    keys.push(("tenant_uuid", |r| r.tenant_uuid.as_deref()));
                    keys.push(("tenant_name", |r| r.tenant_name.as_deref()));
                }
                GroupKey::Settings => {
                    keys.push(("settings_uuid", |r| r.settings_uuid.as_deref()));
                    keys.push(("settings_name", |r| r.settings_name.as_deref()));
                }
            }
        }
        Self { keys }
    }

    fn header(&self, out: &mut String) {
        for (name, _) in &self.keys {
            out.push_str(name);
            out.push(',');
        }
        out.push_str(
            "period_start,instances_created,instances_deleted,instances_running_at_end,\
             instance_hours,vcpu_hours,ram_gib_hours,disk_gib_hours\r\n",
        );
    }

    fn row(&self, out: &mut String, r: &UsageReportRow) {
        use std::fmt::Write;
        for (_, get) in &self.keys {
            csv_field(out, get(r).unwrap_or_default());
            out.push(',');
        }
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{}\r\n",
            r.period_start.to_rfc3339(),
            r.instances_created,
            r.instances_deleted,
            r.instances_running_at_end,
            r.instance_hours,
            r.vcpu_hours,
            r.ram_gib_hours,
            r.disk_gib_hours
        );
    }
}

/// Bytes a CSV chunk collects before it is sent: the body streams at this grain, so memory
/// stays flat however many rows the report has.
const CSV_CHUNK: usize = 64 * 1024;

/// The report's every row as a streamed CSV body. The rows are made on a blocking thread
/// and handed over a few chunks at a time; a client that goes away stops the walk.
fn csv_body(report: Arc<Report>, group_by: &[GroupKey]) -> poem::Body {
    let writer = CsvWriter::new(group_by);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = String::with_capacity(CSV_CHUNK * 2);
        writer.header(&mut out);
        report.for_each(|row| {
            writer.row(&mut out, &shape(row));
            if out.len() < CSV_CHUNK {
                return ControlFlow::Continue(());
            }
            let chunk = std::mem::replace(&mut out, String::with_capacity(CSV_CHUNK * 2));
            match tx.blocking_send(Ok(chunk.into_bytes())) {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(()),
            }
        });
        if !out.is_empty() {
            let _ = tx.blocking_send(Ok(out.into_bytes()));
        }
    });
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    poem::Body::from_bytes_stream(chunks)
}

/// A CSV body streamed as it is made.
pub struct CsvStream(poem::Body);

impl poem_openapi::payload::Payload for CsvStream {
    const CONTENT_TYPE: &'static str = "text/csv; charset=utf-8";

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        <String as poem_openapi::types::Type>::schema_ref()
    }
}

impl poem::IntoResponse for CsvStream {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type(<Self as poem_openapi::payload::Payload>::CONTENT_TYPE)
            .body(self.0)
    }
}

fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(now, |d| Utc.from_utc_datetime(&d))
}

const INVALID_TIME: &str = "Enter a date (YYYY-MM-DD) or an RFC 3339 date-time.";

/// The report's parameters.
pub struct ReportParams {
    query: ReportQuery,
    csv: bool,
    page: PageRequest,
}

impl QueryParams for ReportParams {
    const PARAMS: &'static [&'static [ParamDoc]] = &[
        params![
            start: "Window start: YYYY-MM-DD (midnight UTC) or RFC 3339; default the first of this month, UTC.",
            end: "Window end (exclusive), same forms; default now; a later end is cut to now.",
            group_by: "Comma list of `name`, `image`, `tenant`, `settings` (default `name`).",
            period: "`day`, `month` or `none` (default): one row per group per period.",
            basis: "Which time counts: `active` (default: `ACTIVE` only), `running` (the guest runs: also resizes to confirm, reboots, migrations, rescue, rebuild) or `allocated` (it holds a hypervisor's resources: running, stopped, paused, suspended, shelved, and in error after it first ran).",
            format: "`csv` for every row as CSV (also `Accept: text/csv`); JSON pages otherwise.",
            name: "Case-insensitive substring of the image name.",
            name_exact: "Exact image name.",
            settings_uuid,
            tenant_uuid,
            offering_uuid,
        ],
        PAGE_PARAMS,
    ];

    fn parse(q: &RawQuery) -> Result<Self, ApiError> {
        let mut v = Validator::default();
        let now = Utc::now();
        let mut time = |key: &str, default: DateTime<Utc>| match q.first(key) {
            None => default,
            Some(raw) => parse_time(raw).unwrap_or_else(|| {
                v.add(key, INVALID_TIME);
                default
            }),
        };
        let start = time("start", month_start(now));
        let end = Ord::min(time("end", now), now);
        let mut group_by = Vec::new();
        for raw in q.all("group_by").iter().flat_map(|g| g.split(',')) {
            match GroupKey::parse(raw) {
                Some(key) => group_by.push(key),
                None => v.add(
                    "group_by",
                    format!("\"{}\" is not a valid choice.", raw.trim()),
                ),
            }
        }
        if group_by.is_empty() {
            group_by.push(GroupKey::Name);
        }
        group_by.sort();
        group_by.dedup();
        let period = match q.first("period") {
            None => Period::None,
            Some(raw) => Period::parse(raw).unwrap_or_else(|| {
                v.add("period", format!("\"{raw}\" is not a valid choice."));
                Period::None
            }),
        };
        let basis = match q.first("basis") {
            None => Basis::Active,
            Some(raw) => Basis::parse(raw).unwrap_or_else(|| {
                v.add("basis", format!("\"{raw}\" is not a valid choice."));
                Basis::Active
            }),
        };
        let csv = match q.first("format") {
            None | Some("json") => false,
            Some("csv") => true,
            Some(other) => {
                v.add("format", format!("\"{other}\" is not a valid choice."));
                false
            }
        };
        let filter = ImageFilter {
            name_contains: q.all("name").into_iter().map(String::from).collect(),
            name_exact: q.all("name_exact").into_iter().map(String::from).collect(),
            clouds: q.uuids("settings_uuid", &mut v),
            tenants: q.uuids("tenant_uuid", &mut v),
            offerings: q.uuids("offering_uuid", &mut v),
            ..ImageFilter::default()
        };
        if start >= end && !v.has("start") && !v.has("end") {
            v.add("end", "Must be after start (and start before now).");
        }
        v.finish()?;
        Ok(Self {
            query: ReportQuery {
                start,
                end,
                group_by,
                period,
                basis,
                filter,
            },
            csv,
            page: q.page()?,
        })
    }
}

impl QueryDocs for UsageReportApi {
    const QUERIES: &'static [(&'static str, &'static [&'static [ParamDoc]])] = &[
        ("openstack_images_usage_report_list", ReportParams::PARAMS),
        ("openstack_images_usage_report_count", ReportParams::PARAMS),
    ];
}

fn wants_csv(req: &Request, p: &ReportParams) -> bool {
    p.csv
        || req
            .header("accept")
            .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/csv")))
}

#[OpenApi(prefix_path = "/api", tag = "super::ApiTags::OpenstackImages")]
impl UsageReportApi {
    /// Usage over time: per group and period, instances created, deleted and counted at the
    /// end, and the hours the basis counts (`ACTIVE` by default; also weighted by vCPUs, RAM
    /// GiB and billed disk GiB). Staff see every tenant; a scoped token its own.
    #[oai(
        path = "/openstack-images/usage_report/",
        method = "get",
        operation_id = "openstack_images_usage_report_list"
    )]
    async fn report(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(p): Params<ReportParams>,
    ) -> Result<ReportResponse, ErrorResponse> {
        let report = Arc::new(
            state
                .catalog
                .usage_report()
                .prepare(&caller.scope(), &p.query)
                .await?,
        );
        if wants_csv(req, &p) {
            let total = report.count_rows().await?;
            let body = ReportBody::Csv(CsvStream(csv_body(report, &p.query.group_by)));
            return Ok(ReportResponse::Ok(body, total, None));
        }
        let paged = report.page_of(p.page).await?;
        let items = paged.items.into_iter().map(shape).collect();
        let PageHeaders::Ok(total, link) = state.page_headers(req, &paged.page);
        Ok(ReportResponse::Ok(
            ReportBody::Json(Json(items)),
            total,
            Some(link),
        ))
    }

    /// The headers of the report (`X-Result-Count`, `Link`) without a body.
    #[oai(
        path = "/openstack-images/usage_report/",
        method = "head",
        operation_id = "openstack_images_usage_report_count"
    )]
    async fn count(
        &self,
        state: Data<&Arc<AppState>>,
        caller: Caller,
        req: &Request,
        Params(p): Params<ReportParams>,
    ) -> Result<PageHeaders, ErrorResponse> {
        let report = state
            .catalog
            .usage_report()
            .prepare(&caller.scope(), &p.query)
            .await?;
        let total = Arc::new(report).count_rows().await?;
        Ok(state.page_headers(req, &p.page.resolve(total)?))
    }
}
