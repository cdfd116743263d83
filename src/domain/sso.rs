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
//!   (`roles::within_reach`, the rule every action on another user passes);
//! - just-in-time provisioning is off unless turned on, and its default role
//!   is one the configuring administrator could hand out (client roles only
//!   for a sub-account's provider);
//! - a login code is single use and lives 60 seconds; the session it gives
//!   is `sso` (aal1) unless the provider is trusted for MFA and says it did
//!   MFA (`sso mfa`, aal2); otherwise Latchkey's own MFA and policy apply.

use openidconnect::url::Url;

use super::admin::begin_change;
use super::audit::{self, Event};
use super::auth::Principal;
use super::keys::KeyRing;
use super::login::{self, LoginOutcome, SsoOrigin};
use super::policy::{self, Action, Amr, Method, Permissions};
use super::{commit_then_refuse, lockout, new_id, parse_id, validate, Ctx, Verdict};
use crate::config::Config;
use crate::crypto::{password, tokens};
use crate::error::{ApiError, ApiResult, SsoFailure};
use crate::oidc::{AuthorizeRequest, Identity, ProviderClient};
use crate::store::challenges::{self as challenge_store, Challenge, KIND_SSO, KIND_SSO_LINK};
use crate::store::sso::{
    self as sso_store, IdentityProvider, ProviderChanges, SsoFlow, SsoIdentity,
};
use crate::store::types::RoleRef;
use crate::store::users::{self as user_store, User};
use crate::store::{write_tx, DbConn};

/// Most redirect URIs and scopes one provider may list.
const MAX_LIST: usize = 20;
/// Longest URL (issuer, redirect URI) accepted.
const MAX_URL: usize = 2048;
/// Longest opaque `state` a client may have echoed back.
pub const MAX_CLIENT_STATE: usize = 256;

/// The path of Latchkey's own callback, under the public URL.
pub const CALLBACK_PATH: &str = "/api/v1/sso/callback";

/// Latchkey's callback URL, to register at the provider.
pub fn callback_url(config: &Config) -> String {
    format!("{}{CALLBACK_PATH}", config.public_url)
}

/// A provider's fields as given on create (checked here).
#[derive(Debug, Clone, Default)]
pub struct ProviderInput {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Option<Vec<String>>,
    pub allowed_redirect_uris: Vec<String>,
    pub trust_idp_mfa: bool,
    pub jit_provisioning: bool,
    pub default_role: Option<String>,
    pub sub_account_id: Option<String>,
}

/// What `PATCH` may change (absent: unchanged).
#[derive(Debug, Clone, Default)]
pub struct ProviderPatch {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allowed_redirect_uris: Option<Vec<String>>,
    pub trust_idp_mfa: Option<bool>,
    pub jit_provisioning: Option<bool>,
    pub default_role: Option<String>,
}

/// An absolute `https` URL, or `http` on a loopback host (a provider on the
/// same machine, as in development); no fragment.
fn check_url(field: &str, raw: &str, allow_query: bool) -> ApiResult<String> {
    let text = raw.trim();
    if text.is_empty() || text.len() > MAX_URL || text.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "must be an absolute URL of at most 2048 bytes",
        ));
    }
    let url = Url::parse(text).map_err(|_| ApiError::invalid(field, "must be an absolute URL"))?;
    if !crate::oidc::url_allowed(&url) {
        return Err(ApiError::invalid(
            field,
            "must use https (http only on localhost)",
        ));
    }
    if url.fragment().is_some() || (!allow_query && url.query().is_some()) {
        return Err(ApiError::invalid(
            field,
            if allow_query {
                "must not have a fragment"
            } else {
                "must not have a query or fragment"
            },
        ));
    }
    if url.username() != "" || url.password().is_some() {
        return Err(ApiError::invalid(field, "must not carry credentials"));
    }
    Ok(text.to_string())
}

fn check_issuer(raw: &str) -> ApiResult<String> {
    // Compared with the discovery document's and the ID token's `iss`
    // exactly, as given (a trailing slash matters).
    check_url("issuer", raw, false)
}

