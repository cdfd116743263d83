//! Invitations: an administrator invites by email, the invitee chooses
//! their password through a single-use link (7 days; a resend kills the
//! old link), and signs in as the account's policy says. The role rules are
//! those of creating a user: client roles only in a sub-account, and never
//! a role holding a permission the inviter lacks — when it is sent, and
//! again when it is accepted: the invitation keeps the inviter's
//! permissions as its ceiling, and the inviter must still be there and
//! still hold the role's permissions as they are then. Each address gets
//! at most [`PER_ADDRESS_PER_HOUR`] invitation mails an hour, each account
//! sends at most [`PER_ACCOUNT_PER_DAY`] a day.

use chrono::{Duration, NaiveDateTime};

use super::admin::{self, NewUser};
use super::audit::{self, Event};
use super::auth::{begin_change, Current, Principal};
use super::keys::KeyRing;
use super::login::{self, FirstFactor, LoginOutcome};
use super::outbox::{self, Outgoing};
use super::policy::{self, Action, Amr, Permissions};
use super::{parse_id, Ctx};
use crate::config::Config;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::mail::{Template, Vars};
use crate::store::accounts as account_store;
use crate::store::invitations as invitation_store;
pub use crate::store::invitations::Invitation;
use crate::store::roles as role_store;
use crate::store::types::RoleRef;
use crate::store::users as user_store;
use crate::store::{write_tx, DbConn};

/// How long an invitation's link works.
pub const INVITATION_TTL: Duration = Duration::days(7);
/// Most invitation mails (sent or resent) one address gets in an hour.
pub const PER_ADDRESS_PER_HOUR: i32 = 3;
/// Most invitation mails one account sends in a day.
pub const PER_ACCOUNT_PER_DAY: i32 = 200;

/// Counts one more invitation mail to `email` from `account_id`; 429 past
/// either limit.
fn within_quotas(conn: &mut DbConn, account_id: &str, email: &str, ctx: &Ctx) -> ApiResult<()> {
    let address = outbox::within_quota(
        conn,
        &format!("invitation:{email}"),
        PER_ADDRESS_PER_HOUR,
        Duration::hours(1),
        ctx.now,
    )?;
    let account = outbox::within_quota(
        conn,
        &format!("invitations-of:{account_id}"),
        PER_ACCOUNT_PER_DAY,
        Duration::days(1),
        ctx.now,
    )?;
    if address && account {
        Ok(())
    } else {
        Err(ApiError::TooManyAttempts {
            retry_after: if account { 3600 } else { 24 * 3600 },
        })
    }
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationStatus {
    pub fn of(invitation: &Invitation, now: NaiveDateTime) -> Self {
        if invitation.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if invitation.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if invitation.expires_at <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }
}

/// Validated input of an invitation.
pub struct NewInvitation {
    pub email: String,
    pub display_name: String,
    pub role: RoleRef,
    pub sub_account_id: Option<String>,
}

/// Checks that `current` may give `role` (in `sub_account_id`'s scope):
/// the rules of creating a user.
fn check_role(
    conn: &mut DbConn,
    current: &Current,
    role: &RoleRef,
    in_sub_account: bool,
) -> ApiResult<()> {
    let account_id = &current.user.account_id;
    super::roles::check_assignable(conn, account_id, role, in_sub_account)?;
    let granted = policy::permissions_of_role(conn, account_id, role)?;
    policy::may_grant(current.permissions, granted)
}

/// Queues the invitation's mail with a fresh link (`token`).
fn send(
    conn: &mut DbConn,
    config: &Config,
    ctx: &Ctx,
    invitation: &Invitation,
    inviter: &str,
    token: &str,
) -> ApiResult<()> {
    let account_name = account_store::find(conn, &invitation.account_id)?
        .map(|a| a.name)
        .unwrap_or_default();
    let role = match &invitation.role {
        RoleRef::BuiltIn(role) => role.as_str().replace('_', " "),
        RoleRef::Custom(id) => role_store::find_in_account(conn, &invitation.account_id, id)?
            .map(|r| r.name)
            .unwrap_or_default(),
    };
    outbox::queue(
        conn,
        config,
        ctx,
        Outgoing {
            template: Template::Invitation,
            to: &invitation.email,
            account_id: Some(&invitation.account_id),
            vars: Vars {
                account_name,
                display_name: invitation.display_name.clone(),
                actor: inviter.to_string(),
                role,
                expires: "7 days".into(),
                ..Vars::default()
            },
            link: Some(format!(
                "{}/accept-invitation#token={token}",
                config.app_url
            )),
        },
    )
}

/// Invites someone (`users.manage`). Answers the same whatever the email:
/// no answer tells whether it has an account elsewhere.
pub fn invite(
    conn: &mut DbConn,
    config: &Config,
    actor: &Principal,
    input: NewInvitation,
    ctx: &Ctx,
) -> ApiResult<Invitation> {
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageUsers, ctx.now)?;
        let account_id = current.user.account_id.clone();
        let sub_account_id =
            admin::sub_account_in(conn, &account_id, input.sub_account_id.as_deref())?;
        check_role(conn, &current, &input.role, sub_account_id.is_some())?;
        within_quotas(conn, &account_id, &input.email, ctx)?;
        let token = tokens::random_token(tokens::INVITATION_PREFIX);
        let invitation = Invitation {
            id: super::new_id(),
            account_id,
            sub_account_id,
            email: input.email,
            display_name: input.display_name,
            role: input.role,
            token_hash: tokens::sha256_hex(&token),
            invited_by: Some(current.user.id.clone()),
            ceiling: current.permissions.to_text(),
            created_at: ctx.now,
            expires_at: ctx.now + INVITATION_TTL,
            accepted_at: None,
            revoked_at: None,
        };
        invitation_store::insert(conn, &invitation)?;
        send(
            conn,
            config,
            ctx,
            &invitation,
            &current.user.display_name,
            &token,
        )?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::INVITATION_CREATED,
                account_id: Some(&invitation.account_id),
                actor: Some(&current.user.id),
                target: None,
                details: serde_json::json!({
                    "invitation_id": invitation.id,
                    "email": invitation.email,
                    "role": invitation.role,
                    "sub_account_id": invitation.sub_account_id,
                }),
            },
        )?;
        Ok(invitation)
    })
}

