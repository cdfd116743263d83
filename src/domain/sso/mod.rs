//! Single sign-on with Latchkey's MFA policy on top: an account's identity
//! providers (permission `sso.manage`), the authorization flow kept in the
//! database (so any node finishes it, once), linking a provider's subject to
//! a user, and the single-use login code that `POST /sessions/sso` turns
//! into the same three-way answer as a password.
//!
//! The rules, each asserted here whoever calls:
//! - a flow is spent by one conditional UPDATE, lives 10 minutes, and its
//!   `redirect_uri` is one of the provider's, compared exactly;
//! - a link belongs to the provider (`provider`, `sub`); changing the
//!   provider's issuer or client ends its links. The first sign-in of a
//!   subject finds the user by an email the provider verified, in the
//!   provider's own scope (the account's users, or one sub-account's),
//!   never across accounts, and a user with a password proves it once
//!   (`link_required`) before the link is made;
//! - a provider's ceiling is the permission set of whoever last set its
//!   fields: no sign-in through it reaches a user holding more
//!   (`policy::within_reach`, the rule every action on another user passes);
//! - just-in-time provisioning is off unless turned on, and its default role
//!   is one the configuring administrator could hand out (client roles only
//!   for a sub-account's provider);
//! - a login code is single use and lives 60 seconds; the session it gives
//!   is `sso` (aal1) unless the provider is trusted for MFA and says it did
//!   MFA (`sso mfa`, aal2); otherwise Latchkey's own MFA and policy apply.
mod flow;
mod linking;
mod providers;
mod redirects;
mod sign_in;

pub use flow::{
    begin, check_response, finish, record_flow, take_flow, ProviderSecrets, ReturnTo, Start,
    TakenFlow,
};
pub use providers::{
    create_provider, delete_provider, list_providers, provider, sign_in_options, update_provider,
    ProviderInput, ProviderPatch,
};
pub use sign_in::{begin_link, finish_link, sign_in, LinkAttempt, SsoOutcome};

use super::audit::{self, Event};
use super::Ctx;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::sso::{self as sso_store, IdentityProvider};
use crate::store::users::User;
use crate::store::DbConn;

/// Longest opaque `state` a client may have echoed back.
pub const MAX_CLIENT_STATE: usize = 256;

/// The path of Latchkey's own callback, under the public URL.
pub const CALLBACK_PATH: &str = "/api/v1/sso/callback";

/// Latchkey's callback URL, to register at the provider.
pub fn callback_url(config: &Config) -> String {
    format!("{}{CALLBACK_PATH}", config.public_url)
}

pub(super) fn client_secret_aad(provider_id: &str) -> String {
    format!("idp-client-secret:{provider_id}")
}

pub(super) fn open_client_secret(
    config: &Config,
    provider: &IdentityProvider,
) -> ApiResult<String> {
    config
        .master_key
        .open(
            &provider.client_secret_sealed,
            &client_secret_aad(&provider.id),
        )
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ApiError::internal(format!(
                "client secret of identity provider {} cannot be opened with the master key",
                provider.id
            ))
        })
}

pub(super) fn login_failed(
    conn: &mut DbConn,
    ctx: &Ctx,
    provider_id: Option<&str>,
    user: Option<&User>,
    reason: &str,
) -> ApiResult<()> {
    let account_id = match (user, provider_id) {
        (Some(user), _) => Some(user.account_id.clone()),
        (None, Some(id)) => sso_store::find_provider(conn, id)?.map(|p| p.account_id),
        (None, None) => None,
    };
    audit::record(
        conn,
        ctx,
        Event {
            kind: audit::SSO_LOGIN_FAILED,
            account_id: account_id.as_deref(),
            actor: None,
            target: user.map(|u| u.id.as_str()),
            details: serde_json::json!({"identity_provider_id": provider_id, "reason": reason}),
        },
    )?;
    Ok(())
}
