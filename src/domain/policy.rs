//! Who may do what, at which assurance: the permission table, the assurance
//! each action needs, and whether MFA is required for a user (the policy of
//! the user's scope). Every authorization decision goes through [`allows`].

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::store::roles as role_store;
use crate::store::users::User;
use crate::store::DbConn;

pub use super::requirement::{
    check_deadline, methods_flags, methods_for, mfa_requirement, requirement_of, scope_rules,
    RequiredBy, Requirement, ScopePolicy, ScopeRules,
};
pub use crate::store::types::{Aal, Amr, Method, Role, RoleRef};

/// The named permissions a role is made of (`GET /api/v1/permissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Permission {
    #[serde(rename = "account.manage")]
    AccountManage,
    #[serde(rename = "account.policy")]
    AccountPolicy,
    #[serde(rename = "users.view")]
    UsersView,
    #[serde(rename = "users.manage")]
    UsersManage,
    #[serde(rename = "users.reset_mfa")]
    UsersResetMfa,
    #[serde(rename = "sub_accounts.manage")]
    SubAccountsManage,
    #[serde(rename = "audit.view")]
    AuditView,
    #[serde(rename = "roles.manage")]
    RolesManage,
    #[serde(rename = "sso.manage")]
    SsoManage,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::AccountManage,
        Permission::AccountPolicy,
        Permission::UsersView,
        Permission::UsersManage,
        Permission::UsersResetMfa,
        Permission::SubAccountsManage,
        Permission::AuditView,
        Permission::RolesManage,
        Permission::SsoManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::AccountManage => "account.manage",
            Permission::AccountPolicy => "account.policy",
            Permission::UsersView => "users.view",
            Permission::UsersManage => "users.manage",
            Permission::UsersResetMfa => "users.reset_mfa",
            Permission::SubAccountsManage => "sub_accounts.manage",
            Permission::AuditView => "audit.view",
            Permission::RolesManage => "roles.manage",
            Permission::SsoManage => "sso.manage",
        }
    }

    pub fn parse(text: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// What the permission allows, as `GET /api/v1/permissions` shows it.
    pub fn description(self) -> &'static str {
        match self {
            Permission::AccountManage => "Read the account and rename it.",
            Permission::AccountPolicy => "Turn \"Require MFA\" on or off for the account.",
            Permission::UsersView => "List users with their MFA state.",
            Permission::UsersManage => "Read, create, edit, disable and delete users and give them roles.",
            Permission::UsersResetMfa => "Reset a user's MFA (also needs users.view, MFA on the acting user and an aal2 session).",
            Permission::SubAccountsManage => "Create, edit and delete sub-accounts and their MFA policies.",
            Permission::AuditView => "Read the audit log.",
            Permission::RolesManage => "Create, edit and delete custom roles.",
            Permission::SsoManage => "Connect and configure single sign-on identity providers.",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of permissions (what one role holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions(u16);

impl Permissions {
    pub const NONE: Permissions = Permissions(0);

    pub fn all() -> Permissions {
        Permission::ALL.into_iter().collect()
    }

    pub fn contains(self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    /// Whether every permission of `other` is in this set.
    pub fn covers(self, other: Permissions) -> bool {
        other.0 & !self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }

    /// The stored form: names separated by spaces.
    pub fn to_text(self) -> String {
        self.iter()
            .map(Permission::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The stored form read back; unknown names (none are ever written) are
    /// ignored, never granted.
    pub fn from_text(text: &str) -> Permissions {
        text.split_whitespace()
            .filter_map(Permission::parse)
            .collect()
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Permissions(iter.into_iter().fold(0, |bits, p| bits | p.bit()))
    }
}

/// The permissions of a built-in role (today's table: administrators hold
/// everything, managers the account, its policy, the user list and
/// sub-accounts, the other roles nothing administrative).
pub fn builtin(role: Role) -> Permissions {
    use Permission::*;
    match role {
        Role::Administrator => Permissions::all(),
        Role::Manager => [AccountManage, AccountPolicy, UsersView, SubAccountsManage]
            .into_iter()
            .collect(),
        Role::Editor | Role::Creator | Role::Lite | Role::ReadOnly => Permissions::NONE,
    }
}

/// What a route or a unit of work asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the account and its policy.
    ViewAccount,
    /// Rename the account.
    RenameAccount,
    /// Turn Require MFA on or off.
    ChangeAccountPolicy,
    /// List users with their MFA state.
    ListUsers,
    /// Read, create, edit, disable and delete users.
    ManageUsers,
    /// Act on another user's MFA: reset it, require it, forget their
    /// remembered devices.
    ResetMfa,
    /// Create, edit and delete sub-accounts.
    ManageSubAccounts,
    /// Change a sub-account's MFA policy.
    ChangeSubAccountPolicy,
    /// Change a user's role.
    AssignRole,
    /// Read the audit log.
    ViewAudit,
    /// Create, edit and delete custom roles.
    ManageRoles,
    /// Connect and configure single sign-on identity providers.
    ManageSso,
    /// Re-enroll TOTP, regenerate the recovery token, disable MFA (one's own).
    ManageOwnMfa,
}

/// Which permissions an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    AllOf(&'static [Permission]),
    AnyOf(&'static [Permission]),
}

/// The assurance an action needs besides the permissions.
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

/// The table: what each action needs, as data.
pub fn requirement(action: Action) -> (Need, Assurance) {
    use Permission::*;
    match action {
        Action::ViewAccount => (Need::AnyOf(&[AccountManage, AccountPolicy]), Assurance::Any),
        Action::RenameAccount => (Need::AllOf(&[AccountManage]), Assurance::Any),
        Action::ChangeAccountPolicy => (Need::AllOf(&[AccountPolicy]), Assurance::Any),
        Action::ListUsers => (Need::AllOf(&[UsersView]), Assurance::Any),
        Action::ManageUsers => (Need::AllOf(&[UsersManage]), Assurance::Any),
        Action::ResetMfa => (
            Need::AllOf(&[UsersView, UsersResetMfa]),
            Assurance::MfaAndAal2,
        ),
        Action::ManageSubAccounts => (Need::AllOf(&[SubAccountsManage]), Assurance::Any),
        Action::ChangeSubAccountPolicy => (Need::AllOf(&[SubAccountsManage]), Assurance::Any),
        Action::AssignRole => (Need::AllOf(&[UsersManage]), Assurance::Any),
        Action::ViewAudit => (Need::AllOf(&[AuditView]), Assurance::Any),
        Action::ManageRoles => (Need::AllOf(&[RolesManage]), Assurance::Any),
        Action::ManageSso => (Need::AllOf(&[SsoManage]), Assurance::Any),
        Action::ManageOwnMfa => (Need::AllOf(&[]), Assurance::Aal2IfMfa),
    }
}

/// How long a factor proven in a session (at sign-in or a step-up) lets
/// it make the changes of [`needs_step_up`].
pub const STEP_UP_WINDOW: Duration = Duration::minutes(10);

/// The changes that need a factor proven in this session within
/// [`STEP_UP_WINDOW`]: others' MFA, roles, identity providers and the MFA
/// policies. (Reading them does not.)
pub fn needs_step_up(action: Action) -> bool {
    matches!(
        action,
        Action::ResetMfa
            | Action::ManageRoles
            | Action::AssignRole
            | Action::ManageSso
            | Action::ChangeAccountPolicy
            | Action::ChangeSubAccountPolicy
    )
}

/// The step-up rule: an actor with MFA acts with a factor proven in this
/// session at `factor_at`, no longer than [`STEP_UP_WINDOW`] before `now`
/// (403 `step_up_required` otherwise). An actor without MFA has nothing to
/// prove: whether they must have MFA is the policy's question (Require MFA
/// on their scope or on them), and Reset MFA asks it itself
/// ([`Assurance::MfaAndAal2`]).
pub fn stepped_up(
    has_mfa: bool,
    factor_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    if !has_mfa {
        return Ok(());
    }
    match factor_at {
        Some(at) if at <= now && now - at <= STEP_UP_WINDOW => Ok(()),
        _ => Err(ApiError::StepUpRequired),
    }
}

/// The one decision: may an actor holding `permissions`, in a session at
/// `aal`, with MFA enabled or not (`has_mfa`), do `action`? The refusal
/// says why: `forbidden` for the permissions, `mfa_required_for_action` for
/// the assurance.
pub fn allows(permissions: Permissions, aal: Aal, has_mfa: bool, action: Action) -> ApiResult<()> {
    let (need, assurance) = requirement(action);
    let held = match need {
        Need::AllOf(list) => list.iter().all(|p| permissions.contains(*p)),
        Need::AnyOf(list) => list.iter().any(|p| permissions.contains(*p)),
    };
    if !held {
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

/// No escalation: an actor may hand out, or act on a user holding, only
/// permissions the actor holds itself (403 otherwise).
pub fn may_grant(actor: Permissions, granted: Permissions) -> ApiResult<()> {
    if actor.covers(granted) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// The powers the account must never lose: at least one active user holds
/// both (the last-holder guard).
pub const KEEPER: [Permission; 2] = [Permission::RolesManage, Permission::UsersManage];

/// Whether `permissions` hold both [`KEEPER`] permissions.
pub fn is_keeper(permissions: Permissions) -> bool {
    KEEPER.iter().all(|p| permissions.contains(*p))
}

/// Roles a user of a sub-account (a client user) may hold: the four client
/// roles, none that can act on the account (no account role, no custom
/// role). Account users may hold any.
pub fn role_allowed_in_scope(role: &RoleRef, in_sub_account: bool) -> bool {
    !in_sub_account
        || matches!(
            role.builtin(),
            Some(Role::Editor | Role::Creator | Role::Lite | Role::ReadOnly)
        )
}

/// What a user's role holds, given the permissions text of their custom role
/// (read with the user). A custom role that no longer exists holds nothing.
pub fn permissions_from(role: &RoleRef, custom: Option<&str>) -> Permissions {
    match role {
        RoleRef::BuiltIn(role) => builtin(*role),
        RoleRef::Custom(_) => custom.map(Permissions::from_text).unwrap_or_default(),
    }
}

/// What `role` holds in `account_id`, read now (an unknown custom role
/// holds nothing).
pub fn permissions_of_role(
    conn: &mut DbConn,
    account_id: &str,
    role: &RoleRef,
) -> ApiResult<Permissions> {
    let custom = match role {
        RoleRef::BuiltIn(_) => None,
        RoleRef::Custom(id) => role_store::permissions_of(conn, account_id, id)?,
    };
    Ok(permissions_from(role, custom.as_deref()))
}

/// What `user`'s role holds, read now.
pub fn permissions_of(conn: &mut DbConn, user: &User) -> ApiResult<Permissions> {
    permissions_of_role(conn, &user.account_id, &user.role)
}

/// Whom an action may touch (API.md, "Whom an action may touch"): an action
/// on another user — change, disable, delete, Reset MFA, setting their
/// role, signing in as them through an identity provider — is allowed only
/// when `reach` holds every permission `target` holds (403 `forbidden`
/// otherwise). `reach` is the actor's permissions, or a provider's ceiling.
/// The only copy of the rule: every such action calls it.
pub fn within_reach(conn: &mut DbConn, reach: Permissions, target: &User) -> ApiResult<()> {
    let held = permissions_of(conn, target)?;
    may_grant(reach, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_names_are_their_wire_names() {
        for p in Permission::ALL {
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.as_str())
            );
        }
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn the_scope_decides_which_policy_applies() {
        let on = ScopePolicy {
            require_mfa: true,
            from: None,
        };
        let off = ScopePolicy::default();
        let by = |user, account, sub| requirement_of(user, account, sub).map(|r| r.by);
        assert_eq!(by(false, off, None), None);
        assert_eq!(by(false, on, None), Some(RequiredBy::Account));
        // Sub-account users follow their sub-account, never the account.
        assert_eq!(by(false, on, Some(off)), None);
        assert_eq!(by(false, off, Some(on)), Some(RequiredBy::SubAccount));
        // The user's own rule applies whatever the scope says, at once.
        assert_eq!(by(true, off, Some(off)), Some(RequiredBy::User));
        assert_eq!(by(true, on, None), Some(RequiredBy::User));
    }

    #[test]
    fn a_deadline_lets_users_in_until_it_passes_and_the_users_own_rule_does_not_wait() {
        let t = |h: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 12, 10)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        let later = ScopePolicy {
            require_mfa: true,
            from: Some(t(12)),
        };
        let r = requirement_of(false, later, None).unwrap();
        assert!(!r.due(t(11)));
        assert_eq!(r.setup_due_at(t(11)), Some(t(12)));
        assert!(r.due(t(12)));
        assert_eq!(r.setup_due_at(t(12)), None);
        let own = requirement_of(true, later, None).unwrap();
        assert!(own.due(t(11)));
    }

    #[test]
    fn a_step_up_lasts_ten_minutes_and_needs_mfa() {
        let t0 = chrono::NaiveDate::from_ymd_opt(2026, 12, 10)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert!(stepped_up(true, Some(t0), t0 + Duration::minutes(10)).is_ok());
        assert!(matches!(
            stepped_up(
                true,
                Some(t0),
                t0 + Duration::minutes(10) + Duration::seconds(1)
            ),
            Err(ApiError::StepUpRequired)
        ));
        assert!(matches!(
            stepped_up(true, None, t0),
            Err(ApiError::StepUpRequired)
        ));
        // Without MFA there is nothing to step up with.
        assert!(stepped_up(false, None, t0).is_ok());
        for action in [
            Action::ResetMfa,
            Action::ManageRoles,
            Action::AssignRole,
            Action::ManageSso,
            Action::ChangeAccountPolicy,
            Action::ChangeSubAccountPolicy,
        ] {
            assert!(needs_step_up(action), "{action:?}");
        }
        assert!(!needs_step_up(Action::ListUsers));
        assert!(!needs_step_up(Action::ManageUsers));
    }

    #[test]
    fn only_administrators_with_mfa_at_aal2_reset_mfa() {
        for role in Role::ALL {
            let full = allows(builtin(role), Aal::Aal2, true, Action::ResetMfa);
            if role == Role::Administrator {
                assert!(full.is_ok());
            } else {
                assert!(matches!(full, Err(ApiError::Forbidden)));
            }
        }
        let admin = builtin(Role::Administrator);
        for (aal, has_mfa) in [(Aal::Aal1, true), (Aal::Aal2, false), (Aal::Aal1, false)] {
            assert!(matches!(
                allows(admin, aal, has_mfa, Action::ResetMfa),
                Err(ApiError::MfaRequiredForAction)
            ));
        }
        let manager = builtin(Role::Manager);
        assert!(allows(manager, Aal::Aal1, false, Action::ChangeAccountPolicy).is_ok());
        assert!(allows(manager, Aal::Aal1, false, Action::ResetMfa).is_err());
        assert!(allows(builtin(Role::Editor), Aal::Aal2, true, Action::ViewAccount).is_err());
    }

    #[test]
    fn managing_ones_own_mfa_needs_aal2_once_it_is_on() {
        for role in Role::ALL {
            let p = builtin(role);
            assert!(allows(p, Aal::Aal1, false, Action::ManageOwnMfa).is_ok());
            assert!(allows(p, Aal::Aal2, true, Action::ManageOwnMfa).is_ok());
            assert!(matches!(
                allows(p, Aal::Aal1, true, Action::ManageOwnMfa),
                Err(ApiError::MfaRequiredForAction)
            ));
        }
    }

    #[test]
    fn permission_sets_round_trip_and_only_administrators_keep_the_account() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        let help_desk: Permissions = [Permission::UsersView, Permission::UsersResetMfa]
            .into_iter()
            .collect();
        assert_eq!(Permissions::from_text(&help_desk.to_text()), help_desk);
        assert_eq!(help_desk.to_text(), "users.view users.reset_mfa");
        // An unknown name grants nothing.
        assert_eq!(
            Permissions::from_text("users.view root"),
            [Permission::UsersView].into_iter().collect()
        );
        for role in Role::ALL {
            assert_eq!(is_keeper(builtin(role)), role == Role::Administrator);
        }
        assert!(allows(help_desk, Aal::Aal2, true, Action::ResetMfa).is_ok());
        assert!(Permissions::all().covers(help_desk));
        assert!(help_desk.covers(Permissions::NONE));
        assert!(!help_desk.covers(builtin(Role::Manager)));
        assert!(may_grant(help_desk, builtin(Role::Administrator)).is_err());
        assert!(allows(help_desk, Aal::Aal2, true, Action::ManageUsers).is_err());
    }

    #[test]
    fn client_users_never_hold_account_roles() {
        for role in Role::ALL {
            let role_ref = RoleRef::from(role);
            assert!(role_allowed_in_scope(&role_ref, false));
            assert_eq!(
                role_allowed_in_scope(&role_ref, true),
                !matches!(role, Role::Administrator | Role::Manager)
            );
        }
        let custom = RoleRef::parse("11111111-1111-4111-8111-111111111111");
        assert!(role_allowed_in_scope(&custom, false));
        assert!(!role_allowed_in_scope(&custom, true));
    }
}
