//! `POST /sessions/sso` and `POST /sessions/sso/link`: a login code spent
//! once, a first sign-in linked at once (no password) or after the
//! password is proven, Latchkey's MFA on top.

use super::linking::{link, within_ceiling};
use super::{login_failed, redirects};
use crate::config::Config;
use crate::crypto::{password, tokens};
use crate::domain::audit::{self, Event};
use crate::domain::keys::KeyRing;
use crate::domain::login::{self, FirstFactor, LoginOutcome, SsoOrigin};
use crate::domain::{commit_then_refuse, lockout, Ctx, Verdict};
use crate::error::{ApiError, ApiResult};
use crate::store::challenges::{self as challenge_store, Challenge, KIND_SSO, KIND_SSO_LINK};
use crate::store::sso::{self as sso_store, IdentityProvider};
use crate::store::users::{self as user_store, User};
use crate::store::DbConn;

/// The answer to `POST /sessions/sso`: the login answer, or the password
/// proof an existing user owes before a provider's subject is linked to
/// them.
#[derive(Debug)]
pub enum SsoOutcome {
    Login(LoginOutcome),
    LinkRequired {
        link_token: String,
        expires_in: u64,
        email: String,
    },
}

/// An SSO login code or link token as read, live, with its origin.
struct Vouched {
    challenge: Challenge,
    provider: IdentityProvider,
    subject: String,
}

impl Vouched {
    /// What the challenge vouched for, carried on to the challenges and
    /// grants it leads to (so a change of the provider spends them too).
    fn origin(&self) -> SsoOrigin<'_> {
        SsoOrigin {
            provider_id: &self.provider.id,
            subject: &self.subject,
            first_factor: &self.challenge.first_factor,
            code_challenge: None,
        }
    }
}

/// The live challenge of `kind` behind `token` with its provider (`None`:
/// unknown, spent, expired, or its provider gone).
fn vouched(
    conn: &mut DbConn,
    kind: crate::store::types::ChallengeKind,
    prefix: &str,
    token: &str,
    now: chrono::NaiveDateTime,
) -> ApiResult<Option<Vouched>> {
    if !token.starts_with(prefix) || token.len() > 200 {
        return Ok(None);
    }
    let hash = tokens::sha256_hex(token);
    let Some(challenge) = challenge_store::find_by_hash(conn, kind, &hash)?
        .filter(|c| c.consumed_at.is_none() && c.expires_at > now)
    else {
        return Ok(None);
    };
    let (Some(provider_id), Some(subject)) = (&challenge.provider_id, &challenge.subject) else {
        return Ok(None);
    };
    let Some(provider) = sso_store::find_provider(conn, provider_id)? else {
        return Ok(None);
    };
    Ok(Some(Vouched {
        subject: subject.clone(),
        challenge,
        provider,
    }))
}