fn check_client_id(raw: &str) -> ApiResult<String> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(ApiError::invalid("client_id", "must be 1 to 256 bytes"));
    }
    Ok(id.to_string())
}

fn check_secret(raw: &str) -> ApiResult<String> {
    if raw.is_empty() || raw.len() > 4096 || raw.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "client_secret",
            "must be 1 to 4096 bytes without control characters",
        ));
    }
    Ok(raw.to_string())
}

/// Scopes as stored: `openid` first, then the others once each.
fn check_scopes(raw: Option<&[String]>) -> ApiResult<String> {
    let default = ["openid".to_string(), "email".into(), "profile".into()];
    let raw = raw.unwrap_or(&default);
    if raw.len() > MAX_LIST {
        return Err(ApiError::invalid("scopes", "at most 20 scopes"));
    }
    let mut scopes = vec!["openid".to_string()];
    for scope in raw {
        let valid = !scope.is_empty()
            && scope.len() <= 100
            && scope
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !valid {
            return Err(ApiError::invalid(
                "scopes",
                format!("{scope:?} is not a scope token"),
            ));
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    Ok(scopes.join(" "))
}

fn check_redirect_uris(raw: &[String]) -> ApiResult<String> {
    if raw.is_empty() || raw.len() > MAX_LIST {
        return Err(ApiError::invalid(
            "allowed_redirect_uris",
            "list 1 to 20 URIs",
        ));
    }
    let mut uris: Vec<String> = Vec::with_capacity(raw.len());
    for uri in raw {
        let uri = check_url("allowed_redirect_uris", uri, true)?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris.join("\n"))
}

/// The default role of just-in-time users: a role of the account, allowed
/// in the provider's scope, and no more than the actor holds.
fn check_default_role(
    conn: &mut DbConn,
    account_id: &str,
    actor_permissions: policy::Permissions,
    raw: &str,
    in_sub_account: bool,
) -> ApiResult<RoleRef> {
    let role = RoleRef::parse(raw);
    super::roles::check_assignable(conn, account_id, &role, in_sub_account).map_err(
        |e| match e {
            ApiError::Validation(mut errors) => {
                for error in &mut errors {
                    error.field = "default_role".into();
                }
                ApiError::Validation(errors)
            }
            other => other,
        },
    )?;
    let granted = super::roles::permissions_of_role(conn, account_id, &role)?;
    policy::may_grant(actor_permissions, granted)?;
    Ok(role)
}

fn client_secret_aad(provider_id: &str) -> String {
    format!("idp-client-secret:{provider_id}")
}

fn pkce_aad(flow_id: &str) -> String {
    format!("sso-pkce:{flow_id}")
}

fn open_client_secret(config: &Config, provider: &IdentityProvider) -> ApiResult<String> {
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

fn audit_provider(
    conn: &mut DbConn,
    ctx: &Ctx,
    kind: audit::EventType,
    actor: &User,
    provider: &IdentityProvider,
) -> ApiResult<()> {
    audit::record(
        conn,
        ctx,
        Event {
            kind,
            account_id: Some(&provider.account_id),
            actor: Some(&actor.id),
            target: None,
            details: serde_json::json!({
                "identity_provider_id": provider.id,
                "name": provider.name,
                "issuer": provider.issuer,
                "trust_idp_mfa": provider.trust_idp_mfa,
                "jit_provisioning": provider.jit_provisioning,
                "default_role": provider.default_role,
            }),
        },
    )?;
    Ok(())
}

/// The account's providers, by name (permission `sso.manage`).
pub fn list_providers(
    conn: &mut DbConn,
    actor: &Principal,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<IdentityProvider>, i64)> {
    actor.may(Action::ManageSso)?;
    Ok(sso_store::list_providers(
        conn,
        &actor.user.account_id,
        limit,
        offset,
    )?)
}

/// One of the account's providers (another account's is 404).
pub fn provider(conn: &mut DbConn, actor: &Principal, id: &str) -> ApiResult<IdentityProvider> {
    actor.may(Action::ManageSso)?;
    let id = parse_id(id)?;
    sso_store::find_provider_in_account(conn, &actor.user.account_id, &id)?
        .ok_or(ApiError::NotFound)
}

/// Connects a provider to the actor's account; the client secret is sealed.
pub fn create_provider(
    conn: &mut DbConn,
    config: &Config,
    actor: &Principal,
    input: ProviderInput,
    ctx: &Ctx,
) -> ApiResult<IdentityProvider> {
    let name = validate::check_name(&input.name).map_err(|m| ApiError::invalid("name", m))?;
    let issuer = check_issuer(&input.issuer)?;
    let client_id = check_client_id(&input.client_id)?;
    let client_secret = check_secret(&input.client_secret)?;
    let scopes = check_scopes(input.scopes.as_deref())?;
    let redirect_uris = check_redirect_uris(&input.allowed_redirect_uris)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageSso)?;
        let account_id = current.user.account_id.clone();
        let sub_account_id =
            super::admin::sub_account_in(conn, &account_id, input.sub_account_id.as_deref())?;
        let default_role = check_default_role(
            conn,
            &account_id,
            current.permissions,
            input.default_role.as_deref().unwrap_or("read_only"),
            sub_account_id.is_some(),
        )?;
        let id = new_id();
        let provider = IdentityProvider {
            client_secret_sealed: config
                .master_key
                .seal(client_secret.as_bytes(), &client_secret_aad(&id))?,
            id,
            account_id,
            sub_account_id,
            name,
            issuer,
            client_id,
            scopes,
            allowed_redirect_uris: redirect_uris,
            trust_idp_mfa: input.trust_idp_mfa,
            jit_provisioning: input.jit_provisioning,
            default_role,
            created_at: ctx.now,
            updated_at: ctx.now,
            ceiling: current.permissions.to_text(),
        };
        sso_store::insert_provider(conn, &provider).map_err(super::taken(
            "An identity provider with this name already exists.",
        ))?;
        audit_provider(
            conn,
            ctx,
            audit::IDENTITY_PROVIDER_CREATED,
            &current.user,
            &provider,
        )?;
        Ok(provider)
    })
}

