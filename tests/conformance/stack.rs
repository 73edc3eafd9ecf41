//! One Keystone and Glance stack per test binary, started by `stack.sh up` on first use.
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

pub struct Stack {
    env: HashMap<String, String>,
}

impl Stack {
    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from the stack's env file"))
    }
}

static STACK: OnceLock<Stack> = OnceLock::new();

/// Starts Keystone and Glance once for this test binary.
pub fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let runs = root.join("target/conformance-runs");
        std::fs::create_dir_all(&runs).expect("create target/conformance-runs");
        let run_dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&runs)
            .expect("run directory")
            .keep();
        let keep = std::env::var("CONFORMANCE_KEEP").is_ok_and(|v| v == "1");
        let started = Instant::now();
        let status = Command::new("bash")
            .arg(root.join("tests/conformance/stack.sh"))
            .arg("up")
            .arg(&run_dir)
            .env("CONFORMANCE_OWNER_PID", std::process::id().to_string())
            .env("CONFORMANCE_REMOVE_ON_EXIT", if keep { "0" } else { "1" })
            .stdin(Stdio::null())
            .status()
            .expect("run tests/conformance/stack.sh");
        assert!(
            status.success(),
            "stack.sh up {} failed ({status}); its logs are in that directory",
            run_dir.display()
        );
        let text = std::fs::read_to_string(run_dir.join("env")).expect("RUN_DIR/env");
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        eprintln!(
            "conformance stack up in {:.1} s at {}",
            started.elapsed().as_secs_f64(),
            run_dir.display()
        );
        Stack { env }
    })
}
