//! Who is calling: the live session behind an access token (a
//! [`Principal`]), or a forced-enrollment grant behind an enrollment token.
//! The checks that make either valid live here, not in the extractors.

use chrono::NaiveDateTime;

use super::policy::{self, Aal, Action, Permissions, Requirement, ScopePolicy};
use crate::crypto::tokens::{self, AccessClaims};
use crate::error::{ApiError, ApiResult};
use crate::store::challenges::{self as challenge_store, KIND_ENROLLMENT};
use crate::store::sessions::{self as session_store, Session, SessionContext};
use crate::store::types::MfaMethods;
use crate::store::users::{self as user_store, User};
use crate::store::DbConn;

/// A request made with a valid access token of a live session, as read at
/// the start of the request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub session: Session,
    pub claims: AccessClaims,
    /// The rule that requires MFA of this user, if any, and from when.
    pub mfa_requirement: Option<Requirement>,
    /// Which second factors count for this user.
    pub methods: MfaMethods,
    /// Creation time of the user's unused recovery token, if any.
    pub unused_recovery_created_at: Option<NaiveDateTime>,
    /// What the user's role holds, read with the session (never from the
    /// token: a role changed takes effect on the next request).
    pub permissions: Permissions,
}

impl Principal {
    pub fn aal(&self) -> Aal {
        self.session.aal()
    }

    pub fn has_mfa(&self) -> bool {
        self.user.mfa_enabled_at.is_some()
    }

    /// The permission table applied to this principal as read at the start
    /// of the request. Mutations assert it again on fresh rows (see
    /// [`reload`]).
    pub fn may(&self, action: Action) -> ApiResult<()> {
        policy::allows(self.permissions, self.aal(), self.has_mfa(), action)
    }
}

/// [`policy::requirement_of`] from what the session's one query read.
pub(crate) fn context_requirement(found: &SessionContext) -> Option<Requirement> {
    policy::requirement_of(
        found.user.require_mfa,
        ScopePolicy {
            require_mfa: found.account_requires_mfa,
            from: found.account_require_mfa_from,
        },
        found
            .sub_account_requires_mfa
            .map(|require_mfa| ScopePolicy {
                require_mfa,
                from: found.sub_account_require_mfa_from,
            }),
    )
}

/// The live session `sid` of user `sub` with its context (one indexed query).
pub fn session_principal(
    conn: &mut DbConn,
    claims: AccessClaims,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
) -> ApiResult<Principal> {
    let found = session_store::find_live_context(conn, &claims.sid, now, idle_cutoff)?;
    match found {
        Some(found) if found.user.id == claims.sub => Ok(Principal {
            mfa_requirement: context_requirement(&found),
            methods: policy::methods_flags(
                found.account_mfa_methods,
                found.sub_account_mfa_methods,
            ),
            unused_recovery_created_at: found
                .recovery_created_at
                .filter(|_| found.recovery_used_at.is_none()),
            permissions: policy::permissions_from(
                &found.user.role,
                found.custom_role_permissions.as_deref(),
            ),
            user: found.user,
            session: found.session,
            claims,
        }),
        _ => Err(ApiError::Unauthorized),
    }
}

/// The actor and its session read again (inside the caller's transaction,
/// after its locks), so a decision rests on the rows as they are now: a
/// role changed, MFA disabled or the session downgraded or ended since the
/// request began.
pub fn reload(conn: &mut DbConn, principal: &Principal) -> ApiResult<Current> {
    let user = user_store::find(conn, &principal.user.id)?
        .filter(|u| !u.disabled)
        .ok_or(ApiError::Unauthorized)?;
    let session = session_store::find(conn, &principal.session.id)?
        .filter(|s| s.revoked_at.is_none() && s.user_id == user.id)
        .ok_or(ApiError::Unauthorized)?;
    let permissions = policy::permissions_of(conn, &user)?;
    Ok(Current {
        user,
        session,
        permissions,
    })
}

/// An actor and session as just read by [`reload`].
#[derive(Debug, Clone)]
pub struct Current {
    pub user: User,
    pub session: Session,
    pub permissions: Permissions,
}

impl Current {
    /// [`policy::stepped_up`] on the fresh rows: a factor proven in this
    /// session within the step-up window (403 `step_up_required`).
    pub fn stepped_up(&self, now: NaiveDateTime) -> ApiResult<()> {
        policy::stepped_up(self.has_mfa(), self.session.factor_at, now)
    }

    pub fn has_mfa(&self) -> bool {
        self.user.mfa_enabled_at.is_some()
    }

    /// The permission table applied to the fresh rows.
    pub fn may(&self, action: Action) -> ApiResult<()> {
        policy::allows(self.permissions, self.session.aal(), self.has_mfa(), action)
    }
}

/// [`reload`] then [`Current::may`]: the check every mutation starts with.
pub fn authorize(conn: &mut DbConn, principal: &Principal, action: Action) -> ApiResult<Current> {
    let current = reload(conn, principal)?;
    current.may(action)?;
    Ok(current)
}

/// A live enrollment grant: after the password, for a user who must set up
/// MFA and has not (once they have, every grant is dead).
#[derive(Debug, Clone)]
pub struct EnrollmentGrant {
    pub user: User,
    pub challenge_id: String,
    /// What the user proved to get the grant (`pwd` or `sso`).
    pub first_factor: policy::Amr,
}

/// The grant behind an enrollment token, if it is live.
pub fn enrollment_grant(
    conn: &mut DbConn,
    token: &str,
    now: NaiveDateTime,
) -> ApiResult<Option<EnrollmentGrant>> {
    if !token.starts_with(tokens::ENROLLMENT_PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hash = tokens::sha256_hex(token);
    let Some(challenge) = challenge_store::find_by_hash(conn, KIND_ENROLLMENT, &hash)? else {
        return Ok(None);
    };
    if challenge.consumed_at.is_some() || challenge.expires_at <= now {
        return Ok(None);
    }
    let Some(user) = user_store::find(conn, &challenge.user_id)?.filter(|u| !u.disabled) else {
        return Ok(None);
    };
    // A grant is for a user who still needs a factor: none yet, or (where
    // only passkeys count) no passkey.
    let needs_factor = user.mfa_enabled_at.is_none()
        || (policy::methods_for(conn, &user)? == MfaMethods::PhishingResistant
            && crate::store::passkeys::count_of_user(conn, &user.id)? == 0);
    Ok(needs_factor.then_some(user).map(|user| EnrollmentGrant {
        user,
        challenge_id: challenge.id,
        first_factor: challenge.first_factor,
    }))
}

/// Who may use the TOTP enrollment endpoints: a signed-in user, or a user
/// holding an enrollment grant.
#[derive(Debug, Clone)]
pub enum MfaActor {
    Session(std::sync::Arc<Principal>),
    Enrollment(Box<EnrollmentGrant>),
}

impl MfaActor {
    pub fn user(&self) -> &User {
        match self {
            MfaActor::Session(p) => &p.user,
            MfaActor::Enrollment(g) => &g.user,
        }
    }
}

/// Starts an administrative change at `now`: the account's lock, then the
/// actor's permission on their fresh rows, and the step-up the action
/// needs ([`policy::needs_step_up`]).
pub(crate) fn begin_change(
    conn: &mut DbConn,
    actor: &Principal,
    action: Action,
    now: NaiveDateTime,
) -> ApiResult<Current> {
    crate::store::accounts::lock(conn, &actor.user.account_id)?;
    let current = authorize(conn, actor, action)?;
    if policy::needs_step_up(action) {
        current.stepped_up(now)?;
    }
    Ok(current)
}
