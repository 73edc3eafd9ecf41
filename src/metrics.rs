//! Prometheus metrics: what an operator alerts on and graphs. Events (HTTP requests, sync
//! runs, upstream requests, delta polls, index rebuilds) are counted where they happen, in one
//! process-wide registry; the catalog's state (tenants by state, table sizes, the listing
//! index's age) is read when `/metrics` is scraped. Names follow Prometheus' guide:
//! `cloudcensus_` prefix, base units (seconds), `_total` on counters.
//!
//! Label values come from fixed sets (methods, route templates, modes, outcomes, error kinds,
//! services) or from cloud names, which operators choose and keep few: never from request
//! paths, tenant or image names, which would grow without bound.
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of what [`render`] writes (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// HTTP latency buckets, in seconds: the API answers in about a millisecond, a cold listing
/// of a big catalog in a second.
const HTTP_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Sync duration buckets, in seconds: an unchanged tenant takes milliseconds, a first sync
/// of a big tenant minutes.
const SYNC_BUCKETS: [f64; 11] = [
    0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 1800.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: &'static str,
    /// The route's template (`/api/openstack-images/:image_uuid/`), `unmatched` for none.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncRunLabels {
    pub cloud: String,
    /// `cloud` (from one listing of the whole cloud) or `per_tenant` (the tenant's own login).
    pub mode: &'static str,
    /// `success`, `failed`, `aborted` or `interrupted`.
    pub outcome: &'static str,
    /// The failure's kind (`authentication`, `tls`, …); empty on success.
    pub error_kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncModeLabels {
    cloud: String,
    mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    /// The service's catalog type: `identity`, `image`, `compute`, `volume`.
    service: &'static str,
    /// The HTTP status class (`2xx` … `5xx`), or `error` when no answer came.
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeltaLabels {
    /// `cloud` (a cloud listed whole) or `tenant` (a tenant's own login).
    scope: &'static str,
    /// `applied`, or `failed`.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    /// `image` or `server`.
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantStateLabels {
    cloud: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloudLabels {
    cloud: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabels {
    /// `images`, `image_links`, `instances`, `intervals`.
    table: &'static str,
}

/// What the catalog holds at a scrape (see [`Metrics::set_catalog`]).
#[derive(Clone, Debug, Default)]
pub struct CatalogState {
    /// Tenants per (cloud name, state).
    pub tenants: Vec<(String, &'static str, u64)>,
    /// Rows per table name.
    pub rows: Vec<(&'static str, u64)>,
    /// How long ago the listing index's snapshot was built; `None` before the first.
    pub index_age: Option<Duration>,
    /// Per cloud name, the Unix time one of its tenants last synced successfully.
    pub last_success: Vec<(String, f64)>,
}

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn sync_histogram() -> Histogram {
    Histogram::new(SYNC_BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    sync_runs: Family<SyncRunLabels, Counter>,
    sync_duration: Family<SyncModeLabels, Histogram, fn() -> Histogram>,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_retries: Family<ServiceLabels, Counter>,
    delta_polls: Family<DeltaLabels, Counter>,
    delta_changes: Family<ChangeLabels, Counter>,
    index_rebuilds: Counter,
    tenants: Family<TenantStateLabels, Gauge>,
    rows: Family<TableLabels, Gauge>,
    index_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    last_success: Family<CloudLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Serializes scrapes: each clears and sets the catalog gauges, then encodes.
    scrape: std::sync::Mutex<()>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn get() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("cloudcensus");
        let http_requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            http_requests.clone(),
        );
        let http_duration =
            Family::<_, _, fn() -> Histogram>::new_with_constructor(http_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            http_duration.clone(),
        );
        let sync_runs = Family::default();
        registry.register(
            "sync_runs",
            "Tenant sync runs finished, by cloud, mode, outcome and error kind",
            sync_runs.clone(),
        );
        let sync_duration =
            Family::<_, _, fn() -> Histogram>::new_with_constructor(sync_histogram as fn() -> _);
        registry.register(
            "sync_duration_seconds",
            "Time a tenant sync run took, by cloud and mode",
            sync_duration.clone(),
        );
        let upstream_requests = Family::default();
        registry.register(
            "upstream_requests",
            "Requests sent to OpenStack (logins and retries included), by service and status class",
            upstream_requests.clone(),
        );
        let upstream_retries = Family::default();
        registry.register(
            "upstream_retries",
            "Requests to OpenStack sent again after a failure, by service",
            upstream_retries.clone(),
        );
        let delta_polls = Family::default();
        registry.register(
            "delta_polls",
            "Delta polls of a cloud or tenant, by scope and outcome",
            delta_polls.clone(),
        );
        let delta_changes = Family::default();
        registry.register(
            "delta_changes",
            "Images and servers delta polls found changed",
            delta_changes.clone(),
        );
        let index_rebuilds = Counter::default();
        registry.register(
            "listing_index_rebuilds",
            "Rebuilds of the in-memory listing index",
            index_rebuilds.clone(),
        );
        let tenants = Family::default();
        registry.register(
            "tenants",
            "Registered tenants, by cloud and state of their last sync",
            tenants.clone(),
        );
        let rows = Family::default();
        registry.register("catalog_rows", "Rows in the catalog's tables", rows.clone());
        let index_age = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "listing_index_age_seconds",
            "Seconds since the listing index's snapshot was built (NaN before the first)",
            index_age.clone(),
        );
        let last_success = Family::default();
        registry.register(
            "cloud_last_success_timestamp_seconds",
            "When a tenant of the cloud last synced successfully (Unix time)",
            last_success.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            sync_runs,
            sync_duration,
            upstream_requests,
            upstream_retries,
            delta_polls,
            delta_changes,
            index_rebuilds,
            tenants,
            rows,
            index_age,
            last_success,
            scrape: std::sync::Mutex::new(()),
        }
    }

    /// An HTTP request answered.
    pub fn http_request(&self, labels: HttpLabels, took: Duration) {
        self.http_duration
            .get_or_create(&RouteLabels {
                method: labels.method,
                route: labels.route.clone(),
            })
            .observe(took.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    /// A tenant sync run finished.
    pub fn sync_run(&self, labels: SyncRunLabels, took: Duration) {
        self.sync_duration
            .get_or_create(&SyncModeLabels {
                cloud: labels.cloud.clone(),
                mode: labels.mode,
            })
            .observe(took.as_secs_f64());
        self.sync_runs.get_or_create(&labels).inc();
    }

    /// One request to OpenStack: its status, or `None` when no answer came.
    pub fn upstream_request(&self, service: &'static str, status: Option<u16>) {
        let status = match status {
            Some(100..=199) => "1xx",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            Some(_) | None => "error",
        };
        self.upstream_requests
            .get_or_create(&UpstreamLabels { service, status })
            .inc();
    }

    /// A request to OpenStack about to be sent again.
    pub fn upstream_retry(&self, service: &'static str) {
        self.upstream_retries
            .get_or_create(&ServiceLabels { service })
            .inc();
    }

    /// A delta poll of a cloud (`tenant = false`) or a tenant: what it found, or that it failed.
    pub fn delta_poll(&self, tenant: bool, found: Option<(usize, usize)>) {
        let scope = if tenant { "tenant" } else { "cloud" };
        let outcome = if found.is_some() { "applied" } else { "failed" };
        self.delta_polls
            .get_or_create(&DeltaLabels { scope, outcome })
            .inc();
        if let Some((images, servers)) = found {
            for (kind, n) in [("image", images), ("server", servers)] {
                self.delta_changes
                    .get_or_create(&ChangeLabels { kind })
                    .inc_by(n as u64);
            }
        }
    }

    /// The listing index was rebuilt.
    pub fn index_rebuilt(&self) {
        self.index_rebuilds.inc();
    }

    /// The metrics in Prometheus' text format, with the catalog's state as `state` says.
    pub fn render(&self, state: &CatalogState) -> String {
        let _one_scrape_at_a_time = self.scrape.lock();
        // Cleared first: a deleted cloud's tenants must not linger at their last count.
        self.tenants.clear();
        for (cloud, state, n) in &state.tenants {
            self.tenants
                .get_or_create(&TenantStateLabels {
                    cloud: cloud.clone(),
                    state,
                })
                .set(*n as i64);
        }
        self.rows.clear();
        for (table, n) in &state.rows {
            self.rows
                .get_or_create(&TableLabels { table })
                .set(*n as i64);
        }
        self.last_success.clear();
        for (cloud, at) in &state.last_success {
            self.last_success
                .get_or_create(&CloudLabels {
                    cloud: cloud.clone(),
                })
                .set(*at);
        }
        self.index_age
            .set(state.index_age.map_or(f64::NAN, |age| age.as_secs_f64()));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}
