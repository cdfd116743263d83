//! Single sign-on: `identity_providers` (an account's OpenID providers),
//! `sso_identities` (a provider's subject linked to a user) and `sso_flows`
//! (authorization requests in progress, spent once).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{identity_providers, sso_flows, sso_identities};
use super::types::RoleRef;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = identity_providers)]
pub struct IdentityProvider {
    pub id: String,
    pub account_id: String,
    /// The sub-account whose users this provider signs in (client users);
    /// `None` for the account's own users.
    pub sub_account_id: Option<String>,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// AES-GCM under the master key, bound to the provider's id.
    pub client_secret_sealed: String,
    /// Space-separated scopes (always with `openid`).
    pub scopes: String,
    /// Newline-separated absolute URIs, compared exactly.
    pub allowed_redirect_uris: String,
    pub trust_idp_mfa: bool,
    pub jit_provisioning: bool,
    pub default_role: RoleRef,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The permissions (space-separated names) of whoever last set the
    /// provider's fields: no sign-in through it reaches a user holding
    /// more.
    pub ceiling: String,
}

impl IdentityProvider {
    pub fn scope_list(&self) -> Vec<String> {
        self.scopes.split_whitespace().map(String::from).collect()
    }

    pub fn redirect_uri_list(&self) -> Vec<String> {
        self.allowed_redirect_uris
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = identity_providers)]
pub struct ProviderChanges {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_sealed: Option<String>,
    pub scopes: Option<String>,
    pub allowed_redirect_uris: Option<String>,
    pub trust_idp_mfa: Option<bool>,
    pub jit_provisioning: Option<bool>,
    pub default_role: Option<RoleRef>,
    pub updated_at: Option<NaiveDateTime>,
    pub ceiling: Option<String>,
}

pub fn insert_provider(conn: &mut DbConn, provider: &IdentityProvider) -> QueryResult<()> {
    diesel::insert_into(identity_providers::table)
        .values(provider)
        .execute(conn)
        .map(drop)
}

pub fn find_provider(conn: &mut DbConn, id: &str) -> QueryResult<Option<IdentityProvider>> {
    identity_providers::table
        .find(id)
        .select(IdentityProvider::as_select())
        .first(conn)
        .optional()
}

/// The provider `id` if it belongs to `account_id` (another tenant's is `None`).
pub fn find_provider_in_account(
    conn: &mut DbConn,
    account_id: &str,
    id: &str,
) -> QueryResult<Option<IdentityProvider>> {
    identity_providers::table
        .filter(identity_providers::id.eq(id))
        .filter(identity_providers::account_id.eq(account_id))
        .select(IdentityProvider::as_select())
        .first(conn)
        .optional()
}

