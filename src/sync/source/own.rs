//! A tenant's own login: what its token lists, everything (a sweep, a pull) or only what
//! changed since the tenant's cursor (a delta poll of a tenant synced per tenant). An admin
//! token lists the whole cloud's images; [`ProjectFilter`] narrows them to the project's.
use std::collections::{HashMap, HashSet};

use futures_util::{StreamExt, TryStreamExt, stream};
use tracing::instrument;

use super::deletions::{self, Reach};
use super::{MEMBER_LOOKUPS, boots_from_volume, has_compute, member_status};
use crate::catalog::MemberStatus;
use crate::catalog::inventory::SyncTarget;
use crate::openstack::cinder;
use crate::openstack::glance::{self, GlanceImage, ImagePager, Passes};
use crate::openstack::nova::{NovaServer, ServerPager};
use crate::openstack::{OpenStackError, Session};
use crate::sync::action_log::{self, ActionLogs};
use crate::sync::context::SyncContext;
use crate::sync::credentials;
use crate::sync::cursor::Cursor;
use crate::sync::error::{Error, Whose};
use crate::sync::listing::{Extent, Listing, Memberships};
use crate::sync::project_filter::{ProjectFilter, Verdict};

/// Logs in as the tenant and lists what its token sees (`ChangesSince`: only what changed);
/// the requests go to the context's tally.
#[instrument(level = "debug", skip_all, fields(tenant = %target.tenant.name))]
pub async fn fetch(
    ctx: &SyncContext<'_>,
    target: &SyncTarget,
    extent: Extent,
) -> Result<Listing, Error> {
    // A tenant without credentials of its own logs in with its cloud's.
    let whose = match target.tenant.credentials {
        Some(_) => Whose::Tenant,
        None => Whose::Cloud,
    };
    let session = credentials::session(
        &target.cloud,
        credentials::auth_method(target)?,
        ctx.session,
        credentials::tls(ctx.catalog, &target.cloud)?,
    )?;
    let listed = async {
        login(&session, target).await?;
        list(ctx, &session, target, extent).await
    }
    .await;
    ctx.count(&session.requests());
    listed.map_err(|e| e.with_whose(whose))
}

/// Logs the tenant's session in and checks that it is scoped to the tenant's project.
async fn login(session: &Session, target: &SyncTarget) -> Result<(), Error> {
    let tenant = &target.tenant;
    session.login().await?;
    // An application credential is bound to its own project: used for another tenant, it
    // would file that project's images under this one.
    if let Some(token_project) = session.scope().await?.project_id
        && token_project != tenant.backend_id
    {
        return Err(Error::WrongProject {
            token_project,
            tenant_project: tenant.backend_id.clone(),
        });
    }
    Ok(())
}

/// Images, then servers and volumes, then (for a complete listing) Glance's facts.
async fn list(
    ctx: &SyncContext<'_>,
    session: &Session,
    target: &SyncTarget,
    extent: Extent,
) -> Result<Listing, Error> {
    let project = target.tenant.backend_id.as_str();
    let since = match extent {
        Extent::Complete => None,
        Extent::ChangesSince(cursor) => Some(cursor),
    };
    let from = since.unwrap_or_default();
    let (images, memberships, cursor) = images(ctx, session, project, since.as_ref(), from).await?;
    let (servers, volumes, cursor) = match servers(ctx, session, since.as_ref(), cursor).await? {
        Some((servers, cursor)) => {
            let volumes = volumes(session, since.is_some(), &servers).await?;
            (Some(servers), volumes, cursor)
        }
        None => (None, None, cursor),
    };
    let deleted = match (&servers, since) {
        (Some(servers), None) => deleted(ctx, session, target, servers).await,
        _ => Vec::new(),
    };
    let facts = match since {
        None => Some(glance::info(session).await?),
        Some(_) => None,
    };
    // The deleted servers' logs too: the steps between their recorded state and the end.
    let actions = match &servers {
        Some(servers) => {
            let asked: Vec<&NovaServer> = servers.iter().chain(&deleted).collect();
            action_log::read(ctx, session, target.cloud.id, &asked).await?
        }
        None => ActionLogs::default(),
    };
    Ok(Listing {
        images,
        memberships,
        servers,
        deleted,
        volumes,
        facts,
        cursor,
        extent,
        actions,
    })
}

