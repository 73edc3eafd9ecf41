//! A small, faithful OpenStack for tests, benchmarks and the demo: Keystone v3 token issue,
//! Glance v2 image listing and info, Nova server listing, Cinder volume listing, over real sockets on loopback, with
//! fault injection per endpoint.
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
    AppCredential, Flavor, Image, Member, Project, Server, User, Volume, VolumeAttachment, World,
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
        .at("/identity/v3/auth/tokens", post(keystone::issue_token))
        .at("/image/v2/images", get(glance::list_images))
        .at("/image/v2/images/:id", get(glance::show_image))
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
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(format!("http://{addr}"), world));
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