/// A page of an account's providers by name, with the total.
pub fn list_providers(
    conn: &mut DbConn,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<IdentityProvider>, i64)> {
    let items = identity_providers::table
        .filter(identity_providers::account_id.eq(account_id))
        .order((identity_providers::name.asc(), identity_providers::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(IdentityProvider::as_select())
        .load(conn)?;
    let total = identity_providers::table
        .filter(identity_providers::account_id.eq(account_id))
        .count()
        .get_result(conn)?;
    Ok((items, total))
}

/// Takes the provider's row lock (a no-op UPDATE), so a sign-in that
/// issues a code under its settings and a change of them run one after
/// the other (PostgreSQL; SQLite's one writer does so anyway). 0 when the
/// provider is gone.
pub fn lock_provider(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(identity_providers::table.find(id))
        .set(identity_providers::updated_at.eq(identity_providers::updated_at))
        .execute(conn)
}

/// Spends every open sign-in flow of a provider (its settings changed: a
/// flow started before does not finish under them). Returns how many.
pub fn consume_flows_of(
    conn: &mut DbConn,
    provider_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sso_flows::table
            .filter(sso_flows::provider_id.eq(provider_id))
            .filter(sso_flows::consumed_at.is_null()),
    )
    .set(sso_flows::consumed_at.eq(now))
    .execute(conn)
}

pub fn update_provider(
    conn: &mut DbConn,
    id: &str,
    changes: &ProviderChanges,
) -> QueryResult<usize> {
    diesel::update(identity_providers::table.find(id))
        .set(changes)
        .execute(conn)
}

pub fn delete_provider(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(identity_providers::table.find(id)).execute(conn)
}

/// How many providers hand out `role` to new users (a role in use).
pub fn count_with_default_role(
    conn: &mut DbConn,
    account_id: &str,
    role: &RoleRef,
) -> QueryResult<i64> {
    identity_providers::table
        .filter(identity_providers::account_id.eq(account_id))
        .filter(identity_providers::default_role.eq(role))
        .count()
        .get_result(conn)
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sso_identities)]
pub struct SsoIdentity {
    pub id: String,
    pub account_id: String,
    pub issuer: String,
    pub subject: String,
    pub user_id: String,
    pub provider_id: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_identity(conn: &mut DbConn, identity: &SsoIdentity) -> QueryResult<()> {
    diesel::insert_into(sso_identities::table)
        .values(identity)
        .execute(conn)
        .map(drop)
}

/// The link of `subject` through `provider_id`, if any (links belong to
/// the provider).
pub fn find_identity(
    conn: &mut DbConn,
    provider_id: &str,
    subject: &str,
) -> QueryResult<Option<SsoIdentity>> {
    sso_identities::table
        .filter(sso_identities::provider_id.eq(provider_id))
        .filter(sso_identities::subject.eq(subject))
        .select(SsoIdentity::as_select())
        .first(conn)
        .optional()
}

/// Ends every link of a provider (its issuer or client changed); returns
/// how many.
pub fn delete_identities_of(conn: &mut DbConn, provider_id: &str) -> QueryResult<usize> {
    diesel::delete(sso_identities::table.filter(sso_identities::provider_id.eq(provider_id)))
        .execute(conn)
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sso_flows)]
pub struct SsoFlow {
    pub id: String,
    pub state_hash: String,
    pub provider_id: String,
    pub nonce: String,
    /// AES-GCM under the master key, bound to the flow's id.
    pub pkce_verifier_sealed: String,
    pub redirect_uri: String,
    pub client_state: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub consumed_at: Option<NaiveDateTime>,
    /// The PKCE challenge (S256) the client sent to `authorize`, if any.
    pub client_code_challenge: Option<String>,
}

pub fn insert_flow(conn: &mut DbConn, flow: &SsoFlow) -> QueryResult<()> {
    diesel::insert_into(sso_flows::table)
        .values(flow)
        .execute(conn)
        .map(drop)
}

pub fn find_flow_by_state(conn: &mut DbConn, state_hash: &str) -> QueryResult<Option<SsoFlow>> {
    sso_flows::table
        .filter(sso_flows::state_hash.eq(state_hash))
        .select(SsoFlow::as_select())
        .first(conn)
        .optional()
}

/// Spends a live flow: 1 for the one caller that wins, 0 for the rest (and
/// for an expired flow).
pub fn consume_flow(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        sso_flows::table
            .filter(sso_flows::id.eq(id))
            .filter(sso_flows::consumed_at.is_null())
            .filter(sso_flows::expires_at.gt(now)),
    )
    .set(sso_flows::consumed_at.eq(now))
    .execute(conn)
}

/// Spends every open challenge that `provider_id` vouched for — login
/// codes, link tokens, and the MFA challenges and enrollment grants they
/// led to (the provider was changed or removed: what it said before does
/// not outlive the change). Returns how many.
pub fn consume_login_codes_of(
    conn: &mut DbConn,
    provider_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use super::schema::login_challenges;
    diesel::update(
        login_challenges::table
            .filter(login_challenges::provider_id.eq(provider_id))
            .filter(login_challenges::consumed_at.is_null()),
    )
    .set(login_challenges::consumed_at.eq(now))
    .execute(conn)
}

/// Deletes flows that expired before `before`; returns how many.
pub fn purge_expired_flows(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(sso_flows::table.filter(sso_flows::expires_at.lt(before))).execute(conn)
}
