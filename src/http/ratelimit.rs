//! Per-client-IP token bucket for the unauthenticated routes (sign-up,
//! login, second step, refresh). Kept in each process: it bounds request
//! rates; the security-relevant counters (lockouts) live in the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::{ApiError, ApiResult};

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

const MAX_TRACKED: usize = 100_000;

impl RateLimiter {
    /// `per_minute` = 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `ip`, or answers 429. Fails closed: a request
    /// whose client cannot be told, or a broken limiter, is refused.
    pub fn check(&self, ip: Option<IpAddr>) -> ApiResult<()> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let Some(ip) = ip else {
            return Err(ApiError::TooManyAttempts { retry_after: 60 });
        };
        let Ok(mut buckets) = self.buckets.lock() else {
            return Err(ApiError::TooManyAttempts { retry_after: 60 });
        };
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let now = Instant::now();
        if buckets.len() >= MAX_TRACKED {
            // Forget clients whose buckets have refilled: they are not limited.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < capacity
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens =
            (bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * rate).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64;
            Err(ApiError::TooManyAttempts { retry_after: wait })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_past_capacity_and_fails_closed() {
        let limiter = RateLimiter::new(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limiter.check(Some(ip)).unwrap();
        }
        assert!(matches!(
            limiter.check(Some(ip)),
            Err(ApiError::TooManyAttempts { .. })
        ));
        limiter.check(Some("192.0.2.2".parse().unwrap())).unwrap();
        assert!(limiter.check(None).is_err());
        assert!(RateLimiter::new(0).check(None).is_ok());
    }
}