/// Changes a provider; a new client secret is sealed again. Unspent login
/// codes it vouched for under the old settings stop working.
pub fn update_provider(
    conn: &mut DbConn,
    config: &Config,
    actor: &Principal,
    id: &str,
    patch: ProviderPatch,
    ctx: &Ctx,
) -> ApiResult<IdentityProvider> {
    let id = parse_id(id)?;
    let mut changes = ProviderChanges {
        name: patch
            .name
            .as_deref()
            .map(validate::check_name)
            .transpose()
            .map_err(|m| ApiError::invalid("name", m))?,
        issuer: patch.issuer.as_deref().map(check_issuer).transpose()?,
        client_id: patch
            .client_id
            .as_deref()
            .map(check_client_id)
            .transpose()?,
        client_secret_sealed: None,
        scopes: patch
            .scopes
            .as_deref()
            .map(|s| check_scopes(Some(s)))
            .transpose()?,
        allowed_redirect_uris: patch
            .allowed_redirect_uris
            .as_deref()
            .map(check_redirect_uris)
            .transpose()?,
        trust_idp_mfa: patch.trust_idp_mfa,
        jit_provisioning: patch.jit_provisioning,
        default_role: None,
        updated_at: Some(ctx.now),
        ceiling: None,
    };
    if let Some(secret) = &patch.client_secret {
        let secret = check_secret(secret)?;
        changes.client_secret_sealed = Some(
            config
                .master_key
                .seal(secret.as_bytes(), &client_secret_aad(&id))?,
        );
    }
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageSso)?;
        let provider = sso_store::find_provider_in_account(conn, &current.user.account_id, &id)?
            .ok_or(ApiError::NotFound)?;
        if let Some(role) = &patch.default_role {
            changes.default_role = Some(check_default_role(
                conn,
                &provider.account_id,
                current.permissions,
                role,
                provider.sub_account_id.is_some(),
            )?);
        }
        // Whoever sets a field sets the ceiling: their own permissions.
        changes.ceiling = Some(current.permissions.to_text());
        sso_store::update_provider(conn, &id, &changes).map_err(super::taken(
            "An identity provider with this name already exists.",
        ))?;
        // Login codes and link tokens issued under the old settings die.
        sso_store::consume_login_codes_of(conn, &id, ctx.now)?;
        // Another issuer or client is another provider: its links end.
        let moved = changes.issuer.as_ref().is_some_and(|i| *i != provider.issuer)
            || changes
                .client_id
                .as_ref()
                .is_some_and(|c| *c != provider.client_id);
        if moved {
            sso_store::delete_identities_of(conn, &id)?;
        }
        let updated = sso_store::find_provider(conn, &id)?.ok_or(ApiError::NotFound)?;
        audit_provider(
            conn,
            ctx,
            audit::IDENTITY_PROVIDER_UPDATED,
            &current.user,
            &updated,
        )?;
        Ok(updated)
    })
}

