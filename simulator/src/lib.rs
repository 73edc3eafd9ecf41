//! A small, faithful OpenStack for tests, benchmarks and the demo: Keystone v3 token issue
//! and project listing, Glance v2 image listing, members and info, Nova server listing,
//! Cinder volume listing, over real sockets on loopback, with fault injection per endpoint.
// Handlers return early with the upstream-shaped error `Response`; it is built once per failed
// request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod cinder;
mod faults;
mod generate;
mod glance;
mod http;
mod keystone;
mod nova;
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
pub use world::{
    AppCredential, Flavor, Image, Member, Project, Server, Store, User, Volume, VolumeAttachment,
    World,
};

use state::Shared;

/// A running simulator. Dropping it without `stop` leaves the server running until the
/// runtime ends.
pub struct Simulator {
    shared: Arc<Shared>,
    /// The cloud's clock: what the scripting methods stamp the changes they make with.
    clock: std::sync::Mutex<chrono::DateTime<chrono::Utc>>,
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
        .at("/image/v2/images", get(glance::list_images))
        .at("/image/v2/images/:id", get(glance::show_image))
        .at("/image/v2/images/:id/members", get(glance::list_members))
        .at(
            "/image/v2/images/:id/members/:member",
            get(glance::show_member),
        )
        .at("/image/v2/info/:what", get(glance::info))
        .at("/compute/v2.1/servers/detail", get(nova::servers_detail))
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
            clock: std::sync::Mutex::new(chrono::Utc::now()),
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
        *self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn set_time(&self, t: chrono::DateTime<chrono::Utc>) {
        *self
            .clock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = t;
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.set_time(self.now() + by);
    }

    /// Boots a server now: `ACTIVE`, created, launched and updated at the clock's time.
    pub fn boot_server(&self, mut server: Server) {
        let now = self.now();
        server.status = "ACTIVE".into();
        server.created = now;
        server.launched_at = Some(now);
        server.updated = Some(now);
        self.with_world(|w| w.servers.push(server));
    }

    /// Changes a server's status as Nova does: `updated` now, and its first `ACTIVE` is its
    /// launch. `false` for an unknown server.
    pub fn set_server_status(&self, id: &str, status: &str) -> bool {
        let now = self.now();
        self.with_server(id, |s| {
            s.status = status.to_string();
            s.updated = Some(now);
            if status == "ACTIVE" && s.launched_at.is_none() {
                s.launched_at = Some(now);
            }
        })
    }

    /// Resizes a server to `flavor` now.
    pub fn resize_server(&self, id: &str, flavor: Flavor) -> bool {
        let now = self.now();
        self.with_server(id, |s| {
            s.flavor = flavor;
            s.updated = Some(now);
        })
    }

    /// Deletes a server now: it leaves the listings, as a deleted server leaves Nova's.
    pub fn delete_server(&self, id: &str) -> bool {
        self.with_world(|w| {
            let before = w.servers.len();
            w.servers.retain(|s| s.id != id);
            w.servers.len() < before
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
