//! The service clock. Production reads the system time; tests shift it to
//! reach other TOTP steps and expiries without sleeping, and freeze it where
//! a step boundary passing mid-test would change the answer.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

#[derive(Clone, Debug)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    /// Unix milliseconds the clock stands still at; `NOT_FROZEN` when running.
    frozen_ms: Arc<AtomicI64>,
}

const NOT_FROZEN: i64 = i64::MIN;

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset_ms: Arc::new(AtomicI64::new(0)),
            frozen_ms: Arc::new(AtomicI64::new(NOT_FROZEN)),
        }
    }
}

impl Clock {
    /// Current time, truncated to microseconds (what both databases keep).
    pub fn now(&self) -> DateTime<Utc> {
        let base = match self.frozen_ms.load(Ordering::Relaxed) {
            NOT_FROZEN => Utc::now(),
            ms => DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now),
        };
        let shifted = base + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed));
        DateTime::from_timestamp_micros(shifted.timestamp_micros()).unwrap_or(shifted)
    }

    pub fn now_naive(&self) -> NaiveDateTime {
        self.now().naive_utc()
    }

    /// Stops this clock (and every clone of it) at the current real time;
    /// `advance` still moves it.
    pub fn freeze(&self) {
        self.frozen_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// Moves this clock (and every clone of it) by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset_ms.fetch_add(seconds * 1000, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_stands_still_but_still_advances() {
        let clock = Clock::default();
        clock.freeze();
        let t = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), t);
        clock.clone().advance(30);
        assert_eq!(clock.now(), t + chrono::Duration::seconds(30));
    }

    #[test]
    fn a_running_clock_runs() {
        let clock = Clock::default();
        let t = clock.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now() > t);
    }
}
