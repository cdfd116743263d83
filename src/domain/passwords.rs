//! Forgotten passwords: a single-use link by mail (30 minutes), then a new
//! password. The request answers the same, in about the same time, whether
//! or not the email has an account; each address gets at most
//! [`RESETS_PER_HOUR`] such mails. The reset ends every session and open
//! challenge and leaves MFA on: the next login still asks for the second
//! factor.

use chrono::Duration;

use super::audit::{self, Event};
use super::outbox::{self, Outgoing};
use super::principals::{self, Change};
use super::Ctx;
use crate::config::Config;
use crate::crypto::{password, tokens};
use crate::error::{ApiError, ApiResult};
use crate::mail::{Template, Vars};
use crate::store::accounts as account_store;
use crate::store::mail_tokens::{self, PasswordReset};
use crate::store::users as user_store;
use crate::store::{write_tx, DbConn};

/// How long a reset link works.
pub const RESET_TTL: Duration = Duration::minutes(30);
/// Most reset mails one address gets in an hour.
pub const RESETS_PER_HOUR: i32 = 3;

/// Asks for a reset link for `email` (already normalized). One lookup,
/// one count and one transaction with its audit event, known email or not.
pub fn request_reset(conn: &mut DbConn, config: &Config, email: &str, ctx: &Ctx) -> ApiResult<()> {
    write_tx(conn, |conn| {
        let user = user_store::find_by_email(conn, email)?.filter(|u| !u.disabled);
        let within = outbox::within_quota(
            conn,
            &format!("reset:{email}"),
            RESETS_PER_HOUR,
            Duration::hours(1),
            ctx.now,
        )?;
        let sent = match &user {
            Some(user) if within => {
                let account_name = account_store::find(conn, &user.account_id)?
                    .map(|a| a.name)
                    .unwrap_or_default();
                let vars = Vars {
                    account_name,
                    display_name: user.display_name.clone(),
                    when: outbox::when(ctx.now),
                    ip: ctx.ip.clone().unwrap_or_else(|| "unknown".into()),
                    browser: ctx.user_agent.clone().unwrap_or_else(|| "unknown".into()),
                    expires: "30 minutes".into(),
                    ..Vars::default()
                };
                let (template, link) = if user.password_hash == password::NO_PASSWORD {
                    // Signs in only through SSO: there is no password to reset.
                    (Template::PasswordResetSso, None)
                } else {
                    let token = tokens::random_token(tokens::PASSWORD_RESET_PREFIX);
                    mail_tokens::insert_reset(
                        conn,
                        &PasswordReset {
                            token_hash: tokens::sha256_hex(&token),
                            user_id: user.id.clone(),
                            created_at: ctx.now,
                            expires_at: ctx.now + RESET_TTL,
                            used_at: None,
                        },
                    )?;
                    let link = format!("{}/reset-password#token={token}", config.app_url);
                    (Template::PasswordReset, Some(link))
                };
                outbox::queue(
                    conn,
                    config,
                    ctx,
                    Outgoing {
                        template,
                        to: &user.email,
                        account_id: Some(&user.account_id),
                        vars,
                        link,
                    },
                )?;
                true
            }
            _ => false,
        };
        audit::record(
            conn,
            ctx,
            Event {
                kind: audit::PASSWORD_RESET_REQUESTED,
                account_id: user.as_ref().map(|u| u.account_id.as_str()),
                actor: None,
                target: user.as_ref().map(|u| u.id.as_str()),
                details: serde_json::json!({"mail_sent": sent}),
            },
        )?;
        Ok(())
    })
}

/// Sets a new password (`new_hash`, argon2) with a reset link's `token`.
/// 401 `link_invalid` for a token that never was, 410 `link_expired` for
/// one used or expired. Every session, challenge and enrollment grant of
/// the user ends; MFA stays as it was.
pub fn confirm_reset(conn: &mut DbConn, token: &str, new_hash: &str, ctx: &Ctx) -> ApiResult<()> {
    let hash = tokens::sha256_hex(token);
    write_tx(conn, |conn| {
        // The user's lock first, then the link: two links of one user
        // confirmed at once queue on the user instead of deadlocking.
        let found = mail_tokens::find_reset(conn, &hash)?.ok_or(ApiError::LinkInvalid)?;
        let user = user_store::lock_and_read(conn, &found.user_id)?
            .filter(|u| !u.disabled)
            .ok_or(ApiError::LinkExpired)?;
        if mail_tokens::spend_reset(conn, &hash, ctx.now)?.is_none() {
            return Err(ApiError::LinkExpired);
        }
        user_store::set_password(conn, &user.id, new_hash, ctx.now)?;
        mail_tokens::end_resets(conn, &user.id, ctx.now)?;
        principals::changed(conn, Change::User(&user.id))?;
        let ended = super::sessions::end_access(conn, &user.id, None, ctx)?;
        // The owner of the mailbox proved themself: wrong guesses before
        // no longer lock them out.
        super::lockout::password_succeeded(conn, &user.email, ctx)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::PASSWORD_RESET, &user.account_id, &user.id)
                .with(serde_json::json!({"sessions_ended": ended})),
        )?;
        Ok(())
    })
}
