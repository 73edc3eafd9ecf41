//! `cloudcensus sync`: one sweep in the foreground, with a progress bar on a terminal and a
//! summary table at the end.
use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use super::{CliError, open_catalog, secret_box, sync_settings};
use crate::config::Config;
use crate::sync::SyncEngine;
use crate::sync::{SweepObserver, TenantOutcome};

struct Progress {
    bar: Option<ProgressBar>,
}

impl SweepObserver for Progress {
    fn planned(&self, tenants: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(tenants as u64);
        }
    }

    fn finished(&self, o: &TenantOutcome) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{} / {}", o.cloud_name, o.tenant_name));
        }
    }
}

pub async fn run(cfg: &Config, tenants: &[Uuid]) -> Result<(), CliError> {
    let catalog = open_catalog(cfg, secret_box(cfg)?).await?;
    let engine = SyncEngine::new(catalog, sync_settings(cfg));
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} tenants  {msg}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let observer = Arc::new(Progress { bar: bar.clone() });
    let only = (!tenants.is_empty()).then_some(tenants);
    let outcomes = engine.sweep(only, None, observer).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    print!("{}", summary_table(&outcomes));
    let failed = outcomes.iter().filter(|o| o.result.is_err()).count();
    if failed > 0 {
        return Err(CliError::SyncFailed(failed));
    }
    Ok(())
}

pub fn summary_table(outcomes: &[TenantOutcome]) -> String {
    let mut out = format!(
        "{:<20} {:<20} {:<7} {:>7} {:>6} {:>8} {:>8} {:>10} {:>7}  {}\n",
        "CLOUD",
        "TENANT",
        "RESULT",
        "IMAGES",
        "ADDED",
        "UPDATED",
        "REMOVED",
        "INSTANCES",
        "SECS",
        "ERROR"
    );
    for o in outcomes {
        let (result, c, err) = match &o.result {
            Ok(s) => ("ok", s.counts, String::new()),
            Err(e) => ("ERRED", Default::default(), e.to_string()),
        };
        out.push_str(&format!(
            "{:<20} {:<20} {:<7} {:>7} {:>6} {:>8} {:>8} {:>10} {:>7.1}  {}\n",
            o.cloud_name,
            o.tenant_name,
            result,
            c.images_seen,
            c.images_added,
            c.images_updated,
            c.images_removed,
            c.instances_seen,
            o.duration.as_secs_f64(),
            err
        ));
    }
    out.push_str(&format!(
        "{} tenant(s) synced, {} failed\n",
        outcomes.iter().filter(|o| o.result.is_ok()).count(),
        outcomes.iter().filter(|o| o.result.is_err()).count()
    ));
    out
}
