//! Sessions: issuing tokens after the last factor, refresh-token rotation
//! with reuse detection, listing and revoking.

use chrono::NaiveDateTime;

use super::audit::{self, Event};
use super::keys::KeyRing;
use super::policy::{self, Amr, Requirement};
use super::principals::{self, Change};
use super::{commit_then_refuse, Ctx, Verdict};
use crate::config::Config;
use crate::crypto::refresh::{self as refresh_token, Presented};
use crate::crypto::tokens::{self, AccessClaims};
use crate::error::{ApiError, ApiResult};
use crate::store::refresh_tokens::{self as refresh_store, Rotation};
use crate::store::sessions::{self as session_store, Session, SessionContext};
use crate::store::users::{self as user_store, User};
use crate::store::{write_tx, DbConn};

/// Tokens handed out when a login (or refresh) completes.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
    pub expires_in: u64,
    pub user: User,
    /// A policy requires MFA for the user (shown on the user object).
    pub mfa_required: bool,
    /// For a required user without MFA before the deadline: until when
    /// they may sign in without it.
    pub setup_due_at: Option<NaiveDateTime>,
}

fn chrono_dur(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::days(1))
}

/// Sessions idle since before this instant are over.
pub fn idle_cutoff(config: &Config, now: NaiveDateTime) -> NaiveDateTime {
    now - chrono_dur(config.session_idle)
}

fn access_claims(
    config: &Config,
    user: &User,
    session: &Session,
    now: NaiveDateTime,
) -> AccessClaims {
    let iat = now.and_utc().timestamp();
    AccessClaims {
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        sub: user.id.clone(),
        sid: session.id.clone(),
        acc: user.account_id.clone(),
        sacc: user.sub_account_id.clone(),
        role: user.role.as_str().to_string(),
        amr: session.amr.names(),
        aal: session.aal().as_str().to_string(),
        iat,
        nbf: Some(iat),
        exp: iat + config.access_ttl.as_secs() as i64,
        jti: super::new_id(),
    }
}

/// The first generation of a new session's refresh-token chain.
pub const FIRST_GENERATION: i64 = 1;

/// The refresh token of `generation` in the chain of `session_id`, and the
/// hash the session row keeps of it.
fn chain_token(keys: &KeyRing, session_id: &str, generation: i64) -> (String, String) {
    let token = keys.refresh_tokens().issue(session_id, generation);
    let hash = tokens::sha256_hex(&token);
    (token, hash)
}

/// Starts a new refresh-token chain on an existing session, at the
/// generation after its current one: the session's earlier tokens stop
/// working, and since they come before the new chain's start, presenting
/// one is refused without being taken for reuse. Returns the new token.
fn restart_chain(conn: &mut DbConn, keys: &KeyRing, session_id: &str) -> ApiResult<String> {
    let current = refresh_store::position(conn, session_id)?.map_or(0, |p| p.generation);
    let (token, hash) = chain_token(keys, session_id, current + 1);
    refresh_store::start_chain(conn, session_id, current + 1, &hash)?;
    Ok(token)
}

/// Tokens for `session` of `user`, with the refresh token already stored.
fn tokens_for(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    user: User,
    session: &Session,
    refresh_token: String,
    now: NaiveDateTime,
) -> ApiResult<Issued> {
    let requirement = policy::mfa_requirement(conn, &user)?;
    unsigned_tokens(config, user, session, refresh_token, now, requirement).sign(keys)
}

/// Tokens whose access token is still to be signed: refresh signs after its
/// transaction, so the signature is not computed while holding the write
/// lock (SQLite's one writer).
struct Unsigned {
    claims: AccessClaims,
    refresh_token: String,
    expires_in: u64,
    user: User,
    mfa_required: bool,
    setup_due_at: Option<NaiveDateTime>,
}

impl Unsigned {
    fn sign(self, keys: &KeyRing) -> ApiResult<Issued> {
        Ok(Issued {
            access_token: keys.sign(&self.claims)?,
            session_id: self.claims.sid.clone(),
            refresh_token: self.refresh_token,
            expires_in: self.expires_in,
            user: self.user,
            mfa_required: self.mfa_required,
            setup_due_at: self.setup_due_at,
        })
    }
}

fn unsigned_tokens(
    config: &Config,
    user: User,
    session: &Session,
    refresh_token: String,
    now: NaiveDateTime,
    requirement: Option<Requirement>,
) -> Unsigned {
    let setup_due_at = requirement
        .filter(|_| user.mfa_enabled_at.is_none())
        .and_then(|r| r.setup_due_at(now));
    Unsigned {
        claims: access_claims(config, &user, session, now),
        refresh_token,
        expires_in: config.access_ttl.as_secs(),
        user,
        mfa_required: requirement.is_some(),
        setup_due_at,
    }
}

