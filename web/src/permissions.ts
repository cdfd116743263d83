import { createContext, useContext } from "react";
import type { Permission } from "@latchkey/client";

/** The signed-in user's permission names (GET /api/v1/me `permissions`), provided by the app shell. */
export const PermissionsContext = createContext<ReadonlySet<Permission>>(new Set());

/** `can("users.manage")`: whether the signed-in user holds a permission. */
export function useCan(): (permission: Permission) => boolean {
  const perms = useContext(PermissionsContext);
  return (p) => perms.has(p);
}

/**
 * What each permission is called in the app (the help pages' wording, e.g.
 * seed 004's "View Users" and "Disable Two-Factor Authentication"), keyed by
 * its code. The one table of labels: every list of permissions uses it. What
 * a permission allows comes from the server (GET /api/v1/permissions); the
 * type checker refuses a permission the API lists and this table lacks.
 */
export const PERMISSION_LABELS: Readonly<Record<Permission, string>> = {
  "account.manage": "Manage Account",
  "account.policy": "Change MFA Policy (Require MFA)",
  "users.view": "View Users",
  "users.manage": "Manage Users",
  "users.reset_mfa": "Disable Two-Factor Authentication (Reset MFA)",
  "sub_accounts.manage": "Manage MyGlue Accounts",
  "audit.view": "View Audit Log",
  "roles.manage": "Manage Roles",
  "sso.manage": "Manage Single Sign-On",
};

/** "View Users (users.view)": a permission as a person reads it, its label then its code. */
export function permissionText(code: Permission): string {
  return `${PERMISSION_LABELS[code]} (${code})`;
}
