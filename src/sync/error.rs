//! Why a sync failed, kept typed up to where a person reads it. Each variant says what an
//! operator can act on; [`Error::kind`] names it stably for dashboards and alerts, and the
//! message (`Display`) is the sentence a run and its tenant record.
use std::sync::Arc;

use crate::catalog::sync_runs::Failure;
use crate::catalog::{CatalogError, ErrorKind};
use crate::crypto::CryptoError;
use crate::openstack::OpenStackError;
use crate::openstack::keystone::LoginName;

/// Whose credentials a login used: a tenant without its own logs in with its cloud's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whose {
    Tenant,
    Cloud,
}

impl std::fmt::Display for Whose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tenant => "the tenant's",
            Self::Cloud => "the cloud's",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Keystone refused the credentials.
    #[error("Keystone authentication failed with {} credentials ({login}): {reason}", whose_or_the(.whose))]
    Authentication {
        /// `None` until the source that logged in says whose they were.
        whose: Option<Whose>,
        login: LoginName,
        reason: String,
    },
    /// A whole-cloud listing or tenant discovery needs the admin role.
    #[error("{whose} credentials lack the admin role")]
    NotAdmin { whose: Whose },
    /// An application credential is bound to its own project: used for another tenant, it
    /// would file that project's images under this one.
    #[error(
        "the credentials are scoped to project {token_project}, not to this tenant's project {tenant_project}"
    )]
    WrongProject {
        token_project: String,
        tenant_project: String,
    },
    #[error("credentials: no credentials are stored for this tenant or its cloud")]
    NoCredentials,
    #[error("the cloud has no credentials of its own")]
    NoCloudCredentials,
    #[error(
        "the cloud's credentials name no project (project_id or project_name) and it has no tenant to log in to"
    )]
    NoProjectToScope,
    #[error("credentials: {0}")]
    Crypto(#[from] CryptoError),
    /// Talking to OpenStack failed (no endpoint, TLS, no answer, an error status, unusable data).
    #[error(transparent)]
    Upstream(OpenStackError),
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// A cloud in `cloud` sync mode cannot be listed whole.
    #[error("cloud mode: {0}")]
    CloudMode(Box<Error>),
    /// The cloud's one listing failed: every tenant it serves fails with it.
    #[error("cloud listing: {0}")]
    CloudListing(Arc<Error>),
    #[error("another process took the tenant over: this process's claim expired while it synced")]
    LeaseLost,
    #[error("the sync was aborted by shutdown")]
    Cancelled,
}

fn whose_or_the(whose: &Option<Whose>) -> String {
    whose.map_or_else(|| "the".to_string(), |w| w.to_string())
}

/// Keystone's refusal becomes [`Error::Authentication`] (whose credentials is filled in by the
/// source that logged in, with [`Error::with_whose`]); everything else stays as OpenStack said.
impl From<OpenStackError> for Error {
    fn from(e: OpenStackError) -> Self {
        match e {
            OpenStackError::AuthFailed { login, reason } => Self::Authentication {
                whose: None,
                login,
                reason,
            },
            other => Self::Upstream(other),
        }
    }
}

impl Error {
    /// The stable name of what went wrong.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Authentication { .. } => ErrorKind::Authentication,
            Self::NotAdmin { .. } | Self::WrongProject { .. } => ErrorKind::Authorization,
            Self::NoCredentials | Self::NoCloudCredentials | Self::NoProjectToScope => {
                ErrorKind::Credentials
            }
            Self::Crypto(_) => ErrorKind::Credentials,
            Self::Upstream(e) => upstream_kind(e),
            Self::Catalog(_) => ErrorKind::Database,
            Self::CloudMode(inner) => inner.kind(),
            Self::CloudListing(inner) => inner.kind(),
            Self::LeaseLost => ErrorKind::LeaseLost,
            Self::Cancelled => ErrorKind::Cancelled,
        }
    }

    /// Says whose credentials a failed login used.
    pub fn with_whose(self, who: Whose) -> Self {
        match self {
            Self::Authentication {
                whose: None,
                login,
                reason,
            } => Self::Authentication {
                whose: Some(who),
                login,
                reason,
            },
            other => other,
        }
    }

    /// What the run and its tenant record.
    pub fn failure(&self) -> Failure {
        Failure {
            kind: self.kind(),
            message: self.to_string(),
        }
    }

    /// Whether the cloud simply lacks the endpoint asked for (an optional service, for one).
    pub fn is_endpoint_missing(&self) -> bool {
        matches!(self, Self::Upstream(OpenStackError::EndpointMissing { .. }))
    }
}

fn upstream_kind(e: &OpenStackError) -> ErrorKind {
    match e {
        OpenStackError::AuthFailed { .. } => ErrorKind::Authentication,
        OpenStackError::EndpointMissing { .. } => ErrorKind::EndpointMissing,
        OpenStackError::Tls { .. } => ErrorKind::Tls,
        OpenStackError::Timeout { .. } | OpenStackError::Connect { .. } => ErrorKind::Unreachable,
        OpenStackError::UpstreamStatus { .. } => ErrorKind::UpstreamStatus,
        OpenStackError::MalformedBody { .. }
        | OpenStackError::Paging { .. }
        | OpenStackError::BadUrl(_) => ErrorKind::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::keystone::ProjectScope;

    #[test]
    fn a_refused_login_says_whose_credentials_and_who() {
        let refused = OpenStackError::AuthFailed {
            login: LoginName::Password {
                user: "demo".into(),
                domain: String::new(),
                project: ProjectScope::Id("p1".into()),
            },
            reason: "HTTP 401: The request you have made requires authentication.".into(),
        };
        let e = Error::from(refused).with_whose(Whose::Tenant);
        assert_eq!(e.kind(), ErrorKind::Authentication);
        assert_eq!(
            e.to_string(),
            "Keystone authentication failed with the tenant's credentials (user \"demo\" in \
             domain \"default\", project id \"p1\"): HTTP 401: The request you have made \
             requires authentication."
        );
    }

    #[test]
    fn shared_and_wrapped_failures_keep_their_kind() {
        let listing = Error::CloudListing(Arc::new(Error::CloudMode(Box::new(Error::NotAdmin {
            whose: Whose::Cloud,
        }))));
        assert_eq!(listing.kind(), ErrorKind::Authorization);
        assert_eq!(
            listing.to_string(),
            "cloud listing: cloud mode: the cloud's credentials lack the admin role"
        );
    }
}
