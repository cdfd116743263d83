//! Sessions: issuing tokens after the last factor, refresh-token rotation
//! with reuse detection, listing and revoking.

use chrono::NaiveDateTime;
use diesel::QueryResult;

use super::audit::{self, Event};
use super::keys::KeyRing;
use super::Ctx;
use crate::config::Config;
use crate::crypto::tokens::{self, AccessClaims};
use crate::error::{ApiError, ApiResult};
use crate::store::refresh_tokens::{self as refresh_store, RefreshToken};
use crate::store::sessions::{self as session_store, Session};
use crate::store::users::{self as user_store, User};
use crate::store::{write_tx, DbConn};

/// Authentication methods of a session.
pub const AMR_PASSWORD: &[&str] = &["pwd"];
pub const AMR_TOTP: &[&str] = &["pwd", "otp"];
pub const AMR_RECOVERY: &[&str] = &["pwd", "rec"];

/// Tokens handed out when a login (or refresh) completes.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
    pub expires_in: u64,
    pub user: User,
}

fn chrono_dur(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(1))
}

/// Sessions idle since before this instant are over.
pub fn idle_cutoff(config: &Config, now: NaiveDateTime) -> NaiveDateTime {
    now - chrono_dur(config.session_idle)
}

fn access_token(
    keys: &KeyRing,
    config: &Config,
    user: &User,
    session: &Session,
    now: NaiveDateTime,
) -> String {
    let iat = now.and_utc().timestamp();
    keys.sign(&AccessClaims {
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        sub: user.id.clone(),
        sid: session.id.clone(),
        acc: user.account_id.clone(),
        sacc: user.sub_account_id.clone(),
        role: user.role.clone(),
        amr: session.amr.split(' ').map(String::from).collect(),
        aal: session.aal.clone(),
        iat,
        nbf: Some(iat),
        exp: iat + config.access_ttl.as_secs() as i64,
        jti: super::new_id(),
    })
}

fn new_refresh_token(
    conn: &mut DbConn,
    session_id: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let token = tokens::random_token(tokens::REFRESH_PREFIX);
    refresh_store::insert(
        conn,
        &RefreshToken {
            token_hash: tokens::sha256_hex(&token),
            session_id: session_id.to_string(),
            created_at: now,
            spent_at: None,
        },
    )?;
    Ok(token)
}

/// Creates a session for a user who has proven `amr`; records the login.
/// Call inside the transaction that spent the last factor.
pub fn issue(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    user: &User,
    amr: &[&str],
    ctx: &Ctx,
) -> QueryResult<Issued> {
    let aal = if amr.len() > 1 { "aal2" } else { "aal1" };
    let session = Session {
        id: super::new_id(),
        user_id: user.id.clone(),
        amr: amr.join(" "),
        aal: aal.to_string(),
        ip: ctx.ip.clone(),
        user_agent: ctx.user_agent.clone(),
        created_at: ctx.now,
        last_used_at: ctx.now,
        expires_at: ctx.now + chrono_dur(config.session_max),
        revoked_at: None,
    };
    session_store::insert(conn, &session)?;
    let refresh_token = new_refresh_token(conn, &session.id, ctx.now)?;
    user_store::set_last_login(conn, &user.id, ctx.now)?;
    audit::record(
        conn,
        ctx,
        Event::own(audit::LOGIN_SUCCEEDED, &user.account_id, &user.id)
            .with(serde_json::json!({"session_id": session.id, "amr": amr, "aal": aal})),
    )?;
    let mut user = user.clone();
    user.last_login_at = Some(ctx.now);
    Ok(Issued {
        access_token: access_token(keys, config, &user, &session, ctx.now),
        refresh_token,
        session_id: session.id,
        expires_in: config.access_ttl.as_secs(),
        user,
    })
}

/// Rotates a refresh token. A token spent before is a theft signal: the
/// whole session is revoked (and the answer is 401 like any bad token).
pub fn refresh(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    token: &str,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    if !token.starts_with(tokens::REFRESH_PREFIX) || token.len() > 200 {
        return Err(ApiError::Unauthorized);
    }
    let hash = tokens::sha256_hex(token);
    enum Outcome {
        Issued(Box<Issued>),
        Reused,
        Invalid,
    }
    let outcome = write_tx(conn, |conn| -> ApiResult<Outcome> {
        if refresh_store::spend(conn, &hash, ctx.now)? == 0 {
            let Some(spent) = refresh_store::find(conn, &hash)? else {
                return Ok(Outcome::Invalid);
            };
            if let Some(session) = session_store::find(conn, &spent.session_id)? {
                if session_store::revoke(conn, &session.user_id, &session.id, ctx.now)? > 0 {
                    if let Some(user) = user_store::find(conn, &session.user_id)? {
                        audit::record(
                            conn,
                            ctx,
                            Event::own(audit::SESSION_REVOKED, &user.account_id, &user.id)
                                .with(serde_json::json!({"session_id": session.id, "reason": "refresh_token_reuse"})),
                        )?;
                    }
                }
            }
            return Ok(Outcome::Reused);
        }
        let Some(spent) = refresh_store::find(conn, &hash)? else {
            return Ok(Outcome::Invalid);
        };
        let live = session_store::find_live_with_user(
            conn,
            &spent.session_id,
            ctx.now,
            idle_cutoff(config, ctx.now),
        )?;
        let Some((session, user)) = live else {
            // Roll back: spending a token of a dead session changes nothing.
            return Err(ApiError::Unauthorized);
        };
        session_store::touch(conn, &session.id, ctx.now)?;
        let refresh_token = new_refresh_token(conn, &session.id, ctx.now)?;
        Ok(Outcome::Issued(Box::new(Issued {
            access_token: access_token(keys, config, &user, &session, ctx.now),
            refresh_token,
            session_id: session.id,
            expires_in: config.access_ttl.as_secs(),
            user,
        })))
    })?;
    match outcome {
        Outcome::Issued(issued) => Ok(*issued),
        Outcome::Reused | Outcome::Invalid => Err(ApiError::Unauthorized),
    }
}

/// Ends one of the user's sessions (404 when it is not theirs or not live).
pub fn revoke(
    conn: &mut DbConn,
    user: &User,
    session_id: &str,
    ctx: &Ctx,
    reason: &str,
) -> ApiResult<()> {
    write_tx(conn, |conn| {
        if session_store::revoke(conn, &user.id, session_id, ctx.now)? == 0 {
            return Err(ApiError::NotFound);
        }
        audit::record(
            conn,
            ctx,
            Event::own(audit::SESSION_REVOKED, &user.account_id, &user.id)
                .with(serde_json::json!({"session_id": session_id, "reason": reason})),
        )?;
        Ok(())
    })
}
