//! The rules of the product, free of HTTP: each public function is one unit
//! of work over a `&mut DbConn`, usually one write transaction, and asserts
//! its own rules (who may, at which assurance, in which scope) whoever calls
//! it: a handler, the CLI or a later front end.

pub mod admin;
pub mod assertions;
pub mod audit;
pub mod auth;
pub mod coverage;
pub mod devices;
pub mod events;
pub mod housekeeping;
pub mod invitations;
pub mod keys;
pub mod lockout;
pub mod login;
pub mod mfa;
pub mod notices;
pub mod outbox;
pub mod passkeys;
pub mod passwords;
pub mod policy;
pub mod principals;
pub mod profile;
pub mod reauth;
pub mod reminders;
pub mod requirement;
pub mod roles;
pub mod sending;
pub mod sessions;
pub mod signup;
pub mod sso;
pub mod stepup;
pub mod validate;

use chrono::NaiveDateTime;

use crate::error::{ApiError, ApiResult};
use crate::store::{write_tx, DbConn};

/// The records the domain hands out (the store's rows, read-only to callers).
pub use crate::store::accounts::{Account, AccountChanges};
pub use crate::store::audit::{AuditEvent, AuditFilter};
pub use crate::store::roles::CustomRole;
pub use crate::store::sessions::Session;
pub use crate::store::sso::IdentityProvider;
pub use crate::store::sub_accounts::{SubAccount, SubAccountChanges};
pub use crate::store::types::{MfaMethods, RoleRef};
pub use crate::store::users::{User, UserFilter};

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

/// An id as given by a client: its canonical form when it is a UUID, else
/// 404 (an id that cannot exist is not found, on every backend).
pub fn parse_id(raw: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(raw)
        .map(|id| id.to_string())
        .map_err(|_| ApiError::NotFound)
}

/// An id a client gives in a body or a filter: `Some` only in the
/// canonical form the API answers with and stores (a lower-case,
/// hyphenated UUID), so that one id has one spelling everywhere (another
/// spelling is the caller's 422).
pub fn canonical_id(raw: &str) -> Option<String> {
    uuid::Uuid::try_parse(raw)
        .ok()
        .map(|id| id.to_string())
        .filter(|canonical| canonical == raw)
}

/// A store error where a unique violation means the thing is taken: 409
/// `conflict` with `message`; anything else as usual.
pub(crate) fn taken(message: &'static str) -> impl Fn(diesel::result::Error) -> ApiError {
    move |e| {
        if crate::store::is_unique_violation(&e) {
            ApiError::Conflict(message.into())
        } else {
            e.into()
        }
    }
}

/// The outcome of a unit of work that must be committed even when it ends
/// in a refusal ("commit, then refuse"): a wrong code still counts.
pub enum Verdict<T> {
    Granted(T),
    Refused(ApiError),
}

/// Runs `f` in a write transaction that commits on both verdicts (and rolls
/// back only on `Err`), then answers the refusal.
pub fn commit_then_refuse<T>(
    conn: &mut DbConn,
    f: impl FnOnce(&mut DbConn) -> ApiResult<Verdict<T>>,
) -> ApiResult<T> {
    match write_tx(conn, f)? {
        Verdict::Granted(value) => Ok(value),
        Verdict::Refused(refusal) => Err(refusal),
    }
}

/// Readiness: the database answers a query (503 otherwise).
pub fn ping(conn: &mut DbConn) -> ApiResult<()> {
    crate::store::ping(conn).map_err(|e| ApiError::Unavailable(e.to_string()))
}
