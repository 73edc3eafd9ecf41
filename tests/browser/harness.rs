//! What the browser tests stand on: chromedriver on a free port, a Chromium session through
//! it, the real `cloudcensus demo` binary over a fresh database (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set), and a small API client to arrange and check through HTTP.
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Where chromedriver is looked for: `CHROMEDRIVER`, then Debian's path, then `PATH`.
fn chromedriver_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    let debian = Path::new("/usr/bin/chromedriver");
    if debian.exists() {
        return Some(debian.to_path_buf());
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|p| p.exists())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A child process killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver, started on a free port; `None` (with a message) when it is not installed
/// and `CLOUDCENSUS_REQUIRE_BROWSER` is not set. With it set (CI), a missing browser fails.
pub struct Chromedriver {
    _child: Killed,
    pub url: String,
}

impl Chromedriver {
    pub async fn start() -> Option<Self> {
        let required =
            std::env::var_os("CLOUDCENSUS_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty());
        let Some(path) = chromedriver_path() else {
            assert!(
                !required,
                "CLOUDCENSUS_REQUIRE_BROWSER is set but chromedriver is not installed \
                 (apt-get install -y chromium chromium-driver)"
            );
            eprintln!(
                "SKIPPED: chromedriver not found (apt-get install -y chromium chromium-driver, \
                 or set CHROMEDRIVER); set CLOUDCENSUS_REQUIRE_BROWSER=1 to make this a failure"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let child = Killed(child);
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(resp) = client.get(format!("{url}/status")).send().await
                && resp.status().is_success()
            {
                return Some(Self { _child: child, url });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver at {url} did not answer /status");
    }

    /// A new headless Chromium window of the given size; downloads go to `downloads`.
    pub async fn browser(&self, downloads: &Path) -> Client {
        let mut options = json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--hide-scrollbars",
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
            },
        });
        if let Some(binary) = std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
            let debian = PathBuf::from("/usr/bin/chromium");
            debian.exists().then_some(debian)
        }) {
            options["binary"] = json!(binary.display().to_string());
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session through chromedriver")
    }
}

/// The browser's console messages since the last call (chromedriver's log endpoint).
pub async fn console_log(browser: &Client) -> Vec<Value> {
    match browser.issue_cmd(BrowserLog).await {
        Ok(Value::Array(entries)) => entries,
        Ok(other) => panic!("unexpected log answer: {other}"),
        Err(e) => panic!("cannot read the browser's log: {e}"),
    }
}

/// chromedriver's (non-W3C but long-supported) `POST /session/{id}/se/log`.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (poem::http::Method, Option<String>) {
        (
            poem::http::Method::POST,
            Some(r#"{"type":"browser"}"#.into()),
        )
    }
}

/// A fresh database for the demo: a SQLite file, or a new PostgreSQL database beside
/// `TEST_DATABASE_URL`'s, dropped afterwards.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> Self {
        use sea_orm::ConnectionTrait;
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("cc_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create the test database");
                admin.close().await.ok();
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                Self {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg_drop: Some((admin_url.clone(), name)),
                }
            }
            _ => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg_drop: None,
                }
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.pg_drop.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        use sea_orm::ConnectionTrait;
        if let Some((admin_url, name)) = self.pg_drop.take() {
            // Drop runs inside the test's runtime; use a fresh one on another thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                rt.block_on(async {
                    if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        admin.close().await.ok();
                    }
                });
            })
            .join();
        }
    }
}

/// `cloudcensus demo` (the real binary) on a free port, with its URL and staff token.
pub struct Demo {
    _child: Killed,
    pub url: String,
    pub token: String,
}

impl Demo {
    pub fn start(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cloudcensus"))
            .args(["demo", "--database-url", database_url])
            .env("CLOUDCENSUS_BIND", "127.0.0.1:0")
            // No scheduled sweep while the test runs: only its own pulls change the catalog.
            .env("CLOUDCENSUS_SYNC_CRON", "0 0 0 1 1 *")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cloudcensus demo");
        let stdout = child.stdout.take().expect("the demo's stdout");
        let child = Killed(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Drained to the end: a closed pipe would make the demo's next line fail.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut url, mut token) = (None, None);
        while url.is_none() || token.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(180))
                .expect("the demo prints its URL and token");
            if let Some(rest) = line.strip_prefix("cloudcensus demo is serving at ") {
                url = rest.split_whitespace().next().map(String::from);
            }
            if let Some(rest) = line.strip_prefix("Staff token (valid 1 day): ") {
                token = Some(rest.trim().to_string());
            }
        }
        Self {
            _child: child,
            url: url.expect("url"),
            token: token.expect("token"),
        }
    }
}

/// The API as the dashboard sees it, for arranging and for the figures to compare with.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            base: base.to_string(),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self::new(&self.base, token)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Token {}", self.token));
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("an answer from the demo")
    }

    pub async fn get(&self, path: &str) -> Value {
        let resp = self.send(reqwest::Method::GET, path, None).await;
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("JSON")
    }

    /// `X-Result-Count` of a list.
    pub async fn count(&self, path: &str) -> u64 {
        let resp = self.send(reqwest::Method::GET, path, None).await;
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.headers()["x-result-count"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("X-Result-Count")
    }

    /// Every row of a paged list (page size 300).
    pub async fn all(&self, path: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut rows = Vec::new();
        for page in 1.. {
            let resp = self
                .send(
                    reqwest::Method::GET,
                    &format!("{path}{sep}page_size=300&page={page}"),
                    None,
                )
                .await;
            assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
            let has_next = resp
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| l.contains("rel=\"next\""));
            let page_rows: Vec<Value> = resp.json().await.expect("JSON");
            rows.extend(page_rows);
            if !has_next {
                break;
            }
        }
        rows
    }
}

/// Waits (up to a minute) for a script's result to satisfy `ok`; the script `return`s a value.
pub async fn wait_for_js(
    browser: &Client,
    what: &str,
    script: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        last = browser.execute(script, vec![]).await.expect("script runs");
        if ok(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}; last value: {last}");
}

/// The element's text, waiting for it to exist.
pub async fn text_of(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .at_most(Duration::from_secs(60))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .expect("text")
}

/// A screenshot of the page, saved under the target directory.
/// The window grows to the page's height (up to 1400 px) for it, then is 1280×800 again.
pub async fn screenshot(browser: &Client, name: &str) -> PathBuf {
    let height = browser
        .execute("return document.documentElement.scrollHeight", vec![])
        .await
        .ok()
        .and_then(|v| v.as_u64())
        .unwrap_or(800)
        .clamp(800, 1400);
    browser
        .set_window_size(1280, height as u32 + 140)
        .await
        .expect("resize for the screenshot");
    let png = browser.screenshot().await.expect("a screenshot");
    browser
        .set_window_size(1280, 800)
        .await
        .expect("back to 1280×800");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    let path = dir.join(name);
    std::fs::write(&path, png).expect("write the screenshot");
    path
}
