//! Whom a verified identity signs in: its link, or on first use a user of
//! the provider's scope by verified email (or a new one, just in time),
//! never beyond the provider's ceiling; and the link itself.

use crate::crypto::password;
use crate::domain::audit::{self, Event};
use crate::domain::policy::{self, Permissions};
use crate::domain::{new_id, validate, Ctx};
use crate::error::{ApiError, ApiResult, SsoFailure};
use crate::oidc::Identity;
use crate::store::sso::{self as sso_store, IdentityProvider, SsoIdentity};
use crate::store::users::{self as user_store, User};
use crate::store::DbConn;

/// Why no user is signed in, for the audit log, and what the client is told.
pub(super) struct Refusal {
    pub reason: &'static str,
    pub failure: SsoFailure,
    pub user: Option<User>,
}

impl Refusal {
    fn new(reason: &'static str, failure: SsoFailure) -> Refusal {
        Refusal {
            reason,
            failure,
            user: None,
        }
    }

    fn of(user: User, reason: &'static str, failure: SsoFailure) -> Refusal {
        Refusal {
            user: Some(user),
            ..Refusal::new(reason, failure)
        }
    }
}

/// What a provider may reach: its ceiling (the permissions of whoever last
/// set its fields).
pub(super) fn ceiling(provider: &IdentityProvider) -> Permissions {
    Permissions::from_text(&provider.ceiling)
}

