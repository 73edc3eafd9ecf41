//! Catalog read latency and throughput at scale, over HTTP against the real server; prints
//! figures, asserts nothing.
//!
//! `cargo bench --bench catalog` (knobs: BENCH_IMAGES, default 1,000,000; BENCH_TENANTS, 100;
//! BENCH_REQUESTS per query, 200; BENCH_DATABASE_URL, default a fresh SQLite file).
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudcensus::api::AppState;
use cloudcensus::catalog::Catalog;
use cloudcensus::catalog::clouds::NewCloud;
use cloudcensus::catalog::tenants::NewTenant;
use cloudcensus::catalog::tokens::NewToken;
use cloudcensus::crypto::SecretBox;
use cloudcensus::sync::{SyncEngine, SyncSettings};
use sea_orm::sea_query::Query;
use sea_orm::{ConnectionTrait, TransactionTrait};

// The same allocator as the service binary, so the figures are the service's.
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
    "centos-stream-9",
    "windows-server-2022",
    "cirros-0.6.2",
    "almalinux-9",
    "opensuse-leap-15.5",
];

/// Realistic extra properties: a distribution and version, an architecture, sometimes firmware.
fn detail_properties(i: usize) -> serde_json::Value {
    let distro = ["ubuntu", "debian", "rocky", "windows", "cirros"][i % 5];
    let mut props = serde_json::json!({
        "os_distro": distro,
        "os_version": format!("{}", 10 + i % 15),
        "architecture": if i.is_multiple_of(9) { "aarch64" } else { "x86_64" },
        "description": format!("{distro} build {}", i / 97),
    });
    if i.is_multiple_of(4) {
        props["hw_firmware_type"] = "uefi".into();
    }
    props
}

/// A few tags: most images none, some one or two.
fn detail_tags(i: usize) -> serde_json::Value {
    match i % 10 {
        0 => serde_json::json!(["golden"]),
        1 => serde_json::json!(["golden", "gpu"]),
        2 => serde_json::json!(["beta"]),
        _ => serde_json::json!([]),
    }
}

