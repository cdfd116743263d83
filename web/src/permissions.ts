import { createContext, useContext } from "react";

/** The signed-in user's permission names (GET /api/v1/me `permissions`), provided by the app shell. */
export const PermissionsContext = createContext<ReadonlySet<string>>(new Set());

/** `can("users.manage")`: whether the signed-in user holds a permission. */
export function useCan(): (permission: string) => boolean {
  const perms = useContext(PermissionsContext);
  return (p) => perms.has(p);
}

/**
 * What each permission is called in the app (the help pages' wording, e.g.
 * seed 004's "View Users" and "Disable Two-Factor Authentication"), keyed by
 * its code. The one table of labels: every list of permissions uses it. What
 * a permission allows comes from the server (GET /api/v1/permissions); a code
 * the server adds later shows as the code alone.
 */
export const PERMISSION_LABELS: Readonly<Record<string, string>> = {
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

/** "View Users (users.view)": a permission as a person reads it, its label then its code; the code alone when it has no label. */
export function permissionText(code: string): string {
  const label = PERMISSION_LABELS[code];
  return label ? `${label} (${code})` : code;
}
