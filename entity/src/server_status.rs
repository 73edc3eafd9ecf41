//! A Nova server's `status`, as the catalog stores it and reasons about it. The column stays
//! text holding exactly what Nova sent: a status this list does not know is kept as it came
//! (`Other`), so nothing is lost and no migration is needed when Nova adds one.
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! server_statuses {
    ($($(#[doc = $doc:literal])* $variant:ident = $wire:literal,)*) => {
        /// A Nova server status (the compute API guide's list). Build one with `From`/`parse`,
        /// never `Other` of a known status: `Other("ACTIVE")` is not `Active`.
        #[derive(Clone, Debug, PartialEq, Eq, Hash, DeriveValueType)]
        #[sea_orm(value_type = "String")]
        pub enum ServerStatus {
            $($(#[doc = $doc])* $variant,)*
            /// A status not listed above, kept exactly as sent (an empty one too).
            Other(String),
        }

        impl ServerStatus {
            /// Every status Nova documents, i.e. all but `Other`.
            pub const KNOWN: &[ServerStatus] = &[$(Self::$variant,)*];

            /// The stored (and wire) form.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)*
                    Self::Other(raw) => raw,
                }
            }

            fn known(raw: &str) -> Option<Self> {
                match raw {
                    $($wire => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

server_statuses! {
    /// Running: the only status usage counts and bills.
    Active = "ACTIVE",
    /// Not yet built (never launched).
    Build = "BUILD",
    /// Gone: Nova lists a deleted server (with `changes-since`) as `DELETED`; its life has
    /// ended.
    Deleted = "DELETED",
    Error = "ERROR",
    HardReboot = "HARD_REBOOT",
    Migrating = "MIGRATING",
    Password = "PASSWORD",
    Paused = "PAUSED",
    Reboot = "REBOOT",
    Rebuild = "REBUILD",
    Rescue = "RESCUE",
    Resize = "RESIZE",
    RevertResize = "REVERT_RESIZE",
    Shelved = "SHELVED",
    ShelvedOffloaded = "SHELVED_OFFLOADED",
    Shutoff = "SHUTOFF",
    SoftDeleted = "SOFT_DELETED",
    Suspended = "SUSPENDED",
    Unknown = "UNKNOWN",
    VerifyResize = "VERIFY_RESIZE",
}

impl ServerStatus {
    /// `ACTIVE`: running.
    pub fn is_active(&self) -> bool {
        *self == Self::Active
    }

    /// `DELETED`: the server's life has ended.
    pub fn is_deleted(&self) -> bool {
        *self == Self::Deleted
    }
}

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ServerStatus {
    fn from(raw: &str) -> Self {
        Self::known(raw).unwrap_or_else(|| Self::Other(raw.to_owned()))
    }
}

impl From<String> for ServerStatus {
    fn from(raw: String) -> Self {
        Self::known(&raw).unwrap_or(Self::Other(raw))
    }
}

impl FromStr for ServerStatus {
    type Err = Infallible;

    fn from_str(raw: &str) -> Result<Self, Infallible> {
        Ok(raw.into())
    }
}

impl Serialize for ServerStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ServerStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::ValueType;
    use sea_orm::{ColumnType, Value};

    use super::*;

    #[test]
    fn known_statuses_parse_to_their_variants_and_print_back() {
        assert_eq!(ServerStatus::KNOWN.len(), 20);
        for status in ServerStatus::KNOWN {
            let wire = status.as_str();
            assert!(!matches!(status, ServerStatus::Other(_)));
            assert_eq!(&ServerStatus::from(wire), status);
            assert_eq!(&ServerStatus::from(wire.to_owned()), status);
            assert_eq!(&wire.parse::<ServerStatus>().unwrap(), status);
            assert_eq!(status.to_string(), wire);
        }
        assert_eq!(ServerStatus::from("ACTIVE"), ServerStatus::Active);
        assert_eq!(ServerStatus::from("SHUTOFF"), ServerStatus::Shutoff);
        assert_eq!(
            ServerStatus::from("SHELVED_OFFLOADED"),
            ServerStatus::ShelvedOffloaded
        );
        assert_eq!(ServerStatus::VerifyResize.as_str(), "VERIFY_RESIZE");
        assert!(ServerStatus::Active.is_active() && !ServerStatus::Active.is_deleted());
        assert!(ServerStatus::Deleted.is_deleted() && !ServerStatus::Deleted.is_active());
    }

    #[test]
    fn an_unknown_status_is_kept_as_sent() {
        for raw in ["active", "Active", " ACTIVE", "STOPPED", "", "statüs\u{0}x"] {
            let status = ServerStatus::from(raw);
            assert_eq!(status, ServerStatus::Other(raw.to_owned()), "{raw:?}");
            assert_eq!(status.as_str(), raw);
            assert_eq!(status.to_string(), raw);
            assert_eq!(ServerStatus::from(raw.to_owned()), status);
            assert!(!status.is_active() && !status.is_deleted());
        }
    }

    #[test]
    fn serde_uses_the_plain_string() {
        for status in [ServerStatus::Active, ServerStatus::from("NEW_ONE")] {
            let json = serde_json::to_value(&status).unwrap();
            assert_eq!(json, serde_json::json!(status.as_str()));
            assert_eq!(
                serde_json::from_value::<ServerStatus>(json).unwrap(),
                status
            );
        }
    }

    #[test]
    fn round_trips_through_a_sea_orm_value() {
        for status in ServerStatus::KNOWN
            .iter()
            .cloned()
            .chain(["", "weird", "active"].map(ServerStatus::from))
        {
            let value = Value::from(status.clone());
            assert_eq!(value, Value::String(Some(status.as_str().to_owned())));
            assert_eq!(
                <ServerStatus as ValueType>::try_from(value).unwrap(),
                status
            );
        }
        assert!(<ServerStatus as ValueType>::try_from(Value::Int(Some(1))).is_err());
        assert_eq!(
            <ServerStatus as ValueType>::column_type(),
            ColumnType::String(sea_orm::sea_query::StringLen::None)
        );
    }
}
