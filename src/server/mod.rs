//! Starting the HTTP server: binding, state, access log and graceful shutdown.
mod parse_errors;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::listener::TcpAcceptor;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Server};

use crate::api::{self, AppState};
use parse_errors::JsonParseErrors;

/// How long in-flight requests may take to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

pub struct Bound {
    pub acceptor: JsonParseErrors<TcpAcceptor>,
    pub addr: SocketAddr,
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<Bound> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    Ok(Bound {
        acceptor: JsonParseErrors(TcpAcceptor::from_tokio(listener)?),
        addr,
    })
}

/// Logs method, path (never the query: it may carry `x-auth-token`), status and duration.
async fn access_log<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let resp = next.call(req).await.map(IntoResponse::into_response);
    let status = match &resp {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.status().as_u16(),
    };
    tracing::info!(
        target: "cloudcensus::access",
        %method,
        %path,
        status,
        ms = started.elapsed().as_secs_f64() * 1000.0,
    );
    resp
}

pub async fn run(
    bound: Bound,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    // Build the listing index now rather than on the first request.
    state.catalog.warm_read_index();
    let app = api::app(state).around(access_log);
    Server::new_with_acceptor(bound.acceptor)
        .run_with_graceful_shutdown(app, shutdown, Some(GRACE))
        .await
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