/// Disconnects a provider: its links, flows in progress and unspent login
/// codes go with it (users and their sessions stay).
pub fn delete_provider(conn: &mut DbConn, actor: &Principal, id: &str, ctx: &Ctx) -> ApiResult<()> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageSso)?;
        let provider = sso_store::find_provider_in_account(conn, &current.user.account_id, &id)?
            .ok_or(ApiError::NotFound)?;
        sso_store::consume_login_codes_of(conn, &provider.id, ctx.now)?;
        sso_store::delete_provider(conn, &provider.id)?;
        audit_provider(
            conn,
            ctx,
            audit::IDENTITY_PROVIDER_DELETED,
            &current.user,
            &provider,
        )?;
        Ok(())
    })
}

/// The providers a sign-in page of `account_id` offers (public: ids and
/// names only). An id that is not a UUID is 422, an unknown account an
/// empty list.
pub fn sign_in_options(conn: &mut DbConn, account_id: &str) -> ApiResult<Vec<IdentityProvider>> {
    let account_id =
        super::canonical_id(account_id).ok_or_else(|| {
            ApiError::invalid("account_id", "must be a UUID (lower-case, hyphenated)")
        })?;
    Ok(sso_store::list_providers(conn, &account_id, 100, 0)?.0)
}

/// A provider ready for the relying party (its secret opened).
pub struct ProviderSecrets {
    pub provider: IdentityProvider,
    pub client_secret: String,
}

impl ProviderSecrets {
    pub fn client<'a>(&'a self, scopes: &'a [String]) -> ProviderClient<'a> {
        ProviderClient {
            issuer: &self.provider.issuer,
            client_id: &self.provider.client_id,
            client_secret: &self.client_secret,
            scopes,
        }
    }
}

/// Checks a sign-in request before anything is sent to the provider: the
/// provider exists (404), `redirect_uri` is one of its allowed URIs exactly
/// (422: no open redirect) and `client_state` is short and printable (422).
pub fn begin(
    conn: &mut DbConn,
    config: &Config,
    provider_id: &str,
    redirect_uri: &str,
    client_state: Option<&str>,
) -> ApiResult<ProviderSecrets> {
    let provider_id = parse_id(provider_id)?;
    let provider = sso_store::find_provider(conn, &provider_id)?.ok_or(ApiError::NotFound)?;
    if !provider
        .redirect_uri_list()
        .iter()
        .any(|allowed| allowed == redirect_uri)
    {
        return Err(ApiError::invalid(
            "redirect_uri",
            "is not one of the identity provider's allowed_redirect_uris",
        ));
    }
    if let Some(state) = client_state {
        if state.len() > MAX_CLIENT_STATE || !state.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid(
                "state",
                "must be at most 256 printable ASCII characters",
            ));
        }
    }
    let client_secret = open_client_secret(config, &provider)?;
    Ok(ProviderSecrets {
        provider,
        client_secret,
    })
}

