//! GET `/metrics`: Prometheus' text format, parsed by a Prometheus text parser. Counters are
//! the process's (every test of this binary adds to them), so a test compares scrapes taken
//! before and after what it does, on labels only it uses; the catalog's gauges are its own
//! database's, so they are exact.
use cloudcensus_sim::{Fault, FaultKind, Target};
use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;

use crate::common::internals;
use crate::common::sim::SimApp;

/// One scrape, parsed.
struct Metrics(Scrape);

impl Metrics {
    async fn scrape(s: &SimApp) -> Self {
        let r = s.app.get_anonymous("/metrics").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("text/plain; version=0.0.4; charset=utf-8"),
        );
        let lines = r.text.lines().map(|l| Ok(l.to_string()));
        Self(Scrape::parse(lines).expect("the Prometheus text parser reads it"))
    }

    /// The value of the sample `name` whose labels include `labels` (0 when there is none).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let matching: Vec<f64> = self
            .0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
                Value::Summary(_) => f64::NAN,
            })
            .collect();
        assert!(matching.len() <= 1, "{name} {labels:?}: {matching:?}");
        matching.first().copied().unwrap_or(0.0)
    }

    fn has(&self, name: &str) -> bool {
        self.0.samples.iter().any(|s| s.metric == name)
    }
}

/// Syncs, failed syncs, retries, API requests and delta polls each move their counters; the
/// catalog's gauges say what the database holds.
#[tokio::test]
async fn metrics_count_syncs_requests_and_the_catalog() {
    let s = SimApp::generated(2, 12, 2).unregistered().start().await;
    // A cloud name no other test uses: its sync counters are this test's alone.
    let cloud = "metrics-cloud";
    let (_, tenants) = s.register(cloud).await;
    let before = Metrics::scrape(&s).await;

    let succeeded = internals::sweep(&s.engine).await;
    assert!(succeeded.iter().all(|o| o.result.is_ok()));
    let listed = s.app.get("/api/openstack-images/").await;
    assert_eq!(listed.status, StatusCode::OK);
    let missing = s
        .app
        .get("/api/openstack-images/00000000000000000000000000000000/")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    s.app.get_anonymous("/no/such/path").await;
    internals::delta_poll(&s.engine).await;
    let mut before_failing = Vec::new();
    for t in &tenants {
        before_failing.push(s.app.tenant_now(t).await);
    }
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Status {
            code: 500,
            retry_after: None,
        }),
    );
    let failed = internals::sweep(&s.engine).await;
    assert!(failed.iter().all(|o| o.result.is_err()));
    let after = Metrics::scrape(&s).await;

    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let runs = "cloudcensus_sync_runs_total";
    let ok = [
        ("cloud", cloud),
        ("mode", "per_tenant"),
        ("outcome", "success"),
    ];
    assert_eq!(grew(runs, &ok), 2.0);
    let erred = [
        ("cloud", cloud),
        ("outcome", "failed"),
        ("error_kind", "upstream_status"),
    ];
    assert_eq!(grew(runs, &erred), 2.0);
    let durations = "cloudcensus_sync_duration_seconds";
    assert_eq!(grew(durations, &[("cloud", cloud)]), 4.0);

    // Counted by route template, not by path: the unknown uuid is not a label.
    let http = "cloudcensus_http_requests_total";
    let list = [
        ("method", "GET"),
        ("route", "/api/openstack-images"),
        ("status", "200"),
    ];
    assert!(grew(http, &list) >= 1.0);
    let one = [
        ("method", "GET"),
        ("route", "/api/openstack-images/:uuid"),
        ("status", "404"),
    ];
    assert!(
        grew(http, &one) >= 1.0,
        "{:?} {:?}",
        routes(&after),
        after
            .0
            .samples
            .iter()
            .filter(|s| s.metric == http)
            .map(|s| format!("{:?}", s.labels))
            .collect::<Vec<_>>()
    );
    assert!(
        grew(
            http,
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert!(
        after
            .0
            .samples
            .iter()
            .all(|s| !s.labels.values().any(|v| v.contains("0000000000"))),
        "no request path as a label"
    );
    assert!(after.has("cloudcensus_http_request_duration_seconds"));

    let upstream = "cloudcensus_upstream_requests_total";
    assert!(grew(upstream, &[("service", "identity"), ("status", "2xx")]) >= 2.0);
    assert!(grew(upstream, &[("service", "image"), ("status", "2xx")]) >= 2.0);
    assert!(grew(upstream, &[("service", "image"), ("status", "5xx")]) >= 2.0);
    assert!(
        grew(
            "cloudcensus_upstream_retries_total",
            &[("service", "image")]
        ) >= 2.0
    );
    assert!(
        grew(
            "cloudcensus_delta_polls_total",
            &[("scope", "tenant"), ("outcome", "applied")]
        ) >= 1.0
    );

    // The gauges are this test's database: two ERRED tenants, the rows the sync wrote.
    let tenants_in =
        |state| after.value("cloudcensus_tenants", &[("cloud", cloud), ("state", state)]);
    assert_eq!(tenants_in("ERRED"), tenants.len() as f64);
    assert_eq!(tenants_in("OK"), 0.0);
    let (images, links, instances) = s.app.count_rows().await;
    assert!(images > 0 && instances > 0);
    let rows = |table| after.value("cloudcensus_catalog_rows", &[("table", table)]);
    assert_eq!(rows("images"), images as f64);
    assert_eq!(rows("image_links"), links as f64);
    assert_eq!(rows("instances"), instances as f64);
    let synced = tenants
        .iter()
        .map(|t| {
            let at = before_failing.iter().find(|u| u.uuid == t.uuid).unwrap();
            chrono::DateTime::parse_from_rfc3339(at.last_success_at.as_deref().unwrap())
                .unwrap()
                .timestamp_millis() as f64
                / 1000.0
        })
        .fold(f64::MIN, f64::max);
    let last = after.value(
        "cloudcensus_cloud_last_success_timestamp_seconds",
        &[("cloud", cloud)],
    );
    assert!((last - synced).abs() < 0.002, "{last} vs {synced}");
    let age = after.value("cloudcensus_listing_index_age_seconds", &[]);
    assert!(age >= 0.0, "the index was built for the listing: {age}");
    s.stop().await;
}

fn routes(m: &Metrics) -> Vec<String> {
    let mut routes: Vec<String> =
        m.0.samples
            .iter()
            .filter_map(|s| s.labels.get("route").map(str::to_string))
            .collect();
    routes.sort();
    routes.dedup();
    routes
}
