//! A view's images compared with the catalog: new links, new or changed rows, staged in
//! batches so memory stays bounded whatever the tenant's size.
use std::collections::HashMap;

use crate::catalog::MemberStatus;
use crate::catalog::inventory::{KnownImage, SeenIds, SyncTarget, TenantChanges, TenantLinks};
use crate::catalog::sync_runs::RunCounts;
use crate::openstack::PAGE_LIMIT;
use crate::openstack::glance::GlanceImage;
use crate::sync::context::SyncContext;
use crate::sync::error::Error;
use crate::sync::listing::View;
use crate::sync::mapping;

/// Compares the view's images with the catalog into `changes`, a page's worth at a time.
pub(super) async fn compare(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    view: &View<'_>,
    changes: &mut TenantChanges,
    counts: &mut RunCounts,
) -> Result<(), Error> {
    let trusted = Trusted::of(ctx, view, target).await?;
    for chunk in view.images.chunks(PAGE_LIMIT as usize) {
        ctx.check_shutdown()?;
        let ids: Vec<String> = chunk
            .iter()
            .filter(|i| trusted.linked(&i.id).is_none())
            .map(|i| i.id.clone())
            .collect();
        let known = ctx
            .catalog
            .inventory()
            .known_images(target.cloud.id, target.tenant.id, &ids)
            .await?;
        compare_images(view, chunk, &known, &trusted, changes, counts);
        stage_if_large(ctx, target, changes).await?;
    }
    Ok(())
}

/// Images a compare need not read back (views of a whole-cloud listing): those an earlier
/// apply from the same listing wrote or found as listed, with the tenant's links among them.
#[derive(Default)]
struct Trusted {
    applied: SeenIds,
    /// The tenant's links, read once when there are images to trust.
    linked: TenantLinks,
}

impl Trusted {
    async fn of(
        ctx: &SyncContext<'_>,
        view: &View<'_>,
        target: &SyncTarget,
    ) -> Result<Self, Error> {
        let Some(shared) = &view.shared else {
            return Ok(Self::default());
        };
        let inventory = ctx.catalog.inventory();
        let version = inventory.catalog_version(target.cloud.id).await?;
        let applied = shared.applied.trusted_at(version);
        if applied.is_empty() {
            return Ok(Self::default());
        }
        Ok(Self {
            applied,
            linked: inventory.linked_images(target.tenant.id).await?,
        })
    }

    /// The tenant's link to the image (`Some(status)` when linked), when the image is trusted.
    fn linked(&self, id: &str) -> Option<Option<Option<MemberStatus>>> {
        self.applied.contains(id).then(|| {
            self.linked
                .ids
                .contains(id)
                .then(|| self.linked.statuses.get(id).copied())
        })
    }
}

/// Counts and records what the listed images change: new links, new or changed rows, links
/// whose membership status changed. `known` holds the catalog's rows of the images not
/// `trusted`.
fn compare_images(
    view: &View<'_>,
    listed: &[&GlanceImage],
    known: &HashMap<String, KnownImage>,
    trusted: &Trusted,
    changes: &mut TenantChanges,
    counts: &mut RunCounts,
) {
    for img in listed {
        if !changes.seen_images.insert(&img.id) {
            continue;
        }
        counts.images_seen += 1;
        let link = |k: &KnownImage| k.linked.then_some(k.member_status);
        let (linked, upsert) = match trusted.linked(&img.id) {
            Some(linked) => (linked, None),
            None => {
                let record = mapping::image_record(img);
                match known.get(&img.id) {
                    // A row new to the catalog is an addition, not an update.
                    None => (None, Some(record)),
                    Some(k) if k.differs_from(&record) => {
                        counts.images_updated += 1;
                        (link(k), Some(record))
                    }
                    Some(k) => (link(k), None),
                }
            }
        };
        let status = view.member_status(&img.id);
        match linked {
            Some(stored) => {
                changes.already_linked += 1;
                if stored != status {
                    changes.restatus.push((img.id.clone(), status));
                }
            }
            None => {
                counts.images_added += 1;
                changes.link.push((img.id.clone(), status));
            }
        }
        if let Some(record) = upsert {
            changes.upsert_images.push(record);
        }
    }
}

/// Bounded memory: hands big batches to the staging table (the catalog is untouched). Links
/// stay in memory longer: staging one costs a row written twice, holding it a short string,
/// and most links of a first sync are to images another tenant added.
async fn stage_if_large(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    changes: &mut TenantChanges,
) -> Result<(), Error> {
    let stage_links = changes.link.len() >= ctx.stage_links_batch;
    if changes.upsert_images.len() < ctx.stage_batch && !stage_links {
        return Ok(());
    }
    let links: &[_] = if stage_links { &changes.link } else { &[] };
    ctx.catalog
        .inventory()
        .stage(target.tenant.id, &changes.upsert_images, links)
        .await?;
    changes.upsert_images.clear();
    if stage_links {
        changes.link.clear();
    }
    changes.staged = true;
    Ok(())
}
