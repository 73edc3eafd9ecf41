//! Where a delta poll starts.
use chrono::{DateTime, Utc};

use crate::openstack::glance::GlanceImage;
use crate::openstack::nova::NovaServer;

/// Where a delta poll starts: the newest change a listing showed, in the cloud's own clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub images: Option<DateTime<Utc>>,
    pub servers: Option<DateTime<Utc>>,
}

/// A delta poll asks for changes from this long before its cursor: changes committed out of
/// order with their timestamps (several API workers) are not missed; seeing one twice costs
/// nothing.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(60);

impl Cursor {
    /// The time to ask Glance for images updated after (`updated_at=gt:`).
    pub fn images_query(&self) -> String {
        Self::query(self.images)
    }

    /// The time to ask Nova for servers changed since (`changes-since=`).
    pub fn servers_query(&self) -> String {
        Self::query(self.servers)
    }

    fn query(t: Option<DateTime<Utc>>) -> String {
        Self::changes_since(t.unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
    }

    /// The time to ask for changes since `t` (a time in the cloud's own clock), with the
    /// same overlap as a delta poll.
    pub fn changes_since(t: DateTime<Utc>) -> String {
        (t - OVERLAP).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// This cursor moved on to the newest change `images` and `servers` show.
    pub fn advanced<'a>(
        &self,
        images: impl IntoIterator<Item = &'a GlanceImage>,
        servers: impl IntoIterator<Item = &'a NovaServer>,
    ) -> Self {
        let newest = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| Ord::max(a, b);
        Self {
            images: images
                .into_iter()
                .map(|i| i.updated_at)
                .fold(self.images, newest),
            servers: servers
                .into_iter()
                .map(|s| s.updated)
                .fold(self.servers, newest),
        }
    }

    /// As stored (a tenant's or a cloud's `delta_cursor`).
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({"images": self.images, "servers": self.servers})
    }

    /// A stored cursor; one that cannot be read starts over from the beginning (the poll then
    /// lists everything once), which is logged.
    pub fn from_json(stored: serde_json::Value) -> Self {
        serde_json::from_value(stored).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "unreadable delta cursor; polling from the start");
            Self::default()
        })
    }
}