/// The account's invitations, newest first (`users.manage`).
pub fn list(
    conn: &mut DbConn,
    actor: &Principal,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<Invitation>, i64)> {
    actor.may(Action::ManageUsers)?;
    Ok(invitation_store::list(
        conn,
        &actor.user.account_id,
        limit,
        offset,
    )?)
}

/// An open invitation of the actor's account that the actor could have
/// sent (its role holds nothing they lack): 404 for another tenant's, 409
/// once accepted or revoked.
fn open_invitation(conn: &mut DbConn, current: &Current, id: &str) -> ApiResult<Invitation> {
    let invitation = invitation_store::find_in_account(conn, &current.user.account_id, id)?
        .ok_or(ApiError::NotFound)?;
    let granted = policy::permissions_of_role(conn, &current.user.account_id, &invitation.role)?;
    policy::may_grant(current.permissions, granted)?;
    if invitation.accepted_at.is_some() || invitation.revoked_at.is_some() {
        return Err(ApiError::Conflict(
            "The invitation was already accepted or revoked.".into(),
        ));
    }
    Ok(invitation)
}

/// Sends a new link (7 days from now); the old one stops working.
pub fn resend(
    conn: &mut DbConn,
    config: &Config,
    actor: &Principal,
    id: &str,
    ctx: &Ctx,
) -> ApiResult<Invitation> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageUsers, ctx.now)?;
        let mut invitation = open_invitation(conn, &current, &id)?;
        // Sending it again is sending it: the role rules, as now.
        check_role(
            conn,
            &current,
            &invitation.role,
            invitation.sub_account_id.is_some(),
        )?;
        within_quotas(conn, &invitation.account_id, &invitation.email, ctx)?;
        let old_hash = std::mem::take(&mut invitation.token_hash);
        let token = tokens::random_token(tokens::INVITATION_PREFIX);
        invitation.token_hash = tokens::sha256_hex(&token);
        invitation.expires_at = ctx.now + INVITATION_TTL;
        invitation.ceiling = current.permissions.to_text();
        invitation.invited_by = Some(current.user.id.clone());
        let renewed = invitation_store::renew(
            conn,
            &id,
            &old_hash,
            &invitation.token_hash,
            invitation.expires_at,
            &invitation.ceiling,
            &current.user.id,
        )?;
        if renewed != 1 {
            return Err(ApiError::Conflict(
                "The invitation was already accepted or revoked.".into(),
            ));
        }
        send(
            conn,
            config,
            ctx,
            &invitation,
            &current.user.display_name,
            &token,
        )?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::INVITATION_RESENT,
                account_id: Some(&invitation.account_id),
                actor: Some(&current.user.id),
                target: None,
                details: serde_json::json!({"invitation_id": invitation.id, "email": invitation.email}),
            },
        )?;
        Ok(invitation)
    })
}

