//! `/health`: liveness and database reachability.
use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{ApiTags, AppState};

pub struct HealthApi;

#[derive(Object)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// `ok` or `unreachable`.
    pub database: String,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    #[oai(status = 200)]
    Ok(Json<Health>),
    #[oai(status = 503)]
    Unavailable(Json<Health>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness and database reachability. No authentication.
    #[oai(path = "/health", method = "get", operation_id = "health_retrieve")]
    async fn health(&self, state: Data<&Arc<AppState>>) -> HealthResponse {
        if state.catalog.ping().await {
            HealthResponse::Ok(Json(Health {
                status: "ok".into(),
                database: "ok".into(),
            }))
        } else {
            HealthResponse::Unavailable(Json(Health {
                status: "unavailable".into(),
                database: "unreachable".into(),
            }))
        }
    }
}
