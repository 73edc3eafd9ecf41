//! `cloudcensus-sim` on its own prints what a person needs to register its cloud: the auth
//! URL, the users with their passwords, and the projects by name and id.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cloudcensus_sim::World;

#[test]
fn the_standalone_simulator_prints_its_auth_url_users_and_projects() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudcensus-sim"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let done = line.starts_with("Register it with");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    let text = lines.join("\n");
    let auth_url = lines
        .iter()
        .find_map(|l| l.strip_prefix("auth_url: "))
        .unwrap_or_else(|| panic!("no auth_url in:\n{text}"));
    assert!(auth_url.starts_with("http://127.0.0.1:"), "{text}");
    let world = World::demo();
    for project in &world.projects {
        assert!(
            text.contains(&format!("  {}  {}", project.name, project.id)),
            "{} missing from:\n{text}",
            project.name
        );
    }
    for user in &world.users {
        assert!(
            text.contains(&format!("  {} / {}", user.name, user.password)),
            "{text}"
        );
    }
}