/// `POST /sessions/sso`: spends a login code, once, and applies Latchkey's
/// policy on top of the SSO (see [`login::after_first_factor`]). A subject
/// seen for the first time is linked here: at once for a user without a
/// password (provisioned by SSO), after a password proof
/// (`link_required`, [`begin_link`]) for anyone else. A code that is
/// unknown, spent, older than 60 s, of a user disabled since, now beyond
/// the provider's ceiling, or bound to a PKCE challenge that
/// `code_verifier` does not answer is 401 `invalid_credentials`; every
/// refusal is recorded as `sso.login_failed`.
pub fn sign_in(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    login_code: &str,
    code_verifier: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<SsoOutcome> {
    commit_then_refuse(conn, |conn| {
        let refuse = |conn: &mut DbConn, v: Option<&Vouched>, user: Option<&User>, reason| {
            let provider_id = v.map(|v| v.provider.id.as_str());
            login_failed(conn, ctx, provider_id, user, reason)?;
            Ok(Verdict::Refused(ApiError::InvalidLoginCode))
        };
        let Some(v) = vouched(
            conn,
            KIND_SSO,
            tokens::SSO_LOGIN_PREFIX,
            login_code,
            ctx.now,
        )?
        else {
            return refuse(conn, None, None, "login_code_invalid");
        };
        // A code bound to the client's PKCE pair is spent only with its
        // verifier (an app that intercepted the redirect has none); the
        // code stays for the client that has it.
        if let Some(challenge) = &v.challenge.code_challenge {
            let proven = code_verifier
                .is_some_and(|verifier| redirects::verifier_matches(challenge, verifier));
            if !proven {
                return refuse(conn, Some(&v), None, "code_verifier_mismatch");
            }
        }
        // The user as read under their row lock.
        let Some(user) = user_store::lock_and_read(conn, &v.challenge.user_id)? else {
            return refuse(conn, Some(&v), None, "user_not_found");
        };
        if user.disabled {
            return refuse(conn, Some(&v), Some(&user), "user_disabled");
        }
        if !within_ceiling(conn, &v.provider, &user)? {
            return refuse(conn, Some(&v), Some(&user), "outside_ceiling");
        }
        if challenge_store::consume(conn, &v.challenge.id, ctx.now)? != 1 {
            return refuse(conn, Some(&v), Some(&user), "login_code_invalid");
        }
        match sso_store::find_identity(conn, &v.provider.id, &v.subject)? {
            Some(link) if link.user_id == user.id => {}
            Some(_) => return refuse(conn, Some(&v), Some(&user), "linked_elsewhere"),
            // No password to prove, and not provisioned by this provider
            // (that links at once): nobody may claim them by email.
            None if user.password_hash == password::NO_PASSWORD => {
                return refuse(conn, Some(&v), Some(&user), "no_password_to_prove");
            }
            None => {
                let link_token = login::new_sso_challenge(
                    conn,
                    KIND_SSO_LINK,
                    tokens::SSO_LINK_PREFIX,
                    &user,
                    &v.origin(),
                    config.sso_link_ttl,
                    ctx.now,
                )?;
                return Ok(Verdict::Granted(SsoOutcome::LinkRequired {
                    link_token,
                    expires_in: config.sso_link_ttl.as_secs(),
                    email: user.email,
                }));
            }
        }
        let outcome = login::after_first_factor(
            conn,
            keys,
            config,
            &user,
            &FirstFactor::Sso(v.origin()),
            ctx,
        )?;
        Ok(Verdict::Granted(SsoOutcome::Login(outcome)))
    })
}

/// A link attempt with its password attempt reserved.
pub struct LinkAttempt {
    vouched: Option<Vouched>,
    /// The user whose password hash to check (none: the token is dead, and
    /// argon2 runs against the dummy hash all the same).
    pub user: Option<User>,
}

/// The first half of `POST /sessions/sso/link`: the link token's user, with
/// a password attempt reserved on their email as a login would (429 while
/// locked). Then argon2 runs, outside any transaction, and
/// [`finish_link`] decides.
pub fn begin_link(conn: &mut DbConn, link_token: &str, ctx: &Ctx) -> ApiResult<LinkAttempt> {
    let vouched = vouched(
        conn,
        KIND_SSO_LINK,
        tokens::SSO_LINK_PREFIX,
        link_token,
        ctx.now,
    )?;
    let owner = match &vouched {
        Some(v) => user_store::find(conn, &v.challenge.user_id)?,
        None => None,
    };
    let user = match owner {
        Some(owner) => {
            lockout::reserve_password_attempt(conn, &owner.email, ctx)?.filter(|u| u.id == owner.id)
        }
        None => None,
    };
    Ok(LinkAttempt { vouched, user })
}

/// The second half of `POST /sessions/sso/link`: a wrong password is 401
/// `invalid_credentials` (counted on the email's login lockout, the token
/// stays); the right one spends the token, links the subject and answers
/// as a login, Latchkey's MFA on top.
pub fn finish_link(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    attempt: LinkAttempt,
    password_ok: bool,
    ctx: &Ctx,
) -> ApiResult<LoginOutcome> {
    let LinkAttempt { vouched, user } = attempt;
    let (Some(v), Some(user)) = (vouched, user) else {
        return Err(ApiError::InvalidCredentials);
    };
    commit_then_refuse(conn, |conn| {
        if !password_ok {
            audit::record(
                conn,
                ctx,
                Event {
                    kind: audit::LOGIN_FAILED,
                    account_id: Some(&user.account_id),
                    actor: None,
                    target: Some(&user.id),
                    details: serde_json::json!({"reason": "wrong_password", "via": "sso_link"}),
                },
            )?;
            return Ok(Verdict::Refused(ApiError::InvalidCredentials));
        }
        let refuse = |conn: &mut DbConn, user: &User, reason| {
            login_failed(conn, ctx, Some(&v.provider.id), Some(user), reason)?;
            Ok(Verdict::Refused(ApiError::InvalidCredentials))
        };
        let Some(user) = user_store::lock_and_read(conn, &user.id)? else {
            return Err(ApiError::InvalidCredentials);
        };
        if user.disabled {
            return refuse(conn, &user, "user_disabled");
        }
        if !within_ceiling(conn, &v.provider, &user)? {
            return refuse(conn, &user, "outside_ceiling");
        }
        if challenge_store::consume(conn, &v.challenge.id, ctx.now)? != 1
            || sso_store::find_identity(conn, &v.provider.id, &v.subject)?.is_some()
        {
            return refuse(conn, &user, "link_token_invalid");
        }
        lockout::password_succeeded(conn, &user.email, ctx)?;
        link(conn, &v.provider, &v.subject, &user, ctx)?;
        let outcome = login::after_first_factor(
            conn,
            keys,
            config,
            &user,
            &FirstFactor::Sso(v.origin()),
            ctx,
        )?;
        Ok(Verdict::Granted(outcome))
    })
}
