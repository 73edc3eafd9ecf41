//! `GET /metrics`: the process's metrics and the catalog's sizes in Prometheus' text format.
//! Open by default, like most exporters (it holds counts and cloud names, no secrets); with
//! `CLOUDCENSUS_METRICS_TOKEN` set, only for `Authorization: Bearer <that token>`.
use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use sha2::{Digest, Sha256};

use super::AppState;
use super::errors::json_response;
use crate::catalog::Catalog;
use crate::metrics::{self, CatalogState};

#[handler]
pub async fn scrape(req: &Request, state: Data<&Arc<AppState>>) -> Response {
    if let Some(expected) = &state.metrics_token
        && !presents(req, expected)
    {
        let mut resp = json_response(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided or are wrong: send Authorization: Bearer <CLOUDCENSUS_METRICS_TOKEN>.",
        );
        resp.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Bearer"),
        );
        return resp;
    }
    match catalog_state(&state.catalog).await {
        Ok(catalog) => Response::builder()
            .content_type(metrics::CONTENT_TYPE)
            .body(metrics::get().render(&catalog)),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the catalog's sizes for /metrics");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "The catalog cannot be read; see the service's log.",
            )
        }
    }
}

/// Whether the request carries `Bearer <expected>`. Digests are compared, so the time taken
/// says nothing about how much of the token was right.
fn presents(req: &Request, expected: &str) -> bool {
    let Some(given) = req
        .header(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    Sha256::digest(given.trim().as_bytes()) == Sha256::digest(expected.as_bytes())
}

async fn catalog_state(catalog: &Catalog) -> crate::catalog::CatalogResult<CatalogState> {
    let sizes = catalog.sizes().await?;
    Ok(CatalogState {
        tenants: sizes
            .tenants
            .into_iter()
            .map(|(cloud, state, n)| (cloud, state.as_str(), n))
            .collect(),
        rows: sizes.rows,
        index_age: catalog.read_index_age(),
        last_success: sizes
            .last_success
            .into_iter()
            .map(|(cloud, at)| (cloud, at.timestamp_millis() as f64 / 1000.0))
            .collect(),
    })
}
