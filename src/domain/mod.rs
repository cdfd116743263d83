//! The rules of the product, free of HTTP: each public function is one unit
//! of work over a `&mut DbConn`, usually one write transaction.

pub mod admin;
pub mod audit;
pub mod housekeeping;
pub mod keys;
pub mod login;
pub mod mfa;
pub mod policy;
pub mod sessions;
pub mod signup;
pub mod validate;

use chrono::NaiveDateTime;

/// Who is asking, when and from where: what audit events and sessions record.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub now: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Ctx {
    pub fn at(now: NaiveDateTime) -> Ctx {
        Ctx {
            now,
            ip: None,
            user_agent: None,
        }
    }
}

/// Seconds from `now` until `until`, at least 1 (for `Retry-After`).
pub fn seconds_until(now: NaiveDateTime, until: NaiveDateTime) -> u64 {
    let ms = (until - now).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

/// A fresh random id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
