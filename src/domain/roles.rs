//! Roles made of named permissions: the built-in roles (a fixed table in
//! `policy::builtin`) and each account's custom roles. Permissions are read
//! per request, so a changed role takes effect on its users' next request.
//! The account always keeps an active user holding `roles.manage` and
//! `users.manage` (`policy::KEEPER`), checked after every change under the
//! account's lock.

use super::audit::{self, Event};
use super::auth::{begin_change, Principal};
use super::policy::{self, Action, Permission, Permissions, Role};
use super::principals::{self, Change};
use super::{parse_id, validate, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::store::roles::{self as role_store, CustomRole, RoleChanges};
use crate::store::types::RoleRef;
use crate::store::users::{self as user_store, User};
use crate::store::{write_tx, DbConn};

/// 422 on `role` unless `role` may be given to a user of `account_id`
/// (in a sub-account or not): a built-in role, or one of the account's
/// custom roles; client users hold only the four client roles.
pub fn check_assignable(
    conn: &mut DbConn,
    account_id: &str,
    role: &RoleRef,
    in_sub_account: bool,
) -> ApiResult<()> {
    if !policy::role_allowed_in_scope(role, in_sub_account) {
        return Err(ApiError::invalid(
            "role",
            "users of a sub-account hold editor, creator, lite or read_only",
        ));
    }
    match role {
        RoleRef::BuiltIn(_) => Ok(()),
        RoleRef::Custom(id) => {
            let known = super::canonical_id(id)
                .map(|id| role_store::find_in_account(conn, account_id, &id))
                .transpose()?
                .flatten()
                .is_some();
            if known {
                Ok(())
            } else {
                Err(ApiError::invalid(
                    "role",
                    "a built-in role (administrator, manager, editor, creator, lite, read_only) or the id of one of this account's roles",
                ))
            }
        }
    }
}

/// 409 unless an active user of the account still holds both `KEEPER`
/// permissions. Call after the change, under the account's lock.
pub fn ensure_a_keeper_remains(conn: &mut DbConn, account_id: &str) -> ApiResult<()> {
    let mut keepers: Vec<RoleRef> = Role::ALL
        .into_iter()
        .filter(|r| policy::is_keeper(policy::builtin(*r)))
        .map(RoleRef::from)
        .collect();
    keepers.extend(
        role_store::all_of_account(conn, account_id)?
            .into_iter()
            .filter(|r| policy::is_keeper(Permissions::from_text(&r.permissions)))
            .map(|r| RoleRef::Custom(r.id)),
    );
    if user_store::count_active_with_roles(conn, account_id, &keepers)? == 0 {
        return Err(ApiError::Conflict(
            "The account must keep an active user who may manage users and roles (e.g. an administrator).".into(),
        ));
    }
    Ok(())
}

/// Permission names from a request: 422 on `permissions` for an unknown one.
pub fn parse_permissions(names: &[String]) -> ApiResult<Permissions> {
    let mut set = Vec::with_capacity(names.len());
    for name in names {
        match Permission::parse(name) {
            Some(p) => set.push(p),
            None => {
                return Err(ApiError::invalid(
                    "permissions",
                    format!("unknown permission {name:?} (see GET /api/v1/permissions)"),
                ))
            }
        }
    }
    Ok(set.into_iter().collect())
}

/// A custom role's validated fields.
pub struct RoleInput {
    pub name: String,
    pub description: String,
    pub permissions: Permissions,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = validate::check_name(name).map_err(|m| ApiError::invalid("name", m))?;
    if Role::parse(&name).is_some()
        || Role::ALL
            .iter()
            .any(|r| r.as_str().eq_ignore_ascii_case(&name))
    {
        return Err(ApiError::invalid("name", "is the name of a built-in role"));
    }
    Ok(name)
}

fn check_description(description: &str) -> ApiResult<String> {
    let d = description.trim();
    if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid(
            "description",
            "at most 500 characters, no control characters",
        ));
    }
    Ok(d.to_string())
}

/// Validates a new role's fields.
pub fn role_input(name: &str, description: &str, permissions: &[String]) -> ApiResult<RoleInput> {
    Ok(RoleInput {
        name: check_name(name)?,
        description: check_description(description)?,
        permissions: parse_permissions(permissions)?,
    })
}

const NAME_TAKEN: &str = "A role with this name already exists.";

pub fn list(
    conn: &mut DbConn,
    actor: &Principal,
    limit: i64,
    offset: i64,
) -> ApiResult<(Vec<CustomRole>, i64)> {
    actor.may(Action::ManageRoles)?;
    Ok(role_store::list(
        conn,
        &actor.user.account_id,
        limit,
        offset,
    )?)
}