/// Keeps an authorization request in progress (10 minutes); the `state` is
/// stored as its SHA-256, the PKCE verifier sealed.
pub fn record_flow(
    conn: &mut DbConn,
    config: &Config,
    provider_id: &str,
    request: &AuthorizeRequest,
    redirect_uri: &str,
    client_state: Option<&str>,
    ctx: &Ctx,
) -> ApiResult<()> {
    let id = new_id();
    let ttl = chrono::Duration::from_std(config.sso_flow_ttl)
        .unwrap_or_else(|_| chrono::Duration::minutes(10));
    sso_store::insert_flow(
        conn,
        &SsoFlow {
            pkce_verifier_sealed: config
                .master_key
                .seal(request.pkce_verifier.as_bytes(), &pkce_aad(&id))?,
            id,
            state_hash: tokens::sha256_hex(&request.state),
            provider_id: provider_id.to_string(),
            nonce: request.nonce.clone(),
            redirect_uri: redirect_uri.to_string(),
            client_state: client_state.map(String::from),
            created_at: ctx.now,
            expires_at: ctx.now + ttl,
            consumed_at: None,
        },
    )?;
    Ok(())
}

/// The provider's answer before any code is exchanged: an `error` from the
/// provider is `access_denied`; an `iss` (RFC 9207) naming another issuer
/// is a mix-up and refused.
pub fn check_response(flow: &TakenFlow, error: Option<&str>, iss: Option<&str>) -> ApiResult<()> {
    if error.is_some() {
        return Err(ApiError::Sso(SsoFailure::AccessDenied));
    }
    if iss.is_some_and(|iss| iss != flow.secrets.provider.issuer) {
        return Err(ApiError::Sso(SsoFailure::InvalidIdToken));
    }
    Ok(())
}

/// Where the browser goes back to when a flow ends, well or badly.
#[derive(Debug, Clone)]
pub struct ReturnTo {
    pub redirect_uri: String,
    pub client_state: Option<String>,
}

