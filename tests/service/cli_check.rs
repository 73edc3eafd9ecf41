//! `cloudcensus clouds check NAME|UUID` as a subprocess, against the simulator: a readable
//! report, and an exit code that fails when syncs of the cloud cannot work.
use std::process::Output;

use serde_json::json;

use crate::cli::cloudcensus;
use crate::common::SECRET_KEY;
use crate::common::sim::{SimApp, generated_world};

fn check(s: &SimApp, cloud: &str) -> Output {
    cloudcensus(s.app.database_url())
        .env("CLOUDCENSUS_SECRET_KEY", SECRET_KEY)
        .args(["clouds", "check", cloud])
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Several threads: the simulator must answer while this thread waits for the subprocess.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clouds_check_reports_in_words_and_fails_on_a_broken_cloud() {
    let s = SimApp::world(generated_world(2, 2, 1, 12))
        .sync_mode("auto")
        .start()
        .await;

    let healthy = check(&s, "sim");
    let (out, err) = text(&healthy);
    assert!(healthy.status.success(), "{out}{err}");
    let project = &s.tenants[0];
    for part in [
        "Cloud \"sim\"",
        &format!(
            "project {:?} (id {}, domain Default)",
            project.name, project.backend_id
        ),
        "(admin)",
        "auto -> cloud (admin_role)",
        "OK: syncs of this cloud can work as configured.",
    ] {
        assert!(out.contains(part), "{part:?} not in\n{out}");
    }
    for service in ["login", "identity", "image", "compute", "volume"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(service))
            .unwrap_or_else(|| panic!("no {service} line in\n{out}"));
        assert!(line.contains(" ok ") && line.contains(" ms"), "{line}");
    }
    // By uuid as well.
    assert!(check(&s, &s.cloud().uuid).status.success());

    // A wrong password: it fails, naming the user and project, never the password.
    let r = s
        .app
        .patch(
            s.app.path_of(&s.cloud().url),
            json!({"password": "Wr0ng-pw-4-check", "project_name": "nowhere"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let refused = check(&s, "sim");
    let (out, err) = text(&refused);
    assert!(!refused.status.success(), "{out}");
    let login = out.lines().find(|l| l.starts_with("login")).unwrap();
    assert!(
        login.contains("FAIL")
            && login.contains("user \"admin\" in domain \"default\", project \"nowhere\""),
        "{login}"
    );
    assert!(out.contains("auto -> per_tenant (login_failed)"), "{out}");
    assert!(err.contains("cloud \"sim\" failed its check"), "{err}");
    for secret in ["Wr0ng-pw-4-check", "admin-password"] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }

    // An unknown name lists the clouds there are.
    let unknown = check(&s, "nope");
    let (_, err) = text(&unknown);
    assert!(!unknown.status.success());
    assert!(
        err.contains("no cloud is named \"nope\"; the clouds are: sim"),
        "{err}"
    );
    s.stop().await;
}
