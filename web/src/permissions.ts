import { createContext, useContext } from "react";

/** The signed-in user's permission names (GET /api/v1/me `permissions`), provided by the app shell. */
export const PermissionsContext = createContext<ReadonlySet<string>>(new Set());

/** `can("users.manage")`: whether the signed-in user holds a permission. */
export function useCan(): (permission: string) => boolean {
  const perms = useContext(PermissionsContext);
  return (p) => perms.has(p);
}