/// Whether `user` is within `provider`'s ceiling
/// ([`crate::domain::policy::within_reach`], the rule every action on another user
/// passes).
pub(super) fn within_ceiling(
    conn: &mut DbConn,
    provider: &IdentityProvider,
    user: &User,
) -> ApiResult<bool> {
    match crate::domain::policy::within_reach(conn, ceiling(provider), user) {
        Ok(()) => Ok(true),
        Err(ApiError::Forbidden) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The user a verified identity names through `provider`: the one its
/// subject is linked to, or on first use a user of the provider's scope
/// with the email the provider verified (or a new one, by just-in-time
/// provisioning, linked at once). Otherwise nothing is linked here: the
/// sign-in links once the user has proven their password; a user without
/// one found by email is refused. Never a disabled user, never a
/// user beyond the provider's ceiling.
pub(super) fn resolve_user(
    conn: &mut DbConn,
    provider: &IdentityProvider,
    identity: &Identity,
    ctx: &Ctx,
) -> ApiResult<Result<User, Refusal>> {
    let user = match sso_store::find_identity(conn, &provider.id, &identity.subject)? {
        Some(link) => match user_store::find(conn, &link.user_id)? {
            Some(user) => user,
            None => {
                return Ok(Err(Refusal::new(
                    "user_not_found",
                    SsoFailure::UserNotFound,
                )))
            }
        },
        None => match first_match(conn, provider, identity, ctx)? {
            Ok(user) => user,
            Err(refusal) => return Ok(Err(refusal)),
        },
    };
    if user.disabled {
        return Ok(Err(Refusal::of(
            user,
            "user_disabled",
            SsoFailure::UserNotFound,
        )));
    }
    if !within_ceiling(conn, provider, &user)? {
        return Ok(Err(Refusal::of(
            user,
            "outside_ceiling",
            SsoFailure::AccessDenied,
        )));
    }
    Ok(Ok(user))
}

/// The first sign-in of a subject: an email the provider vouches for,
/// matched inside the provider's scope only, or a new user.
fn first_match(
    conn: &mut DbConn,
    provider: &IdentityProvider,
    identity: &Identity,
    ctx: &Ctx,
) -> ApiResult<Result<User, Refusal>> {
    let email = identity
        .email
        .as_deref()
        .and_then(|e| validate::normalize_email(e).ok());
    let Some(email) = email else {
        return Ok(Err(Refusal::new("no_email", SsoFailure::UserNotFound)));
    };
    if !identity.email_verified {
        return Ok(Err(Refusal::new(
            "email_not_verified",
            SsoFailure::EmailNotVerified,
        )));
    }
    Ok(match user_store::find_by_email(conn, &email)? {
        Some(user)
            if user.account_id == provider.account_id
                && user.sub_account_id == provider.sub_account_id =>
        {
            if user.password_hash == password::NO_PASSWORD {
                // Nothing would prove that the person at this provider is
                // them: a user without a password is linked only when a
                // provider provisions them, and only to that provider.
                return Ok(Err(Refusal::of(
                    user,
                    "no_password_to_prove",
                    SsoFailure::UserNotFound,
                )));
            }
            Ok(user)
        }
        // Someone of another account, or of another scope of this one
        // (a client user for the account's provider, or the reverse):
        // never linked, and the answer does not say which.
        Some(_) => Err(Refusal::new(
            "email_outside_scope",
            SsoFailure::UserNotFound,
        )),
        None if provider.jit_provisioning => {
            // The role it would hand out, within the ceiling as it is now.
            let role_holds = crate::domain::policy::permissions_of_role(
                conn,
                &provider.account_id,
                &provider.default_role,
            )?;
            if policy::may_grant(ceiling(provider), role_holds).is_err() {
                return Ok(Err(Refusal::new(
                    "outside_ceiling",
                    SsoFailure::AccessDenied,
                )));
            }
            Ok(provision(conn, provider, identity, &email, ctx)?)
        }
        None => Err(Refusal::new("user_not_found", SsoFailure::UserNotFound)),
    })
}

/// A new user of the provider's scope, with its default role and no
/// password (just-in-time provisioning).
fn provision(
    conn: &mut DbConn,
    provider: &IdentityProvider,
    identity: &Identity,
    email: &str,
    ctx: &Ctx,
) -> ApiResult<User> {
    // Checked again now: the role must still exist and suit the scope.
    crate::domain::roles::check_assignable(
        conn,
        &provider.account_id,
        &provider.default_role,
        provider.sub_account_id.is_some(),
    )?;
    let display_name = identity
        .name
        .as_deref()
        .and_then(|n| validate::check_name(n).ok())
        .unwrap_or_else(|| email.to_string());
    let user = crate::domain::admin::NewUser {
        email: email.to_string(),
        display_name,
        role: provider.default_role.clone(),
        password_hash: password::NO_PASSWORD.to_string(),
        sub_account_id: provider.sub_account_id.clone(),
    }
    .into_user(&provider.account_id, ctx.now);
    crate::domain::admin::insert_user(conn, &user)?;
    // Linked at once, to this provider alone: no password will ever prove
    // this user to another one.
    link(conn, provider, &identity.subject, &user, ctx)?;
    audit::record(
        conn,
        ctx,
        Event {
            kind: audit::USER_CREATED,
            account_id: Some(&user.account_id),
            actor: None,
            target: Some(&user.id),
            details: serde_json::json!({
                "role": user.role,
                "sub_account_id": user.sub_account_id,
                "by": "sso_jit_provisioning",
                "identity_provider_id": provider.id,
            }),
        },
    )?;
    Ok(user)
}

/// Links `subject` of `provider` to `user`, audited as
/// `sso.identity_linked`.
pub(super) fn link(
    conn: &mut DbConn,
    provider: &IdentityProvider,
    subject: &str,
    user: &User,
    ctx: &Ctx,
) -> ApiResult<()> {
    sso_store::insert_identity(
        conn,
        &SsoIdentity {
            id: new_id(),
            account_id: provider.account_id.clone(),
            issuer: provider.issuer.clone(),
            subject: subject.to_string(),
            user_id: user.id.clone(),
            provider_id: provider.id.clone(),
            created_at: ctx.now,
        },
    )
    .map_err(crate::domain::taken("This identity is linked already."))?;
    audit::record(
        conn,
        ctx,
        Event::own(audit::SSO_IDENTITY_LINKED, &user.account_id, &user.id).with(
            serde_json::json!({
                "provider": provider.id,
                "provider_name": provider.name,
                "issuer": provider.issuer,
                "sub": subject,
                "email": user.email,
            }),
        ),
    )?;
    Ok(())
}
