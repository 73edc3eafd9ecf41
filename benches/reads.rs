//! Reads while syncs write: a mix of list / list with filters / retrieve / usage_stats
//! requests from concurrent clients against the real server, in phases (idle before the first
//! sync, during it, right after, idle at full size, during an idle re-sync), beside the ceiling
//! of a bare poem handler serving the same default page (its bytes and headers), measured
//! against the real default page in the same run by the bench's own clients and by `wrk`, and
//! the ratio real / bare of each pair. Prints figures, asserts nothing.
//!
//! `cargo bench --bench reads` (knobs: BENCH_PROJECTS 10, BENCH_IMAGES per project 10000,
//! BENCH_SERVERS 200, BENCH_CLIENTS 8, BENCH_PHASE_SECS 5, BENCH_SYNC_CONCURRENCY 4,
//! BENCH_SYNC_THREADS half the cores, BENCH_DATABASE_URL — default a fresh SQLite file).
//! Each phase shows who used the CPU: the API, the syncs, SQLite's threads, the simulator
//! and the load generator (each on threads of its own).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudcensus::api::AppState;
use cloudcensus::catalog::Catalog;
use cloudcensus::catalog::tokens::NewToken;
use cloudcensus::crypto::SecretBox;
use cloudcensus::sync::LogObserver;
use cloudcensus::sync::{SyncEngine, SyncSettings};
use cloudcensus_sim::{GenSpec, Simulator, World};

mod common;

use common::knob;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A request slower than this counts as a timeout (and is abandoned).
const TIMEOUT: Duration = Duration::from_secs(2);

/// Who used the CPU, by thread name: the API (the main runtime's workers), the syncs (their
/// own runtime), the simulator and the load generator (runtimes of their own here), SQLite's
/// connection threads. CPU seconds per part, from /proc.
#[derive(Clone, Copy, Default)]
struct CpuByPart([f64; 5]);

const PARTS: [&str; 5] = ["api", "sync", "sqlite", "sim", "load"];

impl CpuByPart {
    fn now() -> Self {
        let mut parts = Self::default();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return parts;
        };
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = &stat[open + 1..close];
            let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
                continue;
            };
            let part = match name {
                n if n.starts_with(cloudcensus::sync::runtime::THREAD_NAME) => 1,
                n if n.starts_with("sqlx-sqlite") => 2,
                n if n.starts_with("bench-sim") => 3,
                n if n.starts_with("bench-load") => 4,
                _ => 0,
            };
            parts.0[part] += (utime + stime) / 100.0;
        }
        parts
    }

    /// Percent of one core per part since `earlier`, over `wall`.
    fn since(&self, earlier: &Self, wall: Duration) -> String {
        let mut shown = Vec::new();
        for (i, name) in PARTS.iter().enumerate() {
            let pct = 100.0 * (self.0[i] - earlier.0[i]) / wall.as_secs_f64();
            shown.push(format!("{name} {pct:.0}"));
        }
        shown.join(" / ")
    }
}

/// The load generator's runtime.
fn load_runtime() -> &'static tokio::runtime::Runtime {
    static LOAD: std::sync::OnceLock<&'static tokio::runtime::Runtime> = std::sync::OnceLock::new();
    LOAD.get_or_init(|| part_runtime("bench-load", 2))
}

/// A runtime of its own for a part of the benchmark (its threads' CPU is counted apart).
fn part_runtime(name: &str, threads: usize) -> &'static tokio::runtime::Runtime {
    Box::leak(Box::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("runtime"),
    ))
}

/// What the load generator saw in one phase.
#[derive(Default)]
struct Phase {
    latencies: Vec<Duration>,
    errors: u64,
    timeouts: u64,
}

impl Phase {
    /// Prints the phase's figures; returns its req/s.
    fn print(&mut self, label: &str, wall: Duration, cpu: String) -> f64 {
        self.latencies.sort();
        let n = self.latencies.len();
        let at = |q: f64| {
            self.latencies
                .get(((n as f64 * q) as usize).min(n.saturating_sub(1)))
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        let max = self
            .latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        let rps = n as f64 / wall.as_secs_f64();
        println!(
            "{label:<34} {rps:>9.0} {:>8.2} {:>8.2} {:>9.1} {:>7} {:>8}   {cpu}",
            at(0.5),
            at(0.99),
            max,
            self.errors,
            self.timeouts,
        );
        rps
    }
}

/// The read mix: each client cycles through these, and through a retrieve of an image once
/// one is known (when `retrieve`).
struct Mix {
    paths: Vec<String>,
    retrieve: bool,
    image: Mutex<Option<String>>,
}

impl Mix {
    fn new(paths: Vec<String>, retrieve: bool) -> Arc<Self> {
        Arc::new(Self {
            paths,
            retrieve,
            image: Mutex::new(None),
        })
    }

