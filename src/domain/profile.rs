//! The signed-in user's own profile: their MFA status, password and
//! sessions ("Edit Profile").

use chrono::NaiveDateTime;

use super::audit::{self, Event};
use super::auth::{self, Principal};
use super::mfa::{self, MfaStatus};
use super::principals::{self, Change};
use super::reauth;
use super::{parse_id, Ctx};
use crate::error::ApiResult;
use crate::store::sessions::{self as session_store, Session};
use crate::store::users::{self as user_store, User};
use crate::store::{write_tx, DbConn};

/// The user and their MFA status at `now`, from what the request already
/// read (no further query).
pub fn me(principal: &Principal, now: NaiveDateTime) -> (&User, MfaStatus) {
    let status = mfa::status_of(
        &principal.user,
        principal.mfa_requirement,
        principal.methods,
        principal.unused_recovery_created_at,
        now,
    );
    (&principal.user, status)
}

/// Changes the password after re-checking the current one (see
/// [`reauth`]); every other session of the user ends and every open MFA
/// challenge and enrollment token is consumed. `new_hash` is the argon2
/// hash of the new password.
pub fn change_password(
    conn: &mut DbConn,
    principal: &Principal,
    current_password: &str,
    new_hash: &str,
    ctx: &Ctx,
) -> ApiResult<()> {
    let current = auth::reload(conn, principal)?;
    let proof = reauth::recheck_password(conn, &current.user, Some(current_password), ctx)?;
    write_tx(conn, |conn| {
        user_store::lock(conn, &current.user.id)?;
        let now = auth::reload(conn, principal)?;
        if !proof.is_for(&now.user) || now.user.password_hash != current.user.password_hash {
            // Changed by a concurrent request since the check: check again.
            return Err(crate::error::ApiError::ReauthenticationRequired);
        }
        user_store::set_password(conn, &now.user.id, new_hash, ctx.now)?;
        crate::store::mail_tokens::end_resets(conn, &now.user.id, ctx.now)?;
        principals::changed(conn, Change::User(&now.user.id))?;
        // Nothing the old password opened outlives it: other sessions, open
        // MFA challenges and enrollment tokens.
        let ended =
            super::sessions::end_access(conn, &now.user.id, Some(&principal.session.id), ctx)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::PASSWORD_CHANGED, &now.user.account_id, &now.user.id)
                .with(serde_json::json!({"other_sessions_ended": ended})),
        )?;
        Ok(())
    })
}

/// The user's live sessions, newest first.
pub fn sessions(
    conn: &mut DbConn,
    principal: &Principal,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<Session>, i64)> {
    Ok(session_store::list_live_for_user(
        conn,
        &principal.user.id,
        now,
        idle_cutoff,
        limit,
        offset,
    )?)
}

/// Ends one of the user's sessions (404 when it is not theirs or not live).
pub fn end_session(
    conn: &mut DbConn,
    principal: &Principal,
    session_id: &str,
    ctx: &Ctx,
    reason: &str,
) -> ApiResult<()> {
    let session_id = parse_id(session_id)?;
    super::sessions::revoke(conn, &principal.user, &session_id, ctx, reason)
}
