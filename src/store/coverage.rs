//! MFA coverage counts: one grouped query over an account's users.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::DbConn;

/// The counts of one scope: the account's own users (`sub_account_id`
/// `None`) or one sub-account's. Disabled users are left out.
#[derive(QueryableByName, Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeCounts {
    #[diesel(sql_type = Nullable<Text>)]
    pub sub_account_id: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub users: i64,
    /// With MFA of their own (TOTP or a passkey).
    #[diesel(sql_type = BigInt)]
    pub enrolled: i64,
    #[diesel(sql_type = BigInt)]
    pub totp: i64,
    #[diesel(sql_type = BigInt)]
    pub passkey: i64,
    /// Linked to an identity provider trusted for MFA.
    #[diesel(sql_type = BigInt)]
    pub sso_mfa: i64,
    /// Without MFA.
    #[diesel(sql_type = BigInt)]
    pub unenrolled: i64,
    /// Without MFA, and required of them by their own `require_mfa`.
    #[diesel(sql_type = BigInt)]
    pub unenrolled_flagged: i64,
}

fn query(placeholder: &str) -> String {
    format!(
        "SELECT u.sub_account_id AS sub_account_id, \
           COUNT(*) AS users, \
           SUM(CASE WHEN u.mfa_enabled_at IS NOT NULL THEN 1 ELSE 0 END) AS enrolled, \
           SUM(CASE WHEN EXISTS (SELECT 1 FROM totp_credentials t \
                 WHERE t.user_id = u.id AND t.status = 'active') THEN 1 ELSE 0 END) AS totp, \
           SUM(CASE WHEN EXISTS (SELECT 1 FROM passkeys p \
                 WHERE p.user_id = u.id) THEN 1 ELSE 0 END) AS passkey, \
           SUM(CASE WHEN EXISTS (SELECT 1 FROM sso_identities s \
                 JOIN identity_providers i ON i.id = s.provider_id \
                 WHERE s.user_id = u.id AND i.trust_idp_mfa = TRUE) THEN 1 ELSE 0 END) AS sso_mfa, \
           SUM(CASE WHEN u.mfa_enabled_at IS NULL THEN 1 ELSE 0 END) AS unenrolled, \
           SUM(CASE WHEN u.mfa_enabled_at IS NULL AND u.require_mfa = TRUE \
                 THEN 1 ELSE 0 END) AS unenrolled_flagged \
         FROM users u \
         WHERE u.account_id = {placeholder} AND u.disabled = FALSE \
         GROUP BY u.sub_account_id"
    )
}

/// The counts of every scope of `account_id` that has enabled users (one
/// query: the account's users by its index, each user's factors by theirs).
pub fn by_scope(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<ScopeCounts>> {
    match conn {
        DbConn::Postgres(pg) => diesel::sql_query(query("$1"))
            .bind::<Text, _>(account_id)
            .load(pg),
        DbConn::Sqlite(lite) => diesel::sql_query(query("?"))
            .bind::<Text, _>(account_id)
            .load(lite),
    }
}