/// Creates a session for a user who has proven `amr`; records the login.
/// Call inside the transaction that spent the last factor.
pub fn issue(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    user: &User,
    amr: &Amr,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    let requirement = policy::mfa_requirement(conn, user)?;
    issue_under_policy(conn, keys, config, user, amr, requirement, ctx)
}

/// [`issue`] when the caller has read, in this transaction, what policy
/// requires MFA of `user` (`requirement`).
pub fn issue_under_policy(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    user: &User,
    amr: &Amr,
    requirement: Option<Requirement>,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    let session = Session {
        id: super::new_id(),
        user_id: user.id.clone(),
        amr: amr.clone(),
        ip: ctx.ip.clone(),
        user_agent: ctx.user_agent.clone(),
        created_at: ctx.now,
        last_used_at: ctx.now,
        expires_at: ctx.now + chrono_dur(config.session_max),
        revoked_at: None,
        factor_at: amr.proves_factor().then_some(ctx.now),
    };
    let (refresh_token, refresh_hash) = chain_token(keys, &session.id, FIRST_GENERATION);
    session_store::insert(conn, &session, FIRST_GENERATION, &refresh_hash)?;
    user_store::set_last_login(conn, &user.id, ctx.now)?;
    principals::changed(conn, Change::User(&user.id))?;
    audit::record(
        conn,
        ctx,
        Event::own(audit::LOGIN_SUCCEEDED, &user.account_id, &user.id)
            .with(serde_json::json!({"session_id": session.id, "amr": amr, "aal": amr.aal()})),
    )?;
    let mut user = user.clone();
    user.last_login_at = Some(ctx.now);
    unsigned_tokens(config, user, &session, refresh_token, ctx.now, requirement).sign(keys)
}

/// Raises the live session `session_id` of `user` to what `amr` reaches
/// (a second factor was just proven in it) and hands out fresh tokens for
/// it; its earlier refresh tokens stop working. Inside the transaction that
/// proved the factor.
pub fn upgrade(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    user: &User,
    session_id: &str,
    amr: &Amr,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    let mut session = session_store::find(conn, session_id)?
        .filter(|s| s.user_id == user.id && s.revoked_at.is_none())
        .ok_or(ApiError::Unauthorized)?;
    session.amr = amr.clone();
    session.factor_at = Some(ctx.now);
    session_store::set_assurance(conn, &session.id, &session.amr, ctx.now)?;
    principals::changed(conn, Change::User(&user.id))?;
    // A refresh token handed out before the factor must not become an aal2
    // credential: the session's refresh chain starts again with these tokens
    // (and any token it still had from before chains is gone).
    let refresh_token = restart_chain(conn, keys, &session.id)?;
    refresh_store::delete_legacy_for_session(conn, &session.id)?;
    tokens_for(
        conn,
        keys,
        config,
        user.clone(),
        &session,
        refresh_token,
        ctx.now,
    )
}

/// Rotates a refresh token. An earlier token of the session's chain (or a
/// spent token from before chains) is a theft signal: the whole session is
/// revoked, and the answer is 401 like any bad token.
pub fn refresh(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    token: &str,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    let presented = match refresh_token::parse(token) {
        Presented::Chained(presented) => presented,
        Presented::Legacy => return refresh_legacy(conn, keys, config, token, ctx),
        Presented::Malformed => return Err(ApiError::Unauthorized),
    };
    let cutoff = idle_cutoff(config, ctx.now);
    let hash = tokens::sha256_hex(token);
    let next_generation = presented.generation + 1;
    let (next, next_hash) = chain_token(keys, presented.session_id, next_generation);
    // The common case, the current token of a live session: one conditional
    // UPDATE of the session row, which also reads the session context
    // (after it committed, or in its one statement on PostgreSQL).
    let step = refresh_store::Step {
        session_id: presented.session_id,
        hash: &hash,
        next_hash: &next_hash,
        next_generation,
    };
    if let Rotation::Rotated(found) = refresh_store::rotate_if_live(conn, step, ctx.now, cutoff)? {
        // A session ended in between is refused (its new refresh token is
        // as dead as the session).
        let found = found.ok_or(ApiError::Unauthorized)?;
        return refreshed(config, *found, next, ctx.now).sign(keys);
    }
    // Not the current token, or the session is over. A token this server
    // issued for an earlier generation of the session's current chain has
    // been used before: the session is revoked. A forgery naming the
    // session (the tag does not verify) and a token of a chain that was
    // restarted are merely refused.
    if !keys.refresh_tokens().issued(&presented) {
        return Err(ApiError::Unauthorized);
    }
    commit_then_refuse(conn, |conn| {
        let position = refresh_store::position(conn, presented.session_id)?;
        if let Some(position) = position {
            let earlier = presented.generation >= position.chain_start
                && presented.generation < position.generation;
            if earlier {
                revoke_for_reuse(conn, &position.user_id, presented.session_id, ctx)?;
            }
        }
        Ok(Verdict::<Issued>::Refused(ApiError::Unauthorized))
    })
}

