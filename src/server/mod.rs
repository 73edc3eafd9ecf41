//! Starting the HTTP server: binding, state, access log and graceful shutdown.
mod parse_errors;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::PathPattern;
use poem::listener::TcpAcceptor;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Server};

use crate::api::{self, AppState};
use crate::metrics::HttpLabels;
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

/// Logs method, path (never the query: it may carry `x-auth-token`), status and duration,
/// and counts the request in the metrics by its route's template.
async fn access_log<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let resp = next.call(req).await.map(IntoResponse::into_response);
    let took = started.elapsed();
    let (status, route) = match &resp {
        Ok(r) => (r.status().as_u16(), r.data::<PathPattern>()),
        Err(e) => (e.status().as_u16(), e.data::<PathPattern>()),
    };
    crate::metrics::get().http_request(
        HttpLabels {
            method: method_label(&method),
            // Never the path itself: unmatched paths are whatever a client sent.
            route: api::route_label(route.map(|p| &*p.0)),
            status,
        },
        took,
    );
    tracing::info!(
        target: "cloudcensus::access",
        %method,
        %path,
        status,
        ms = milliseconds(took),
    );
    resp
}

/// A duration in milliseconds, to the hundredth (not `0.7492930000000001`).
fn milliseconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// The method as a label from a fixed set.
fn method_label(method: &poem::http::Method) -> &'static str {
    use poem::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
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

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is called, not when
/// the future is first polled: a Ctrl-C between the two would otherwise kill the process
/// outright (the demo prints its URL before it serves, and cleans up only on a graceful stop).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (int, term) = signals;
            tokio::select! {
                _ = received(int) => {},
                _ = received(term) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
    }
}

/// Resolves when `signal` arrives; never, if its handler could not be installed.
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
