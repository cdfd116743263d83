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
    /// webauthn-rs's `Passkey` as JSON, as registered (the public key);
    /// the counter and backup state of later uses are the columns.
    pub passkey: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub backed_up: bool,
    /// The signature counter of the last accepted assertion (0: the
    /// authenticator keeps none).
    pub sign_count: i64,
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

/// An accepted assertion of `user_id`'s credential, in one conditional
/// statement: the counter must move forward from the last accepted use
/// (or stay 0 on an authenticator that keeps none). 0 rows when it did not
/// (a cloned authenticator?) or the passkey is gone.
pub fn record_use(
    conn: &mut DbConn,
    user_id: &str,
    credential_id: &str,
    counter: u32,
    backed_up: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let counter = i64::from(counter);
    let target = passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .filter(passkeys::user_id.eq(user_id));
    let set = (
        passkeys::sign_count.eq(counter),
        passkeys::backed_up.eq(backed_up),
        passkeys::last_used_at.eq(now),
    );
    if counter == 0 {
        diesel::update(target.filter(passkeys::sign_count.eq(0)))
            .set(set)
            .execute(conn)
    } else {
        diesel::update(target.filter(passkeys::sign_count.lt(counter)))
            .set(set)
            .execute(conn)
    }
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
    /// `registration`, `step_up` or `passwordless`.
    pub kind: String,
    pub user_id: Option<String>,
    /// The session or enrollment challenge it belongs to (a sign-in's
    /// second step keeps its state with the MFA challenge instead).
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

/// `UPDATE … SET consumed_at = now WHERE id = ($id) AND consumed_at IS
/// NULL RETURNING *` on either backend (RETURNING needs the concrete one).
macro_rules! spend_returning {
    ($conn:expr, $id:expr, $now:expr) => {{
        let spend = diesel::update(
            webauthn_ceremonies::table
                .filter(webauthn_ceremonies::id.nullable().eq($id))
                .filter(webauthn_ceremonies::consumed_at.is_null()),
        )
        .set(webauthn_ceremonies::consumed_at.eq($now));
        match $conn {
            DbConn::Postgres(pg) => spend
                .returning(Ceremony::as_returning())
                .get_result(pg)
                .optional(),
            DbConn::Sqlite(lite) => spend
                .returning(Ceremony::as_returning())
                .get_result(lite)
                .optional(),
        }
    }};
}

/// Which ceremony to spend.
#[derive(Clone, Copy, Debug)]
pub enum Spend<'a> {
    /// The one with this id (passwordless: the client holds the id).
    Id(&'a str),
    /// The newest bound to this session or challenge.
    BoundTo(&'a str),
}

/// Spends a live ceremony of `kind` and returns it, in one statement: the
/// row for the one caller that wins.
pub fn spend_ceremony(
    conn: &mut DbConn,
    kind: &str,
    which: Spend,
    now: NaiveDateTime,
) -> QueryResult<Option<Ceremony>> {
    // The subquery reads the table under another name: SQL would bind its
    // columns to the nearest table anyway; diesel wants it said.
    diesel::alias!(webauthn_ceremonies as live: LiveCeremonies);
    let candidates = live
        .filter(live.field(webauthn_ceremonies::kind).eq(kind))
        .filter(live.field(webauthn_ceremonies::consumed_at).is_null())
        .filter(live.field(webauthn_ceremonies::expires_at).gt(now));
    match which {
        Spend::Id(id) => {
            let one = candidates
                .filter(live.field(webauthn_ceremonies::id).eq(id))
                .select(live.field(webauthn_ceremonies::id))
                .single_value();
            spend_returning!(conn, one, now)
        }
        Spend::BoundTo(bound) => {
            let newest = candidates
                .filter(live.field(webauthn_ceremonies::bound_to).eq(bound))
                .order((
                    live.field(webauthn_ceremonies::created_at).desc(),
                    live.field(webauthn_ceremonies::id).desc(),
                ))
                .select(live.field(webauthn_ceremonies::id))
                .single_value();
            spend_returning!(conn, newest, now)
        }
    }
}

/// Gives a ceremony spent by this transaction back (a refused assertion
/// may be tried again, as a wrong code may).
pub fn reopen_ceremony(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::update(webauthn_ceremonies::table.find(id))
        .set(webauthn_ceremonies::consumed_at.eq(None::<NaiveDateTime>))
        .execute(conn)
}

/// Deletes ceremonies that ended before `before`.
pub fn purge(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(webauthn_ceremonies::table.filter(webauthn_ceremonies::expires_at.lt(before)))
        .execute(conn)
}
