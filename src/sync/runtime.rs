//! The threads tenant syncs run on, apart from the API's.
//!
//! A tenant's sync parses and compares upstream pages of up to 1,000 images: milliseconds of
//! CPU in one poll. On the API's runtime such a poll held a worker thread, and requests queued
//! behind it (the reads benchmark's p99 during a sync). On threads of their own, syncs use at
//! most that many cores, and the OS scheduler, not the order of a run queue, shares the
//! machine between them and the API.
//!
//! One runtime per process, never dropped: connections a sync opens are registered with its
//! I/O driver and go back to pools other runtimes use, so it must outlive every pool.
use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinSet;

/// Thread name of the sync runtime's workers (shown by `top -H`, used by the benchmarks).
pub const THREAD_NAME: &str = "cc-sync";

static RUNTIME: OnceLock<Option<Runtime>> = OnceLock::new();

/// Threads for syncs when not configured: half the cores, at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Where syncs run: the process's sync runtime, started with `threads` workers by the first
/// call (later calls share it). `None` if it could not be started; syncs then run on the
/// caller's runtime.
pub fn handle(threads: usize) -> Option<Handle> {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(threads.max(1))
                .thread_name(THREAD_NAME)
                .enable_all()
                .build()
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "no threads of their own for syncs; they share the API's")
                })
                .ok()
        })
        .as_ref()
        .map(|rt| rt.handle().clone())
}

/// Spawns `task` into `set` on `runtime` (or the caller's runtime when `None`).
pub fn spawn_into<T, F>(set: &mut JoinSet<T>, runtime: Option<&Handle>, task: F)
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    match runtime {
        Some(handle) => set.spawn_on(task, handle),
        None => set.spawn(task),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn syncs_run_on_threads_of_their_own() {
        let mut set = JoinSet::new();
        spawn_into(&mut set, handle(1).as_ref(), async {
            std::thread::current().name().map(String::from)
        });
        let name = set.join_next().await.and_then(Result::ok).flatten();
        assert_eq!(name.as_deref(), Some(THREAD_NAME));
    }
}
