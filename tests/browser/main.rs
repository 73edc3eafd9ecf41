//! The dashboard (`GET /`) in a real headless Chromium, driven through chromedriver, against
//! the real `cloudcensus demo` binary with one tenant made to fail. Runs on SQLite, and on
//! PostgreSQL when `TEST_DATABASE_URL` is set. Skips (saying so) only when chromedriver is
//! missing and `CLOUDCENSUS_REQUIRE_BROWSER` is not set.
//!
//! Starting the demo and the browser takes seconds, so one test walks through the views in
//! order; each step is a function named for the behaviour it checks.
mod harness;

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::{Value, json};

use harness::{Api, Chromedriver, Demo, TestDb, console_log, screenshot, text_of, wait_for_js};

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

/// The demo, a staff API client and the tenant made to fail.
struct Setting {
    api: Api,
    broken_uuid: String,
    broken_message: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(driver) = Chromedriver::start().await else {
        return;
    };
    let db = TestDb::new().await;
    let demo = Demo::start(&db.url);
    let setting = with_a_failing_tenant(Api::new(&demo.url, &demo.token)).await;
    let downloads = tempfile::tempdir().expect("a download directory");
    let browser = driver.browser(downloads.path()).await;
    let result = walk_through(&browser, &setting, downloads.path()).await;
    if let Err(panic) = result {
        let shot = screenshot(&browser, &format!("failure-{}.png", db.kind())).await;
        eprintln!("screenshot at failure: {}", shot.display());
        browser.close().await.ok();
        std::panic::resume_unwind(panic);
    }
    browser.close().await.ok();
}

/// Runs every step, catching a failed assertion so the caller can screenshot the page.
async fn walk_through(
    browser: &Client,
    s: &Setting,
    downloads: &std::path::Path,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(async {
        the_page_is_served_with_a_strict_policy(&s.api).await;
        signs_in_with_a_staff_token(browser, &s.api).await;
        fleet_lists_every_tenant_with_the_erred_one_first(browser, s).await;
        pull_now_shows_the_new_run_finishing(browser, &s.api).await;
        name_search_narrows_the_image_list_and_paging_works(browser, &s.api).await;
        top_images_chart_has_a_bar_per_busy_image(browser, &s.api).await;
        usage_chart_and_table_match_the_report(browser, &s.api).await;
        csv_download_has_the_rows_of_the_json(browser, &s.api, downloads).await;
        fits_a_phone_width(browser).await;
        no_console_errors_or_policy_violations(browser).await;
        scoped_token_sees_only_its_tenants(browser, s).await;
        no_console_errors_or_policy_violations(browser).await;
    })
    .catch_unwind()
    .await
}

