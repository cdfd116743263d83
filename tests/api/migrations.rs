//! The two migration folders describe one schema: the same migrations, and
//! the same SQL once comments and layout are set aside. A dialect difference
//! that is necessary gets its own rewrite in `normalise`, with the reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn migrations_dir(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
}

fn migration_names(backend: &str) -> BTreeSet<String> {
    std::fs::read_dir(migrations_dir(backend))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The SQL without `--` comments, with runs of whitespace made one space,
/// and the one dialect difference written as SQLite says it: "now in UTC"
/// is `CURRENT_TIMESTAMP` there and `(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')`
/// on PostgreSQL (whose `CURRENT_TIMESTAMP` would be converted to the
/// session's time zone when stored in a `TIMESTAMP` column).
fn normalise(sql: &str) -> String {
    sql.replace(
        "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')",
        "CURRENT_TIMESTAMP",
    )
    .lines()
    .map(|line| line.split_once("--").map_or(line, |(code, _)| code))
    .collect::<Vec<_>>()
    .join("\n")
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ")
}

fn read(backend: &str, migration: &str, file: &str) -> String {
    let path = migrations_dir(backend).join(migration).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sqlite_and_postgres_migrations_are_the_same() {
    let sqlite = migration_names("sqlite");
    let postgres = migration_names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same migrations"
    );
    for migration in &sqlite {
        for file in ["up.sql", "down.sql"] {
            let (s, p) = (
                normalise(&read("sqlite", migration, file)),
                normalise(&read("postgres", migration, file)),
            );
            assert!(!s.is_empty(), "{migration}/{file} is empty");
            if s != p {
                let (s_stmts, p_stmts): (Vec<_>, Vec<_>) =
                    (s.split(';').collect(), p.split(';').collect());
                let first = s_stmts
                    .iter()
                    .zip(&p_stmts)
                    .find(|(a, b)| a != b)
                    .map(|(a, b)| format!("sqlite:   {}\npostgres: {}", a.trim(), b.trim()))
                    .unwrap_or_else(|| "one file has more statements".into());
                panic!(
                    "{migration}/{file} differs between the backends; first difference:\n{first}"
                );
            }
        }
    }
}

#[test]
fn normalise_ignores_comments_and_layout_only() {
    assert_eq!(
        normalise("-- head\nCREATE TABLE t (\n    a TEXT -- why\n);\n"),
        "CREATE TABLE t ( a TEXT );"
    );
    assert_ne!(normalise("a TEXT"), normalise("a BIGINT"));
    assert_eq!(
        normalise("SELECT (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')"),
        normalise("SELECT CURRENT_TIMESTAMP")
    );
}
