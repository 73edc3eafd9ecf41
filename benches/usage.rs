//! Usage report latency at scale, over HTTP against the real server; prints figures, asserts
//! nothing.
//!
//! `cargo bench --bench usage` (knobs: BENCH_INSTANCES, default 100,000; BENCH_TENANTS, 1,000;
//! BENCH_DAYS of lifecycle history, 90; BENCH_REQUESTS per query, 20; BENCH_DATABASE_URL,
//! default a fresh SQLite file). Each instance lives through status changes every few days,
//! about ten intervals each: 100,000 instances make about a million intervals.
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use cloudcensus::api::AppState;
use cloudcensus::catalog::clouds::NewCloud;
use cloudcensus::catalog::tenants::NewTenant;
use cloudcensus::catalog::tokens::NewToken;
use cloudcensus::catalog::{Catalog, ServerStatus};
use cloudcensus::crypto::SecretBox;
use cloudcensus::sync::{SyncEngine, SyncSettings};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, TransactionTrait};

mod common;

use common::{knob, rss_mib};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NAMES: &[&str] = &[
    "ubuntu-22.04",
    "ubuntu-24.04",
    "debian-12",
    "rocky-9",
    "fedora-40",
    "windows-server-2022",
    "cirros-0.6.2",
    "almalinux-9",
];

