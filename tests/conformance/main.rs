//! Conformance against the real OpenStack: Keystone 30 and Glance 33 from PyPI, started on
//! loopback by `tests/conformance/stack.sh` (its venv is cached under `target/`). The tests
//! are ignored by default; run them with
//!
//! ```text
//! cargo test --test conformance -- --ignored --test-threads=1
//! ```
//!
//! The first run installs the services (~45 s); later ones start them in ~10 s. One stack
//! serves every test of this binary: `stack.sh up` leaves a watchdog that stops it (and
//! removes its run directory under `target/conformance-runs/`, unless `CONFORMANCE_KEEP=1`)
//! once this process has exited. Each case makes its own projects, users, images, clouds and
//! tenants (names carry a run tag), so cases do not depend on each other's order; only the
//! 1030 images of the paging cases are made once and shared, read-only. Each case judges the
//! catalog against what Glance itself lists for each tenant's user.
#[path = "../service/common/mod.rs"]
mod common;

mod catalog;
mod discovery;
mod fixture;
mod glance_face;
mod openstack;
mod stack;