/// A tenant whose project does not exist: its pull fails and leaves it ERRED with a message.
async fn with_a_failing_tenant(api: Api) -> Setting {
    let clouds = api.get("/api/service-settings/?name=demo-research").await;
    let cloud = clouds[0]["uuid"].as_str().expect("the demo-research cloud");
    let resp = api
        .send(
            Method::POST,
            "/api/openstack-tenants/",
            Some(json!({"name": "broken-project", "backend_id": "no-such-project", "service_settings_uuid": cloud})),
        )
        .await;
    assert_eq!(resp.status(), 201, "register the broken tenant");
    let tenant: Value = resp.json().await.expect("JSON");
    let uuid = tenant["uuid"].as_str().expect("uuid").to_string();
    let resp = api
        .send(
            Method::POST,
            &format!("/api/openstack-tenants/{uuid}/pull/"),
            None,
        )
        .await;
    assert_eq!(resp.status(), 202, "pull the broken tenant");
    let mut view = Value::Null;
    for _ in 0..600 {
        view = api.get(&format!("/api/openstack-tenants/{uuid}/")).await;
        if view["state"] == "ERRED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(view["state"], "ERRED", "{view}");
    let message = view["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!message.is_empty(), "{view}");
    Setting {
        api,
        broken_uuid: uuid,
        broken_message: message,
    }
}

async fn the_page_is_served_with_a_strict_policy(api: &Api) {
    for path in ["/", "/assets/dashboard.js", "/assets/dashboard.css"] {
        let resp = reqwest::get(format!("{}{path}", api.base))
            .await
            .expect("GET");
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().expect("CSP");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
    }
    let page = reqwest::get(format!("{}/", api.base))
        .await
        .expect("GET /")
        .text()
        .await
        .expect("text");
    assert!(
        !page.contains("style=") && !page.contains("<script>"),
        "inline style or script in the page"
    );
    let handler = page.split_whitespace().find(|w| {
        w.strip_prefix("on")
            .and_then(|rest| rest.split_once('='))
            .is_some_and(|(name, _)| {
                !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase())
            })
    });
    assert_eq!(handler, None, "an inline event handler in the page");
    // The API and the metrics are still where they were.
    assert_eq!(
        api.send(Method::GET, "/api/openstack-images/", None)
            .await
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{}/metrics", api.base))
            .await
            .expect("GET")
            .status(),
        200
    );
}

async fn sign_in(browser: &Client, token: &str) {
    let input = browser
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#token"))
        .await
        .expect("the sign-in form");
    // Typed, then submitted with the Enter key: the form works from the keyboard.
    input
        .send_keys(&format!("{token}{ENTER}"))
        .await
        .expect("type the token");
}

async fn signs_in_with_a_staff_token(browser: &Client, api: &Api) {
    browser
        .goto(&format!("{}/", api.base))
        .await
        .expect("open the dashboard");
    sign_in(browser, &api.token).await;
    wait_for_js(
        browser,
        "the fleet view",
        "return document.querySelectorAll('#clouds-table tbody tr').length",
        |v| v.as_u64().unwrap_or(0) > 0,
    )
    .await;
    assert_eq!(text_of(browser, "#who-scope").await, "Staff token");
    // Reported, not asserted (no timed assertions): the page's load and the fleet's first
    // rendering, in milliseconds since navigation.
    let timing = browser
        .execute(
            "const n = performance.getEntriesByType('navigation')[0]; \
             return {load_ms: Math.round(n.loadEventEnd), now_ms: Math.round(performance.now())}",
            vec![],
        )
        .await
        .expect("timing");
    eprintln!("dashboard timing: {timing}");
    let stored = browser
        .execute("return sessionStorage.getItem('cloudcensus.token')", vec![])
        .await
        .expect("sessionStorage");
    assert_eq!(
        stored,
        json!(api.token),
        "the token is kept in sessionStorage"
    );
    assert!(
        !browser
            .current_url()
            .await
            .expect("url")
            .as_str()
            .contains(&api.token),
        "the token is never in the URL"
    );
}

async fn fleet_lists_every_tenant_with_the_erred_one_first(browser: &Client, s: &Setting) {
    let tenants = s.api.all("/api/openstack-tenants/").await;
    let clouds = s.api.all("/api/service-settings/").await;
    assert_eq!(
        tenants.len(),
        11,
        "the demo's ten tenants and the broken one"
    );
    let rows = wait_for_js(
        browser,
        "the tenants table",
        "return [...document.querySelectorAll('#tenants-table tbody tr')].map(r => ({uuid: r.dataset.uuid, cls: r.className, text: r.innerText}))",
        |v| v.as_array().is_some_and(|a| a.len() == tenants.len()),
    )
    .await;
    let first = &rows[0];
    assert_eq!(
        first["uuid"],
        json!(s.broken_uuid),
        "the ERRED tenant comes first: {rows}"
    );
    assert!(
        first["cls"].as_str().unwrap_or_default().contains("erred"),
        "highlighted: {first}"
    );
    let text = first["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("ERRED"),
        "its state in words (readable without colour): {text}"
    );
    assert!(text.contains(&s.broken_message), "its message: {text}");
    assert!(text.contains("authentication"), "its error_kind: {text}");
    assert!(
        rows.as_array().unwrap()[1..]
            .iter()
            .all(|r| !r["cls"].as_str().unwrap_or_default().contains("erred")),
        "only the broken tenant is highlighted"
    );
    let cloud_rows = browser
        .execute(
            "return [...document.querySelectorAll('#clouds-table tbody tr')].map(r => r.innerText)",
            vec![],
        )
        .await
        .expect("clouds");
    let cloud_rows = cloud_rows.as_array().expect("rows");
    assert_eq!(cloud_rows.len(), clouds.len());
    for c in &clouds {
        let name = c["name"].as_str().unwrap();
        let row = cloud_rows
            .iter()
            .filter_map(Value::as_str)
            .find(|r| r.starts_with(name))
            .expect(name);
        let sweep = &c["last_sweep"];
        assert!(
            row.contains(&sweep["mode"].as_str().unwrap().replace('_', " ")),
            "{row}"
        );
        assert!(
            row.contains(sweep["mode_detail"].as_str().unwrap()),
            "the mode's reason: {row}"
        );
    }
    let summary = text_of(browser, "#tenant-summary").await;
    assert!(
        summary.contains("1 ERRED") && summary.contains("10 OK"),
        "{summary}"
    );
    let runs = browser
        .execute(
            "return document.querySelectorAll('#runs-table tbody tr[data-uuid]').length",
            vec![],
        )
        .await
        .expect("runs");
    assert!(
        runs.as_u64().unwrap_or(0) > 0,
        "recent sync runs are listed"
    );
    screenshot(browser, "dashboard-fleet.png").await;
}

async fn pull_now_shows_the_new_run_finishing(browser: &Client, api: &Api) {
    let tenants = api.all("/api/openstack-tenants/").await;
    let tenant = tenants
        .iter()
        .find(|t| t["state"] == "OK")
        .expect("an OK tenant");
    let uuid = tenant["uuid"].as_str().unwrap();
    let before: Vec<Value> = api
        .all(&format!("/api/sync-runs/?tenant_uuid={uuid}"))
        .await;
    // Pressed from the keyboard.
    browser
        .find(Locator::Css(&format!("button.pull[data-uuid='{uuid}']")))
        .await
        .expect("its pull button")
        .send_keys(ENTER)
        .await
        .expect("press pull now");
    let status = wait_for_js(
        browser,
        "the pull to finish",
        "return document.getElementById('pull-status').textContent",
        |v| v.as_str().is_some_and(|t| t.contains("finished")),
    )
    .await;
    assert!(
        status.as_str().unwrap().contains("finished: success"),
        "{status}"
    );
    let after = api
        .all(&format!("/api/sync-runs/?tenant_uuid={uuid}"))
        .await;
    assert_eq!(after.len(), before.len() + 1, "one new run");
    let new = &after[0];
    assert_eq!(new["outcome"], "success");
    let new_uuid = new["uuid"].as_str().unwrap();
    wait_for_js(
        browser,
        "the new run in the table",
        &format!("return document.querySelector(\"#runs-table tr[data-uuid='{new_uuid}']\")?.innerText ?? ''"),
        |v| v.as_str().is_some_and(|t| t.contains("success")),
    )
    .await;
}

/// `Page N of M` and `K images match` as the page shows them.
async fn image_list_state(browser: &Client) -> Value {
    browser
        .execute(
            "return {status: document.getElementById('images-status').textContent, \
             page: document.getElementById('images-page').textContent, \
             names: [...document.querySelectorAll('#images-table tbody tr[data-uuid]')].map(r => r.querySelector('th').innerText), \
             uuids: [...document.querySelectorAll('#images-table tbody tr[data-uuid]')].map(r => r.dataset.uuid)}",
            vec![],
        )
        .await
        .expect("the image list")
}

async fn name_search_narrows_the_image_list_and_paging_works(browser: &Client, api: &Api) {
    browser
        .goto(&format!("{}/#images", api.base))
        .await
        .expect("images view");
    let total = api.count("/api/openstack-images/").await;
    wait_for_js(
        browser,
        "the image list",
        "return document.getElementById('images-status').textContent",
        |v| v.as_str() == Some(&format!("{total} images match.")),
    )
    .await;
    let first = image_list_state(browser).await;
    assert_eq!(
        first["uuids"].as_array().unwrap().len(),
        25.min(total as usize)
    );

    // Paging: the second page is the API's second page.
    let pages = total.div_ceil(25);
    browser
        .find(Locator::Id("images-next"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let state = wait_for_js(
        browser,
        "page 2",
        "return document.getElementById('images-page').textContent",
        |v| v.as_str().is_some_and(|t| t.starts_with("Page 2 ")),
    )
    .await;
    assert_eq!(state, json!(format!("Page 2 of {pages}")));
    let page2 = api.get("/api/openstack-images/?page=2&page_size=25").await;
    let expected: Vec<&str> = page2
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uuid"].as_str().unwrap())
        .collect();
    let shown = wait_for_js(
        browser,
        "page 2's rows",
        "return [...document.querySelectorAll('#images-table tbody tr[data-uuid]')].map(r => r.dataset.uuid)",
        |v| v.as_array().is_some_and(|a| a.first().and_then(Value::as_str) == expected.first().copied()),
    )
    .await;
    assert_eq!(shown, json!(expected));

    // A name search narrows the list to the API's answer for it.
    let narrowed = api.count("/api/openstack-images/?name=ubuntu").await;
    assert!(narrowed > 0 && narrowed < total, "{narrowed} of {total}");
    browser
        .find(Locator::Id("f-name"))
        .await
        .unwrap()
        .send_keys("ubuntu")
        .await
        .unwrap();
    browser
        .find(Locator::Css("#images-filter button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_js(
        browser,
        "the narrowed list",
        "return document.getElementById('images-status').textContent",
        |v| v.as_str() == Some(&format!("{narrowed} images match.")),
    )
    .await;
    let state = image_list_state(browser).await;
    let names = state["names"].as_array().unwrap();
    assert_eq!(names.len() as u64, narrowed.min(25));
    assert!(
        names
            .iter()
            .all(|n| n.as_str().unwrap().to_lowercase().contains("ubuntu")),
        "{names:?}"
    );
    assert_eq!(
        state["page"],
        json!(format!("Page 1 of {}", narrowed.div_ceil(25)))
    );

    // The cloud and rescue filters ask the API what it would answer them.
    let edge = &api.get("/api/service-settings/?name=demo-edge").await[0];
    let edge_uuid = edge["uuid"].as_str().unwrap();
    let expected = api
        .count(&format!(
            "/api/openstack-images/?name=ubuntu&settings_uuid={edge_uuid}&is_rescue_image=false"
        ))
        .await;
    assert!(
        expected > 0 && expected < narrowed,
        "{expected} of {narrowed}"
    );
    browser
        .execute(
            &format!(
                "document.getElementById('f-cloud').value = '{edge_uuid}'; \
                 document.getElementById('f-rescue').value = 'false';"
            ),
            vec![],
        )
        .await
        .unwrap();
    browser
        .find(Locator::Css("#images-filter button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_js(
        browser,
        "the cloud's images",
        "return document.getElementById('images-status').textContent",
        |v| v.as_str() == Some(&format!("{expected} images match.")),
    )
    .await;
    let state = image_list_state(browser).await;
    let clouds = browser
        .execute("return [...document.querySelectorAll('#images-table tbody tr[data-uuid] td:nth-child(2)')].map(c => c.innerText)", vec![])
        .await
        .unwrap();
    assert!(
        clouds.as_array().unwrap().iter().all(|c| c == "demo-edge"),
        "{clouds}"
    );

    // An image's detail.
    let uuid = state["uuids"][0].as_str().unwrap().to_string();
    browser
        .find(Locator::Css(&format!(
            "button.image-open[data-uuid='{uuid}']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let detail = wait_for_js(browser, "the image's detail", "return document.getElementById('image-detail').hidden ? '' : document.getElementById('image-detail').innerText", |v| {
        v.as_str().is_some_and(|t| !t.is_empty())
    })
    .await;
    let image = api.get(&format!("/api/openstack-images/{uuid}/")).await;
    let detail = detail.as_str().unwrap();
    assert!(
        detail.contains(image["backend_id"].as_str().unwrap()),
        "{detail}"
    );
    assert!(detail.contains(&uuid), "{detail}");
}

async fn top_images_chart_has_a_bar_per_busy_image(browser: &Client, api: &Api) {
    let stats = api.all("/api/openstack-images/usage_stats/").await;
    let busy: Vec<&Value> = stats
        .iter()
        .filter(|s| s["running_instances_count"].as_u64().unwrap_or(0) > 0)
        .collect();
    assert!(!busy.is_empty());
    let bars = wait_for_js(
        browser,
        "the top-images chart",
        "return [...document.querySelectorAll('#top-images-svg g.bar')].map(g => g.dataset.name)",
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let bars = bars.as_array().unwrap();
    assert_eq!(bars.len(), busy.len().min(10));
    let most = busy
        .iter()
        .map(|s| s["running_instances_count"].as_u64().unwrap())
        .max()
        .unwrap();
    let first = busy
        .iter()
        .find(|s| s["name"] == bars[0])
        .expect("the first bar is an image name");
    assert_eq!(
        first["running_instances_count"].as_u64().unwrap(),
        most,
        "the busiest image comes first"
    );
    browser
        .execute("window.scrollTo(0, 0)", vec![])
        .await
        .unwrap();
    screenshot(browser, "dashboard-images.png").await;
}

const USAGE_WINDOW: &str = "start=2024-01-01&end=2026-01-01&group_by=tenant&period=month";

async fn usage_chart_and_table_match_the_report(browser: &Client, api: &Api) {
    browser
        .goto(&format!("{}/#usage", api.base))
        .await
        .expect("usage view");
    wait_for_js(
        browser,
        "the default report",
        "return document.getElementById('usage-status').textContent",
        |v| v.as_str().is_some_and(|t| t.ends_with(" rows.")),
    )
    .await;
    // The window 2024-01-01 to 2025-12-31 (inclusive), per tenant and month.
    browser
        .execute(
            "document.getElementById('u-start').value = '2024-01-01'; \
             document.getElementById('u-end').value = '2025-12-31'; \
             document.getElementById('u-group').value = 'tenant'; \
             document.getElementById('u-period').value = 'month'; \
             document.getElementById('usage-status').textContent = '';",
            vec![],
        )
        .await
        .unwrap();
    browser
        .find(Locator::Css("#usage-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rows = api
        .all(&format!(
            "/api/openstack-images/usage_report/?{USAGE_WINDOW}"
        ))
        .await;
    assert!(!rows.is_empty());
    wait_for_js(
        browser,
        "the report",
        "return document.getElementById('usage-status').textContent",
        |v| v.as_str() == Some(&format!("{} rows.", rows.len())),
    )
    .await;
    let tenants: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["tenant_name"].as_str().unwrap())
        .collect();
    let periods: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["period_start"].as_str().unwrap())
        .collect();
    assert_eq!(periods.len(), 24, "two years of months");
    let drawn = browser
        .execute(
            "return {series: [...document.querySelectorAll('#usage-svg g.series')].map(g => g.dataset.series), \
             segments: document.querySelectorAll('#usage-svg rect.seg').length, \
             legend: document.querySelectorAll('#usage-legend li').length, \
             table: document.querySelectorAll('#usage-table tbody tr').length}",
            vec![],
        )
        .await
        .unwrap();
    let series: Vec<&str> = drawn["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        series.len(),
        tenants.len(),
        "a series per tenant: {series:?}"
    );
    assert!(
        series.iter().all(|s| tenants.contains(s)),
        "{series:?} vs {tenants:?}"
    );
    let nonzero = rows
        .iter()
        .filter(|r| r["instance_hours"].as_f64().unwrap() > 0.0)
        .count();
    assert_eq!(
        drawn["segments"],
        json!(nonzero),
        "a segment per tenant and month with hours"
    );
    assert_eq!(drawn["legend"], json!(tenants.len()));
    assert_eq!(drawn["table"], json!(rows.len()), "the table has every row");
    screenshot(browser, "dashboard-usage.png").await;
}

async fn csv_download_has_the_rows_of_the_json(
    browser: &Client,
    api: &Api,
    downloads: &std::path::Path,
) {
    let rows = api
        .all(&format!(
            "/api/openstack-images/usage_report/?{USAGE_WINDOW}"
        ))
        .await;
    browser
        .find(Locator::Id("usage-csv"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_js(
        browser,
        "the CSV download",
        "return document.getElementById('usage-status').textContent",
        |v| v.as_str().is_some_and(|t| t.starts_with("CSV downloaded")),
    )
    .await;
    let href = browser
        .execute(
            "return document.getElementById('usage-csv-link').href",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        href.as_str().unwrap().starts_with("blob:"),
        "an object URL, no token: {href}"
    );
    // The file the browser saved.
    let mut text = None;
    for _ in 0..300 {
        let saved: Vec<_> = std::fs::read_dir(downloads)
            .expect("the download directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        if let [file] = saved.as_slice() {
            text = Some(std::fs::read_to_string(file).expect("the saved CSV"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = text.expect("the browser saved one .csv file");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("a header line").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column"))
    };
    let (tenant, period, hours) = (
        col("tenant_uuid"),
        col("period_start"),
        col("instance_hours"),
    );
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    assert_eq!(records.len(), rows.len(), "as many CSV rows as JSON rows");
    for (record, row) in records.iter().zip(&rows) {
        assert_eq!(&record[tenant], row["tenant_uuid"].as_str().unwrap());
        let when = chrono::DateTime::parse_from_rfc3339(&record[period]).unwrap();
        let json_when =
            chrono::DateTime::parse_from_rfc3339(row["period_start"].as_str().unwrap()).unwrap();
        assert_eq!(when, json_when);
        let h: f64 = record[hours].parse().unwrap();
        assert!(
            (h - row["instance_hours"].as_f64().unwrap()).abs() < 1e-6,
            "{record:?} vs {row}"
        );
    }
}

async fn fits_a_phone_width(browser: &Client) {
    browser
        .set_window_size(390, 844)
        .await
        .expect("phone width");
    for view in ["#usage", "#images", "#fleet"] {
        browser
            .execute(&format!("location.hash = '{view}'"), vec![])
            .await
            .unwrap();
        // Measured once the view has drawn what it loaded.
        let status = format!("{}-status", &view[1..]);
        wait_for_js(
            browser,
            "the view at phone width",
            &format!(
                "const t = document.getElementById('{status}').textContent; \
                 return !document.getElementById('view-{}').hidden && t !== '' && t !== 'Loading…'",
                &view[1..]
            ),
            |v| v == &json!(true),
        )
        .await;
        let overflow = browser
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth", vec![])
            .await
            .unwrap();
        assert!(
            overflow.as_i64().unwrap_or(1) <= 0,
            "{view} scrolls sideways at 390 px: {overflow}"
        );
    }
    let png = browser
        .screenshot()
        .await
        .expect("a phone-width screenshot");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::write(dir.join("phone-fleet.png"), png).expect("save it");
    browser
        .set_window_size(1280, 800)
        .await
        .expect("desktop width");
}

async fn no_console_errors_or_policy_violations(browser: &Client) {
    let problems = browser
        .execute("return window.cloudcensusProblems", vec![])
        .await
        .unwrap();
    assert_eq!(problems, json!([]), "problems the page recorded");
    let errors: Vec<Value> = console_log(browser)
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
        .collect();
    assert!(errors.is_empty(), "console: {errors:?}");
}

async fn scoped_token_sees_only_its_tenants(browser: &Client, s: &Setting) {
    let edge = &s.api.get("/api/service-settings/?name=demo-edge").await[0];
    let tenants = s
        .api
        .all(&format!(
            "/api/openstack-tenants/?service_settings_uuid={}",
            edge["uuid"].as_str().unwrap()
        ))
        .await;
    let mine = &tenants[0];
    let resp = s
        .api
        .send(
            Method::POST,
            "/api/tokens/",
            Some(json!({"name": "browser-scoped", "is_staff": false, "tenants": [mine["uuid"]]})),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let token: Value = resp.json().await.unwrap();
    let scoped = s.api.with_token(token["token"].as_str().unwrap());

    browser
        .find(Locator::Id("sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    sign_in(browser, &scoped.token).await;
    wait_for_js(
        browser,
        "the scoped fleet view",
        "return document.getElementById('who-scope').textContent",
        |v| v.as_str() == Some("Tenant-scoped token"),
    )
    .await;
    browser
        .execute("location.hash = '#fleet'", vec![])
        .await
        .unwrap();
    let rows = wait_for_js(
        browser,
        "the scoped tenants table",
        "return [...document.querySelectorAll('#tenants-table tbody tr[data-uuid]')].map(r => r.dataset.uuid)",
        |v| v.as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    assert_eq!(rows, json!([mine["uuid"]]), "only its tenant");
    let hidden = browser
        .execute(
            "return {runs: document.querySelector('#runs-table').closest('.table-wrap').hidden, \
             pulls: document.querySelectorAll('button.pull').length}",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        hidden,
        json!({"runs": true, "pulls": 0}),
        "no staff controls"
    );
    browser
        .execute("location.hash = '#images'", vec![])
        .await
        .unwrap();
    let total = scoped.count("/api/openstack-images/").await;
    let staff_total = s.api.count("/api/openstack-images/").await;
    assert!(total < staff_total);
    wait_for_js(
        browser,
        "the scoped image list",
        "return document.getElementById('images-status').textContent",
        |v| v.as_str() == Some(&format!("{total} images match.")),
    )
    .await;
    let _ = &s.broken_uuid;
}