/// The images the tenant sees, page by page, each once, with the status of each membership
/// of another project's shared image among them; with the cursor moved on to the newest
/// change any page showed.
#[instrument(level = "debug", skip_all)]
async fn images(
    ctx: &SyncContext<'_>,
    session: &Session,
    project: &str,
    since: Option<&Cursor>,
    mut cursor: Cursor,
) -> Result<(Vec<GlanceImage>, Memberships, Cursor), Error> {
    let scope = session.scope().await?;
    let visibility = ProjectFilter::new(&scope, project);
    let mut pager = match since {
        Some(since) => ImagePager::updated_after(session, &since.images_query()),
        None => ImagePager::new(session),
    };
    let mut taken = HashSet::new();
    let mut images = Vec::new();
    let mut memberships = HashMap::new();
    while let Some(page) = pager.next_page().await? {
        ctx.check_shutdown()?;
        cursor = cursor.advanced(&page, []);
        let (fresh, mut ask) = split_page(page, &visibility, &taken);
        if let Some(since) = since {
            // What the overlap lists again was looked up before; a membership change does
            // not move `updated_at`, so asking again would find nothing new.
            ask.retain(|img| img.updated_at > since.images);
        }
        let fresh = fresh.into_iter().map(|img| (img, None));
        let members = members_of(session, &visibility, ask).await?;
        for (img, status) in fresh.chain(members.into_iter().map(|(i, s)| (i, Some(s)))) {
            if taken.insert(img.id.clone()) {
                if let Some(status) = status {
                    memberships.insert(img.id.clone(), status);
                }
                images.push(img);
            }
        }
    }
    if !scope.admin {
        memberships = member_statuses(session, visibility.project_id(), &images).await?;
    }
    Ok((images, memberships, cursor))
}

/// The statuses of a member's memberships among the images its own (non-admin) token listed.
/// That listing (`member_status=all`) shows every shared image the project is a member of
/// without saying the status, so two more listings ask Glance for the pending and the
/// rejected ones (normally empty: one request each); the other shared images of other
/// projects are accepted. They are asked only for the passes (visible, hidden) that listed
/// such an image: a tenant that is no member of anything pays nothing. A delta poll asks
/// too when its changes hold such an image (else an accepted status would be recorded for a
/// pending one). Status changes of images a delta does not list wait for the next sweep: a
/// member accepting does not move the image's `updated_at`, so no delta lists it.
async fn member_statuses(
    session: &Session,
    project: &str,
    images: &[GlanceImage],
) -> Result<Memberships, Error> {
    let shared: Vec<&GlanceImage> = images
        .iter()
        .filter(|i| i.visibility == "shared" && i.owner.as_deref() != Some(project))
        .collect();
    let passes = Passes {
        visible: shared.iter().any(|i| !i.os_hidden),
        hidden: shared.iter().any(|i| i.os_hidden),
    };
    let mut statuses: Memberships = shared
        .iter()
        .map(|i| (i.id.clone(), MemberStatus::Accepted))
        .collect();
    if !passes.visible && !passes.hidden {
        return Ok(statuses);
    }
    for status in [MemberStatus::Pending, MemberStatus::Rejected] {
        let mut pager = ImagePager::shared_with_status(session, status.as_str(), passes);
        while let Some(page) = pager.next_page().await? {
            for img in page {
                // Only what the main listing showed: an image shared since is for the next sync.
                if let Some(known) = statuses.get_mut(&img.id) {
                    *known = status;
                }
            }
        }
    }
    Ok(statuses)
}

