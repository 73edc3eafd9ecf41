//! A small, faithful OpenStack for tests, benchmarks and the demo: Keystone v3 token issue
//! and project listing, Glance v2 image listing, members and info, Nova server listing,
//! instance action log and simple tenant usage, Cinder volume listing, over real sockets on
//! loopback, with fault injection per endpoint.
// Handlers return early with the upstream-shaped error `Response`; it is built once per failed
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod cinder;
mod faults;
mod generate;
mod glance;
mod http;
mod keystone;
mod lifecycle;
mod nova;
mod nova_actions;
mod nova_usage;
mod reset;
mod state;
mod world;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::listener::TcpAcceptor;
use poem::{EndpointExt, Route, Server as HttpServer, get, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind, Target};
pub use generate::{ADMIN_PASSWORD, ADMIN_USER, GenSpec};
pub use lifecycle::{Ending, SIM_USER, ServerAction};
pub use world::{
    ActionEvent, AppCredential, Flavor, Image, InstanceAction, Member, Project, ProjectLimit,
    RegisteredLimit, Server, Store, User, Volume, VolumeAttachment, World,
};

use state::Shared;

/// A running simulator. Dropping it without `stop` leaves the server running until the
/// runtime ends.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

fn routes(shared: Arc<Shared>) -> impl poem::Endpoint {
    Route::new()
        .at("/identity/v3", get(keystone::version_document))
        .at("/identity/v3/", get(keystone::version_document))
        .at("/identity/v3/auth/tokens", post(keystone::issue_token))
        .at("/identity/v3/projects", get(keystone::list_projects))
        .at(
            "/identity/v3/registered_limits",
            get(keystone::list_registered_limits),
        )
        .at("/identity/v3/limits", get(keystone::list_limits))
        .at("/image/v2/images", get(glance::list_images))
        .at("/image/v2/images/:id", get(glance::show_image))
        .at("/image/v2/images/:id/members", get(glance::list_members))
        .at(
            "/image/v2/images/:id/members/:member",
            get(glance::show_member).put(glance::update_member),
        )
        .at("/image/v2/info/:what", get(glance::info))
        .at("/compute/v2.1/servers/detail", get(nova::servers_detail))
        .at(
            "/compute/v2.1/servers/:id/os-instance-actions",
            get(nova_actions::list),
        )
        .at(
            "/compute/v2.1/servers/:id/os-instance-actions/:request_id",
            get(nova_actions::show),
        )
        .at(
            "/compute/v2.1/os-simple-tenant-usage",
            get(nova_usage::list),
        )
        .at(
            "/compute/v2.1/os-simple-tenant-usage/:tenant_id",
            get(nova_usage::show),
        )
        .at("/compute/v2.1", get(nova::version_document))
        .at("/compute/v2.1/", get(nova::version_document))
        .at(
            "/volume/:version/:project_id/volumes/detail",
            get(cinder::volumes_detail),
        )
        .data(shared)
}

impl Simulator {
    /// Starts on a free loopback port.
    pub async fn start(world: World) -> std::io::Result<Simulator> {
        Self::start_on("127.0.0.1:0".parse().map_err(std::io::Error::other)?, world).await
    }

    pub async fn start_on(addr: SocketAddr, world: World) -> std::io::Result<Simulator> {
        Self::start_with(addr, world, None).await
    }

    /// Starts on a free loopback port behind a proxy (a TLS front, say) reached at
    /// `public_url` (e.g. `https://127.0.0.1:PORT`): the URLs it hands out (the service
    /// catalog, next links) and [`Simulator::auth_url`] point there; [`Simulator::addr`] is
    /// where the proxy forwards to.
    pub async fn start_behind(public_url: &str, world: World) -> std::io::Result<Simulator> {
        let addr = "127.0.0.1:0".parse().map_err(std::io::Error::other)?;
        let base = public_url.trim_end_matches('/').to_string();
        Self::start_with(addr, world, Some(base)).await
    }