pub fn get(conn: &mut DbConn, actor: &Principal, id: &str) -> ApiResult<CustomRole> {
    actor.may(Action::ManageRoles)?;
    role_store::find_in_account(conn, &actor.user.account_id, &parse_id(id)?)?
        .ok_or(ApiError::NotFound)
}

fn audit_role(
    conn: &mut DbConn,
    ctx: &Ctx,
    kind: audit::EventType,
    actor: &User,
    role: &CustomRole,
) -> ApiResult<()> {
    audit::record(
        conn,
        ctx,
        Event {
            kind,
            account_id: Some(&role.account_id),
            actor: Some(&actor.id),
            target: None,
            details: serde_json::json!({"role_id": role.id, "name": role.name, "permissions": role.permissions}),
        },
    )?;
    Ok(())
}

pub fn create(
    conn: &mut DbConn,
    actor: &Principal,
    input: RoleInput,
    ctx: &Ctx,
) -> ApiResult<CustomRole> {
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageRoles, ctx.now)?;
        policy::may_grant(current.permissions, input.permissions)?;
        let role = CustomRole {
            id: super::new_id(),
            account_id: current.user.account_id.clone(),
            name: input.name,
            description: input.description,
            permissions: input.permissions.to_text(),
            created_at: ctx.now,
            updated_at: ctx.now,
        };
        role_store::insert(conn, &role).map_err(super::taken(NAME_TAKEN))?;
        audit_role(conn, ctx, audit::ROLE_CREATED, &current.user, &role)?;
        Ok(role)
    })
}

/// What `PATCH /roles/{id}` may change (validated).
#[derive(Default)]
pub struct RoleUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Permissions>,
}

/// Validates a role change's fields.
pub fn role_update(
    name: Option<&str>,
    description: Option<&str>,
    permissions: Option<&[String]>,
) -> ApiResult<RoleUpdate> {
    Ok(RoleUpdate {
        name: name.map(check_name).transpose()?,
        description: description.map(check_description).transpose()?,
        permissions: permissions.map(parse_permissions).transpose()?,
    })
}

pub fn update(
    conn: &mut DbConn,
    actor: &Principal,
    id: &str,
    update: RoleUpdate,
    ctx: &Ctx,
) -> ApiResult<CustomRole> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageRoles, ctx.now)?;
        let account_id = current.user.account_id.clone();
        let before =
            role_store::find_in_account(conn, &account_id, &id)?.ok_or(ApiError::NotFound)?;
        policy::may_grant(
            current.permissions,
            Permissions::from_text(&before.permissions),
        )?;
        if let Some(permissions) = update.permissions {
            policy::may_grant(current.permissions, permissions)?;
        }
        let changes = RoleChanges {
            name: update.name,
            description: update.description,
            permissions: update.permissions.map(Permissions::to_text),
            updated_at: Some(ctx.now),
        };
        role_store::update(conn, &id, &changes).map_err(super::taken(NAME_TAKEN))?;
        principals::changed(conn, Change::Account(&account_id))?;
        ensure_a_keeper_remains(conn, &account_id)?;
        let after =
            role_store::find_in_account(conn, &account_id, &id)?.ok_or(ApiError::NotFound)?;
        audit_role(conn, ctx, audit::ROLE_UPDATED, &current.user, &after)?;
        Ok(after)
    })
}

/// Deletes a custom role; 409 while a user holds it.
pub fn delete(conn: &mut DbConn, actor: &Principal, id: &str, ctx: &Ctx) -> ApiResult<()> {
    let id = parse_id(id)?;
    write_tx(conn, |conn| {
        let current = begin_change(conn, actor, Action::ManageRoles, ctx.now)?;
        let account_id = current.user.account_id.clone();
        let role =
            role_store::find_in_account(conn, &account_id, &id)?.ok_or(ApiError::NotFound)?;
        let holders =
            user_store::count_with_role(conn, &account_id, &RoleRef::Custom(role.id.clone()))?;
        if holders > 0 {
            return Err(ApiError::Conflict(format!(
                "{holders} user(s) hold this role; give them another role first."
            )));
        }
        let providers = crate::store::sso::count_with_default_role(
            conn,
            &account_id,
            &RoleRef::Custom(role.id.clone()),
        )?;
        if providers > 0 {
            return Err(ApiError::Conflict(format!(
                "{providers} identity provider(s) give this role to new users; change their default role first."
            )));
        }
        role_store::delete(conn, &role.id)?;
        principals::changed(conn, Change::Account(&account_id))?;
        audit_role(conn, ctx, audit::ROLE_DELETED, &current.user, &role)?;
        Ok(())
    })
}
