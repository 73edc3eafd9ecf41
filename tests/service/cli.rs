//! The command line: `migrate`, `token …`, `serve`, `sync` and `demo` as subprocesses.
use std::process::Command;

use reqwest::StatusCode;

use crate::common::internals::PlainServer;
use crate::common::sim::{SimApp, generated_world};
use crate::common::{SECRET_KEY, SyncRun, Tenant, TestDb, UsageStat};

pub(crate) fn cloudcensus(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cloudcensus"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir());
    cmd
}

/// A database migrated by `cloudcensus migrate` with the staff token "ops" made by
/// `cloudcensus token create`: 40 hex digits printed last.
async fn migrated_with_ops_token() -> (TestDb, String) {
    let db = TestDb::new().await;
    let migrate = cloudcensus(&db.url).arg("migrate").output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let out = cloudcensus(&db.url)
        .args(["token", "create", "--name", "ops", "--staff"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout.lines().last().unwrap().to_string();
    assert_eq!(secret.len(), 40);
    assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
    (db, secret)
}

async fn images_status(server: &PlainServer, secret: &str) -> StatusCode {
    reqwest::Client::new()
        .get(format!("{}/api/openstack-images/", server.base))
        .header("Authorization", format!("Token {secret}"))
        .send()
        .await
        .unwrap()
        .status()
}

/// The printed secret works against a server on the same database.
#[tokio::test]
async fn token_create_prints_a_secret_the_server_accepts() {
    let (db, secret) = migrated_with_ops_token().await;
    let server = PlainServer::start(&db.url).await;
    assert_eq!(images_status(&server, &secret).await, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn token_list_shows_names_and_scopes_but_never_secrets() {
    let (db, secret) = migrated_with_ops_token().await;
    let list = cloudcensus(&db.url)
        .args(["token", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(listed.contains("ops") && listed.contains("staff"));
    assert!(!listed.contains(&secret), "list never shows secrets");
}

/// A scoped token needs existing tenants; a token needs a scope at all.
#[tokio::test]
async fn token_create_needs_existing_tenants_and_some_scope() {
    let (db, _) = migrated_with_ops_token().await;
    let bad = cloudcensus(&db.url)
        .args([
            "token",
            "create",
            "--name",
            "x",
            "--tenant",
            &uuid::Uuid::new_v4().simple().to_string(),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("does not exist"));
    let no_scope = cloudcensus(&db.url)
        .args(["token", "create", "--name", "x"])
        .output()
        .unwrap();
    assert!(!no_scope.status.success());
}

#[tokio::test]
async fn token_revoke_invalidates_the_secret_and_a_second_revoke_fails() {
    let (db, secret) = migrated_with_ops_token().await;
    let server = PlainServer::start(&db.url).await;
    let revoke = cloudcensus(&db.url)
        .args(["token", "revoke", "ops"])
        .output()
        .unwrap();
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    assert_eq!(
        images_status(&server, &secret).await,
        StatusCode::UNAUTHORIZED
    );
    let missing = cloudcensus(&db.url)
        .args(["token", "revoke", "ops"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    server.stop().await;
}

#[tokio::test]
async fn serve_without_a_secret_key_is_a_clear_error() {
    let db = TestDb::new().await;
    let out = cloudcensus(&db.url)
        .env("CLOUDCENSUS_BIND", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CLOUDCENSUS_SECRET_KEY"), "{err}");
    let short = cloudcensus(&db.url)
        .env("CLOUDCENSUS_BIND", "127.0.0.1:0")
        .env("CLOUDCENSUS_SECRET_KEY", "short")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16"));
    let bad_bind = cloudcensus(&db.url)
        .env("CLOUDCENSUS_BIND", "nowhere")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!bad_bind.status.success());
    assert!(String::from_utf8_lossy(&bad_bind.stderr).contains("CLOUDCENSUS_BIND"));
}

// Several threads: the simulator must answer while this thread waits for the subprocess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_command_syncs_in_the_foreground_and_prints_a_summary() {
    let s = SimApp::world(generated_world(2, 30, 3, 21)).start().await;
    let first = s.tenants[0].uuid.clone();

    let one = cloudcensus(s.app.database_url())
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .args(["sync", "--tenant", &first])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&one.stdout);
    assert!(
        one.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert!(stdout.contains("1 tenant(s) synced, 0 failed"), "{stdout}");
    assert_eq!(s.app.tenant_now(&s.tenants[0]).await.state, "OK");
    assert!(s.app.tenant_now(&s.tenants[1]).await.last_sync_at.is_none());

    // A tenant that fails makes the command fail, after syncing the others.
    s.sim.with_world(|w| w.projects[1].enabled = false);
    let all = cloudcensus(s.app.database_url())
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .arg("sync")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&all.stdout);
    assert!(!all.status.success());
    assert!(stdout.contains("1 tenant(s) synced, 1 failed"), "{stdout}");
    assert!(stdout.contains("ERRED"), "{stdout}");
    assert!(
        !stdout.contains("admin-password")
            && !String::from_utf8_lossy(&all.stderr).contains("admin-password")
    );
    let bad = cloudcensus(s.app.database_url())
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .args(["sync", "--tenant", "not-a-uuid"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    s.stop().await;
}

/// A `cloudcensus demo` that has printed its URL, token and database.
struct Demo {
    child: Killed,
    url: String,
    token: String,
    database: String,
}

/// Starts `demo` with `cmd`'s environment and waits for its URL, token and database.
fn start_demo(mut cmd: Command) -> Demo {
    use std::io::{BufRead, BufReader};
    // Its HTTP client needs rustls's crypto provider, which only the tests' in-process
    // servers install: it passed when another test happened to start one first.
    crate::common::internals::install_crypto_provider();
    let mut child = cmd
        .env("CLOUDCENSUS_BIND", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Drained to the end, also once the test has what it waits for: a closed pipe would
        // make the demo's next line fail.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut url, mut token, mut database) = (None, None, None);
    while url.is_none() || token.is_none() || database.is_none() {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("the demo prints its URL, token and database");
        if let Some(rest) = line.strip_prefix("cloudcensus demo is serving at ") {
            url = rest.split_whitespace().next().map(String::from);
        }
        if let Some(rest) = line.strip_prefix("Staff token (valid 1 day): ") {
            token = Some(rest.trim().to_string());
        }
        if let Some(rest) = line.strip_prefix("Demo database: ") {
            database = Some(rest.to_string());
        }
    }
    Demo {
        child: Killed(child),
        url: url.unwrap(),
        token: token.unwrap(),
        database: database.unwrap(),
    }
}

#[tokio::test]
async fn demo_serves_a_populated_catalog() {
    let db = TestDb::new().await;
    let mut cmd = cloudcensus("sqlite://unused");
    cmd.args(["demo", "--database-url", &db.url]);
    let demo = start_demo(cmd);
    assert!(demo.database.starts_with(&db.url), "{}", demo.database);
    let (url, token) = (demo.url.clone(), demo.token.clone());
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(format!("{url}{path}"))
            .header("Authorization", format!("Token {token}"))
            .send()
    };
    let images = get("/api/openstack-images/?show_duplicate_names=true")
        .await
        .unwrap();
    assert_eq!(images.status(), StatusCode::OK);
    let count: u64 = images.headers()["x-result-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(count > 200, "{count} images");
    let rescue = get("/api/openstack-images/?is_rescue_image=true")
        .await
        .unwrap();
    assert!(rescue.headers()["x-result-count"].to_str().unwrap() != "0");
    let tenants: Vec<Tenant> = get("/api/openstack-tenants/?page_size=50")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tenants.len(), 10);
    assert!(tenants.iter().all(|t| t.state == "OK"));
    let stats: Vec<UsageStat> = get("/api/openstack-images/usage_stats/?page_size=300")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stats.iter().any(|r| r.running_instances_count > 0));
    drop(demo);
}

/// The demo never writes to the database `serve` uses (`DATABASE_URL`): by default it keeps
/// a temporary one, removed when it stops.
#[tokio::test]
async fn demo_leaves_the_default_database_untouched() {
    let (db, secret) = migrated_with_ops_token().await;
    let mut cmd = cloudcensus(&db.url);
    cmd.arg("demo");
    let mut demo = start_demo(cmd);
    assert!(!demo.database.contains(&db.url), "{}", demo.database);
    let file = demo
        .database
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split(['?', ' ']).next())
        .expect("a temporary SQLite file")
        .to_string();
    assert!(std::path::Path::new(&file).exists(), "{file}");
    let server = PlainServer::start(&db.url).await;
    let clouds: Vec<serde_json::Value> = reqwest::Client::new()
        .get(format!("{}/api/service-settings/", server.base))
        .header("Authorization", format!("Token {secret}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(clouds.is_empty(), "{clouds:?}");
    server.stop().await;
    // Stopped as Ctrl-C stops it, the demo removes its database.
    let pid = demo.child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exited = demo.child.0.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    assert!(
        !std::path::Path::new(&file).exists(),
        "{file} is left behind"
    );
}

/// `serve` on a fixed port (so a restart gets the same lease id), its schedule once a year.
fn serve_on(db_url: &str, port: u16) -> Command {
    let mut cmd = cloudcensus(db_url);
    cmd.env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .env("CLOUDCENSUS_BIND", format!("127.0.0.1:{port}"))
        .env("CLOUDCENSUS_SYNC_CRON", "0 0 0 1 1 *")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

fn spawn_serve(db_url: &str, port: u16) -> std::process::Child {
    serve_on(db_url, port).spawn().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A subprocess `kill -9`ed when dropped: a failing test leaves no server syncing behind it.
struct Killed(std::process::Child);

impl Killed {
    fn kill(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_until_up(base: &str) {
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{base}/health")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{base} did not come up");
}

/// The runs of a tenant as a server lists them.
async fn runs_of(base: &str, token: &str, tenant: &Tenant) -> Vec<SyncRun> {
    reqwest::Client::new()
        .get(format!("{base}/api/sync-runs/?tenant_uuid={}", tenant.uuid))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn pull(base: &str, token: &str, tenant: &Tenant) -> StatusCode {
    reqwest::Client::new()
        .post(format!(
            "{base}/api/openstack-tenants/{}/pull/",
            tenant.uuid
        ))
        .header("Authorization", format!("Token {token}"))
        .send()
        .await
        .unwrap()
        .status()
}

/// `kill -9` of a `serve` process in the middle of a sync, then a restart: the server is up,
/// nothing of the sync was applied, the restarted server frees the claim at once (a pull is
/// accepted, not 409), the dead run is closed as `interrupted`, and the next sync matches
/// upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_sync_frees_its_tenant_on_restart() {
    use cloudcensus_sim::{Fault, FaultKind, Target};
    let s = SimApp::world(generated_world(1, 50, 2, 33)).start().await;
    let tenant = &s.tenants[0];
    let token = s.app.staff_token.clone();
    // The listing's second request (the hidden images) hangs: the sync is mid-listing.
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Delay(std::time::Duration::from_secs(30)))
            .after(1)
            .times(1),
    );
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = spawn_serve(s.app.database_url(), port);
    wait_until_up(&base).await;
    assert_eq!(pull(&base, &token, tenant).await, StatusCode::ACCEPTED);
    let mut running = false;
    for _ in 0..100 {
        let runs = runs_of(&base, &token, tenant).await;
        if runs.iter().any(|r| r.outcome == "running") {
            running = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(running, "the sync started");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = spawn_serve(s.app.database_url(), port);
    wait_until_up(&base).await;
    let runs = runs_of(&base, &token, tenant).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(
        runs[0].outcome, "interrupted",
        "{:?}",
        runs[0].error_message
    );
    assert!(runs[0].finished_at.is_some());
    assert!(
        s.app.catalog_ids(tenant).await.is_empty(),
        "nothing applied"
    );
    assert_eq!(
        pull(&base, &token, tenant).await,
        StatusCode::ACCEPTED,
        "the restarted server holds no claim"
    );
    let mut done = Vec::new();
    for _ in 0..200 {
        done = runs_of(&base, &token, tenant).await;
        if done.len() == 2 && done[0].outcome != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(done[0].outcome, "success", "{:?}", done[0].error_message);
    second.kill().unwrap();
    second.wait().unwrap();
    s.app.rebuild_index().await;
    assert_eq!(s.app.catalog_ids(tenant).await, s.glance_ids_of(0).await);
    s.stop().await;
}

/// Every tenant's runs as the API lists them, newest first; checks what must hold at every
/// moment: no tenant has two runs `running` (two syncs of it at once).
async fn observed_runs(app: &crate::common::TestApp, tenants: &[Tenant]) -> Vec<Vec<SyncRun>> {
    let mut all = Vec::new();
    for t in tenants {
        let runs: Vec<SyncRun> = app
            .get(&format!(
                "/api/sync-runs/?tenant_uuid={}&page_size=300",
                t.uuid
            ))
            .await
            .items();
        let running = runs.iter().filter(|r| r.outcome == "running").count();
        assert!(running <= 1, "{}: {running} runs running: {runs:?}", t.name);
        all.push(runs);
    }
    all
}

/// Two `serve` replicas on one database (PostgreSQL when `TEST_DATABASE_URL` is set, else
/// one SQLite file), both sweeping every 3 s with 6 s claims. Replica A's sweep hangs in the
/// listing of the tenants it syncs; replica B meanwhile syncs the others and leaves A's alone
/// (A renews its claims). Then A is `kill -9`ed mid-sweep: within a claim's life plus one tick
/// B takes each of A's tenants over and syncs it, A's runs are closed as `interrupted`, every
/// catalog matches Glance, and no tenant ever shows two runs `running`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_sweep_leaves_its_tenants_to_the_other() {
    use std::collections::BTreeSet;
    use std::time::{Duration, Instant};

    use cloudcensus_sim::{Fault, FaultKind, Target};
    use uuid::Uuid;

    const TTL: Duration = Duration::from_secs(6);
    const TICK: Duration = Duration::from_secs(3);
    const CRON: &str = "*/3 * * * * *";
    // Tenants A syncs at once (its concurrency); the other two wait in its sweep for a slot.
    const HUNG: usize = 3;
    // What a slow shared machine may add to a claim's life plus a tick (start-up, syncing).
    const SLACK: Duration = Duration::from_secs(20);

    let s = SimApp::world(generated_world(5, 40, 2, 47)).start().await;
    let db_url = s.app.database_url().to_string();
    // The first listing request of each of A's syncs hangs for longer than the test runs;
    // later requests (B's) are answered at once.
    s.sim.inject(
        Target::GlanceImages,
        Fault::new(FaultKind::Delay(Duration::from_secs(300))).times(HUNG as u32),
    );
    let replica = |port: u16, concurrency: usize| {
        let mut cmd = serve_on(&db_url, port);
        cmd.env("CLOUDCENSUS_SYNC_CRON", CRON)
            .env("CLOUDCENSUS_SYNC_LEASE_SECS", TTL.as_secs().to_string())
            .env("CLOUDCENSUS_SYNC_CONCURRENCY", concurrency.to_string());
        Killed(cmd.spawn().unwrap())
    };
    let (port_a, port_b) = (free_port(), free_port());
    let is_a =
        |holder: &str| holder.starts_with("serve@") && holder.ends_with(&format!(":{port_a}"));
    let is_b =
        |holder: &str| holder.starts_with("serve@") && holder.ends_with(&format!(":{port_b}"));
    let uuid_of = |t: &Tenant| Uuid::parse_str(&t.uuid).unwrap();

    let mut a = replica(port_a, HUNG);
    wait_until_up(&format!("http://127.0.0.1:{port_a}")).await;
    // A's first tick starts its sweep; wait until its HUNG syncs hang in their listings.
    let deadline = Instant::now() + TICK + SLACK;
    while s.sim.requests(Target::GlanceImages) < HUNG as u64 {
        assert!(Instant::now() < deadline, "A's sweep did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held: BTreeSet<Uuid> = loop {
        let running: BTreeSet<Uuid> = s
            .app
            .runs_with_holders()
            .await
            .into_iter()
            .filter(|r| r.outcome == "running")
            .map(|r| {
                assert!(r.holder.as_deref().is_some_and(is_a), "{r:?}");
                r.tenant_uuid
            })
            .collect();
        if running.len() == HUNG {
            break running;
        }
        assert!(Instant::now() < deadline, "A runs {running:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let hung_at = Instant::now();
    let assert_a_holds = async |when: &str| {
        let claims = s.app.claims().await;
        for t in &held {
            let (holder, expires) = claims
                .get(t)
                .unwrap_or_else(|| panic!("{when}: nobody claims {t}"));
            assert!(
                is_a(holder) && *expires > chrono::Utc::now(),
                "{when}: {t} claimed by {holder} until {expires}"
            );
        }
    };
    assert_a_holds("A's syncs hang").await;
    let a_tenants: Vec<Tenant> = s
        .tenants
        .iter()
        .filter(|t| held.contains(&uuid_of(t)))
        .cloned()
        .collect();

    // B syncs the tenants A has not reached yet, sweep after sweep, and leaves A's alone: A
    // renews its claims. Watched for longer than a claim lives unrenewed plus a tick, and
    // until B synced its tenants twice (its first sweep ended, having tried A's).
    let mut b = replica(port_b, 4);
    let deadline = hung_at + TTL + TICK + SLACK;
    loop {
        let runs = observed_runs(&s.app, &s.tenants).await;
        for (t, runs) in s.tenants.iter().zip(&runs) {
            if held.contains(&uuid_of(t)) {
                assert!(
                    runs.len() == 1 && runs[0].outcome == "running",
                    "A's tenant {} while A lives: {runs:?}",
                    t.name
                );
            }
        }
        let swept_twice = s.tenants.iter().zip(&runs).all(|(t, runs)| {
            held.contains(&uuid_of(t))
                || runs.iter().filter(|r| r.outcome == "success").count() >= 2
        });
        if swept_twice && hung_at.elapsed() > TTL + TICK {
            break;
        }
        assert!(Instant::now() < deadline, "B did not sweep twice: {runs:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for r in s.app.runs_with_holders().await {
        let holder = r.holder.as_deref().unwrap_or_default();
        assert!(
            if held.contains(&r.tenant_uuid) {
                is_a(holder)
            } else {
                is_b(holder)
            },
            "{r:?}"
        );
    }
    assert_a_holds("A alive, B sweeping").await;

    a.kill();
    let killed_at = chrono::Utc::now();
    let killed = Instant::now();
    // Each of A's tenants: a run of B's that started after A died and succeeded.
    let deadline = killed + TTL + TICK + SLACK;
    let taken_over = loop {
        observed_runs(&s.app, &s.tenants).await;
        let runs = s.app.runs_with_holders().await;
        let done: Vec<_> = held
            .iter()
            .filter_map(|t| {
                runs.iter().find(|r| {
                    r.tenant_uuid == *t
                        && r.outcome == "success"
                        && r.holder.as_deref().is_some_and(is_b)
                })
            })
            .collect();
        if done.len() == HUNG {
            for r in &done {
                assert!(r.started_at > killed_at, "B synced {r:?} while A held it");
            }
            // When the last of them was synced, from B's own record.
            break done
                .iter()
                .filter_map(|r| (r.finished_at? - killed_at).to_std().ok())
                .max()
                .unwrap();
        }
        if Instant::now() >= deadline {
            let of_a: Vec<_> = runs
                .iter()
                .filter(|r| held.contains(&r.tenant_uuid))
                .collect();
            panic!(
                "A's tenants not taken over within {:?}; their runs: {of_a:?}",
                deadline - killed
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "A's tenants synced by B {taken_over:?} after the kill (claims {TTL:?}, ticks {TICK:?})"
    );
    assert!(taken_over <= TTL + TICK + SLACK);
    for (t, runs) in a_tenants
        .iter()
        .zip(observed_runs(&s.app, &a_tenants).await)
    {
        let first = runs.last().unwrap();
        assert_eq!(first.outcome, "interrupted", "{}: {runs:?}", t.name);
        assert!(first.finished_at.is_some(), "{first:?}");
        assert!(first.error_message.contains("stopped"), "{first:?}");
    }

    b.kill();
    s.app.rebuild_index().await;
    s.assert_catalogs_match_glance("after the takeover").await;
    s.stop().await;
}

/// A database that cannot be opened is named with what to do about it.
#[test]
fn database_errors_name_the_database_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("census.db");
    let out = cloudcensus(&format!("sqlite://{}?mode=rwc", missing.display()))
        .arg("migrate")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(stderr.contains("does not exist: create it"), "{stderr}");

    let without_rwc = dir.path().join("census.db");
    let out = cloudcensus(&format!("sqlite://{}", without_rwc.display()))
        .arg("migrate")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("add ?mode=rwc"), "{stderr}");

    // A port nothing listens on: each attempt is logged with its reason, then the error
    // names the server (never the password) and how to check it.
    let port = free_port();
    let out = cloudcensus(&format!(
        "postgres://census:hunter2-secret@127.0.0.1:{port}/census"
    ))
    .arg("migrate")
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot connect to the database yet"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("pg_isready"), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "{stderr}");
}

/// With `CLOUDCENSUS_METRICS_TOKEN` set, `/metrics` answers only that bearer token; with
/// `CLOUDCENSUS_LOG_FORMAT=json` every log line is a JSON object.
#[tokio::test]
async fn serve_guards_metrics_with_its_token_and_logs_json() {
    crate::common::internals::install_crypto_provider();
    let db = TestDb::new().await;
    let port = free_port();
    let mut cmd = serve_on(&db.url, port);
    cmd.env("CLOUDCENSUS_METRICS_TOKEN", "scrape-secret")
        .env("CLOUDCENSUS_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped());
    let mut server = Killed(cmd.spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    wait_until_up(&base).await;
    let client = reqwest::Client::new();
    let scrape = |token: Option<&'static str>| {
        let mut req = client.get(format!("{base}/metrics"));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        req.send()
    };
    let refused = scrape(None).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers().get("www-authenticate").unwrap(), "Bearer");
    assert!(refused.text().await.unwrap().contains("\"detail\""));
    let wrong = scrape(Some("scrape-secreT")).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let scraped = scrape(Some("scrape-secret")).await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let text = scraped.text().await.unwrap();
    assert!(text.contains("cloudcensus_http_requests_total{"), "{text}");

    // Stopped as an orchestrator stops it, it has written its log: JSON, one object a line.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").arg(&pid).status().unwrap().success());
    let out = std::mem::replace(&mut server.0, Command::new("true").spawn().unwrap())
        .wait_with_output()
        .unwrap();
    let log = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["message"] == "serving"), "{log}");
    let access = lines
        .iter()
        .find(|l| l["target"] == "cloudcensus::access" && l["path"] == "/metrics")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(access["status"], 401);
    assert!(!log.contains("scrape-secret"), "the token is never logged");
}

/// A log format it does not know stops it at once, saying which ones it knows.
#[test]
fn an_unknown_log_format_is_refused() {
    let out = cloudcensus("sqlite::memory:")
        .env("CLOUDCENSUS_LOG_FORMAT", "xml")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CLOUDCENSUS_LOG_FORMAT") && err.contains("json"),
        "{err}"
    );
}
