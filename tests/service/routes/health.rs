//! GET `/health`: no token needed; reports the database.
use reqwest::StatusCode;

use crate::common::{Health, TestApp};

#[tokio::test]
async fn health_reports_the_database() {
    let app = TestApp::new().await;
    let h = app.get_anonymous("/health").await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(
        h.parse::<Health>(),
        Health {
            status: "ok".into(),
            database: "ok".into()
        }
    );
    app.stop().await;
}