/// Revokes an open invitation: its link stops working.
pub fn revoke(conn: &mut DbConn, actor: &Principal, id: &str, ctx: &Ctx) -> ApiResult<()> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageUsers, ctx.now)?;
        let invitation = open_invitation(conn, &current, &id)?;
        if invitation_store::revoke(conn, &id, ctx.now)? != 1 {
            return Err(ApiError::Conflict(
                "The invitation was already accepted or revoked.".into(),
            ));
        }
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::INVITATION_REVOKED,
                account_id: Some(&invitation.account_id),
                actor: Some(&current.user.id),
                target: None,
                details: serde_json::json!({"invitation_id": invitation.id, "email": invitation.email}),
            },
        )?;
        Ok(())
    })
}

/// Whether the invitation may still give its role: the role assignable
/// in its scope, within the ceiling, and its inviter still there, enabled,
/// in the account and holding the role's permissions as they are now.
fn still_grantable(conn: &mut DbConn, invitation: &Invitation) -> ApiResult<()> {
    let account_id = &invitation.account_id;
    super::roles::check_assignable(
        conn,
        account_id,
        &invitation.role,
        invitation.sub_account_id.is_some(),
    )?;
    let granted = policy::permissions_of_role(conn, account_id, &invitation.role)?;
    policy::may_grant(Permissions::from_text(&invitation.ceiling), granted)?;
    let inviter = match &invitation.invited_by {
        Some(id) => user_store::find_in_account(conn, account_id, id)?,
        None => None,
    }
    .filter(|u| !u.disabled)
    .ok_or(ApiError::Forbidden)?;
    policy::may_grant(policy::permissions_of(conn, &inviter)?, granted)
}

/// What an invitee sends back with the link; the password already hashed.
pub struct Acceptance {
    pub token: String,
    pub password_hash: String,
    pub display_name: Option<String>,
}

/// Accepts an invitation: the user is created with the invitation's role
/// and signs in as the policy says (an MFA-required invitee gets an
/// enrollment grant). 401 `link_invalid` for a token that never was, 410
/// `link_expired` for one used, replaced by a resend, revoked or expired, or one its inviter could no longer send (the
/// inviter gone, disabled, or lacking a permission the role holds now, or
/// the role grown past the invitation's ceiling); 409 when the email has
/// an account meanwhile.
pub fn accept(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    input: Acceptance,
    ctx: &Ctx,
) -> ApiResult<LoginOutcome> {
    let hash = tokens::sha256_hex(&input.token);
    write_tx(conn, |conn| {
        let Some(invitation) = invitation_store::find_by_token(conn, &hash)? else {
            return Err(if invitation_store::was_replaced(conn, &hash)? {
                ApiError::LinkExpired
            } else {
                ApiError::LinkInvalid
            });
        };
        // The account's lock, as every change of users and roles takes it:
        // a role edited, an inviter demoted or a revoke runs before or
        // after this, not beside it.
        account_store::lock(conn, &invitation.account_id)?;
        if InvitationStatus::of(&invitation, ctx.now) != InvitationStatus::Pending
            || invitation_store::accept(conn, &invitation.id, &hash, ctx.now)? != 1
        {
            return Err(ApiError::LinkExpired);
        }
        still_grantable(conn, &invitation).map_err(|_| ApiError::LinkExpired)?;
        let user = NewUser {
            email: invitation.email.clone(),
            display_name: input
                .display_name
                .unwrap_or_else(|| invitation.display_name.clone()),
            role: invitation.role.clone(),
            password_hash: input.password_hash,
            sub_account_id: invitation.sub_account_id.clone(),
        }
        .into_user(&invitation.account_id, ctx.now);
        admin::insert_user(conn, &user)?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::INVITATION_ACCEPTED,
                account_id: Some(&invitation.account_id),
                actor: Some(&user.id),
                target: Some(&user.id),
                details: serde_json::json!({"invitation_id": invitation.id, "invited_by": invitation.invited_by}),
            },
        )?;
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::USER_CREATED,
                account_id: Some(&invitation.account_id),
                actor: invitation.invited_by.as_deref(),
                target: Some(&user.id),
                details: serde_json::json!({"role": user.role, "via": "invitation"}),
            },
        )?;
        login::after_first_factor(
            conn,
            keys,
            config,
            &user,
            &FirstFactor::Password(Amr::password(), None),
            ctx,
        )
    })
}
