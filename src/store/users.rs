//! `users`: people who sign in, with their second-factor failure counter.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::users;
use super::types::RoleRef;
use super::DbConn;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub account_id: String,
    pub sub_account_id: Option<String>,
    pub email: String,
    pub display_name: String,
    pub role: RoleRef,
    pub password_hash: String,
    pub disabled: bool,
    pub mfa_enabled_at: Option<NaiveDateTime>,
    pub mfa_failures: i32,
    pub mfa_locked_until: Option<NaiveDateTime>,
    pub last_login_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set by an administrator's Reset MFA, cleared when the user enrolls.
    pub mfa_reset_at: Option<NaiveDateTime>,
    /// The display name of the administrator who reset it.
    pub mfa_reset_by: Option<String>,
    /// MFA required of this user whatever their scope's policy.
    pub require_mfa: bool,
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub role: Option<RoleRef>,
    pub disabled: Option<bool>,
    pub require_mfa: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Filters of the administrators' user list.
#[derive(Default, Clone, Debug)]
pub struct UserFilter {
    pub mfa_enabled: Option<bool>,
    pub sub_account_id: Option<String>,
    pub role: Option<RoleRef>,
    pub q: Option<String>,
}

pub fn insert(conn: &mut DbConn, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The user `id` if it belongs to `account_id` (another tenant's is `None`).
pub fn find_in_account(conn: &mut DbConn, account_id: &str, id: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::id.eq(id))
        .filter(users::account_id.eq(account_id))
        .select(User::as_select())
        .first(conn)
        .optional()
}

fn filtered<'a>(
    account_id: &'a str,
    f: &'a UserFilter,
) -> users::BoxedQuery<'a, super::MultiBackend> {
    let mut query = users::table
        .filter(users::account_id.eq(account_id))
        .into_boxed();
    match f.mfa_enabled {
        Some(true) => query = query.filter(users::mfa_enabled_at.is_not_null()),
        Some(false) => query = query.filter(users::mfa_enabled_at.is_null()),
        None => {}
    }
    if let Some(sub) = &f.sub_account_id {
        query = query.filter(users::sub_account_id.eq(sub));
    }
    if let Some(role) = &f.role {
        query = query.filter(users::role.eq(role));
    }
    if let Some(q) = &f.q {
        let pattern = super::like_pattern(&q.to_lowercase());
        query = query.filter(
            users::email
                .like(pattern.clone())
                .escape('\\')
                .or(lower(users::display_name).like(pattern).escape('\\')),
        );
    }
    query
}

pub fn list(
    conn: &mut DbConn,
    account_id: &str,
    filter: &UserFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<User>, i64)> {
    let items = filtered(account_id, filter)
        .order((users::created_at.asc(), users::id.asc()))
        .limit(limit)
        .offset(offset)
        .select(User::as_select())
        .load(conn)?;
    let total = filtered(account_id, filter).count().get_result(conn)?;
    Ok((items, total))
}

pub fn update(conn: &mut DbConn, id: &str, changes: &UserChanges) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)
}

pub fn set_password(
    conn: &mut DbConn,
    id: &str,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(users::table.find(id)).execute(conn)
}

/// Active (not disabled) users of an account holding one of `roles`.
pub fn count_active_with_roles(
    conn: &mut DbConn,
    account_id: &str,
    roles: &[RoleRef],
) -> QueryResult<i64> {
    users::table
        .filter(users::account_id.eq(account_id))
        .filter(users::role.eq_any(roles))
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)
}

/// Users of an account holding `role`.
pub fn count_with_role(conn: &mut DbConn, account_id: &str, role: &RoleRef) -> QueryResult<i64> {
    users::table
        .filter(users::account_id.eq(account_id))
        .filter(users::role.eq(role))
        .count()
        .get_result(conn)
}

