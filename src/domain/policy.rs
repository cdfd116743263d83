//! Who may do what: roles, the permission table, and whether MFA is required
//! for a user (the policy of the user's scope).

use diesel::QueryResult;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::users::User;
use crate::store::{accounts, sub_accounts, DbConn};

/// A user's role in their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Administrator,
    Manager,
    Editor,
    Creator,
    Lite,
    ReadOnly,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Administrator,
        Role::Manager,
        Role::Editor,
        Role::Creator,
        Role::Lite,
        Role::ReadOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Manager => "manager",
            Role::Editor => "editor",
            Role::Creator => "creator",
            Role::Lite => "lite",
            Role::ReadOnly => "read_only",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// Administrative actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the account and its policy.
    ViewAccount,
    /// Rename the account, turn Require MFA on or off.
    EditAccount,
    /// List and read users with their MFA state.
    ListUsers,
    /// Create, edit, disable and delete users.
    ManageUsers,
    /// Reset a user's MFA (also needs an aal2 session).
    ResetMfa,
    /// Create, edit and delete sub-accounts and their policies.
    ManageSubAccounts,
    /// Read the audit log.
    ViewAudit,
}

/// The permission table: the one place that decides.
pub fn allows(role: Role, permission: Permission) -> bool {
    use Permission::*;
    match role {
        Role::Administrator => true,
        Role::Manager => matches!(
            permission,
            ViewAccount | EditAccount | ListUsers | ManageSubAccounts
        ),
        Role::Editor | Role::Creator | Role::Lite | Role::ReadOnly => false,
    }
}

/// Which policy makes MFA mandatory for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequiredBy {
    Account,
    SubAccount,
}

/// The rule itself: the sub-account's policy covers sub-account users
/// (`sub_account_requires_mfa` is `Some` exactly for them), the account's
/// policy covers the account's own users.
pub fn required_by_flags(
    account_requires_mfa: bool,
    sub_account_requires_mfa: Option<bool>,
) -> Option<RequiredBy> {
    match sub_account_requires_mfa {
        Some(true) => Some(RequiredBy::SubAccount),
        Some(false) => None,
        None => account_requires_mfa.then_some(RequiredBy::Account),
    }
}

/// The policy of the user's scope: the sub-account's for sub-account users,
/// the account's for the account's own users.
pub fn required_by(conn: &mut DbConn, user: &User) -> QueryResult<Option<RequiredBy>> {
    match &user.sub_account_id {
        Some(sub_id) => Ok(sub_accounts::find(conn, sub_id)?
            .filter(|s| s.require_mfa)
            .map(|_| RequiredBy::SubAccount)),
        None => Ok(accounts::find(conn, &user.account_id)?
            .filter(|a| a.require_mfa)
            .map(|_| RequiredBy::Account)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn the_scope_decides_which_policy_applies() {
        assert_eq!(required_by_flags(false, None), None);
        assert_eq!(required_by_flags(true, None), Some(RequiredBy::Account));
        // Sub-account users follow their sub-account, never the account.
        assert_eq!(required_by_flags(true, Some(false)), None);
        assert_eq!(
            required_by_flags(false, Some(true)),
            Some(RequiredBy::SubAccount)
        );
    }

    #[test]
    fn only_administrators_reset_mfa() {
        for role in Role::ALL {
            assert_eq!(
                allows(role, Permission::ResetMfa),
                role == Role::Administrator
            );
        }
        assert!(allows(Role::Manager, Permission::EditAccount));
        assert!(!allows(Role::Editor, Permission::ViewAccount));
    }
}
