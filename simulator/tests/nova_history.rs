//! Nova's history of a server, as the simulator serves it over real sockets: the instance
//! action log (`os-instance-actions`, its microversions, paging, filters and policy) and
//! `os-simple-tenant-usage`, whose hours are checked against a hand computation of a
//! scripted server life (Nova resets `launched_at` on a resize).
use chrono::{DateTime, Duration, Utc};
use cloudcensus_sim::{
    ADMIN_PASSWORD, ADMIN_USER, Ending, Flavor, GenSpec, Server, ServerAction, Simulator, World,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// Nova's naive time form, with microseconds.
fn nova_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

struct Client {
    token: String,
    compute: String,
}

impl Client {
    /// GET at a microversion (`None`: no header, 2.1), with the legacy header.
    async fn get(&self, url: &str, version: Option<&str>) -> (StatusCode, Value) {
        let mut req = http().get(url).header("X-Auth-Token", &self.token);
        if let Some(v) = version {
            req = req.header("X-OpenStack-Nova-API-Version", v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    fn actions(&self, server: &str) -> String {
        format!("{}/servers/{server}/os-instance-actions", self.compute)
    }

    fn usage(&self, query: &str) -> String {
        format!("{}/os-simple-tenant-usage{query}", self.compute)
    }
}

async fn login(sim: &Simulator, user: &str, password: &str, project: &str) -> Client {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"id": project}}}});
    let resp = http()
        .post(format!("{}/auth/tokens", sim.auth_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let token = resp.headers()["X-Subject-Token"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = resp.json().await.unwrap();
    let compute = body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "compute")
        .unwrap()["endpoints"][0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    Client { token, compute }
}

/// Two projects, no servers; `user-<i>` is a member of project i.
async fn cloud() -> (Simulator, [String; 2]) {
    let world = World::generate(&GenSpec {
        projects: 2,
        images_per_project: 0,
        servers_per_project: 0,
        seed: 3,
    });
    let projects = [world.projects[0].id.clone(), world.projects[1].id.clone()];
    (Simulator::start(world).await.unwrap(), projects)
}

async fn member(sim: &Simulator, projects: &[String; 2], i: usize) -> Client {
    login(
        sim,
        &format!("user-{i}"),
        &format!("password-{i}"),
        &projects[i],
    )
    .await
}

async fn admin(sim: &Simulator, projects: &[String; 2]) -> Client {
    login(sim, ADMIN_USER, ADMIN_PASSWORD, &projects[0]).await
}

fn flavor(id: &str, vcpus: i64, ram: i64, disk: i64, ephemeral: i64) -> Flavor {
    Flavor {
        id: id.into(),
        name: format!("f.{id}"),
        vcpus,
        ram,
        disk,
        ephemeral,
    }
}

fn server(id: &str, project: &str, flavor: Flavor) -> Server {
    Server {
        id: id.into(),
        name: format!("name-{id}"),
        project_id: project.into(),
        image_id: Some("img".into()),
        flavor,
        ..Default::default()
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect()
}

/// A server that went through most of Nova's actions, an hour apart from `t0`; returns the
/// action names oldest first.
fn script_life(sim: &Simulator, id: &str, project: &str, t0: DateTime<Utc>) -> Vec<&'static str> {
    sim.set_time(t0);
    sim.boot_server(server(id, project, flavor("1", 1, 1024, 10, 0)));
    let steps = [
        ServerAction::Stop,
        ServerAction::Start,
        ServerAction::Resize(flavor("2", 2, 2048, 20, 0)),
        ServerAction::ConfirmResize,
        ServerAction::Migrate,
        ServerAction::RevertResize,
        ServerAction::Shelve,
        ServerAction::ShelveOffload,
        ServerAction::Unshelve,
        ServerAction::Rescue,
        ServerAction::Unrescue,
        ServerAction::Rebuild(None),
        ServerAction::Reboot,
        ServerAction::LiveMigrate,
    ];
    let mut names = vec!["create"];
    for (h, step) in steps.into_iter().enumerate() {
        sim.set_time(t0 + Duration::hours(h as i64 + 1));
        names.push(step.name());
        assert!(sim.act(id, step), "{}", names.last().unwrap());
    }
    names
}

#[tokio::test]
async fn the_action_log_lists_every_scripted_action_newest_first() {
    let (sim, projects) = cloud().await;
    let t0 = t("2026-11-02T08:00:00Z");
    let mut expected = script_life(&sim, "vm", &projects[0], t0);
    expected.reverse();
    let c = member(&sim, &projects, 0).await;

    let (status, body) = c.get(&c.actions("vm"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = &body["instanceActions"];
    assert_eq!(names(list), expected);
    let create = list.as_array().unwrap().last().unwrap();
    let mut keys: Vec<&str> = create
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "action",
            "instance_uuid",
            "message",
            "project_id",
            "request_id",
            "start_time",
            "user_id"
        ]
    );
    assert_eq!(create["instance_uuid"], "vm");
    assert_eq!(create["project_id"], projects[0].as_str());
    assert_eq!(create["start_time"], nova_time(t0));
    assert_eq!(create["message"], Value::Null);
    assert!(create["request_id"].as_str().unwrap().starts_with("req-"));
    assert!(body.get("links").is_none(), "no links before 2.58");
    // Each action at its hour.
    assert_eq!(list[0]["start_time"], nova_time(t0 + Duration::hours(14)));

    // 2.58 adds `updated_at`; the modern header works as well as the legacy one.
    let resp = http()
        .get(c.actions("vm"))
        .header("X-Auth-Token", &c.token)
        .header("OpenStack-API-Version", "compute 2.58")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["OpenStack-API-Version"], "compute 2.58");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["instanceActions"][0]["updated_at"],
        nova_time(t0 + Duration::hours(14))
    );

    // The state the actions left: resized to flavor 2 and confirmed; a cold migration reverted
    // (back to flavor 2, not 1), rebuilt last.
    let s = sim.with_world(|w| w.servers[0].clone());
    assert_eq!((s.status.as_str(), s.flavor.id.as_str()), ("ACTIVE", "2"));
    assert_eq!(
        s.launched_at,
        Some(t0 + Duration::hours(12)),
        "the rebuild relaunched it"
    );

    let (status, body) = c.get(&c.actions("vm"), Some("2.200")).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE, "{body}");
    let (status, body) = c.get(&c.actions("nope"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["itemNotFound"]["message"],
        "Instance nope could not be found."
    );
    // Another project's server is not found either, as Nova's project-only lookup answers.
    let other = member(&sim, &projects, 1).await;
    let (status, _) = other.get(&other.actions("vm"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = admin(&sim, &projects)
        .await
        .get(&c.actions("vm"), None)
        .await;
    assert_eq!(
        (status, names(&body["instanceActions"])),
        (StatusCode::OK, expected)
    );
    sim.stop().await;
}

#[tokio::test]
async fn the_action_log_pages_and_filters_from_2_58() {
    let (sim, projects) = cloud().await;
    let t0 = t("2026-11-02T08:00:00Z");
    let mut expected = script_life(&sim, "vm", &projects[0], t0);
    expected.reverse();
    let c = member(&sim, &projects, 0).await;

    // Before 2.58 the query is not read: the whole log, no links.
    let (status, body) = c.get(&format!("{}?limit=2", c.actions("vm")), None).await;
    assert_eq!(
        (status, names(&body["instanceActions"])),
        (StatusCode::OK, expected.clone())
    );
    assert!(body.get("links").is_none());

    // From 2.58: pages of 4 with absolute next links, until a short page.
    let mut url = format!("{}?limit=4", c.actions("vm"));
    let (mut seen, mut sizes) = (Vec::new(), Vec::new());
    loop {
        let (status, body) = c.get(&url, Some("2.58")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let page = names(&body["instanceActions"]);
        sizes.push(page.len());
        seen.extend(page.into_iter().map(String::from));
        match body["links"][0]["href"].as_str() {
            Some(next) => {
                assert_eq!(body["links"][0]["rel"], "next");
                let last = body["instanceActions"][3]["request_id"].as_str().unwrap();
                assert!(next.ends_with(&format!("limit=4&marker={last}")), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(sizes, [4, 4, 4, 3]);
    assert_eq!(seen, expected);

    let since = |q: &str| format!("{}?{q}", c.actions("vm"));
    // `changes-since` (by `updated_at`): the actions of the last three hours.
    let (status, body) = c
        .get(&since("changes-since=2026-11-02T20:00:00Z"), Some("2.58"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body["instanceActions"]), expected[..3]);
    // `changes-before` only from 2.66, where it bounds the other end.
    let window = "changes-since=2026-11-02T09:00:00Z&changes-before=2026-11-02T10:00:00";
    let (status, body) = c.get(&since(window), Some("2.58")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = c.get(&since(window), Some("2.66")).await;
    assert_eq!(
        (status, names(&body["instanceActions"])),
        (StatusCode::OK, vec!["start", "stop"])
    );
    let reversed = "changes-since=2026-11-03T00:00:00Z&changes-before=2026-11-02T00:00:00Z";
    let (status, body) = c.get(&since(reversed), Some("2.66")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["badRequest"]["message"],
        "The value of changes-since must be less than or equal to changes-before."
    );
    for bad in [
        "changes-since=yesterday",
        "marker=req-none",
        "limit=-1",
        "sort=asc",
    ] {
        let (status, body) = c.get(&since(bad), Some("2.58")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn deleted_servers_show_their_log_from_2_21() {
    let (sim, projects) = cloud().await;
    let t0 = t("2026-11-02T08:00:00Z");
    sim.set_time(t0);
    sim.boot_server(server("gone", &projects[0], flavor("1", 1, 1024, 10, 0)));
    sim.set_time(t0 + Duration::hours(3));
    assert!(sim.delete_server("gone"));
    assert!(!sim.delete_server("gone"), "deleted once");
    let c = member(&sim, &projects, 0).await;

    let (status, body) = c.get(&format!("{}/servers/detail", c.compute), None).await;
    assert_eq!(
        (status, body["servers"].clone()),
        (StatusCode::OK, json!([]))
    );
    let (status, _) = c.get(&c.actions("gone"), Some("2.20")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = c.get(&c.actions("gone"), Some("2.21")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(names(&body["instanceActions"]), ["delete", "create"]);
    assert_eq!(
        body["instanceActions"][0]["start_time"],
        nova_time(t0 + Duration::hours(3))
    );
    let gone = sim.with_world(|w| w.deleted_servers[0].clone());
    assert_eq!(gone.status, "DELETED");
    assert_eq!(gone.terminated_at, Some(t0 + Duration::hours(3)));
    sim.stop().await;
}

#[tokio::test]
async fn events_are_for_admins_and_from_2_51_for_everyone_without_tracebacks() {
    let (sim, projects) = cloud().await;
    let t0 = t("2026-11-02T08:00:00Z");
    sim.with_world(|w| w.action_event_secs = 90);
    sim.set_time(t0);
    sim.boot_server(server("vm", &projects[0], flavor("1", 1, 1024, 10, 0)));
    sim.set_time(t0 + Duration::hours(1));
    assert!(sim.act("vm", ServerAction::Resize(flavor("2", 2, 2048, 20, 0))));
    let done = t0 + Duration::hours(1) + Duration::seconds(90);
    let launched = sim.with_world(|w| w.servers[0].launched_at);
    assert_eq!(
        launched,
        Some(done),
        "the resize relaunches when its events end"
    );
    let c = member(&sim, &projects, 0).await;
    let (_, body) = c.get(&c.actions("vm"), None).await;
    let resize = body["instanceActions"][0]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let show = format!("{}/{resize}", c.actions("vm"));

    let (status, body) = c.get(&show, Some("2.50")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let action = &body["instanceAction"];
    assert_eq!(action["action"], "resize");
    assert!(action.get("events").is_none(), "{action}");

    let (status, body) = c.get(&show, Some("2.51")).await;
    assert_eq!(status, StatusCode::OK);
    let events = body["instanceAction"]["events"].as_array().unwrap().clone();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "compute_finish_resize",
            "compute_resize_instance",
            "compute_prep_resize"
        ]
    );
    assert_eq!(
        events[0],
        json!({"event": "compute_finish_resize", "start_time": nova_time(t0 + Duration::hours(1)),
               "finish_time": nova_time(done), "result": "Success"})
    );

    let root = admin(&sim, &projects).await;
    let (status, body) = root.get(&show, None).await;
    assert_eq!(status, StatusCode::OK);
    let events = body["instanceAction"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e["traceback"].is_null() && e.get("traceback").is_some())
    );

    let (status, body) = c.get(&format!("{}/req-none", c.actions("vm")), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["itemNotFound"]["message"], "Action req-none not found");
    sim.stop().await;
}

#[tokio::test]
async fn a_failed_action_leaves_the_server_and_a_running_one_has_no_finish() {
    let (sim, projects) = cloud().await;
    let t0 = t("2026-11-02T08:00:00Z");
    sim.with_world(|w| w.action_event_secs = 60);
    sim.set_time(t0);
    sim.boot_server(server("vm", &projects[0], flavor("1", 1, 1024, 10, 0)));
    sim.set_time(t0 + Duration::hours(1));
    let bigger = flavor("2", 2, 2048, 20, 0);
    assert!(sim.act_ending("vm", ServerAction::Resize(bigger), Ending::Failed));
    sim.set_time(t0 + Duration::hours(2));
    assert!(sim.act_ending("vm", ServerAction::Stop, Ending::Running));
    let s = sim.with_world(|w| w.servers[0].clone());
    assert_eq!(
        (s.status.as_str(), s.flavor.vcpus, s.updated),
        ("ACTIVE", 1, Some(t0 + Duration::hours(2))),
        "neither changed the server; `updated` moved"
    );

    let root = admin(&sim, &projects).await;
    let (_, body) = root.get(&root.actions("vm"), None).await;
    assert_eq!(
        names(&body["instanceActions"]),
        ["stop", "resize", "create"]
    );
    let request = |i: usize| {
        body["instanceActions"][i]["request_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (stop, resize) = (request(0), request(1));
    let (_, body) = root
        .get(&format!("{}/{resize}", root.actions("vm")), None)
        .await;
    let action = &body["instanceAction"];
    assert_eq!(action["message"], "Error");
    let events = action["events"].as_array().unwrap();
    assert_eq!(events[0]["event"], "compute_finish_resize");
    assert_eq!(events[0]["result"], "Error");
    assert!(
        events[0]["traceback"].is_string(),
        "admins see the traceback"
    );
    assert_eq!(events[1]["result"], "Success");
    assert_eq!(
        events[0]["finish_time"],
        nova_time(t0 + Duration::hours(1) + Duration::seconds(60))
    );
    let (_, body) = root
        .get(&format!("{}/{stop}", root.actions("vm")), None)
        .await;
    assert_eq!(
        body["instanceAction"]["events"],
        json!([{"event": "compute_stop_instance", "start_time": nova_time(t0 + Duration::hours(2)),
                "finish_time": null, "result": null, "traceback": null}])
    );
    assert_eq!(
        sim.requests(cloudcensus_sim::Target::NovaInstanceActionEvents),
        2
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_cloud_can_forbid_the_action_log() {
    let (sim, projects) = cloud().await;
    sim.boot_server(server("vm", &projects[0], flavor("1", 1, 1024, 10, 0)));
    let c = member(&sim, &projects, 0).await;
    let (_, body) = c.get(&c.actions("vm"), None).await;
    let create = body["instanceActions"][0]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.with_world(|w| w.instance_actions_forbidden = true);
    for (url, verb) in [
        (c.actions("vm"), "list"),
        (format!("{}/{create}", c.actions("vm")), "show"),
    ] {
        for who in [&c, &admin(&sim, &projects).await] {
            let (status, body) = who.get(&url, Some("2.58")).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(
                body,
                json!({"forbidden": {"code": 403, "message": format!(
                    "Policy doesn't allow os_compute_api:os-instance-actions:{verb} to be performed.")}})
            );
        }
    }
    // An unknown server is still a 404: Nova looks the instance up before its policy.
    let (status, _) = c.get(&c.actions("nope"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sim.with_world(|w| w.instance_actions_forbidden = false);
    let (status, _) = c.get(&c.actions("vm"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sim.requests(cloudcensus_sim::Target::NovaInstanceActions),
        5
    );
    assert_eq!(
        sim.requests(cloudcensus_sim::Target::NovaInstanceActionEvents),
        2
    );
    sim.stop().await;
}

/// The usage of one server in a tenant's report.
fn usage_of<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["server_usages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["instance_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {report}"))
}

/// A November scripted on the clock, and what Nova's `os-simple-tenant-usage` makes of it,
/// computed by hand. Project 0:
/// - `a` (1 vCPU, 1 GiB, 10 GB) boots on the 3rd, stops on the 5th, is resized on the 7th at
///   12:00 to 2 vCPUs, 4 GiB, 20+5 GB (Nova relaunches it then: `launched_at` is reset), the
///   resize confirmed an hour later (stopped again), started on the 8th, deleted on the 10th
///   at 06:00: Nova counts 7th 12:00 → 10th 06:00 = 66 h, all at the new size, the 4 days
///   before the resize lost.
/// - `b` booted on 20 October and untouched: the whole month, 720 h.
/// - `c` boots on the 20th at 12:00 and stops the next day: stopped servers count too, to the
///   window's end, 252 h.
/// - `early` was deleted in October and `late` boots in December: outside the window.
///
/// Project 1: `d` boots on the 15th: 384 h.
async fn scripted_month() -> (Simulator, [String; 2]) {
    let (sim, projects) = cloud().await;
    let (p0, p1) = (projects[0].as_str(), projects[1].as_str());
    let small = || flavor("1", 1, 1024, 10, 0);
    let at = |s: &str| sim.set_time(t(s));
    at("2026-10-01T00:00:00Z");
    sim.boot_server(server("early", p0, small()));
    at("2026-10-20T00:00:00Z");
    sim.boot_server(server("b", p0, small()));
    at("2026-10-25T00:00:00Z");
    assert!(sim.delete_server("early"));
    at("2026-11-03T00:00:00Z");
    sim.boot_server(server("a", p0, small()));
    at("2026-11-05T00:00:00Z");
    assert!(sim.act("a", ServerAction::Stop));
    at("2026-11-07T12:00:00Z");
    assert!(sim.act("a", ServerAction::Resize(flavor("3", 2, 4096, 20, 5))));
    at("2026-11-07T13:00:00Z");
    assert!(sim.act("a", ServerAction::ConfirmResize));
    assert_eq!(
        sim.with_world(|w| w
            .servers
            .iter()
            .find(|s| s.id == "a")
            .unwrap()
            .status
            .clone()),
        "SHUTOFF"
    );
    at("2026-11-08T00:00:00Z");
    assert!(sim.act("a", ServerAction::Start));
    at("2026-11-10T06:00:00Z");
    assert!(sim.act("a", ServerAction::Delete));
    at("2026-11-15T00:00:00Z");
    sim.boot_server(server("d", p1, small()));
    at("2026-11-20T12:00:00Z");
    sim.boot_server(server("c", p0, small()));
    at("2026-11-21T12:00:00Z");
    assert!(sim.act("c", ServerAction::Stop));
    at("2026-12-02T00:00:00Z");
    sim.boot_server(server("late", p0, small()));
    at("2026-12-07T00:00:00Z");
    (sim, projects)
}

const NOVEMBER: &str = "?start=2026-11-01T00:00:00&end=2026-12-01T00:00:00";

#[tokio::test]
async fn tenant_usage_counts_launch_to_termination_as_nova_does() {
    let (sim, projects) = scripted_month().await;
    let c = member(&sim, &projects, 0).await;
    let url = c.usage(&format!("/{}{NOVEMBER}", projects[0]));
    let (status, body) = c.get(&url, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = &body["tenant_usage"];
    let ids: Vec<&str> = report["server_usages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["instance_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c"], "in id order, early and late left out");
    assert_eq!(
        usage_of(report, "a"),
        &json!({"hours": 66.0, "flavor": "f.3", "instance_id": "a", "name": "name-a",
                "tenant_id": projects[0], "memory_mb": 4096, "local_gb": 25, "vcpus": 2,
                "started_at": "2026-11-07T12:00:00.000000",
                "ended_at": "2026-11-10T06:00:00.000000", "state": "terminated",
                "uptime": 66 * 3600})
    );
    let b = usage_of(report, "b");
    assert_eq!(b["hours"], 720.0);
    assert_eq!(b["state"], "active");
    assert_eq!(b["started_at"], "2026-10-20T00:00:00.000000");
    assert_eq!(b["ended_at"], Value::Null);
    // Uptime runs to the cloud's now (7 December), past the window.
    assert_eq!(b["uptime"], 48 * 86400);
    let c_usage = usage_of(report, "c");
    assert_eq!(
        (c_usage["hours"].clone(), c_usage["state"].clone()),
        (json!(252.0), json!("stopped"))
    );
    // Totals: vCPU·h, MB·h and GB·h weigh each server's hours by its (current) flavor.
    let hours = 66.0 + 720.0 + 252.0;
    assert_eq!(report["total_hours"], hours);
    assert_eq!(report["total_vcpus_usage"], 2.0 * 66.0 + 720.0 + 252.0);
    assert_eq!(
        report["total_memory_mb_usage"],
        4096.0 * 66.0 + 1024.0 * 972.0
    );
    assert_eq!(report["total_local_gb_usage"], 25.0 * 66.0 + 10.0 * 972.0);
    assert_eq!(report["start"], "2026-11-01T00:00:00.000000");
    assert_eq!(report["stop"], "2026-12-01T00:00:00.000000");
    assert_eq!(report["tenant_id"], projects[0].as_str());

    // A window ending in the future ends now (7 December): b ran 36 days of it, late 5.
    let (_, body) = c
        .get(
            &c.usage(&format!(
                "/{}?start=2026-11-01T00:00:00&end=2027-01-01T00:00:00.5",
                projects[0]
            )),
            None,
        )
        .await;
    assert_eq!(body["tenant_usage"]["stop"], "2026-12-07T00:00:00.000000");
    assert_eq!(usage_of(&body["tenant_usage"], "b")["hours"], 36.0 * 24.0);
    assert_eq!(usage_of(&body["tenant_usage"], "late")["hours"], 5.0 * 24.0);

    // Nothing ran: an empty usage, as Nova shows it.
    let (status, body) = c
        .get(
            &c.usage(&format!(
                "/{}?start=2020-01-01T00:00:00&end=2020-02-01 00:00:00.0",
                projects[0]
            )),
            None,
        )
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"tenant_usage": {}}))
    );
    sim.stop().await;
}

#[tokio::test]
async fn tenant_usage_policy_window_checks_and_paging() {
    let (sim, projects) = scripted_month().await;
    let c = member(&sim, &projects, 0).await;
    let root = admin(&sim, &projects).await;

    // Another tenant's usage, or everyone's, is for admins.
    let (status, body) = c
        .get(&c.usage(&format!("/{}{NOVEMBER}", projects[1])), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["forbidden"]["message"],
        "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed."
    );
    let (status, _) = c.get(&c.usage(NOVEMBER), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = root
        .get(&root.usage(&format!("/{}{NOVEMBER}", projects[1])), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["tenant_usage"]["total_hours"], 384.0);

    // The list form: one summary per tenant in id order, server usages only when detailed.
    let (status, body) = root.get(&root.usage(NOVEMBER), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut tenants = projects.to_vec();
    tenants.sort();
    let listed: Vec<&str> = body["tenant_usages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["tenant_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, tenants);
    assert!(body["tenant_usages"][0].get("server_usages").is_none());
    let (_, body) = root
        .get(&root.usage(&format!("{NOVEMBER}&detailed=1")), None)
        .await;
    let p0 = body["tenant_usages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["tenant_id"] == projects[0].as_str())
        .unwrap();
    assert_eq!(p0["server_usages"].as_array().unwrap().len(), 3);
    assert_eq!(p0["total_hours"], 1038.0);

    // Windows as Nova parses them: naive times only, start before end.
    for bad in [
        "?start=2026-11-01T00:00:00Z&end=2026-12-01T00:00:00",
        "?start=2026-11-01&end=2026-12-01T00:00:00",
        "?start=2026-12-01T00:00:00&end=2026-11-01T00:00:00",
        "?start=2026-12-01T00:00:00&end=2026-12-01T00:00:00",
    ] {
        let (status, body) = c
            .get(&c.usage(&format!("/{}{bad}", projects[0])), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }

    // From 2.40 the usage pages by instance (totals per page, as in Nova); before, it does not.
    let paged = c.usage(&format!("/{}{NOVEMBER}&limit=2", projects[0]));
    let (_, body) = c.get(&paged, Some("2.39")).await;
    assert_eq!(
        body["tenant_usage"]["server_usages"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(body.get("tenant_usage_links").is_none());
    let (status, body) = c.get(&paged, Some("2.40")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tenant_usage"]["total_hours"], 66.0 + 720.0);
    let next = body["tenant_usage_links"][0]["href"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.ends_with("&limit=2&marker=b"), "{next}");
    let (_, body) = c.get(&next, Some("2.40")).await;
    assert_eq!(body["tenant_usage"]["total_hours"], 252.0);
    assert!(
        body.get("tenant_usage_links").is_none(),
        "a short page ends it"
    );
    let (status, _) = c
        .get(
            &c.usage(&format!("/{}{NOVEMBER}&marker=nope", projects[0])),
            Some("2.40"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sim.stop().await;
}

/// The older scripting methods, which change only what they name, log their actions too: a
/// world scripted with them has an action log to date its changes by.
#[tokio::test]
async fn the_older_scripting_methods_log_their_actions() {
    let (sim, projects) = cloud().await;
    let t0 = t("2026-11-02T08:00:00Z");
    let at = |h: i64| {
        sim.set_time(t0 + Duration::hours(h));
        nova_time(t0 + Duration::hours(h))
    };
    let mut expected = vec![("create", at(0))];
    sim.boot_server(server("vm", &projects[0], flavor("1", 1, 1024, 10, 0)));
    expected.push(("stop", at(1)));
    assert!(sim.set_server_status("vm", "SHUTOFF"));
    expected.push(("resize", at(2)));
    assert!(sim.resize_server("vm", flavor("2", 2, 2048, 20, 0)));
    expected.push(("start", at(3)));
    assert!(sim.set_server_status("vm", "ACTIVE"));
    // A status with no action behind it (an error) logs nothing.
    at(4);
    assert!(sim.set_server_status("vm", "ERROR"));
    expected.push(("delete", at(5)));
    assert!(sim.delete_server("vm"));
    expected.reverse();

    let c = member(&sim, &projects, 0).await;
    let (status, body) = c.get(&c.actions("vm"), Some("2.58")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let log: Vec<(&str, String)> = body["instanceActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["start_time"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(log, expected);
    // Their events end when they start: the state changes at the clock's time.
    let stop = body["instanceActions"][3]["request_id"].as_str().unwrap();
    let (_, body) = c
        .get(&format!("{}/{stop}", c.actions("vm")), Some("2.51"))
        .await;
    let event = &body["instanceAction"]["events"][0];
    assert_eq!(event["event"], "compute_stop_instance");
    assert_eq!(event["finish_time"], nova_time(t0 + Duration::hours(1)));
    // The usage endpoint counts requests under its own target.
    let (status, _) = c
        .get(
            &c.usage(&format!("/{}?start=2026-11-01T00:00:00", projects[0])),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sim.requests(cloudcensus_sim::Target::NovaUsage), 1);
    sim.stop().await;
}