/// MFA on (`Some`) or off. Turning it on also clears an administrator's
/// reset mark: the user has enrolled again.
pub fn set_mfa_enabled_at(
    conn: &mut DbConn,
    id: &str,
    at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let target = users::table.find(id);
    if at.is_some() {
        diesel::update(target)
            .set((
                users::mfa_enabled_at.eq(at),
                users::mfa_reset_at.eq(None::<NaiveDateTime>),
                users::mfa_reset_by.eq(None::<String>),
            ))
            .execute(conn)
    } else {
        diesel::update(target)
            .set(users::mfa_enabled_at.eq(at))
            .execute(conn)
    }
}

/// Marks an administrator's (or the operator's) Reset MFA, shown to the
/// user until they enroll again.
pub fn mark_mfa_reset(
    conn: &mut DbConn,
    id: &str,
    at: NaiveDateTime,
    by: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set((users::mfa_reset_at.eq(at), users::mfa_reset_by.eq(by)))
        .execute(conn)
}

pub fn set_last_login(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(now))
        .execute(conn)
}

/// Takes the user's row lock for the rest of the transaction (a no-op
/// UPDATE): changes to one user's factors run one at a time.
pub fn lock(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::mfa_failures.eq(users::mfa_failures))
        .execute(conn)
}

/// [`lock`], and the row as it is under the lock, in one statement
/// (`UPDATE … RETURNING`); `None` when there is no such user.
pub fn lock_and_read(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    let update =
        diesel::update(users::table.find(id)).set(users::mfa_failures.eq(users::mfa_failures));
    match conn {
        DbConn::Postgres(pg) => update
            .returning(User::as_returning())
            .get_result(pg)
            .optional(),
        DbConn::Sqlite(lite) => update
            .returning(User::as_returning())
            .get_result(lite)
            .optional(),
    }
}

/// Takes the user's row lock for a second-factor attempt: succeeds (1) only
/// when the user is not locked out of the second step. Every second-factor
/// unit of work starts with this, so attempts of one user run one at a time.
pub fn lock_for_second_factor(
    conn: &mut DbConn,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(second_step_open(now)),
    )
    .set(users::mfa_failures.eq(users::mfa_failures))
    .execute(conn)
}

/// The user is not locked out of the second step at `now`.
fn second_step_open(
    now: NaiveDateTime,
) -> diesel::dsl::Or<
    diesel::dsl::IsNull<users::mfa_locked_until>,
    diesel::dsl::LtEq<users::mfa_locked_until, NaiveDateTime>,
> {
    users::mfa_locked_until
        .is_null()
        .or(users::mfa_locked_until.le(now))
}

/// [`lock_for_second_factor`] of the user a challenge (`kind`, `hash`)
/// belongs to, found by the same statement: 0 when there is no such
/// challenge or the user is locked out of the second step.
pub fn lock_for_second_factor_through_challenge(
    conn: &mut DbConn,
    kind: crate::store::types::ChallengeKind,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    use super::schema::login_challenges;
    let owner = login_challenges::table
        .filter(login_challenges::token_hash.eq(hash))
        .filter(login_challenges::kind.eq(kind))
        .select(login_challenges::user_id)
        .single_value();
    diesel::update(
        users::table
            .filter(users::id.nullable().eq(owner))
            .filter(second_step_open(now)),
    )
    .set(users::mfa_failures.eq(users::mfa_failures))
    .execute(conn)
}

/// Counts one failed second factor; returns the new consecutive count.
pub fn record_mfa_failure(conn: &mut DbConn, id: &str) -> QueryResult<i32> {
    diesel::update(users::table.find(id))
        .set(users::mfa_failures.eq(users::mfa_failures + 1))
        .execute(conn)?;
    users::table
        .find(id)
        .select(users::mfa_failures)
        .first(conn)
}

/// Locks the second step of a user until `until` (the count stays).
pub fn set_mfa_lock(conn: &mut DbConn, id: &str, until: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::mfa_locked_until.eq(Some(until)))
        .execute(conn)
}

pub fn reset_mfa_failures(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(
        users::table.find(id).filter(
            users::mfa_failures
                .ne(0)
                .or(users::mfa_locked_until.is_not_null()),
        ),
    )
    .set((
        users::mfa_failures.eq(0),
        users::mfa_locked_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}