    async fn start_with(
        addr: SocketAddr,
        world: World,
        public_url: Option<String>,
    ) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base = public_url.unwrap_or_else(|| format!("http://{addr}"));
        let shared = Arc::new(Shared::new(base, world));
        let acceptor = reset::ResettableAcceptor {
            inner: TcpAcceptor::from_tokio(listener)?,
            resets: shared.resets.clone(),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let app = routes(shared.clone());
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(e) = HttpServer::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_millis(200)))
                .await
            {
                eprintln!("simulator stopped: {e}");
            }
        });
        Ok(Simulator {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Keystone URL to configure a cloud with, e.g. `http://127.0.0.1:PORT/identity/v3`.
    pub fn auth_url(&self) -> String {
        format!("{}/identity/v3", self.shared.base_url)
    }

    /// Reads or changes the world while the simulator runs; later requests see the change.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut idx = self.shared.write();
        // Only credentials and enabled flags matter for revocations; skip copying images.
        let before = World {
            users: idx.world.users.clone(),
            projects: idx.world.projects.clone(),
            ..World::default()
        };
        let out = f(&mut idx.world);
        idx.reindex();
        self.shared.record_revocations(&before, &idx.world);
        out
    }

    /// The cloud's clock (the real time at start until set): the time the scripting methods
    /// below stamp on what they change, as Nova would.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.shared.now()
    }

    pub fn set_time(&self, t: chrono::DateTime<chrono::Utc>) {
        self.shared.set_time(t);
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.set_time(self.now() + by);
    }

    /// Boots a server now: `ACTIVE`, created, launched and updated at the clock's time, with
    /// its `create` action logged.
    pub fn boot_server(&self, mut server: Server) {
        let now = self.now();
        self.with_world(|w| {
            let done = now + chrono::Duration::seconds(w.action_event_secs);
            server.status = "ACTIVE".into();
            server.created = now;
            server.launched_at = Some(done);
            server.updated = Some(done);
            let events = ["compute__do_build_and_run_instance"];
            lifecycle::record(&mut server, "create", &events, now, w.action_event_secs);
            w.servers.push(server);
        });
    }

    /// Applies a server action now, as Nova does (status, flavor, `launched_at` resets,
    /// deletion), and logs it in the server's instance action log. `false` for an unknown
    /// server, or a confirm or revert without a pending resize.
    pub fn act(&self, id: &str, action: ServerAction) -> bool {
        let now = self.now();
        self.with_world(|w| w.act(id, action, now))
    }

    /// [`Simulator::act`], ending as `ending` says (failed, or still running: the server is
    /// left as it was).
    pub fn act_ending(&self, id: &str, action: ServerAction, ending: Ending) -> bool {
        let now = self.now();
        self.with_world(|w| w.act_ending(id, action, now, ending))
    }

    /// Changes only a server's status: `updated` now, and its first `ACTIVE` is its launch
    /// (no `launched_at` reset: [`Simulator::act`] does what Nova does). Logs the action the
    /// change stands for (`SHUTOFF` a `stop`, `ACTIVE` from `SHUTOFF` a `start`, …), if any.
    /// `false` for an unknown server.
    pub fn set_server_status(&self, id: &str, status: &str) -> bool {
        let now = self.now();
        self.with_server(id, |s| {
            if let Some(action) = lifecycle::action_for_status(&s.status, status) {
                lifecycle::record(s, action.name(), action.events(), now, 0);
            }
            s.status = status.to_string();
            s.updated = Some(now);
            if status == "ACTIVE" && s.launched_at.is_none() {
                s.launched_at = Some(now);
            }
        })
    }

    /// Changes only a server's flavor now (status and `launched_at` stay; [`Simulator::act`]
    /// with [`ServerAction::Resize`] does what Nova does), logging a `resize`.
    pub fn resize_server(&self, id: &str, flavor: Flavor) -> bool {
        let now = self.now();
        self.with_server(id, |s| {
            s.flavor = flavor;
            s.updated = Some(now);
            let resize = ServerAction::Resize(s.flavor.clone());
            lifecycle::record(s, resize.name(), resize.events(), now, 0);
        })
    }

    /// Deletes a server now: it leaves the listings, as a deleted server leaves Nova's, for
    /// [`World::deleted_servers`] (`DELETED`, `terminated_at` now, a `delete` logged).
    pub fn delete_server(&self, id: &str) -> bool {
        self.act(id, ServerAction::Delete)
    }

    /// Sets a project's membership status of a shared image (`pending`, `accepted`,
    /// `rejected`), as its member's `PUT /v2/images/{id}/members/{member}` would: the image's
    /// `updated_at` stays. `false` when the image has no such member.
    pub fn set_member_status(&self, image_id: &str, project_id: &str, status: &str) -> bool {
        self.with_world(|w| {
            let member = w
                .images
                .iter_mut()
                .filter(|i| i.id == image_id)
                .flat_map(|i| i.members.iter_mut())
                .find(|m| m.project_id == project_id);
            match member {
                Some(m) => {
                    m.status = status.to_string();
                    true
                }
                None => false,
            }
        })
    }

    fn with_server(&self, id: &str, change: impl FnOnce(&mut Server)) -> bool {
        self.with_world(|w| match w.servers.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                change(s);
                true
            }
            None => false,
        })
    }

    pub fn inject(&self, target: Target, fault: Fault) {
        self.shared.faults().inject(target, fault);
    }

    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// Requests received by an endpoint so far, faulted ones included.
    pub fn requests(&self, target: Target) -> u64 {
        self.shared.faults().requests(target)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
