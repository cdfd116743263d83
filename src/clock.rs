//! The service clock. Production reads the system time; tests shift it to
//! reach other TOTP steps and expiries without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

#[derive(Clone, Default, Debug)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Current time, truncated to microseconds (what both databases keep).
    pub fn now(&self) -> DateTime<Utc> {
        let shifted =
            Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        DateTime::from_timestamp_micros(shifted.timestamp_micros()).unwrap_or(shifted)
    }

    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }

    /// Moves this clock (and every clone of it) by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset_ms.fetch_add(seconds * 1000, Ordering::Relaxed);
    }
}