/// The tokens of a refresh of the session `found` (read with its policies),
/// whose new refresh token is `refresh_token`.
fn refreshed(
    config: &Config,
    found: SessionContext,
    refresh_token: String,
    now: NaiveDateTime,
) -> Unsigned {
    let requirement = super::auth::context_requirement(&found);
    unsigned_tokens(
        config,
        found.user,
        &found.session,
        refresh_token,
        now,
        requirement,
    )
}

/// A refresh token from before chains: spent in `refresh_tokens`; its
/// successor starts the session's chain.
fn refresh_legacy(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    token: &str,
    ctx: &Ctx,
) -> ApiResult<Issued> {
    let hash = tokens::sha256_hex(token);
    let cutoff = idle_cutoff(config, ctx.now);
    commit_then_refuse(conn, |conn| {
        if refresh_store::spend_legacy(conn, &hash, ctx.now)? == 0 {
            // Unknown, or spent before: a spent one is a theft signal, and
            // the revocation must be committed although the answer is 401.
            if let Some(spent) = refresh_store::find_legacy(conn, &hash)? {
                if let Some(session) = session_store::find(conn, &spent.session_id)? {
                    revoke_for_reuse(conn, &session.user_id, &session.id, ctx)?;
                }
            }
            return Ok(Verdict::Refused(ApiError::Unauthorized));
        }
        let Some(spent) = refresh_store::find_legacy(conn, &hash)? else {
            return Err(ApiError::Unauthorized);
        };
        // The session with its user and their scope's policies, in one query.
        let live = session_store::find_live_context(conn, &spent.session_id, ctx.now, cutoff)?;
        let Some(found) = live else {
            // Roll back: spending a token of a dead session changes nothing.
            return Err(ApiError::Unauthorized);
        };
        session_store::touch(conn, &found.session.id, ctx.now)?;
        let refresh_token = restart_chain(conn, keys, &found.session.id)?;
        Ok(Verdict::Granted(refreshed(
            config,
            found,
            refresh_token,
            ctx.now,
        )))
    })
    .and_then(|unsigned| unsigned.sign(keys))
}

/// A refresh token was presented a second time: the session it belongs to
/// is revoked (once; with its audit event). Inside the caller's
/// transaction, which must commit although the answer is 401.
fn revoke_for_reuse(
    conn: &mut DbConn,
    user_id: &str,
    session_id: &str,
    ctx: &Ctx,
) -> ApiResult<()> {
    if session_store::revoke(conn, user_id, session_id, ctx.now)? == 0 {
        return Ok(());
    }
    principals::changed(conn, Change::User(user_id))?;
    if let Some(user) = user_store::find(conn, user_id)? {
        audit::record(
            conn,
            ctx,
            Event::own(audit::SESSION_REVOKED, &user.account_id, &user.id).with(
                serde_json::json!({"session_id": session_id, "reason": "refresh_token_reuse"}),
            ),
        )?;
    }
    Ok(())
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
        principals::changed(conn, Change::User(&user.id))?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::SESSION_REVOKED, &user.account_id, &user.id)
                .with(serde_json::json!({"session_id": session_id, "reason": reason})),
        )?;
        Ok(())
    })
}

/// Ends a user's access obtained so far: every open challenge and
/// enrollment grant is consumed, every remembered device forgotten and
/// every session but `keep` revoked. Returns how many sessions ended.
/// Inside the caller's transaction.
pub fn end_access(
    conn: &mut DbConn,
    user_id: &str,
    keep: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<usize> {
    crate::store::challenges::consume_all_for_user(conn, user_id, ctx.now)?;
    super::devices::forget_all(conn, user_id, "access_ended", ctx)?;
    principals::changed(conn, Change::User(user_id))?;
    Ok(session_store::revoke_all_for_user(
        conn, user_id, keep, ctx.now,
    )?)
}
