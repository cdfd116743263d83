//! `sessions`: one row per signed-in device; access tokens name it in `sid`.

use chrono::NaiveDateTime;
use diesel::dsl;
use diesel::dsl::AsSelect as SelectBy;
use diesel::prelude::*;

use super::schema::{accounts, recovery_tokens, roles, sessions, sub_accounts, users};
use super::types::{Aal, Amr, Method, MfaMethods};
use super::users::User;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    /// What was proven in the session; its assurance level follows.
    pub amr: Amr,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    /// When a second factor was last proven in this session (at sign-in
    /// or a step-up); `None` for a password or remembered-device session.
    pub factor_at: Option<NaiveDateTime>,
}

impl Session {
    /// The assurance level, derived from `amr` (never stored beside it).
    pub fn aal(&self) -> Aal {
        self.amr.aal()
    }

    /// Not revoked, not past its absolute expiry, used after `idle_cutoff`:
    /// what [`find_live_context`] asks of the row, for a row already read.
    pub fn is_live(&self, now: NaiveDateTime, idle_cutoff: NaiveDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now && self.last_used_at > idle_cutoff
    }
}

/// Stores a new session whose refresh chain starts at `generation` with
/// the token that hashes to `refresh_hash` (see `refresh_tokens`).
pub fn insert(
    conn: &mut DbConn,
    session: &Session,
    generation: i64,
    refresh_hash: &str,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            session,
            sessions::refresh_hash.eq(refresh_hash),
            sessions::refresh_generation.eq(generation),
            sessions::refresh_chain_start.eq(generation),
        ))
        .execute(conn)
        .map(drop)
}

/// A live session (not revoked, not past its absolute expiry, not idle since
/// `idle_cutoff`) with its enabled user: the one query behind every
/// authenticated request.
pub fn find_live_with_user(
    conn: &mut DbConn,
    id: &str,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
) -> QueryResult<Option<(Session, User)>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_used_at.gt(idle_cutoff))
        .filter(users::disabled.eq(false))
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()
}

/// What an authenticated request knows after its one query: the live
/// session, its user, the policies of the user's scope, and the user's
/// recovery token.
#[derive(Clone, Debug)]
pub struct SessionContext {
    pub session: Session,
    pub user: User,
    pub account_requires_mfa: bool,
    pub sub_account_requires_mfa: Option<bool>,
    pub account_require_mfa_from: Option<NaiveDateTime>,
    pub sub_account_require_mfa_from: Option<NaiveDateTime>,
    pub account_mfa_methods: MfaMethods,
    pub sub_account_mfa_methods: Option<MfaMethods>,
    pub recovery_created_at: Option<NaiveDateTime>,
    pub recovery_used_at: Option<NaiveDateTime>,
    /// The permissions text of the user's custom role (None for built-ins).
    pub custom_role_permissions: Option<String>,
}