    fn path(&self, i: usize) -> Option<String> {
        let n = self.paths.len() + usize::from(self.retrieve);
        match i % n {
            k if k < self.paths.len() => Some(self.paths[k].clone()),
            _ => self
                .image
                .lock()
                .ok()?
                .as_ref()
                .map(|u| format!("/api/openstack-images/{u}/")),
        }
    }
}

/// Runs `clients` clients against `base` until `stop` is set.
async fn load(
    base: &str,
    token: &str,
    mix: Arc<Mix>,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> Phase {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (base, token, mix, stop) = (
            base.to_string(),
            token.to_string(),
            mix.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .expect("client");
            let mut phase = Phase::default();
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let Some(path) = mix.path(i) else { continue };
                let started = Instant::now();
                let sent = client
                    .get(format!("{base}{path}"))
                    .header("Authorization", format!("Token {token}"))
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status().is_success() => {
                        let body = resp.bytes().await.unwrap_or_default();
                        phase.latencies.push(started.elapsed());
                        remember_image(&mix, &body);
                    }
                    Ok(_) => phase.errors += 1,
                    Err(e) if e.is_timeout() => phase.timeouts += 1,
                    Err(_) => phase.errors += 1,
                }
            }
            phase
        }));
    }
    let mut all = Phase::default();
    for t in tasks {
        if let Ok(p) = t.await {
            all.latencies.extend(p.latencies);
            all.errors += p.errors;
            all.timeouts += p.timeouts;
        }
    }
    all
}

fn remember_image(mix: &Mix, body: &[u8]) {
    let Ok(mut known) = mix.image.lock() else {
        return;
    };
    if known.is_some() {
        return;
    }
    let uuid = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.as_array()?
                .first()?
                .get("uuid")?
                .as_str()
                .map(String::from)
        });
    *known = uuid;
}

/// Load for `secs` seconds (or while `work` runs, when given); prints the phase and returns
/// its req/s.
async fn phase<F: std::future::Future<Output = ()>>(
    label: &str,
    base: &str,
    token: &str,
    mix: &Arc<Mix>,
    clients: usize,
    secs: u64,
    work: Option<F>,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let (cpu0, started) = (CpuByPart::now(), Instant::now());
    let loader = load_runtime().spawn({
        let (base, token, mix, stop) = (
            base.to_string(),
            token.to_string(),
            mix.clone(),
            stop.clone(),
        );
        async move { load(&base, &token, mix, clients, stop).await }
    });
    match work {
        Some(work) => work.await,
        None => tokio::time::sleep(Duration::from_secs(secs)).await,
    }
    stop.store(true, Ordering::Relaxed);
    let wall = started.elapsed();
    let mut figures = loader.await.expect("load");
    figures.print(label, wall, CpuByPart::now().since(&cpu0, wall))
}

/// A page as the server answered it: body and list headers.
struct Page {
    body: Vec<u8>,
    content_type: String,
    count: String,
    link: String,
}

/// A bare poem server answering every GET with `page` and the list's headers: the ceiling of
/// the HTTP stack on this machine.
async fn bare_server(page: Arc<Page>) -> String {
    use poem::{EndpointExt, Response, Route, handler, web::Data};
    #[handler]
    fn page_handler(Data(page): Data<&Arc<Page>>) -> Response {
        Response::builder()
            .content_type(page.content_type.as_str())
            .header("X-Result-Count", page.count.as_str())
            .header("Link", page.link.as_str())
            .body(page.body.clone())
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).expect("acceptor");
    let app = Route::new().at("/*path", page_handler).data(page);
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    format!("http://{addr}")
}

/// `wrk -t2 -c{clients}` for `secs` seconds at `url` with the token, printed as a phase (the
/// load's CPU is wrk's own process, not counted); returns its req/s. `None` (and a note) when
/// wrk is missing or its output is not understood.
async fn wrk_phase(label: &str, url: &str, token: &str, clients: usize, secs: u64) -> Option<f64> {
    let (cpu0, started) = (CpuByPart::now(), Instant::now());
    let out = tokio::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{clients}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .args(["-H", &format!("Authorization: Token {token}")])
        .arg(url)
        .output()
        .await;
    let wall = started.elapsed();
    let text = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => {
            println!(
                "{label:<34} wrk failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            println!("{label:<34} not measured: wrk ({e}; apt-get install wrk)");
            return None;
        }
    };
    let figures = WrkFigures::parse(&text);
    let Some(rps) = figures.rps else {
        println!("{label:<34} wrk said: {text}");
        return None;
    };
    println!(
        "{label:<34} {rps:>9.0} {:>8.2} {:>8.2} {:>9.1} {:>7} {:>8}   {}",
        figures.p50,
        figures.p99,
        figures.max,
        figures.errors,
        figures.timeouts,
        CpuByPart::now().since(&cpu0, wall),
    );
    Some(rps)
}

