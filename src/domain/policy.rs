//! Who may do what, at which assurance: the permission table, the assurance
//! each action needs, and whether MFA is required for a user (the policy of
//! the user's scope). Every authorization decision goes through [`allows`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::store::users::User;
use crate::store::{accounts, sub_accounts, DbConn};

pub use crate::store::types::{Aal, Role};

/// Actions that need more than a live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the account and its policy.
    ViewAccount,
    /// Rename the account, turn Require MFA on or off.
    EditAccount,
    /// List users with their MFA state.
    ListUsers,
    /// Read, create, edit, disable and delete users.
    ManageUsers,
    /// Reset another user's MFA.
    ResetMfa,
    /// Create, edit and delete sub-accounts and their policies.
    ManageSubAccounts,
    /// Read the audit log.
    ViewAudit,
    /// Re-enroll TOTP, regenerate the recovery token, disable MFA (one's own).
    ManageOwnMfa,
}

/// The assurance an action needs besides the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assurance {
    /// Any live session.
    Any,
    /// An aal2 session when the actor has MFA (managing one's own factors:
    /// an aal1 session from before MFA was enabled must not mint new ones).
    Aal2IfMfa,
    /// An actor with MFA enabled now and an aal2 session (seed 004).
    MfaAndAal2,
}

/// The permission table: which roles hold a permission, at which assurance.
pub fn requirement(permission: Permission) -> (&'static [Role], Assurance) {
    use Permission::*;
    const ADMIN: &[Role] = &[Role::Administrator];
    const ADMIN_OR_MANAGER: &[Role] = &[Role::Administrator, Role::Manager];
    match permission {
        ViewAccount | EditAccount | ListUsers | ManageSubAccounts => {
            (ADMIN_OR_MANAGER, Assurance::Any)
        }
        ManageUsers | ViewAudit => (ADMIN, Assurance::Any),
        ResetMfa => (ADMIN, Assurance::MfaAndAal2),
        ManageOwnMfa => (&Role::ALL, Assurance::Aal2IfMfa),
    }
}

/// The one decision: may an actor with `role`, a session at `aal`, and MFA
/// enabled or not (`has_mfa`) do `permission`? The refusal says why:
/// `forbidden` for the role, `mfa_required_for_action` for the assurance.
pub fn allows(role: Role, aal: Aal, has_mfa: bool, permission: Permission) -> ApiResult<()> {
    let (roles, assurance) = requirement(permission);
    if !roles.contains(&role) {
        return Err(ApiError::Forbidden);
    }
    let assured = match assurance {
        Assurance::Any => true,
        Assurance::Aal2IfMfa => !has_mfa || aal == Aal::Aal2,
        Assurance::MfaAndAal2 => has_mfa && aal == Aal::Aal2,
    };
    if assured {
        Ok(())
    } else {
        Err(ApiError::MfaRequiredForAction)
    }
}

/// Roles a user of a sub-account (a client user) may hold: none that can
/// act on the account.
pub fn role_allowed_in_scope(role: Role, in_sub_account: bool) -> bool {
    !in_sub_account || !matches!(role, Role::Administrator | Role::Manager)
}

/// The role a client user holding an account role is demoted to.
pub const CLIENT_FALLBACK_ROLE: Role = Role::Editor;

/// Which policy makes MFA mandatory for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequiredBy {
    Account,
    SubAccount,
}

/// The rule itself, the only copy: the sub-account's policy covers
/// sub-account users (`sub_account_requires_mfa` is `Some` exactly for
/// them), the account's policy covers the account's own users.
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

/// [`required_by_flags`] for one user, reading the policy of their scope.
pub fn required_by(conn: &mut DbConn, user: &User) -> ApiResult<Option<RequiredBy>> {
    let account = accounts::find(conn, &user.account_id)?.is_some_and(|a| a.require_mfa);
    let sub = match &user.sub_account_id {
        Some(id) => Some(sub_accounts::find(conn, id)?.is_some_and(|s| s.require_mfa)),
        None => None,
    };
    Ok(required_by_flags(account, sub))
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
    fn only_administrators_with_mfa_at_aal2_reset_mfa() {
        for role in Role::ALL {
            let full = allows(role, Aal::Aal2, true, Permission::ResetMfa);
            if role == Role::Administrator {
                assert!(full.is_ok());
            } else {
                assert!(matches!(full, Err(ApiError::Forbidden)));
            }
        }
        let admin = Role::Administrator;
        for (aal, has_mfa) in [(Aal::Aal1, true), (Aal::Aal2, false), (Aal::Aal1, false)] {
            assert!(matches!(
                allows(admin, aal, has_mfa, Permission::ResetMfa),
                Err(ApiError::MfaRequiredForAction)
            ));
        }
        assert!(allows(Role::Manager, Aal::Aal1, false, Permission::EditAccount).is_ok());
        assert!(allows(Role::Editor, Aal::Aal2, true, Permission::ViewAccount).is_err());
    }

    #[test]
    fn managing_ones_own_mfa_needs_aal2_once_it_is_on() {
        for role in Role::ALL {
            assert!(allows(role, Aal::Aal1, false, Permission::ManageOwnMfa).is_ok());
            assert!(allows(role, Aal::Aal2, true, Permission::ManageOwnMfa).is_ok());
            assert!(matches!(
                allows(role, Aal::Aal1, true, Permission::ManageOwnMfa),
                Err(ApiError::MfaRequiredForAction)
            ));
        }
    }

    #[test]
    fn client_users_never_hold_account_roles() {
        for role in Role::ALL {
            assert!(role_allowed_in_scope(role, false));
            assert_eq!(
                role_allowed_in_scope(role, true),
                !matches!(role, Role::Administrator | Role::Manager)
            );
        }
        assert!(role_allowed_in_scope(CLIENT_FALLBACK_ROLE, true));
    }
}
