//! Change notices for the in-process principal cache (see
//! `domain::principals`): how a node hears that another node, or the CLI,
//! changed what a signed-in session is made of.
//!
//! - PostgreSQL: `NOTIFY` on [`CHANNEL`] inside the changing transaction
//!   (delivered when it commits, dropped when it rolls back), and a
//!   dedicated connection per node that `LISTEN`s.
//! - SQLite: `PRAGMA data_version` on a dedicated connection, which changes
//!   whenever any other connection (of this process or another) committed.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;

use super::DbConn;

/// The `LISTEN`/`NOTIFY` channel of principal changes.
pub const CHANNEL: &str = "latchkey_principals";

/// Announces `key` to every listening node when the current transaction
/// commits (at once outside one). Nothing to do on SQLite, where watchers
/// see every commit.
pub fn notify(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(pg) => PgNotify { key }.execute(pg).map(drop),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// `SELECT pg_notify(CHANNEL, key)` as a query type of its own, so that
/// diesel keeps its prepared statement per connection (a `sql_query` is
/// parsed and planned on every execution, and every login and every change
/// of a signed-in user sends one).
struct PgNotify<'a> {
    key: &'a str,
}

impl diesel::query_builder::QueryId for PgNotify<'_> {
    type QueryId = PgNotify<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<PgConnection> for PgNotify<'_> {}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for PgNotify<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("SELECT pg_notify(");
        out.push_bind_param::<Text, _>(&CHANNEL)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.key)?;
        out.push_sql(")");
        Ok(())
    }
}

/// A connection of its own that listens on [`CHANNEL`].
pub struct Listener(PgConnection);

impl Listener {
    pub fn open(url: &str) -> QueryResult<Listener> {
        let mut conn = PgConnection::establish(url).map_err(closed)?;
        conn.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        Ok(Listener(conn))
    }

    /// The notices received so far (never blocks).
    pub fn received(&mut self) -> QueryResult<Vec<String>> {
        self.0
            .notifications_iter()
            .map(|n| n.map(|n| n.payload))
            .collect()
    }

    /// One round trip, to tell a live listener from a dead one.
    pub fn ping(&mut self) -> QueryResult<()> {
        self.0.batch_execute("SELECT 1")
    }
}

fn closed(e: ConnectionError) -> diesel::result::Error {
    diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::ClosedConnection,
        Box::new(e.to_string()),
    )
}

/// A connection of its own to an SQLite file, to watch it for commits.
pub struct Watcher(SqliteConnection);

#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = BigInt)]
    data_version: i64,
}

impl Watcher {
    pub fn open(path: &Path) -> QueryResult<Watcher> {
        let mut conn = SqliteConnection::establish(&path.to_string_lossy()).map_err(closed)?;
        conn.batch_execute("PRAGMA busy_timeout = 1000;")?;
        Ok(Watcher(conn))
    }

    /// SQLite's `data_version`: different from the last value read here
    /// once any other connection has committed a change.
    pub fn data_version(&mut self) -> QueryResult<i64> {
        diesel::sql_query("PRAGMA data_version")
            .get_result::<DataVersion>(&mut self.0)
            .map(|v| v.data_version)
    }
}