/// A flow just spent by this request, ready for the code exchange.
pub struct TakenFlow {
    pub secrets: ProviderSecrets,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Spends the flow of `state`, once. Unknown `state`: 400 (there is nowhere
/// safe to send the browser). A flow spent before or expired: the second
/// part is `flow_expired` (recorded as `sso.login_failed`), with the way
/// back to the client.
pub fn take_flow(
    conn: &mut DbConn,
    config: &Config,
    state: &str,
    ctx: &Ctx,
) -> ApiResult<(ReturnTo, ApiResult<TakenFlow>)> {
    if state.is_empty() || state.len() > 512 {
        return Err(ApiError::BadRequest("Unknown sign-in flow.".into()));
    }
    let hash = tokens::sha256_hex(state);
    write_tx(conn, |conn| {
        let flow = sso_store::find_flow_by_state(conn, &hash)?
            .ok_or_else(|| ApiError::BadRequest("Unknown sign-in flow.".into()))?;
        let back = ReturnTo {
            redirect_uri: flow.redirect_uri.clone(),
            client_state: flow.client_state.clone(),
        };
        let provider = sso_store::find_provider(conn, &flow.provider_id)?;
        let spent = sso_store::consume_flow(conn, &flow.id, ctx.now)? == 1;
        let Some(provider) = provider.filter(|_| spent) else {
            login_failed(
                conn,
                ctx,
                Some(&flow.provider_id),
                None,
                SsoFailure::FlowExpired.code(),
            )?;
            return Ok((back, Err(ApiError::Sso(SsoFailure::FlowExpired))));
        };
        let pkce_verifier = config
            .master_key
            .open(&flow.pkce_verifier_sealed, &pkce_aad(&flow.id))
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::internal(format!("flow {} cannot be opened", flow.id)))?;
        let client_secret = open_client_secret(config, &provider)?;
        Ok((
            back,
            Ok(TakenFlow {
                secrets: ProviderSecrets {
                    provider,
                    client_secret,
                },
                nonce: flow.nonce,
                pkce_verifier,
            }),
        ))
    })
}

fn login_failed(
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

/// Why no user is signed in, for the audit log, and what the client is told.
struct Refusal {
    reason: &'static str,
    failure: SsoFailure,
    user: Option<User>,
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
fn ceiling(provider: &IdentityProvider) -> Permissions {
    Permissions::from_text(&provider.ceiling)
}

/// Whether `user` is within `provider`'s ceiling
/// ([`super::roles::within_reach`], the rule every action on another user
/// passes).
fn within_ceiling(conn: &mut DbConn, provider: &IdentityProvider, user: &User) -> ApiResult<bool> {
    match super::roles::within_reach(conn, ceiling(provider), user) {
        Ok(()) => Ok(true),
        Err(ApiError::Forbidden) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The user a verified identity names through `provider`: the one its
/// subject is linked to, or on first use a user of the provider's scope
/// with the email the provider verified (or a new one, by just-in-time
/// provisioning). Nothing is linked here: [`sign_in`] links, once the user
/// proved their password if they have one. Never a disabled user, never a
/// user beyond the provider's ceiling.
fn resolve_user(
    conn: &mut DbConn,
    provider: &IdentityProvider,
    identity: &Identity,
    ctx: &Ctx,
) -> ApiResult<Result<User, Refusal>> {
    let user = match sso_store::find_identity(conn, &provider.id, &identity.subject)? {
        Some(link) => match user_store::find(conn, &link.user_id)? {
            Some(user) => user,
            None => return Ok(Err(Refusal::new("user_not_found", SsoFailure::UserNotFound))),
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
            let role_holds = super::roles::permissions_of_role(
                conn,
                &provider.account_id,
                &provider.default_role,
            )?;
            if !ceiling(provider).covers(role_holds) {
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
    super::roles::check_assignable(
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
    let user = User {
        id: new_id(),
        account_id: provider.account_id.clone(),
        sub_account_id: provider.sub_account_id.clone(),
        email: email.to_string(),
        display_name,
        role: provider.default_role.clone(),
        password_hash: password::NO_PASSWORD.to_string(),
        disabled: false,
        mfa_enabled_at: None,
        mfa_failures: 0,
        mfa_locked_until: None,
        last_login_at: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    super::admin::insert_user(conn, &user)?;
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

/// Ends a flow with what the provider's answer proved: a single-use login
/// code (60 s) for the user it names, or the refusal, recorded either way
/// as `sso.login_succeeded` / `sso.login_failed`.
pub fn finish(
    conn: &mut DbConn,
    config: &Config,
    flow: &TakenFlow,
    identity: ApiResult<Identity>,
    ctx: &Ctx,
) -> ApiResult<String> {
    let provider_id = flow.secrets.provider.id.clone();
    commit_then_refuse(conn, |conn| {
        let identity = match identity {
            Ok(identity) => identity,
            Err(e) => {
                login_failed(conn, ctx, Some(&provider_id), None, e.code())?;
                return Ok(Verdict::Refused(e));
            }
        };
        // The provider as it is now: deleted or changed while the user was
        // away, its current settings count.
        let Some(provider) = sso_store::find_provider(conn, &provider_id)? else {
            return Ok(Verdict::Refused(ApiError::Sso(SsoFailure::FlowExpired)));
        };
        if identity.issuer != provider.issuer {
            login_failed(conn, ctx, Some(&provider_id), None, "issuer_mismatch")?;
            return Ok(Verdict::Refused(ApiError::Sso(SsoFailure::InvalidIdToken)));
        }
        let user = match resolve_user(conn, &provider, &identity, ctx)? {
            Ok(user) => user,
            Err(refusal) => {
                login_failed(
                    conn,
                    ctx,
                    Some(&provider_id),
                    refusal.user.as_ref(),
                    refusal.reason,
                )?;
                return Ok(Verdict::Refused(ApiError::Sso(refusal.failure)));
            }
        };
        let idp_mfa = identity.did_mfa();
        let first_factor = if provider.trust_idp_mfa && idp_mfa {
            Amr::of(&[Method::Sso, Method::IdpMfa])
        } else {
            Amr::of(&[Method::Sso])
        };
        let code = login::new_sso_challenge(
            conn,
            KIND_SSO,
            tokens::SSO_LOGIN_PREFIX,
            &user,
            &SsoOrigin {
                provider_id: &provider.id,
                subject: &identity.subject,
                first_factor: &first_factor,
            },
            config.sso_login_code_ttl,
            ctx.now,
        )?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::SSO_LOGIN_SUCCEEDED, &user.account_id, &user.id).with(
                serde_json::json!({
                    "identity_provider_id": provider.id,
                    "idp_amr": identity.amr,
                    "idp_mfa_trusted": provider.trust_idp_mfa && idp_mfa,
                }),
            ),
        )?;
        Ok(Verdict::Granted(code))
    })
}

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
/// unknown, spent, older than 60 s, of a user disabled since or now beyond
/// the provider's ceiling is 401 `invalid_credentials`; every refusal is
/// recorded as `sso.login_failed`.
pub fn sign_in(
    conn: &mut DbConn,
    keys: &KeyRing,
    config: &Config,
    login_code: &str,
    ctx: &Ctx,
) -> ApiResult<SsoOutcome> {
    commit_then_refuse(conn, |conn| {
        let refuse = |conn: &mut DbConn, v: Option<&Vouched>, user: Option<&User>, reason| {
            let provider_id = v.map(|v| v.provider.id.as_str());
            login_failed(conn, ctx, provider_id, user, reason)?;
            Ok(Verdict::Refused(ApiError::InvalidLoginCode))
        };
        let Some(v) = vouched(conn, KIND_SSO, tokens::SSO_LOGIN_PREFIX, login_code, ctx.now)?
        else {
            return refuse(conn, None, None, "login_code_invalid");
        };
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
            None if user.password_hash == password::NO_PASSWORD => {
                link(conn, &v.provider, &v.subject, &user, ctx)?;
            }
            None => {
                let link_token = login::new_sso_challenge(
                    conn,
                    KIND_SSO_LINK,
                    tokens::SSO_LINK_PREFIX,
                    &user,
                    &SsoOrigin {
                        provider_id: &v.provider.id,
                        subject: &v.subject,
                        first_factor: &v.challenge.first_factor,
                    },
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
        let outcome =
            login::after_first_factor(conn, keys, config, &user, &v.challenge.first_factor, ctx)?;
        Ok(Verdict::Granted(SsoOutcome::Login(outcome)))
    })
}

/// Links `subject` of `provider` to `user`, audited as
/// `sso.identity_linked`.
fn link(
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
    .map_err(super::taken("This identity is linked already."))?;
    audit::record(
        conn,
        ctx,
        Event::own(audit::SSO_IDENTITY_LINKED, &user.account_id, &user.id).with(
            serde_json::json!({
                "provider": provider.id,
                "issuer": provider.issuer,
                "sub": subject,
                "email": user.email,
            }),
        ),
    )?;
    Ok(())
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
        Some(owner) => lockout::reserve_password_attempt(conn, &owner.email, ctx)?
            .filter(|u| u.id == owner.id),
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
        lockout::password_succeeded(conn, &user.email, ctx)?;
        let user = user_store::lock_and_read(conn, &user.id)?
            .filter(|u| !u.disabled)
            .ok_or(ApiError::InvalidCredentials)?;
        if !within_ceiling(conn, &v.provider, &user)? {
            login_failed(
                conn,
                ctx,
                Some(&v.provider.id),
                Some(&user),
                "outside_ceiling",
            )?;
            return Ok(Verdict::Refused(ApiError::InvalidCredentials));
        }
        if challenge_store::consume(conn, &v.challenge.id, ctx.now)? != 1
            || sso_store::find_identity(conn, &v.provider.id, &v.subject)?.is_some()
        {
            return Err(ApiError::InvalidCredentials);
        }
        link(conn, &v.provider, &v.subject, &user, ctx)?;
        let outcome =
            login::after_first_factor(conn, keys, config, &user, &v.challenge.first_factor, ctx)?;
        Ok(Verdict::Granted(outcome))
    })
}
