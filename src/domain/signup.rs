//! Sign-up: a new account (tenant) with its first administrator.

use super::audit::{self, Event};
use super::policy::Role;
use super::Ctx;
use crate::error::ApiResult;
use crate::store::accounts::{self as account_store, Account};
use crate::store::users::User;
use crate::store::{write_tx, DbConn};

/// Validated sign-up input; the password is already hashed.
pub struct NewAccount {
    pub account_name: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
}

/// Creates the account and its administrator in one transaction: either
/// both exist afterwards or neither does.
pub fn create_account(
    conn: &mut DbConn,
    input: NewAccount,
    ctx: &Ctx,
) -> ApiResult<(Account, User)> {
    let account = Account {
        id: super::new_id(),
        name: input.account_name,
        require_mfa: false,
        created_at: ctx.now,
    };
    let user = super::admin::NewUser {
        email: input.email,
        display_name: input.display_name,
        role: Role::Administrator.into(),
        password_hash: input.password_hash,
        sub_account_id: None,
    }
    .into_user(&account.id, ctx.now);
    write_tx(conn, |conn| -> ApiResult<()> {
        account_store::insert(conn, &account)?;
        super::admin::insert_user(conn, &user)?;
        audit::record(
            conn,
            ctx,
            Event::own(audit::USER_CREATED, &account.id, &user.id)
                .with(serde_json::json!({"role": user.role, "via": "sign_up"})),
        )?;
        Ok(())
    })?;
    Ok((account, user))
}
