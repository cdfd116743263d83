//! Per-client-IP token bucket for the unauthenticated routes (sign-up,
//! login, second step, refresh). Kept in each process: it bounds request
//! rates; the security-relevant counters (lockouts) live in the database.
//!
//! An IPv6 client is its /64: one subscriber or host usually holds a whole
//! /64 and can pick a fresh address in it for every request. An IPv4-mapped
//! IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports) is its
//! IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
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

/// The bucket an address counts against (see the module doc).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

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
        let bucket = buckets.entry(client_key(ip)).or_insert(Bucket {
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
        let ip = IpAddr::from([192, 0, 2, 1]);
        for _ in 0..3 {
            assert!(limiter.check(Some(ip)).is_ok());
        }
        assert!(matches!(
            limiter.check(Some(ip)),
            Err(ApiError::TooManyAttempts { .. })
        ));
        assert!(limiter.check(Some(IpAddr::from([192, 0, 2, 2]))).is_ok());
        assert!(limiter.check(None).is_err());
        assert!(RateLimiter::new(0).check(None).is_ok());
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64_and_mapped_ipv4_counts_as_ipv4() {
        let limiter = RateLimiter::new(2);
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        // One /64: rotating the interface identifier gets no fresh budget.
        assert!(limiter.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(limiter
            .check(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
            .is_ok());
        assert!(matches!(
            limiter.check(ip("2001:db8:1:2:abcd::9")),
            Err(ApiError::TooManyAttempts { .. })
        ));
        // The neighbouring /64 is another client.
        assert!(limiter.check(ip("2001:db8:1:3::1")).is_ok());
        // An IPv4-mapped address is its IPv4 address, not the ::ffff:0:0/96
        // prefix shared by every IPv4 client.
        assert!(limiter.check(ip("198.51.100.7")).is_ok());
        assert!(limiter.check(ip("::ffff:198.51.100.7")).is_ok());
        assert!(limiter.check(ip("198.51.100.7")).is_err());
        assert!(limiter.check(ip("::ffff:198.51.100.8")).is_ok());
        assert!(limiter.check(ip("198.51.100.8")).is_ok());
        assert!(limiter.check(ip("::ffff:198.51.100.8")).is_err());
    }
}
