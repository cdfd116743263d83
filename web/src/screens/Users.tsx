import { useEffect, useState, type FormEvent } from "react";
import { unwrap, type Schemas, type User } from "@latchkey/client";
import { client } from "../api";
import { ROLE_LABELS, useAuth } from "../auth";
import { Link, navigate } from "../router";
import { Dialog, Empty, ErrorMessage, Field, Loading, PadlockIcon, Pager, useAsync, when } from "../ui";
import { useCustomRoles } from "./Roles";
import { useCan } from "../permissions";

/** A built-in role's name or a custom role's id. */
type Role = string;
const ROLES = Object.keys(ROLE_LABELS) as Role[];
/** The roles a user of a MyGlue account (sub-account) may hold. */
export const CLIENT_ROLES: Role[] = ["editor", "creator", "lite", "read_only"];
type CustomRole = Schemas["RoleResponse"];

/** A role's label: a built-in's, a custom role's name, else the id itself. */
function roleLabel(role: Role, custom: CustomRole[] | undefined): string {
  return ROLE_LABELS[role] ?? custom?.find((r) => r.id === role)?.name ?? role;
}

/** The options of a role picker: built-in roles, then the account's custom roles (account users only). */
export function RoleOptions({ clientUser, custom }: { clientUser: boolean; custom: CustomRole[] | undefined }) {
  if (clientUser) return <>{CLIENT_ROLES.map((r) => <option key={r} value={r}>{ROLE_LABELS[r]}</option>)}</>;
  return (
    <>
      {ROLES.map((r) => <option key={r} value={r}>{ROLE_LABELS[r]}</option>)}
      {custom && custom.length > 0 && (
        <optgroup label="Custom roles">
          {custom.map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}
        </optgroup>
      )}
    </>
  );
}
const PER_PAGE = 10;

export function useSubAccounts() {
  return useAsync(() => unwrap(client.api.GET("/api/v1/sub-accounts", { params: { query: { per_page: 100 } } })), []);
}

/** The user's second-factor lock (too many wrong codes) is still running. */
export function lockedNow(u: Pick<User, "mfa_locked_until">): boolean {
  return !!u.mfa_locked_until && new Date(u.mfa_locked_until).getTime() > Date.now();
}

export function Padlock({ user }: { user: Pick<User, "mfa_enabled" | "mfa_required"> }) {
  const label = user.mfa_enabled ? "MFA enabled" : user.mfa_required ? "MFA not set up (required)" : "MFA not set up";
  return <span className={user.mfa_enabled ? "lock closed" : "lock open"} role="img" aria-label={label} title={label}><PadlockIcon open={!user.mfa_enabled} /></span>;
}

