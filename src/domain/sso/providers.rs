//! An account's identity providers (permission `sso.manage`): their
//! fields checked, the client secret sealed, the ceiling set by whoever
//! sets a field, links ended when the issuer or client changes.

use super::client_secret_aad;
use openidconnect::url::Url;

use crate::config::Config;
use crate::domain::audit::{self, Event};
use crate::domain::auth::{begin_change, Principal};
use crate::domain::policy::{self, Action};
use crate::domain::{new_id, parse_id, validate, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::store::sso::{self as sso_store, IdentityProvider, ProviderChanges};
use crate::store::types::RoleRef;
use crate::store::users::User;
use crate::store::{write_tx, DbConn};

/// Most redirect URIs and scopes one provider may list.
const MAX_LIST: usize = 20;
/// Longest URL (issuer, redirect URI) accepted.
const MAX_URL: usize = 2048;
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
pub(super) fn check_url(field: &str, raw: &str, allow_query: bool) -> ApiResult<String> {
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
    crate::domain::roles::check_assignable(conn, account_id, &role, in_sub_account).map_err(
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
    let granted = crate::domain::policy::permissions_of_role(conn, account_id, &role)?;
    policy::may_grant(actor_permissions, granted)?;
    Ok(role)
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
    let redirect_uris = super::redirects::check_allowed(&input.allowed_redirect_uris)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageSso, ctx.now)?;
        let account_id = current.user.account_id.clone();
        let sub_account_id = crate::domain::admin::sub_account_in(
            conn,
            &account_id,
            input.sub_account_id.as_deref(),
        )?;
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
        sso_store::insert_provider(conn, &provider).map_err(crate::domain::taken(
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
            .map(super::redirects::check_allowed)
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
        let current = begin_change(conn, actor, Action::ManageSso, ctx.now)?;
        let provider = sso_store::find_provider_in_account(conn, &current.user.account_id, &id)?
            .ok_or(ApiError::NotFound)?;
        sso_store::lock_provider(conn, &provider.id)?;
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
        sso_store::update_provider(conn, &id, &changes).map_err(crate::domain::taken(
            "An identity provider with this name already exists.",
        ))?;
        // Flows started, and login codes, link tokens and the challenges
        // they led to issued, under the old settings die.
        sso_store::consume_flows_of(conn, &id, ctx.now)?;
        sso_store::consume_login_codes_of(conn, &id, ctx.now)?;
        // Another issuer or client is another provider: its links end.
        let moved = changes
            .issuer
            .as_ref()
            .is_some_and(|i| *i != provider.issuer)
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
        let current = begin_change(conn, actor, Action::ManageSso, ctx.now)?;
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
    let account_id = crate::domain::canonical_id(account_id).ok_or_else(|| {
        ApiError::invalid("account_id", "must be a UUID (lower-case, hyphenated)")
    })?;
    Ok(sso_store::list_providers(conn, &account_id, 100, 0)?.0)
}