/// Bulk-fills the catalog: images of one cloud, each linked to one or two tenants.
async fn fill(db: &sea_orm::DatabaseConnection, cloud_id: i32, tenant_ids: &[i32], n: usize) {
    use entity::{image_tenants, images};
    let started = Instant::now();
    let batch = 500;
    let mut next_id: i64 = 1;
    for start in (0..n).step_by(10_000) {
        let txn = db.begin().await.expect("txn");
        for chunk_start in (start..(start + 10_000).min(n)).step_by(batch) {
            let end = (chunk_start + batch).min(n);
            let mut ins = Query::insert();
            ins.into_table(images::Entity).columns([
                images::Column::Id,
                images::Column::Uuid,
                images::Column::CloudId,
                images::Column::BackendId,
                images::Column::Name,
                images::Column::MinDisk,
                images::Column::MinRam,
                images::Column::Status,
                images::Column::Visibility,
                images::Column::BackendCreatedAt,
                images::Column::HwRescueDevice,
                images::Column::HwRescueBus,
                images::Column::Properties,
                images::Column::Size,
                images::Column::DiskFormat,
                images::Column::ContainerFormat,
                images::Column::Checksum,
                images::Column::OsHashAlgo,
                images::Column::OsHashValue,
                images::Column::Owner,
                images::Column::Tags,
                images::Column::BackendUpdatedAt,
            ]);
            let mut links = Query::insert();
            links.into_table(image_tenants::Entity).columns([
                image_tenants::Column::ImageId,
                image_tenants::Column::TenantId,
            ]);
            for i in chunk_start..end {
                let id = next_id;
                next_id += 1;
                let rescue = i % 50 == 0;
                let created = chrono::DateTime::<chrono::Utc>::from_timestamp(
                    1_700_000_000 + i as i64 * 7,
                    0,
                );
                ins.values_panic([
                    id.into(),
                    uuid::Uuid::new_v4().into(),
                    cloud_id.into(),
                    uuid::Uuid::new_v4().hyphenated().to_string().into(),
                    format!("{}-{}", NAMES[i % NAMES.len()], i / 97).into(),
                    10240i64.into(),
                    1024i64.into(),
                    ["active", "active", "active", "deactivated"][i % 4].into(),
                    ["private", "public", "shared", "community"][i % 4].into(),
                    created.into(),
                    if rescue { "cdrom" } else { "" }.into(),
                    if rescue { "scsi" } else { "" }.into(),
                    detail_properties(i).into(),
                    Some(((i % 20) as i64 + 1) << 28).into(),
                    ["qcow2", "raw", "vmdk"][i % 3].into(),
                    "bare".into(),
                    // What Glance sends: an MD5 and a SHA-512 multihash, in hex.
                    format!("{:032x}", i as u128 * 7919).into(),
                    "sha512".into(),
                    format!("{:0128x}", i as u128 * 104_729).into(),
                    format!("project-{}", i % tenant_ids.len()).into(),
                    detail_tags(i).into(),
                    created.into(),
                ]);
                let t = tenant_ids[i % tenant_ids.len()];
                links.values_panic([id.into(), t.into()]);
                if i % 3 == 0 {
                    let other = tenant_ids[(i / 3) % tenant_ids.len()];
                    if other != t {
                        links.values_panic([id.into(), other.into()]);
                    }
                }
            }
            txn.execute(&ins).await.expect("insert images");
            txn.execute(&links).await.expect("insert links");
        }
        txn.commit().await.expect("commit");
    }
    // A write raises its cloud's catalog version (the index reads a cloud again only then).
    db.execute_unprepared("UPDATE service_settings SET catalog_version = catalog_version + 1")
        .await
        .expect("catalog version");
    // Fresh statistics, as a long-running database would have.
    db.execute_unprepared("ANALYZE").await.expect("analyze");
    println!(
        "filled {n} images in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

struct Figures {
    /// The first request of a query: for the listing index, the one that computes the answer.
    first: Duration,
    p50: Duration,
    p99: Duration,
    count: String,
}

async fn latency(client: &reqwest::Client, url: &str, token: &str, n: usize) -> Figures {
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
        let status = resp.status();
        count = resp
            .headers()
            .get("x-result-count")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_string();
        let body = resp.bytes().await.expect("body");
        times.push(started.elapsed());
        assert!(
            status.is_success(),
            "{url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let first = times[0];
    times.sort();
    Figures {
        first,
        p50: times[n / 2],
        p99: times[(n * 99 / 100).min(n - 1)],
        count,
    }
}

async fn throughput(url: &str, token: &str, clients: usize, secs: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, token) = (url.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut done = 0u64;
            while Instant::now() < deadline {
                let resp = client
                    .get(&url)
                    .header("Authorization", format!("Token {token}"))
                    .send()
                    .await;
                if let Ok(r) = resp {
                    let _ = r.bytes().await;
                    done += 1;
                }
            }
            done
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / secs as f64
}

#[tokio::main]
async fn main() {
    cloudcensus::install_crypto_provider();
    let n = knob("BENCH_IMAGES", 1_000_000);
    let tenant_count = knob("BENCH_TENANTS", 100);
    let requests = knob("BENCH_REQUESTS", 200);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("catalog.db").display()
        )
    });
    let catalog = Catalog::open(
        &url,
        SecretBox::ephemeral(),
        knob("BENCH_READ_INDEX", 1) != 0,
    )
    .await
    .expect("database");
    // The bench fills the catalog with bulk SQL of its own, far faster than syncs would.
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
    let mut tenant_ids = Vec::new();
    let mut tenant_uuids = Vec::new();
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
        tenant_ids.push(t.tenant.id.0);
        tenant_uuids.push(t.tenant.uuid);
    }
    fill(&db, cloud.id.0, &tenant_ids, n).await;
    let rss_before = rss_mib();
    let started = Instant::now();
    catalog.rebuild_read_index().await.expect("listing index");
    println!(
        "listing index: built in {:.2} s, resident memory {:.0} -> {:.0} MiB",
        started.elapsed().as_secs_f64(),
        rss_before,
        rss_mib()
    );

    let tokens = catalog.tokens();
    let token = |name: &str, tenants| NewToken {
        name: name.into(),
        is_staff: false,
        tenants,
        expires_in_days: None,
    };
    let staff = NewToken {
        is_staff: true,
        ..token("staff", vec![])
    };
    let (_, staff) = tokens.create(staff).await.expect("token");
    let first = cloudcensus::catalog::TenantId(tenant_ids[0]);
    let (_, scoped) = tokens
        .create(token("scoped", vec![first]))
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

    let s = cloud.uuid.simple();
    let t = tenant_uuids[1].simple();
    let queries: Vec<(&str, String, &str)> = vec![
        (
            "list",
            "/api/openstack-images/?page_size=100".into(),
            &staff,
        ),
        (
            "list, page_size=10",
            "/api/openstack-images/".into(),
            &staff,
        ),
        (
            "list, all names",
            "/api/openstack-images/?page_size=100&show_duplicate_names=true".into(),
            &staff,
        ),
        (
            "name substring",
            "/api/openstack-images/?page_size=100&name=ubuntu".into(),
            &staff,
        ),
        (
            "name_exact",
            "/api/openstack-images/?page_size=100&name_exact=debian-12-42".into(),
            &staff,
        ),
        (
            "settings_uuid",
            format!("/api/openstack-images/?page_size=100&settings_uuid={s}"),
            &staff,
        ),
        (
            "tenant_uuid",
            format!("/api/openstack-images/?page_size=100&tenant_uuid={t}"),
            &staff,
        ),
        (
            "is_rescue_image",
            "/api/openstack-images/?page_size=100&is_rescue_image=true".into(),
            &staff,
        ),
        (
            "page 50",
            "/api/openstack-images/?page_size=100&page=50".into(),
            &staff,
        ),
        (
            "scoped token",
            "/api/openstack-images/?page_size=100".into(),
            &scoped,
        ),
        (
            "visibility",
            "/api/openstack-images/?page_size=100&visibility=public".into(),
            &staff,
        ),
        (
            "status",
            "/api/openstack-images/?page_size=100&status=deactivated".into(),
            &staff,
        ),
        (
            "disk_format",
            "/api/openstack-images/?page_size=100&disk_format=raw".into(),
            &staff,
        ),
        (
            "os_distro",
            "/api/openstack-images/?page_size=100&os_distro=debian".into(),
            &staff,
        ),
        (
            "owner",
            "/api/openstack-images/?page_size=100&owner=project-3".into(),
            &staff,
        ),
        (
            "property",
            "/api/openstack-images/?page_size=100&property=hw_firmware_type:uefi".into(),
            &staff,
        ),
        (
            "tag",
            "/api/openstack-images/?page_size=100&tag=gpu".into(),
            &staff,
        ),
        (
            "created_after",
            "/api/openstack-images/?page_size=100&created_after=2023-12-01".into(),
            &staff,
        ),
        (
            "o=-size",
            "/api/openstack-images/?page_size=100&o=-size".into(),
            &staff,
        ),
        (
            "o=created",
            "/api/openstack-images/?page_size=100&o=backend_created_at".into(),
            &staff,
        ),
        (
            "fields=name,uuid",
            "/api/openstack-images/?page_size=100&fields=name,uuid".into(),
            &staff,
        ),
        (
            "usage_stats",
            "/api/openstack-images/usage_stats/?page_size=100".into(),
            &staff,
        ),
    ];
    println!(
        "catalog benchmark: {n} images, {tenant_count} tenants, on {}; {requests} sequential requests per query, then 8 clients for 3 s",
        db.get_database_backend().as_str()
    );
    println!(
        "{:<18} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "query", "count", "first ms", "p50 ms", "p99 ms", "req/s"
    );
    let client = reqwest::Client::new();
    for (label, path, token) in &queries {
        let url = format!("{base}{path}");
        let f = latency(&client, &url, token, requests).await;
        let rps = throughput(&url, token, 8, 3).await;
        // Requests the clients dropped at the deadline are still being answered: let them
        // finish before the next query's latencies are taken.
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!(
            "{label:<18} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.0}",
            f.count,
            f.first.as_secs_f64() * 1000.0,
            f.p50.as_secs_f64() * 1000.0,
            f.p99.as_secs_f64() * 1000.0,
            rps
        );
    }
    let _ = tx.send(());
    let _ = server.await;
}
