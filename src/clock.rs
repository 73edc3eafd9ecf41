//! The time a sync observes things at. Production reads the system clock; tests set and
//! advance a manual one, so that lifecycle histories (when a server was seen to change) can be
//! scripted to the second. Leases and timeouts always use real time.
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    /// A clock that stands at `start` until set or advanced.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self::Manual(Arc::new(Mutex::new(start)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Manual(t) => *t.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Moves a manual clock to `to`; the system clock cannot be moved.
    pub fn set(&self, to: DateTime<Utc>) {
        if let Self::Manual(t) = self {
            *t.lock().unwrap_or_else(PoisonError::into_inner) = to;
        }
    }

    pub fn advance(&self, by: Duration) {
        self.set(self.now() + by);
    }
}