/// What wrk printed, in the phases' units (ms).
#[derive(Default)]
struct WrkFigures {
    rps: Option<f64>,
    p50: f64,
    p99: f64,
    max: f64,
    errors: u64,
    timeouts: u64,
}

impl WrkFigures {
    fn parse(text: &str) -> Self {
        let ms = |v: &str| -> f64 {
            let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
            let (n, unit) = v.split_at(split);
            let n: f64 = n.parse().unwrap_or(f64::NAN);
            match unit {
                "us" => n / 1000.0,
                "ms" => n,
                "s" => n * 1000.0,
                "m" => n * 60_000.0,
                _ => f64::NAN,
            }
        };
        let mut f = Self {
            p50: f64::NAN,
            p99: f64::NAN,
            max: f64::NAN,
            ..Self::default()
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["Requests/sec:", n] => f.rps = n.parse().ok(),
                ["50%", v] => f.p50 = ms(v),
                ["99%", v] => f.p99 = ms(v),
                ["Latency", _avg, _stdev, max, ..] => f.max = ms(max),
                ["Non-2xx", "or", "3xx", "responses:", n] => f.errors += n.parse().unwrap_or(0),
                ["Socket", "errors:", rest @ ..] => {
                    // connect 0, read 0, write 0, timeout 0
                    let text = rest.join(" ");
                    for part in text.split(',') {
                        let kv: Vec<&str> = part.split_whitespace().collect();
                        if let [kind, n] = kv.as_slice() {
                            let n: u64 = n.parse().unwrap_or(0);
                            if *kind == "timeout" {
                                f.timeouts += n;
                            } else {
                                f.errors += n;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        f
    }
}

/// A sweep to run as a phase's work, and where its duration will be.
fn timed_sweep(
    engine: &Arc<SyncEngine>,
) -> (
    Arc<Mutex<Duration>>,
    impl std::future::Future<Output = ()> + use<>,
) {
    let took = Arc::new(Mutex::new(Duration::ZERO));
    let work = {
        let (engine, took) = (engine.clone(), took.clone());
        async move {
            let duration = sweep(&engine).await;
            if let Ok(mut t) = took.lock() {
                *t = duration;
            }
        }
    };
    (took, work)
}

/// A sweep of every tenant; returns its duration.
async fn sweep(engine: &Arc<SyncEngine>) -> Duration {
    let started = Instant::now();
    let outcomes = engine
        .sweep(None, None, Arc::new(LogObserver))
        .await
        .expect("sweep");
    for o in outcomes.iter().filter(|o| o.result.is_err()) {
        println!("  (tenant {} FAILED: {:?})", o.tenant_name, o.result);
    }
    started.elapsed()
}

fn database_url(dir: &tempfile::TempDir, name: &str) -> String {
    std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.path().join(name).display()))
}

#[tokio::main]
async fn main() {
    cloudcensus::install_crypto_provider();
    // Warnings (a failed tenant, a failed index rebuild) go to stderr; RUST_LOG for more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let projects = knob("BENCH_PROJECTS", 10);
    let images = knob("BENCH_IMAGES", 10_000);
    let servers = knob("BENCH_SERVERS", 200);
    let clients = knob("BENCH_CLIENTS", 8);
    let secs = knob("BENCH_PHASE_SECS", 5) as u64;
    let concurrency = knob("BENCH_SYNC_CONCURRENCY", 4);
    let sync_threads = knob(
        "BENCH_SYNC_THREADS",
        cloudcensus::sync::runtime::default_threads(),
    );
    let world = World::generate(&GenSpec {
        projects,
        images_per_project: images,
        servers_per_project: servers,
        seed: 42,
    });
    let project_list = world.projects.clone();
    let sim = part_runtime("bench-sim", 1)
        .spawn(Simulator::start(world))
        .await
        .expect("simulator task")
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = || {
        let mut s = SyncSettings::new("0 0 0 1 1 *", concurrency);
        s.threads = sync_threads;
        s.session.timeout = Duration::from_secs(120);
        s
    };

    // The sync alone, without readers, on a database of its own (PostgreSQL: skipped, the
    // one database would then hold the cloud twice).
    if std::env::var("BENCH_DATABASE_URL").is_err() {
        let alone = Catalog::open(
            &database_url(&dir, "alone.db"),
            SecretBox::ephemeral(),
            true,
        )
        .await
        .expect("database");
        common::register(&alone, &sim, &project_list).await;
        let engine = SyncEngine::new(alone.clone(), settings());
        let first = sweep(&engine).await;
        let again = sweep(&engine).await;
        println!(
            "sync without readers: first {:.1} s, idle re-sync {:.1} s",
            first.as_secs_f64(),
            again.as_secs_f64()
        );
        alone.close().await.ok();
    }

    let catalog = Catalog::open(
        &database_url(&dir, "reads.db"),
        SecretBox::ephemeral(),
        true,
    )
    .await
    .expect("database");
    common::register(&catalog, &sim, &project_list).await;
    let (_, token) = catalog
        .tokens()
        .create(NewToken {
            name: "bench".into(),
            is_staff: true,
            tenants: vec![],
            expires_in_days: None,
        })
        .await
        .expect("token");
    let engine = SyncEngine::new(catalog.clone(), settings());
    let bound = cloudcensus::server::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let base = format!("http://{}", bound.addr);
    let state = Arc::new(AppState {
        catalog: catalog.clone(),
        public_url: base.clone(),
        sync: engine.clone(),
        limits: Default::default(),
        metrics_token: None,
    });
    tokio::spawn(cloudcensus::server::run(
        bound,
        state,
        std::future::pending(),
    ));
    let tenant_uuid = {
        let r: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{base}/api/openstack-tenants/?name={}",
                project_list[0].name
            ))
            .header("Authorization", format!("Token {token}"))
            .send()
            .await
            .expect("tenants")
            .json()
            .await
            .expect("json");
        r[0]["uuid"].as_str().unwrap_or_default().to_string()
    };
    let mix = Mix::new(
        vec![
            "/api/openstack-images/".into(),
            "/api/openstack-images/?page_size=100&name=ubuntu".into(),
            format!("/api/openstack-images/?page_size=100&tenant_uuid={tenant_uuid}"),
            "/api/openstack-images/usage_stats/".into(),
        ],
        true,
    );

    println!(
        "reads benchmark: {projects} projects × {images} images, {clients} clients, on {}",
        if std::env::var("BENCH_DATABASE_URL").is_ok() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "{:<34} {:>9} {:>8} {:>8} {:>9} {:>7} {:>8}   CPU, % of a core",
        "phase", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "timeouts"
    );
    let idle = || None::<std::future::Ready<()>>;
    phase(
        "idle, empty catalog",
        &base,
        &token,
        &mix,
        clients,
        secs,
        idle(),
    )
    .await;
    let (first, work) = timed_sweep(&engine);
    phase(
        "during the first sync",
        &base,
        &token,
        &mix,
        clients,
        secs,
        Some(work),
    )
    .await;
    phase("right after it", &base, &token, &mix, clients, secs, idle()).await;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    phase(
        "idle at full size",
        &base,
        &token,
        &mix,
        clients,
        secs,
        idle(),
    )
    .await;
    let (again, work) = timed_sweep(&engine);
    phase(
        "during an idle re-sync",
        &base,
        &token,
        &mix,
        clients,
        secs,
        Some(work),
    )
    .await;

    // The ceiling: the same default page, bytes and headers, from a bare handler.
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("{base}/api/openstack-images/"))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .expect("page");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (content_type, count, link) = (
        header("content-type"),
        header("x-result-count"),
        header("link"),
    );
    let body = resp.bytes().await.expect("body").to_vec();
    let bare = bare_server(Arc::new(Page {
        body,
        content_type,
        count,
        link,
    }))
    .await;
    let default_page = Mix::new(vec!["/api/openstack-images/".into()], false);
    let bare_rps = phase(
        "bare handler, default page",
        &bare,
        &token,
        &default_page,
        clients,
        secs,
        idle(),
    )
    .await;
    let real_rps = phase(
        "server, default page",
        &base,
        &token,
        &default_page,
        clients,
        secs,
        idle(),
    )
    .await;
    println!(
        "default page / bare handler: {real_rps:.0} / {bare_rps:.0} req/s = {:.0} %",
        100.0 * real_rps / bare_rps
    );
    // The same pair under wrk (a load generator outside this process, as the issue measured
    // it), and the ratio: the share of the HTTP stack's ceiling the real list page reaches.
    let page_url = "/api/openstack-images/";
    let bare_wrk = wrk_phase(
        "wrk, bare handler",
        &format!("{bare}{page_url}"),
        &token,
        clients,
        secs,
    )
    .await;
    let real_wrk = wrk_phase(
        "wrk, server, default page",
        &format!("{base}{page_url}"),
        &token,
        clients,
        secs,
    )
    .await;
    if let (Some(bare), Some(real)) = (bare_wrk, real_wrk) {
        println!(
            "default page / bare handler under wrk: {real:.0} / {bare:.0} req/s = {:.0} %",
            100.0 * real / bare
        );
    }
    println!(
        "sync under read load: first {:.1} s, idle re-sync {:.1} s",
        first.lock().map(|d| d.as_secs_f64()).unwrap_or(f64::NAN),
        again.lock().map(|d| d.as_secs_f64()).unwrap_or(f64::NAN),
    );
    sim.stop().await;
}
