//! `passkeys` (a user's WebAuthn credentials) and `webauthn_ceremonies`
//! (registrations and assertions in progress, any node finishing them).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{passkeys, webauthn_ceremonies};
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    /// base64url of the credential id.
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey` as JSON (public key and counter).
    pub passkey: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub backed_up: bool,
}

pub fn insert(conn: &mut DbConn, row: &PasskeyRow) -> QueryResult<()> {
    diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// A user's passkeys, oldest first.
pub fn of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order((passkeys::created_at, passkeys::id))
        .select(PasskeyRow::as_select())
        .load(conn)
}

pub fn count_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<i64> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

pub fn find_by_credential(
    conn: &mut DbConn,
    credential_id: &str,
) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_of_user(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::id.eq(id))
        .filter(passkeys::user_id.eq(user_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn rename(conn: &mut DbConn, id: &str, name: &str) -> QueryResult<usize> {
    diesel::update(passkeys::table.find(id))
        .set(passkeys::name.eq(name))
        .execute(conn)
}

/// After an assertion: the new counter and backup state, and when.
pub fn record_use(
    conn: &mut DbConn,
    id: &str,
    passkey: &str,
    backed_up: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(passkeys::table.find(id))
        .set((
            passkeys::passkey.eq(passkey),
            passkeys::backed_up.eq(backed_up),
            passkeys::last_used_at.eq(now),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(passkeys::table.find(id)).execute(conn)
}

pub fn delete_all(conn: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)?;
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::user_id.eq(user_id)))
        .execute(conn)
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = webauthn_ceremonies)]
pub struct Ceremony {
    pub id: String,
    /// `registration`, `second_factor` or `passwordless`.
    pub kind: String,
    pub user_id: Option<String>,
    /// The session, enrollment challenge or MFA challenge it belongs to.
    pub bound_to: Option<String>,
    /// webauthn-rs's ceremony state as JSON.
    pub state: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub consumed_at: Option<NaiveDateTime>,
}

pub fn insert_ceremony(conn: &mut DbConn, row: &Ceremony) -> QueryResult<()> {
    diesel::insert_into(webauthn_ceremonies::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Spends a live ceremony of `kind` (bound to `bound_to`, when given): the
/// row for the one caller that wins, in one statement.
pub fn spend_ceremony(
    conn: &mut DbConn,
    id: &str,
    kind: &str,
    bound_to: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<Option<Ceremony>> {
    let target = webauthn_ceremonies::table
        .filter(webauthn_ceremonies::id.eq(id))
        .filter(webauthn_ceremonies::kind.eq(kind))
        .filter(webauthn_ceremonies::consumed_at.is_null())
        .filter(webauthn_ceremonies::expires_at.gt(now))
        .into_boxed();
    let target = match bound_to {
        Some(bound) => target.filter(webauthn_ceremonies::bound_to.eq(bound.to_string())),
        None => target,
    };
    let ids: Vec<String> = target.select(webauthn_ceremonies::id).load(conn)?;
    let Some(found) = ids.into_iter().next() else {
        return Ok(None);
    };
    let spend = diesel::update(
        webauthn_ceremonies::table
            .filter(webauthn_ceremonies::id.eq(found))
            .filter(webauthn_ceremonies::consumed_at.is_null()),
    )
    .set(webauthn_ceremonies::consumed_at.eq(now));
    match conn {
        DbConn::Postgres(pg) => spend
            .returning(Ceremony::as_returning())
            .get_result(pg)
            .optional(),
        DbConn::Sqlite(lite) => spend
            .returning(Ceremony::as_returning())
            .get_result(lite)
            .optional(),
    }
}

/// The live ceremony bound to `bound_to` of `kind` (the second step's
/// passkey request, read with its challenge).
pub fn live_bound(
    conn: &mut DbConn,
    kind: &str,
    bound_to: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<Ceremony>> {
    webauthn_ceremonies::table
        .filter(webauthn_ceremonies::kind.eq(kind))
        .filter(webauthn_ceremonies::bound_to.eq(bound_to))
        .filter(webauthn_ceremonies::consumed_at.is_null())
        .filter(webauthn_ceremonies::expires_at.gt(now))
        .order(webauthn_ceremonies::created_at.desc())
        .select(Ceremony::as_select())
        .first(conn)
        .optional()
}

/// Deletes ceremonies that ended before `before`.
pub fn purge(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.lt(before)))
        .execute(conn)
}
