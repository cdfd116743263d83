import { unwrap, type Schemas } from "@latchkey/client";
import { client } from "./api";
import { ROLE_LABELS } from "./auth";
import { useCan } from "./permissions";
import { useAsync } from "./ui";

/** A built-in role's name or a custom role's id (what a user's `role` holds). */
export type Role = string;
export type CustomRole = Schemas["RoleResponse"];

/**
 * The account's custom roles (one page of 100), for their names. Only a
 * holder of `roles.manage` may read them; for anyone else this asks nothing
 * and gives `undefined`, and custom roles show as their ids.
 */
export function useCustomRoles(): CustomRole[] | undefined {
  const mayRead = useCan()("roles.manage");
  const roles = useAsync(
    () => (mayRead ? unwrap(client.api.GET("/api/v1/roles", { params: { query: { per_page: 100 } } })).then((r) => r.items) : Promise.resolve(undefined)),
    [mayRead],
  );
  return roles.data;
}

/** A role as people read it: a built-in's label, a custom role's name, else (name unreadable) the id itself. */
export function roleLabel(role: Role, custom: CustomRole[] | undefined): string {
  return ROLE_LABELS[role] ?? custom?.find((r) => r.id === role)?.name ?? role;
}

/**
 * The options of a role picker: the built-in roles, then the account's custom
 * roles when they can be read, and `current` (a role held now) even when it is
 * neither. Which roles a user may hold in their scope is the server's to say
 * (a 422 on `role`, shown by the field), not this list's.
 */
export function RoleOptions({ custom, current }: { custom: CustomRole[] | undefined; current?: Role }) {
  const unknown = current && !ROLE_LABELS[current] && !custom?.some((r) => r.id === current);
  return (
    <>
      {Object.entries(ROLE_LABELS).map(([r, label]) => <option key={r} value={r}>{label}</option>)}
      {custom && custom.length > 0 && (
        <optgroup label="Custom roles">
          {custom.map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}
        </optgroup>
      )}
      {unknown && <option value={current}>{current}</option>}
    </>
  );
}