/// The page's images the tenant sees that this listing has not taken yet, and the shared
/// images of other projects whose member lists must tell. A page may repeat ids of earlier
/// pages (or hold gone images).
fn split_page(
    page: Vec<GlanceImage>,
    visibility: &ProjectFilter,
    taken: &HashSet<String>,
) -> (Vec<GlanceImage>, Vec<GlanceImage>) {
    let mut fresh = Vec::with_capacity(page.len());
    let mut ask = Vec::new();
    for img in page {
        if img.is_gone() || taken.contains(&img.id) {
            continue;
        }
        match visibility.judge(&img) {
            Verdict::Visible => fresh.push(img),
            Verdict::NotVisible => {}
            Verdict::AskMembership => ask.push(img),
        }
    }
    (fresh, ask)
}

/// Lookups of one page's shared images of other projects, a few at a time: the images the
/// tenant is a member of, with its membership's status.
async fn members_of(
    session: &Session,
    visibility: &ProjectFilter,
    candidates: Vec<GlanceImage>,
) -> Result<Vec<(GlanceImage, MemberStatus)>, Error> {
    let lookups = candidates.into_iter().map(|img| async move {
        let status = glance::member_status(session, &img.id, visibility.project_id()).await?;
        Ok::<_, OpenStackError>(status.map(|s| (img, member_status(&s))))
    });
    let found: Vec<Option<(GlanceImage, MemberStatus)>> = stream::iter(lookups)
        .buffer_unordered(MEMBER_LOOKUPS)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

/// The project's servers (or those changed since the cursor), each once, with the cursor
/// moved on; `None` when the cloud has no compute endpoint (an image census does not need
/// Nova).
async fn servers(
    ctx: &SyncContext<'_>,
    session: &Session,
    since: Option<&Cursor>,
    mut cursor: Cursor,
) -> Result<Option<(Vec<NovaServer>, Cursor)>, Error> {
    if !has_compute(session).await? {
        return Ok(None);
    }
    let mut pager = ServerPager::new(session);
    if let Some(since) = since {
        pager = pager.changed_since(&since.servers_query());
    }
    let mut servers = Vec::new();
    let mut ids = HashSet::new();
    while let Some(page) = pager.next_page().await? {
        ctx.check_shutdown()?;
        cursor = cursor.advanced([], &page);
        servers.extend(page.into_iter().filter(|s| ids.insert(s.id.clone())));
    }
    Ok(Some((servers, cursor)))
}

/// The servers Nova lists as deleted since the tenant's last complete listing (its stored
/// cursor) that explain its instances this complete listing of `servers` no longer shows.
async fn deleted(
    ctx: &SyncContext<'_>,
    session: &Session,
    target: &SyncTarget,
    servers: &[NovaServer],
) -> Vec<NovaServer> {
    let listed: HashSet<&str> = servers.iter().map(|s| s.id.as_str()).collect();
    let since = target.tenant.delta_cursor.clone().map(Cursor::from_json);
    let tenants = [target.tenant.id];
    deletions::explain(
        ctx.catalog,
        session,
        Reach::Project,
        &tenants,
        &listed,
        since,
    )
    .await
}

/// The project's volumes; `None` when the cloud has no volume endpoint. A delta asks only
/// when a changed server booted from a volume (an idle poll stays cheap), and then takes a
/// cloud without Cinder for one without such volumes.
async fn volumes(
    session: &Session,
    delta: bool,
    servers: &[NovaServer],
) -> Result<Option<Vec<cinder::CinderVolume>>, Error> {
    if delta && !boots_from_volume(servers.iter()) {
        return Ok(Some(Vec::new()));
    }
    let listed = cinder::list_volumes(session)
        .await?
        .map(|list| list.volumes);
    Ok(match listed {
        None if delta => Some(Vec::new()),
        other => other,
    })
}