/// Bulk-fills instances and their lifecycle intervals over `days` ending at `end`.
async fn fill(
    db: &sea_orm::DatabaseConnection,
    cloud: i32,
    tenants: &[i32],
    n: usize,
    days: i64,
    end: DateTime<Utc>,
) -> usize {
    use entity::{instance_intervals, instances};
    let started = Instant::now();
    let begin = end - chrono::Duration::days(days);
    let span = (end - begin).num_seconds();
    let mut intervals = 0;
    let batch = 200;
    for chunk_start in (0..n).step_by(batch) {
        let txn = db.begin().await.expect("txn");
        let chunk_end = (chunk_start + batch).min(n);
        let mut ins = Query::insert();
        ins.into_table(instances::Entity).columns([
            instances::Column::Id,
            instances::Column::Uuid,
            instances::Column::CloudId,
            instances::Column::TenantId,
            instances::Column::BackendId,
            instances::Column::Name,
            instances::Column::ImageBackendId,
            instances::Column::ImageName,
            instances::Column::Status,
            instances::Column::LaunchedAt,
            instances::Column::Vcpus,
            instances::Column::RamMib,
            instances::Column::DiskGib,
        ]);
        let mut lives = Query::insert();
        lives.into_table(instance_intervals::Entity).columns([
            instance_intervals::Column::InstanceId,
            instance_intervals::Column::TenantId,
            instance_intervals::Column::Status,
            instance_intervals::Column::StartedAt,
            instance_intervals::Column::EndedAt,
            instance_intervals::Column::Vcpus,
            instance_intervals::Column::RamMib,
            instance_intervals::Column::DiskGib,
            instance_intervals::Column::CloudId,
            instance_intervals::Column::ImageBackendId,
            instance_intervals::Column::ImageName,
        ]);
        for i in chunk_start..chunk_end {
            let id = i as i64 + 1;
            let tenant = tenants[i % tenants.len()];
            let vcpus = 1 + (i % 8) as i32;
            let image = format!("img-{}", i % 300);
            let name = format!("{}-{}", NAMES[i % NAMES.len()], i % 37);
            // Launched somewhere in the first tenth of the history; a change every 2–15 days.
            let launched = begin + chrono::Duration::seconds((i as i64 * 7919) % (span / 10));
            ins.values_panic([
                id.into(),
                uuid::Uuid::new_v4().into(),
                cloud.into(),
                tenant.into(),
                format!("srv-{i}").into(),
                format!("vm-{i}").into(),
                image.clone().into(),
                name.clone().into(),
                ServerStatus::Active.into(),
                launched.into(),
                vcpus.into(),
                (i64::from(vcpus) * 2048).into(),
                40i64.into(),
            ]);
            let mut at = launched;
            let mut k = 0;
            loop {
                let step = chrono::Duration::hours(48 + ((i as i64 * 31 + k * 17) % 312));
                let next = at + step;
                // Running, stopped, running, a resize to confirm: every basis counts
                // something else.
                let status = match k % 4 {
                    0 | 2 => ServerStatus::Active,
                    1 => ServerStatus::Shutoff,
                    _ => ServerStatus::VerifyResize,
                };
                // One image in ten is renamed partway: its instances' lives are two pieces.
                let named = if i % 10 == 0 && k >= 5 {
                    format!("{name}-renamed")
                } else {
                    name.clone()
                };
                let ended = (next < end).then_some(next);
                lives.values_panic([
                    id.into(),
                    tenant.into(),
                    status.into(),
                    at.into(),
                    ended.into(),
                    vcpus.into(),
                    (i64::from(vcpus) * 2048).into(),
                    40i64.into(),
                    cloud.into(),
                    image.clone().into(),
                    named.into(),
                ]);
                intervals += 1;
                if ended.is_none() {
                    break;
                }
                at = next;
                k += 1;
            }
        }
        txn.execute(&ins).await.expect("insert instances");
        txn.execute(&lives).await.expect("insert intervals");
        txn.commit().await.expect("commit");
    }
    db.execute_unprepared("ANALYZE").await.expect("analyze");
    println!(
        "filled {n} instances, {intervals} intervals over {days} days in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    intervals
}

async fn latency(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    n: usize,
) -> (Duration, Duration, String) {
    let mut times = Vec::with_capacity(n);
    let mut count = String::new();
    for _ in 0..n {
        let started = Instant::now();
        let resp = client
            .get(url)
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .expect("request");
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        count = resp
            .headers()
            .get("x-result-count")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string();
        let _ = resp.bytes().await.expect("body");
        times.push(started.elapsed());
    }
    times.sort();
    (times[n / 2], times[(n * 99 / 100).min(n - 1)], count)
}

#[tokio::main]
async fn main() {
    cloudcensus::install_crypto_provider();
    let n = knob("BENCH_INSTANCES", 100_000);
    let tenant_count = knob("BENCH_TENANTS", 1_000);
    let days = knob("BENCH_DAYS", 90) as i64;
    let requests = knob("BENCH_REQUESTS", 20).max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("usage.db").display()
        )
    });
    let catalog = Catalog::open(&url, SecretBox::ephemeral(), true)
        .await
        .expect("database");
    let db = sea_orm::Database::connect(&url).await.expect("database");
    let cloud = catalog
        .clouds()
        .create(NewCloud::with_password(
            "bench",
            "http://127.0.0.1:9/v3",
            "u",
            "p",
        ))
        .await
        .expect("cloud");
    let mut tenants = Vec::new();
    for i in 0..tenant_count {
        let t = catalog
            .tenants()
            .create(NewTenant {
                name: format!("t{i}"),
                backend_id: format!("p{i}"),
                cloud: cloud.id,
                credentials: None,
            })
            .await
            .expect("tenant");
        tenants.push(t.tenant.id.0);
    }
    // The history ends at the start of this month, so "last month" is a whole one.
    let now = Utc::now();
    let month_start = now
        .date_naive()
        .with_day(1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .expect("month start");
    fill(&db, cloud.id.0, &tenants, n, days, month_start).await;
    let month_before = (month_start - chrono::Duration::days(1))
        .date_naive()
        .with_day(1)
        .expect("previous month");

    let (_, staff) = catalog
        .tokens()
        .create(NewToken {
            name: "staff".into(),
            is_staff: true,
            tenants: vec![],
            expires_in_days: None,
        })
        .await
        .expect("token");
    let bound = cloudcensus::server::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let base = format!("http://{}", bound.addr);
    let engine = SyncEngine::new(catalog.clone(), SyncSettings::new("0 0 0 1 1 *", 1));
    let state = Arc::new(AppState {
        catalog,
        public_url: base.clone(),
        sync: engine,
        limits: Default::default(),
        metrics_token: None,
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cloudcensus::server::run(bound, state, async {
        let _ = rx.await;
    }));

    let window = format!("start={month_before}&end={}", month_start.date_naive());
    let client = reqwest::Client::new();
    // The first report reads the whole history into memory; later ones catch up on changes.
    let rss_before = rss_mib();
    let started = Instant::now();
    latency(
        &client,
        &format!("{base}/api/openstack-images/usage_report/?{window}"),
        &staff,
        1,
    )
    .await;
    println!(
        "first report (reads the history): {:.2} s; resident memory {:.0} -> {:.0} MiB",
        started.elapsed().as_secs_f64(),
        rss_before,
        rss_mib()
    );
    println!("\nlast month's report, {requests} requests each (p50 / p99, rows):");
    for (label, query) in [
        ("by name", format!("{window}&page_size=100")),
        (
            "by tenant",
            format!("{window}&group_by=tenant&page_size=100"),
        ),
        (
            "by tenant,name per day",
            format!("{window}&group_by=tenant,name&period=day&page_size=100"),
        ),
        (
            "by name, allocated",
            format!("{window}&basis=allocated&page_size=100"),
        ),
        (
            "by image per day, running",
            format!("{window}&group_by=image&period=day&basis=running&page_size=100"),
        ),
    ] {
        let url = format!("{base}/api/openstack-images/usage_report/?{query}");
        let (p50, p99, rows) = latency(&client, &url, &staff, requests).await;
        println!(
            "  {label:<28} {:>8.1} ms {:>8.1} ms  {rows} rows",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    // The body is counted as it arrives, not kept: the memory figure is the server's.
    let rss_before = rss_mib();
    let started = Instant::now();
    let mut resp = client
        .get(format!(
            "{base}/api/openstack-images/usage_report/?{window}&group_by=tenant,name&period=day&format=csv"
        ))
        .header("Authorization", format!("Token {staff}"))
        .send()
        .await
        .expect("csv");
    let (mut lines, mut bytes, mut peak) = (0usize, 0usize, rss_before);
    while let Some(chunk) = resp.chunk().await.expect("csv body") {
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        bytes += chunk.len();
        peak = peak.max(rss_mib());
    }
    println!(
        "  CSV, by tenant,name per day: {lines} lines, {:.1} MiB in {:.2} s; resident memory {:.0} MiB before, at most {:.0} MiB during",
        bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64(),
        rss_before,
        peak
    );
    let _ = tx.send(());
    let _ = server.await;
}
