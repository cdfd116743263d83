//! The password re-check of signed-in routes (change password, re-enroll,
//! new recovery token, disable MFA): one function for all of them. It is
//! no oracle: every wrong password counts toward the email's login lockout
//! (see `lockout`) and is audited as `reauthentication.failed`.

use super::audit::{self, Event};
use super::{commit_then_refuse, lockout, Ctx, Verdict};
use crate::crypto::password;
use crate::error::{ApiError, ApiResult};
use crate::store::users::User;
use crate::store::DbConn;

/// Proof that `user_id` re-entered the right password in this request;
/// only [`recheck_password`] makes one.
#[derive(Debug)]
pub struct Reauthenticated {
    user_id: String,
}

impl Reauthenticated {
    /// Whether this proof is for `user`.
    pub fn is_for(&self, user: &User) -> bool {
        self.user_id == user.id
    }
}

/// Checks `password` against `user`'s current hash: 403
/// `reauthentication_required` when missing or wrong, 429 while the email is
/// locked (also for the right password). Runs argon2 outside any
/// transaction; call it on a blocking thread holding a hasher permit.
pub fn recheck_password(
    conn: &mut DbConn,
    user: &User,
    password: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<Reauthenticated> {
    let Some(password) = password.filter(|p| !p.is_empty() && p.len() <= password::MAX_LEN) else {
        return Err(ApiError::ReauthenticationRequired);
    };
    // Counted before the hash runs, like a login; the hash is read afresh.
    let current = lockout::reserve_password_attempt(conn, &user.email, ctx)?
        .filter(|u| u.id == user.id)
        .ok_or(ApiError::Unauthorized)?;
    let ok = password::verify(password, &current.password_hash).map_err(ApiError::internal)?;
    commit_then_refuse(conn, |conn| {
        if ok {
            lockout::password_succeeded(conn, &current.email, ctx)?;
            return Ok(Verdict::Granted(Reauthenticated {
                user_id: current.id.clone(),
            }));
        }
        audit::record(
            conn,
            ctx,
            Event::own(
                audit::REAUTHENTICATION_FAILED,
                &current.account_id,
                &current.id,
            ),
        )?;
        Ok(Verdict::Refused(ApiError::ReauthenticationRequired))
    })
}
