//! OpenStack wire types and clients: Keystone v3, Glance v2, Nova. No catalog or sync logic.
pub mod error;
pub mod glance;
pub mod keystone;
pub mod nova;
pub mod retry;
pub mod session;

pub use error::OpenStackError;
pub use session::{Session, SessionConfig, SessionSettings};

/// Items asked for per page of a listing: the largest page Glance and Nova serve by default.
pub const PAGE_LIMIT: u32 = 1000;

/// Upstream text as the catalog may store it: without NUL characters, which PostgreSQL text
/// and JSON cannot hold (one image named `evil\u0000name` once failed every tenant of its
/// cloud there). Everything else is kept as sent.
pub fn storable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text
    }
}