/// [`find_live_with_user`] plus policy and recovery-token state, in one
/// indexed query (primary-key joins only).
pub fn find_live_context(
    conn: &mut DbConn,
    id: &str,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
) -> QueryResult<Option<SessionContext>> {
    let row = sessions::table
        .inner_join(
            users::table
                .inner_join(accounts::table)
                .left_join(sub_accounts::table)
                .left_join(recovery_tokens::table)
                .left_join(
                    roles::table.on(roles::id
                        .eq(users::role)
                        .and(roles::account_id.eq(users::account_id))),
                ),
        )
        .filter(sessions::id.eq(id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_used_at.gt(idle_cutoff))
        .filter(users::disabled.eq(false))
        .select(context_select())
        .first::<ContextRow>(conn)
        .optional()?;
    Ok(row.map(SessionContext::from))
}

/// The columns of a [`SessionContext`], in order (also the select list of
/// the PostgreSQL refresh rotation, which returns the context itself).
pub fn context_select<DB: diesel::backend::Backend>() -> ContextSelect<DB>
where
    Session: Selectable<DB>,
    User: Selectable<DB>,
{
    (
        Session::as_select(),
        User::as_select(),
        accounts::require_mfa,
        sub_accounts::require_mfa.nullable(),
        accounts::require_mfa_from,
        sub_accounts::require_mfa_from.nullable(),
        accounts::mfa_methods,
        sub_accounts::mfa_methods.nullable(),
        recovery_tokens::created_at.nullable(),
        recovery_tokens::used_at.nullable(),
        roles::permissions.nullable(),
    )
}

/// The expression [`context_select`] returns.
pub type ContextSelect<DB> = (
    SelectBy<Session, DB>,
    SelectBy<User, DB>,
    accounts::require_mfa,
    dsl::Nullable<sub_accounts::require_mfa>,
    accounts::require_mfa_from,
    dsl::Nullable<sub_accounts::require_mfa_from>,
    accounts::mfa_methods,
    dsl::Nullable<sub_accounts::mfa_methods>,
    dsl::Nullable<recovery_tokens::created_at>,
    dsl::Nullable<recovery_tokens::used_at>,
    dsl::Nullable<roles::permissions>,
);

/// The SQL types of [`context_select`] on PostgreSQL.
pub type ContextSqlType = (
    SelectBy<Session, diesel::pg::Pg>,
    SelectBy<User, diesel::pg::Pg>,
    diesel::sql_types::Bool,
    diesel::sql_types::Nullable<diesel::sql_types::Bool>,
    diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
    diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
    diesel::sql_types::Text,
    diesel::sql_types::Nullable<diesel::sql_types::Text>,
    diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
    diesel::sql_types::Nullable<diesel::sql_types::Timestamp>,
    diesel::sql_types::Nullable<diesel::sql_types::Text>,
);

/// A row of [`context_select`].
pub type ContextRow = (
    Session,
    User,
    bool,
    Option<bool>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    MfaMethods,
    Option<MfaMethods>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<String>,
);

impl From<ContextRow> for SessionContext {
    fn from(
        (
            session,
            user,
            account_requires_mfa,
            sub_account_requires_mfa,
            account_require_mfa_from,
            sub_account_require_mfa_from,
            account_mfa_methods,
            sub_account_mfa_methods,
            recovery_created_at,
            recovery_used_at,
            custom_role_permissions,
        ): ContextRow,
    ) -> Self {
        SessionContext {
            session,
            user,
            account_requires_mfa,
            sub_account_requires_mfa,
            account_require_mfa_from,
            sub_account_require_mfa_from,
            account_mfa_methods,
            sub_account_mfa_methods,
            recovery_created_at,
            recovery_used_at,
            custom_role_permissions,
        }
    }
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .find(id)
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// The user's sessions that are still live, newest first.
pub fn list_live_for_user(
    conn: &mut DbConn,
    user_id: &str,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<Session>, i64)> {
    let live = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_used_at.gt(idle_cutoff));
    let items = live
        .order((sessions::created_at.desc(), sessions::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(Session::as_select())
        .load(conn)?;
    let total = live.count().get_result(conn)?;
    Ok((items, total))
}

/// Marks the last use (refresh) of a session.
pub fn touch(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_used_at.eq(now))
        .execute(conn)
}

/// Revokes one session of a user; 0 when there is no such live session.
pub fn revoke(
    conn: &mut DbConn,
    user_id: &str,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)
}

/// Revokes every session of a user, except `keep` when given.
pub fn revoke_all_for_user(
    conn: &mut DbConn,
    user_id: &str,
    keep: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let target = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::id.ne(keep.unwrap_or("")));
    diesel::update(target)
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
}

/// Sets a session's methods (a second factor proven in it).
/// A session's new `amr`, a factor proven in it now (`factor_at`).
pub fn set_assurance(
    conn: &mut DbConn,
    id: &str,
    amr: &Amr,
    factor_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .set((sessions::amr.eq(amr), sessions::factor_at.eq(factor_at)))
        .execute(conn)
}

/// A passwordless session whose holder has just proved the password (in
/// the request that turns MFA off): it goes on as a password session, `pwd`
/// alone, rather than end with the passkey it was opened by.
pub fn rebase_on_password(conn: &mut DbConn, session_id: &str) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::amr.like(format!("{}%", Method::Hwk.as_str()))),
    )
    .set((
        sessions::amr.eq(Amr::of(&[Method::Pwd])),
        sessions::factor_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}

/// Drops every live session of a user to its first factor alone (their
/// second factor is gone, so no session lists one): aal1.
pub fn downgrade_all_for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    let mut downgraded = 0;
    // A passwordless session has no first factor to fall back to: it ends.
    // (A revocation time is needed: the row's own last use will do.)
    downgraded += diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::amr.like(format!("{}%", Method::Hwk.as_str()))),
    )
    .set(sessions::revoked_at.eq(sessions::last_used_at.nullable()))
    .execute(conn)?;
    for first in [Method::Pwd, Method::Sso] {
        downgraded += diesel::update(
            sessions::table
                .filter(sessions::user_id.eq(user_id))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::amr.like(format!("{} %", first.as_str()))),
        )
        .set((
            sessions::amr.eq(Amr::of(&[first])),
            sessions::factor_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    }
    Ok(downgraded)
}

/// Deletes sessions revoked or expired before `before`, with their refresh
/// tokens from before chains; returns how many sessions.
pub fn purge_dead(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    use super::schema::refresh_tokens;
    let dead = || {
        sessions::table.filter(
            sessions::revoked_at
                .lt(before)
                .or(sessions::expires_at.lt(before)),
        )
    };
    diesel::delete(
        refresh_tokens::table
            .filter(refresh_tokens::session_id.eq_any(dead().select(sessions::id))),
    )
    .execute(conn)?;
    diesel::delete(dead()).execute(conn)
}
