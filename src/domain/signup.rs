//! Sign-up: a new account (tenant) with its first administrator, at once
//! (`LATCHKEY_SIGNUP=open`) or once the email's owner follows a link
//! (`verify`: the request answers the same whether or not the address has
//! an account; its owner gets a "someone tried" mail instead).

use chrono::Duration;

use super::audit::{self, Event};
use super::outbox::{self, Outgoing};
use super::policy::Role;
use super::Ctx;
use crate::config::Config;
use crate::crypto::tokens;
use crate::error::{ApiError, ApiResult};
use crate::mail::{Template, Vars};
use crate::store::accounts::{self as account_store, Account};
use crate::store::mail_tokens::{self, SignupRequest};
use crate::store::users::{self as user_store, User};
use crate::store::{write_tx, DbConn};

/// How long a sign-up link works.
pub const SIGNUP_TTL: Duration = Duration::hours(24);
/// Most sign-up mails one address gets in an hour.
pub const SIGNUP_MAILS_PER_HOUR: i32 = 3;

/// Validated sign-up input; the password is already hashed.
pub struct NewAccount {
    pub account_name: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
}

/// Creates the account and its administrator in one transaction: either
/// both exist afterwards or neither does.
pub fn create_account(
    conn: &mut DbConn,
    input: NewAccount,
    ctx: &Ctx,
) -> ApiResult<(Account, User)> {
    write_tx(conn, |conn| insert_account(conn, input, "sign_up", ctx))
}

/// The account and its administrator, inside the caller's transaction.
fn insert_account(
    conn: &mut DbConn,
    input: NewAccount,
    via: &str,
    ctx: &Ctx,
) -> ApiResult<(Account, User)> {
    let account = Account {
        id: super::new_id(),
        name: input.account_name,
        require_mfa: false,
        created_at: ctx.now,
        mfa_methods: Default::default(),
        require_mfa_from: None,
        remember_device_days: 0,
    };
    let user = super::admin::NewUser {
        email: input.email,
        display_name: input.display_name,
        role: Role::Administrator.into(),
        password_hash: input.password_hash,
        sub_account_id: None,
    }
    .into_user(&account.id, ctx.now);
    account_store::insert(conn, &account)?;
    super::admin::insert_user(conn, &user)?;
    audit::record(
        conn,
        ctx,
        Event::own(audit::USER_CREATED, &account.id, &user.id)
            .with(serde_json::json!({"role": user.role, "via": via})),
    )?;
    Ok((account, user))
}

/// Verified sign-up, first half: mails a link that creates the account,
/// or, when the address has an account already, tells its owner that
/// someone tried. The same work either way (the password was hashed
/// before); at most [`SIGNUP_MAILS_PER_HOUR`] mails per address.
pub fn request_signup(
    conn: &mut DbConn,
    config: &Config,
    input: NewAccount,
    ctx: &Ctx,
) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let taken = user_store::find_by_email(conn, &input.email)?.is_some();
        let within = outbox::within_quota(
            conn,
            &format!("signup:{}", input.email),
            SIGNUP_MAILS_PER_HOUR,
            Duration::hours(1),
            ctx.now,
        )?;
        if !within {
            return Ok(());
        }
        // One pending sign-up per address: a newer request ends older ones.
        mail_tokens::end_signups(conn, &input.email, ctx.now)?;
        let mut vars = Vars {
            account_name: input.account_name.clone(),
            display_name: input.display_name.clone(),
            when: outbox::when(ctx.now),
            ip: ctx.ip.clone().unwrap_or_else(|| "unknown".into()),
            browser: ctx.user_agent.clone().unwrap_or_else(|| "unknown".into()),
            ..Vars::default()
        };
        let (template, link) = if taken {
            (Template::SignupTaken, None)
        } else {
            let token = tokens::random_token(tokens::SIGNUP_PREFIX);
            mail_tokens::insert_signup(
                conn,
                &SignupRequest {
                    token_hash: tokens::sha256_hex(&token),
                    email: input.email.clone(),
                    account_name: input.account_name.clone(),
                    display_name: input.display_name.clone(),
                    password_hash: input.password_hash.clone(),
                    created_at: ctx.now,
                    expires_at: ctx.now + SIGNUP_TTL,
                    used_at: None,
                },
            )?;
            vars.expires = "24 hours".into();
            let link = format!("{}/verify-signup#token={token}", config.app_url);
            (Template::SignupVerify, Some(link))
        };
        outbox::queue(
            conn,
            config,
            ctx,
            Outgoing {
                template,
                to: &input.email,
                account_id: None,
                vars,
                link,
            },
        )
    })
}

/// Verified sign-up, second half: the link creates the account. 401
/// `link_invalid` for a token that never was, 410 `link_expired` for one
/// used or expired, 409 when the address got an account meanwhile.
pub fn verify_signup(
    conn: &mut DbConn,
    config: &Config,
    token: &str,
    ctx: &Ctx,
) -> ApiResult<(Account, User)> {
    // Closing sign-up also stops links already mailed.
    if config.signup == crate::config::SignupMode::Closed {
        return Err(ApiError::Forbidden);
    }
    let hash = tokens::sha256_hex(token);
    write_tx(conn, |conn| {
        let Some(request) = mail_tokens::spend_signup(conn, &hash, ctx.now)? else {
            return Err(if mail_tokens::signup_exists(conn, &hash)? {
                ApiError::LinkExpired
            } else {
                ApiError::LinkInvalid
            });
        };
        insert_account(
            conn,
            NewAccount {
                account_name: request.account_name,
                email: request.email,
                display_name: request.display_name,
                password_hash: request.password_hash,
            },
            "verified_sign_up",
            ctx,
        )
    })
}