export function Users() {
  const can = useCan();
  const isAdmin = can("users.manage");
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [role, setRole] = useState("");
  const [mfa, setMfa] = useState("");
  const [sub, setSub] = useState("");
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const subs = useSubAccounts();
  // Needs roles.manage; without it the custom roles show as their ids.
  const custom = useCustomRoles();
  const subName = (id: string | null | undefined) => (id ? subs.data?.items.find((s) => s.id === id)?.name ?? "MyGlue" : "");

  // Search as you type, a moment after the last key; only a changed search
  // goes back to page 1 (not the box's first render, nor a trailing space).
  useEffect(() => {
    const next = q.trim();
    if (next === query) return;
    const t = setTimeout(() => { setQuery(next); setPage(1); }, 300);
    return () => clearTimeout(t);
  }, [q, query]);

  const users = useAsync(() => unwrap(client.api.GET("/api/v1/users", {
    params: {
      query: {
        page, per_page: PER_PAGE,
        ...(query ? { q: query } : {}),
        ...(role ? { role: role as Role } : {}),
        ...(mfa ? { mfa_enabled: mfa === "enabled" } : {}),
        ...(sub ? { sub_account_id: sub } : {}),
      },
    },
  })), [page, query, role, mfa, sub]);

  const filtered = !!(query || role || mfa || sub);
  return (
    <main>
      <div className="title-row">
        <h1>Users</h1>
        {isAdmin && <button type="button" className="primary" onClick={() => setCreating(true)}>New user</button>}
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search" type="search" placeholder="Name or email" value={q} onChange={(e) => setQ(e.target.value)} />
        <div className="field">
          <label htmlFor="f-role">Role</label>
          <select id="f-role" value={role} onChange={(e) => { setRole(e.target.value); setPage(1); }}>
            <option value="">All roles</option>
            <RoleOptions clientUser={false} custom={custom.data?.items} />
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-mfa">MFA</label>
          <select id="f-mfa" value={mfa} onChange={(e) => { setMfa(e.target.value); setPage(1); }}>
            <option value="">Any</option>
            <option value="enabled">Enabled</option>
            <option value="not_set_up">Not set up</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-sub">MyGlue account</label>
          <select id="f-sub" value={sub} onChange={(e) => { setSub(e.target.value); setPage(1); }}>
            <option value="">All users</option>
            {subs.data?.items.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </div>
      </form>
      <ErrorMessage error={users.error} />
      {users.loading && !users.data ? <Loading what="Loading users" /> : users.data && (
        users.data.items.length === 0 ? (
          <Empty>{filtered ? "No users match these filters." : "No users yet."}</Empty>
        ) : (
          <>
            <table aria-busy={users.loading}>
              <thead>
                <tr><th>MFA</th><th>Name</th><th>Email</th><th>Role</th><th>MyGlue account</th><th>Last sign-in</th><th><span className="sr-only">Actions</span></th></tr>
              </thead>
              <tbody>
                {users.data.items.map((u) => (
                  <tr key={u.id} data-testid="user-row" className={u.disabled ? "disabled-row" : undefined}>
                    <td><Padlock user={u} /></td>
                    <td>
                      {u.display_name}{u.disabled && <span className="badge">Disabled</span>}
                      {lockedNow(u) && <span className="badge warn" title={`Until ${when(u.mfa_locked_until)}`}>MFA locked</span>}
                    </td>
                    <td>{u.email}</td>
                    <td>{roleLabel(u.role, custom.data?.items)}</td>
                    <td>{subName(u.sub_account_id)}</td>
                    <td>{when(u.last_login_at)}</td>
                    <td>{isAdmin && <Link to={`/account/users/${u.id}`} className="icon" aria-label={`Edit ${u.display_name}`} title="Edit">✎</Link>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager page={users.data.page} perPage={users.data.per_page} total={users.data.total} onPage={setPage} />
          </>
        )
      )}
      {creating && <NewUserDialog subAccounts={subs.data?.items ?? []} customRoles={custom.data?.items} onClose={(created) => { setCreating(false); if (created) users.reload(); }} />}
    </main>
  );
}

function NewUserDialog({ subAccounts, customRoles, onClose }: {
  subAccounts: Schemas["SubAccountResponse"][]; customRoles: CustomRole[] | undefined; onClose: (created: boolean) => void;
}) {
  const [form, setForm] = useState({ email: "", display_name: "", role: "editor" as Role, password: "", sub_account_id: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await unwrap(client.api.POST("/api/v1/users", { body: { ...form, sub_account_id: form.sub_account_id || null } }));
      onClose(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title="New user" onClose={() => onClose(false)}>
      <form onSubmit={submit}>
        <Field label="Email" type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} error={error} field="email" />
        <Field label="Name" required value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} error={error} field="display_name" />
        <div className="field">
          <label htmlFor="nu-sub">Belongs to</label>
          <select id="nu-sub" value={form.sub_account_id} onChange={(e) => {
            const sub = e.target.value;
            setForm({ ...form, sub_account_id: sub, role: sub && !CLIENT_ROLES.includes(form.role) ? "editor" : form.role });
          }}>
            <option value="">This account</option>
            {subAccounts.map((s) => <option key={s.id} value={s.id}>MyGlue: {s.name}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="nu-role">Role</label>
          <select id="nu-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            <RoleOptions clientUser={!!form.sub_account_id} custom={customRoles} />
          </select>
        </div>
        <Field label="Initial password" type="password" autoComplete="new-password" required minLength={12} value={form.password}
          onChange={(e) => setForm({ ...form, password: e.target.value })} error={error} field="password" hint="At least 12 characters; tell it to the user." />
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={() => onClose(false)}>Cancel</button>
          <button className="primary" disabled={busy}>Create user</button>
        </div>
      </form>
    </Dialog>
  );
}

/** Edit User: role, disable, delete, and Reset MFA when the signed-in administrator may. */
export function EditUser({ id }: { id: string }) {
  const auth = useAuth();
  const can = useCan();
  const user = useAsync(() => unwrap(client.api.GET("/api/v1/users/{id}", { params: { path: { id } } })), [id]);
  const me = useAsync(() => unwrap(client.api.GET("/api/v1/me")), []);
  const custom = useCustomRoles();
  const [form, setForm] = useState<{ display_name: string; role: Role; disabled: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<null | "delete" | "reset">(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (user.data) setForm({ display_name: user.data.display_name, role: user.data.role, disabled: user.data.disabled });
  }, [user.data]);

  if (user.loading && !user.data) return <main><h1>Edit User</h1><Loading /></main>;
  if (user.error || !user.data || !form) return <main><h1>Edit User</h1><ErrorMessage error={user.error} /><Link to="/account/users">Back to Users</Link></main>;
  const u = user.data;
  const clientUser = !!u.sub_account_id;

  const mayReset = can("users.reset_mfa");
  const aal2 = auth.status === "authenticated" && auth.claims.aal === "aal2";
  const resetBlocked = !u.mfa_enabled ? "This user has not set up MFA, so there is nothing to reset."
    : !mayReset ? "Your role cannot reset a user's MFA."
    : me.data && !me.data.mfa.enabled ? "To reset another user's MFA, enable MFA on your own profile first."
    : !aal2 ? "To reset another user's MFA, sign in with your own MFA code (this session was signed in without it)."
    : null;

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!form) return;
    setBusy(true); setError(null); setSaved(null);
    try {
      await unwrap(client.api.PATCH("/api/v1/users/{id}", { params: { path: { id } }, body: form }));
      setSaved("The user has been saved.");
      user.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  async function act() {
    setBusy(true); setError(null); setSaved(null);
    try {
      if (confirm === "delete") {
        await unwrap(client.api.DELETE("/api/v1/users/{id}", { params: { path: { id } } }));
        navigate("/account/users");
        return;
      }
      await unwrap(client.api.POST("/api/v1/users/{id}/mfa/reset", { params: { path: { id } } }));
      setSaved(`MFA of ${u.display_name} has been reset. They will be asked to set it up again if MFA is required.`);
      user.reload();
    } catch (err) {
      setError(err);
    } finally {
      setConfirm(null);
      setBusy(false);
    }
  }

  return (
    <main>
      <p><Link to="/account/users">← Users</Link></p>
      <h1>Edit User</h1>
      <section className="card">
        <h2><Padlock user={u} /> {u.display_name}</h2>
        <p className="muted">{u.email} · created {when(u.created_at)} · last sign-in {when(u.last_login_at)}</p>
        <form onSubmit={save}>
          <Field label="Name" required value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} error={error} field="display_name" />
          <div className="field">
            <label htmlFor="eu-role">Role</label>
            <select id="eu-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
              <RoleOptions clientUser={clientUser} custom={custom.data?.items} />
              {/* A custom role not (yet) listed still shows as what the user holds. */}
              {!ROLE_LABELS[form.role] && !custom.data?.items.some((r) => r.id === form.role) && <option value={form.role}>{form.role}</option>}
            </select>
          </div>
          <div className="field checkbox">
            <input id="eu-disabled" type="checkbox" checked={form.disabled} onChange={(e) => setForm({ ...form, disabled: e.target.checked })} />
            <label htmlFor="eu-disabled">Disabled (cannot sign in; their sessions end at once)</label>
          </div>
          <ErrorMessage error={error} />
          {saved && <p role="status" className="ok">{saved}</p>}
          <div className="actions left"><button className="primary" disabled={busy}>Save</button></div>
        </form>
      </section>
      <section className="card">
        <h2>MFA</h2>
        <p>{u.mfa_enabled ? "MFA is enabled." : "MFA is not set up."}{u.mfa_required ? " A policy requires MFA for this user." : ""}</p>
        {lockedNow(u) && (
          <p className="notice">
            Locked out after too many wrong MFA codes until {when(u.mfa_locked_until)}. Reset MFA lifts the lock; the user then sets up MFA again.
          </p>
        )}
        {resetBlocked === null ? (
          <button type="button" className="link" onClick={() => setConfirm("reset")}>Reset MFA</button>
        ) : (
          <p className="hint" data-testid="reset-reason">Reset MFA is not available: {resetBlocked}</p>
        )}
      </section>
      <section className="card">
        <h2>Delete</h2>
        <button type="button" className="danger" disabled={u.id === (auth.status === "authenticated" ? auth.user.id : "")} onClick={() => setConfirm("delete")}>Delete user</button>
      </section>
      {confirm && (
        <Dialog title={confirm === "delete" ? "Delete user" : "Reset MFA"} onClose={() => setConfirm(null)}>
          <p>{confirm === "delete"
            ? `Delete ${u.display_name} (${u.email})? This cannot be undone.`
            : `Reset the MFA of ${u.display_name}? Their secret and recovery token are removed and their sessions end at once.`}</p>
          <div className="actions">
            <button type="button" onClick={() => setConfirm(null)}>Cancel</button>
            <button type="button" className="danger" disabled={busy} onClick={act}>{confirm === "delete" ? "Delete" : "Reset MFA"}</button>
          </div>
        </Dialog>
      )}
    </main>
  );
}
