//! The catalog's errors, in the domain's words. `api::errors` maps them to HTTP.
use crate::crypto::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No such object (or not visible in the caller's scope).
    #[error("not found")]
    NotFound,
    /// A unique property is already taken.
    #[error("{0}")]
    Conflict(String),
    /// The input breaks a rule of the domain.
    #[error("{0}")]
    Invalid(String),
    /// A page past the end of a result.
    #[error("no such page")]
    PageOutOfRange,
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The database could not be opened or migrated (at start-up).
    #[error(transparent)]
    Open(#[from] super::db::OpenError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Work moved off the async threads failed (it panicked).
    #[error("computation failed: {0}")]
    Computation(String),
}

impl From<super::paging::InvalidPage> for CatalogError {
    fn from(_: super::paging::InvalidPage) -> Self {
        Self::PageOutOfRange
    }
}

pub type CatalogResult<T> = Result<T, CatalogError>;
