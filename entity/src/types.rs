//! Typed ids and the fixed value sets stored in the catalog. Ids are newtypes so that a tenant's
//! id cannot be passed where a cloud's is expected; the enums keep the strings the database has
//! always held, so no data migration is needed.
use sea_orm::Iterable;
use sea_orm::entity::prelude::*;

/// A registered cloud (Waldur's "service settings").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
pub struct CloudId(pub i32);

/// A registered OpenStack project of one cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
pub struct TenantId(pub i32);

/// A catalog image (one Glance image of one cloud).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
pub struct ImageId(pub i64);

/// An API token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
pub struct TokenId(pub i32);

/// Whether a cloud's or tenant's last sync worked (Waldur's state names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum State {
    #[sea_orm(string_value = "OK")]
    Ok,
    #[sea_orm(string_value = "ERRED")]
    Erred,
}

/// How a sync run ended (`Running` until it does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum RunOutcome {
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "success")]
    Success,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "aborted")]
    Aborted,
    /// The process running it died (or lost its lease) before it finished.
    #[sea_orm(string_value = "interrupted")]
    Interrupted,
}

/// Why a sync failed, as a stable name dashboards and alerts can group by (the run's message
/// says the rest in a sentence).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ErrorKind {
    /// Keystone refused the credentials.
    #[sea_orm(string_value = "authentication")]
    Authentication,
    /// Logged in, but the credentials may not do what the sync needs (the admin role for a
    /// whole-cloud listing, a token scoped to another project).
    #[sea_orm(string_value = "authorization")]
    Authorization,
    /// No credentials are stored, or the stored ones cannot be opened with this key.
    #[sea_orm(string_value = "credentials")]
    Credentials,
    /// The service catalog lacks an endpoint the sync needs.
    #[sea_orm(string_value = "endpoint_missing")]
    EndpointMissing,
    /// The TLS handshake failed (certificate not trusted, expired, for another host).
    #[sea_orm(string_value = "tls")]
    Tls,
    /// A service could not be reached or did not answer in time.
    #[sea_orm(string_value = "unreachable")]
    Unreachable,
    /// A service answered with an HTTP error status.
    #[sea_orm(string_value = "upstream_status")]
    UpstreamStatus,
    /// A service answered with something that cannot be used (bad JSON, broken paging).
    #[sea_orm(string_value = "malformed")]
    Malformed,
    /// The catalog's database failed.
    #[sea_orm(string_value = "database")]
    Database,
    /// Another process took the tenant over, or the process running the sync stopped.
    #[sea_orm(string_value = "lease_lost")]
    LeaseLost,
    /// The process was shutting down.
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}

/// Which of a service's catalog endpoints a cloud's syncs use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Interface {
    #[default]
    #[sea_orm(string_value = "public")]
    Public,
    #[sea_orm(string_value = "internal")]
    Internal,
    #[sea_orm(string_value = "admin")]
    Admin,
}

/// How a cloud's sweeps list it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum SyncMode {
    /// Cloud mode when the cloud's own credentials carry the admin role, else per tenant.
    #[default]
    #[sea_orm(string_value = "auto")]
    Auto,
    /// Each tenant logs in and lists what it sees.
    #[sea_orm(string_value = "per_tenant")]
    PerTenant,
    /// One admin listing of the whole cloud, from which each tenant's view is derived.
    #[sea_orm(string_value = "cloud")]
    Cloud,
}

/// How the time of a boundary of an instance's interval was found, most precise first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum DatedBy {
    /// The instance action that made the change (Nova's `os-instance-actions`).
    #[sea_orm(string_value = "action")]
    Action,
    /// A time the server itself records for it: `created`, `launched_at`, `terminated_at`.
    #[sea_orm(string_value = "server")]
    Server,
    /// The server's `updated`, which any change moves: exact only when nothing else changed.
    #[sea_orm(string_value = "updated")]
    Updated,
    /// The sync that saw the change: precise to the time between two syncs.
    #[sea_orm(string_value = "sync")]
    Sync,
}

/// A Glance image's visibility.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ImageVisibility {
    #[sea_orm(string_value = "public")]
    Public,
    #[sea_orm(string_value = "community")]
    Community,
    #[sea_orm(string_value = "shared")]
    Shared,
    #[sea_orm(string_value = "private")]
    Private,
}

/// A project's membership of another project's shared image, as Glance keeps it: the owner
/// shares it (`pending`), the member `accepted` or `rejected` it. Glance lists a shared image
/// to a member by default only once accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum MemberStatus {
    #[sea_orm(string_value = "accepted")]
    Accepted,
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

macro_rules! as_str {
    ($ty:ty { $($variant:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            /// The stored (and wire) form; equal to `to_value()` without allocating.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $s,)*
                }
            }
        }
    };
}

as_str!(State { Ok => "OK", Erred => "ERRED" });
as_str!(RunOutcome { Running => "running", Success => "success", Failed => "failed", Aborted => "aborted", Interrupted => "interrupted" });
as_str!(Interface { Public => "public", Internal => "internal", Admin => "admin" });
as_str!(SyncMode { Auto => "auto", PerTenant => "per_tenant", Cloud => "cloud" });
as_str!(ImageVisibility { Public => "public", Community => "community", Shared => "shared", Private => "private" });
as_str!(DatedBy { Action => "action", Server => "server", Updated => "updated", Sync => "sync" });
as_str!(MemberStatus { Accepted => "accepted", Pending => "pending", Rejected => "rejected" });
as_str!(ErrorKind {
    Authentication => "authentication", Authorization => "authorization", Credentials => "credentials",
    EndpointMissing => "endpoint_missing", Tls => "tls", Unreachable => "unreachable",
    UpstreamStatus => "upstream_status", Malformed => "malformed", Database => "database",
    LeaseLost => "lease_lost", Cancelled => "cancelled",
});

impl Interface {
    /// Parses the stored (and wire) form.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::iter().find(|i| i.as_str() == raw)
    }
}

impl SyncMode {
    pub fn parse(raw: &str) -> Option<Self> {
        Self::iter().find(|m| m.as_str() == raw)
    }
}

impl ImageVisibility {
    pub fn parse(raw: &str) -> Option<Self> {
        Self::iter().find(|v| v.as_str() == raw)
    }
}

impl MemberStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        Self::iter().find(|v| v.as_str() == raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_is_the_stored_value() {
        for v in State::iter() {
            assert_eq!(v.as_str(), v.to_value());
        }
        for v in RunOutcome::iter() {
            assert_eq!(v.as_str(), v.to_value());
        }
        for v in Interface::iter() {
            assert_eq!(v.as_str(), v.to_value());
            assert_eq!(Interface::parse(v.as_str()), Some(v));
        }
        for v in SyncMode::iter() {
            assert_eq!(v.as_str(), v.to_value());
            assert_eq!(SyncMode::parse(v.as_str()), Some(v));
        }
        for v in ImageVisibility::iter() {
            assert_eq!(v.as_str(), v.to_value());
            assert_eq!(ImageVisibility::parse(v.as_str()), Some(v));
        }
        for v in ErrorKind::iter() {
            assert_eq!(v.as_str(), v.to_value());
        }
        for v in MemberStatus::iter() {
            assert_eq!(v.as_str(), v.to_value());
            assert_eq!(MemberStatus::parse(v.as_str()), Some(v));
        }
    }
}
