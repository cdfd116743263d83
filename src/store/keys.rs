//! `signing_keys`: Ed25519 keys of access tokens, private halves sealed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::signing_keys;
use super::DbConn;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub public_key: String,
    pub private_key_sealed: String,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, key: &SigningKeyRow) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(key)
        .execute(conn)
        .map(drop)
}

/// Keys that may still verify tokens: the current ones and those retired
/// after `retired_after`. Newest first; the first unretired one signs.
pub fn list_usable(
    conn: &mut DbConn,
    retired_after: NaiveDateTime,
) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .filter(
            signing_keys::retired_at
                .is_null()
                .or(signing_keys::retired_at.gt(retired_after)),
        )
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .select(SigningKeyRow::as_select())
        .load(conn)
}

/// Retires every current key but `kid`.
pub fn retire_others(conn: &mut DbConn, kid: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.ne(kid))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(Some(now)))
    .execute(conn)
}
