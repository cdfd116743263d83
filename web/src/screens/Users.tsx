import { useEffect, useState, type FormEvent } from "react";
import { LatchkeyError, unwrap, type Device, type Permission, type Schemas, type UpdateUser, type User } from "@latchkey/client";
import { client } from "../api";
import { useAuth } from "../auth";
import { Link, navigate, useLocation } from "../router";
import { Dialog, Empty, ErrorMessage, Field, Loading, PadlockIcon, Pager, SelectField, useAsync, when } from "../ui";
import { RoleOptions, roleLabel, useCustomRoles, type CustomRole, type Role } from "../roles";
import { useCan } from "../permissions";
import { InviteUserDialog, PendingInvitations } from "./Invitations";
import { DeviceTable } from "./Devices";

const PER_PAGE = 10;

/**
 * Whether Edit User has something for the caller: the whole form
 * (`users.manage`), or Reset MFA alone (`users.view` + `users.reset_mfa`,
 * e.g. a help desk role; seed 004).
 */
export function mayOpenUser(can: (p: Permission) => boolean): boolean {
  return can("users.manage") || (can("users.view") && can("users.reset_mfa"));
}

/** The account's sub-accounts, for their names; asked only of a holder of `sub_accounts.manage`, who may read them. */
export function useSubAccounts() {
  const mayRead = useCan()("sub_accounts.manage");
  return useAsync(
    () => (mayRead ? unwrap(client.api.GET("/api/v1/sub-accounts", { params: { query: { per_page: 100 } } })) : Promise.resolve(undefined)),
    [mayRead],
  );
}

/** The user's second-factor lock (too many wrong codes) is still running. */
export function lockedNow(u: Pick<User, "mfa_locked_until">): boolean {
  return !!u.mfa_locked_until && new Date(u.mfa_locked_until).getTime() > Date.now();
}

export function Padlock({ user }: { user: Pick<User, "mfa_enabled" | "mfa_required"> }) {
  const label = user.mfa_enabled ? "MFA enabled" : user.mfa_required ? "MFA not set up (required)" : "MFA not set up";
  return <span className={user.mfa_enabled ? "lock closed" : "lock open"} role="img" aria-label={label} title={label}><PadlockIcon open={!user.mfa_enabled} /></span>;
}

/**
 * Account → Users. The filters start from the address's query
 * (`?mfa_enabled=false&sub_account_id=…&role=…&q=…`: the links of MFA
 * coverage); the app shell gives each query a fresh list.
 */
export function Users() {
  const can = useCan();
  const mayCreate = can("users.manage");
  const mayOpen = mayOpenUser(can);
  const { query: params } = useLocation();
  const [q, setQ] = useState(() => params.get("q")?.trim() ?? "");
  const [query, setQuery] = useState(() => params.get("q")?.trim() ?? "");
  const [role, setRole] = useState(() => params.get("role") ?? "");
  const [mfa, setMfa] = useState(() => {
    const m = params.get("mfa_enabled");
    return m === "false" ? "not_set_up" : m === "true" ? "enabled" : "";
  });
  const [sub, setSub] = useState(() => params.get("sub_account_id") ?? "");
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [inviting, setInviting] = useState(false);
  // Read the invitations again after one was sent; what was last done to them.
  const [invitationsVersion, setInvitationsVersion] = useState(0);
  const [invitationNotice, setInvitationNotice] = useState<string | null>(null);
  const subs = useSubAccounts();
  // Read with roles.manage; without it custom roles show as their ids (and are not in the filter).
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
        ...(role ? { role } : {}),
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
        {mayCreate && (
          <div className="row-actions">
            <button type="button" className="primary" onClick={() => setInviting(true)}>Invite user</button>
            <button type="button" onClick={() => setCreating(true)}>New user</button>
          </div>
        )}
      </div>
      <form className="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <Field label="Search" type="search" placeholder="Name or email" value={q} onChange={(e) => setQ(e.target.value)} />
        <SelectField label="Role" value={role} onChange={(e) => { setRole(e.target.value); setPage(1); }}>
          <option value="">All roles</option>
          <RoleOptions custom={custom} />
        </SelectField>
        <SelectField label="MFA" value={mfa} onChange={(e) => { setMfa(e.target.value); setPage(1); }}>
          <option value="">Any</option>
          <option value="enabled">Enabled</option>
          <option value="not_set_up">Not set up</option>
        </SelectField>
        {subs.data && (
          <SelectField label="MyGlue account" value={sub} onChange={(e) => { setSub(e.target.value); setPage(1); }}>
            <option value="">All users</option>
            {subs.data.items.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </SelectField>
        )}
      </form>
      {sub && !subs.loading && !subs.data?.items.some((s) => s.id === sub) && (
        // Filtered by a link (MFA coverage) to a MyGlue account this role cannot list by name.
        <p className="notice" data-testid="sub-filter">
          Showing the users of one MyGlue account only.{" "}
          <button type="button" className="link" onClick={() => { setSub(""); setPage(1); }}>Show all users</button>
        </p>
      )}
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
                    <td>{roleLabel(u.role, custom)}</td>
                    <td>{subName(u.sub_account_id)}</td>
                    <td>{when(u.last_login_at)}</td>
                    <td>
                      {mayOpen && (
                        // The email rides along: without users.manage, Edit User finds the user through the list.
                        <Link to={`/account/users/${u.id}`} state={{ email: u.email }} className="icon" aria-label={`Edit ${u.display_name}`} title="Edit">✎</Link>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager page={users.data.page} perPage={users.data.per_page} total={users.data.total} onPage={setPage} />
          </>
        )
      )}
      {mayCreate && (
        <PendingInvitations version={invitationsVersion} notice={invitationNotice} setNotice={setInvitationNotice}
          subName={subName} customRoles={custom} />
      )}
      {inviting && (
        <InviteUserDialog subAccounts={subs.data?.items ?? []} customRoles={custom} onClose={(sent) => {
          setInviting(false);
          if (!sent) return;
          setInvitationNotice(`An invitation was sent to ${sent.email}. The link works until ${when(sent.expires_at)}.`);
          setInvitationsVersion((v) => v + 1);
        }} />
      )}
      {creating && <NewUserDialog subAccounts={subs.data?.items ?? []} customRoles={custom} onClose={(created) => { setCreating(false); if (created) users.reload(); }} />}
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
        {subAccounts.length > 0 && (
          <SelectField label="Belongs to" value={form.sub_account_id} onChange={(e) => setForm({ ...form, sub_account_id: e.target.value })}
            error={error} field="sub_account_id">
            <option value="">This account</option>
            {subAccounts.map((s) => <option key={s.id} value={s.id}>MyGlue: {s.name}</option>)}
          </SelectField>
        )}
        {/* Which roles a MyGlue user may hold is the server's rule: a refused one comes back as a 422 on role, shown here. */}
        <SelectField label="Role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })} error={error} field="role">
          <RoleOptions custom={customRoles} />
        </SelectField>
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

/** The email Edit User was opened with (from the users list), if any: see `loadUser`. */
function emailHint(): string | undefined {
  const state: unknown = history.state;
  const email = typeof state === "object" && state !== null ? (state as { email?: unknown }).email : undefined;
  return typeof email === "string" ? email : undefined;
}

/**
 * One user of the account. `GET /users/{id}` needs `users.manage`; a holder
 * of `users.view` alone (a help desk) finds the user in the list instead:
 * searched by the email the list opened Edit User with, else page by page.
 */
async function loadUser(id: string, manage: boolean, email: string | undefined): Promise<User> {
  if (manage) return unwrap(client.api.GET("/api/v1/users/{id}", { params: { path: { id } } }));
  if (email) {
    const found = await unwrap(client.api.GET("/api/v1/users", { params: { query: { q: email, per_page: 100 } } }));
    const u = found.items.find((x) => x.id === id);
    if (u) return u;
  }
  for (let page = 1; ; page++) {
    const r = await unwrap(client.api.GET("/api/v1/users", { params: { query: { page, per_page: 100 } } }));
    const u = r.items.find((x) => x.id === id);
    if (u) return u;
    if (r.items.length === 0 || page * r.per_page >= r.total) {
      throw new LatchkeyError({ status: 404, code: "not_found", title: "Not Found", detail: "There is no such user in this account." });
    }
  }
}

type Problem = { at: "save" | "reset" | "delete" | "require"; error: unknown };

/**
 * Edit User. With `users.manage`: name, role, disabled, delete. With
 * `users.reset_mfa` (and `users.view`): Reset MFA, when the signed-in user
 * has MFA and signed in with it. Each part shows only to who may use it.
 */
export function EditUser({ id }: { id: string }) {
  const auth = useAuth();
  const can = useCan();
  const manage = can("users.manage");
  const user = useAsync(() => loadUser(id, manage, emailHint()), [id, manage]);
  const me = useAsync(() => unwrap(client.api.GET("/api/v1/me")), []);
  const custom = useCustomRoles();
  const [form, setForm] = useState<{ display_name: string; role: Role; disabled: boolean } | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [reset, setReset] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<null | "delete" | "reset">(null);
  const [busy, setBusy] = useState(false);
  // The Require MFA toggle shows what was asked at once; a refusal (or a cancelled step-up) puts it back.
  const [requireMfa, setRequireMfa] = useState(false);
  const [requireNote, setRequireNote] = useState<string | null>(null);
  const [devicesVersion, setDevicesVersion] = useState(0);
  useEffect(() => {
    if (user.data) {
      setForm({ display_name: user.data.display_name, role: user.data.role, disabled: user.data.disabled });
      setRequireMfa(user.data.require_mfa);
    }
  }, [user.data]);

  if (user.loading && !user.data) return <main><h1>Edit User</h1><Loading /></main>;
  if (user.error || !user.data || !form) return <main><h1>Edit User</h1><ErrorMessage error={user.error} /><Link to="/account/users">Back to Users</Link></main>;
  const u = user.data;
  const errorAt = (at: Problem["at"]) => (problem?.at === at ? problem.error : null);

  const mayReset = can("users.reset_mfa");
  const aal2 = auth.status === "authenticated" && auth.claims.aal === "aal2";
  // What a change to another user's MFA (Reset MFA, Require MFA, forgetting their devices) needs of the one who makes it.
  const mfaChangeBlocked = (what: string) => !mayReset ? `Your role cannot change a user's MFA (${what}).`
    : me.data && !me.data.mfa.enabled ? `To ${what}, enable MFA on your own profile first.`
    : !aal2 ? `To ${what}, sign in with your own MFA code (this session was signed in without it).`
    : null;
  const resetBlocked = !u.mfa_enabled ? "This user has not set up MFA, so there is nothing to reset."
    : !mayReset ? "Your role cannot reset a user's MFA."
    : mfaChangeBlocked("reset another user's MFA");
  const requireBlocked = mfaChangeBlocked("require MFA for a user");

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!form) return;
    setBusy(true); setProblem(null); setSaved(null); setReset(null);
    try {
      // Only what changed: a role in the request asks for a step-up even when it is the same one.
      const body: UpdateUser = {};
      if (form.display_name !== u.display_name) body.display_name = form.display_name;
      if (form.role !== u.role) body.role = form.role;
      if (form.disabled !== u.disabled) body.disabled = form.disabled;
      if (Object.keys(body).length > 0) await client.updateUser(id, body);
      setSaved("The user has been saved.");
      user.reload();
    } catch (err) {
      setProblem({ at: "save", error: err });
    } finally {
      setBusy(false);
    }
  }
  async function changeRequireMfa(required: boolean) {
    setRequireMfa(required);
    setBusy(true); setProblem(null); setRequireNote(null); setSaved(null); setReset(null);
    try {
      const updated = await client.setUserRequireMfa(id, required);
      setRequireNote(required
        ? `MFA is now required for ${updated.display_name}${updated.mfa_enabled ? "." : ": they will set it up at their next sign-in."}`
        : `MFA is no longer required for ${updated.display_name} by their own setting.`);
      user.reload();
    } catch (err) {
      setRequireMfa(!required);
      setProblem({ at: "require", error: err });
    } finally {
      setBusy(false);
    }
  }

  async function act() {
    const what = confirm;
    if (!what) return;
    setBusy(true); setProblem(null); setSaved(null); setReset(null);
    try {
      if (what === "delete") {
        await unwrap(client.api.DELETE("/api/v1/users/{id}", { params: { path: { id } } }));
        navigate("/account/users");
        return;
      }
      await client.resetUserMfa(id);
      setReset(`MFA of ${u.display_name} has been reset. They will be asked to set it up again if MFA is required.`);
      user.reload();
      setDevicesVersion((v) => v + 1);
    } catch (err) {
      setProblem({ at: what, error: err });
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
        <h2><Padlock user={u} /> {u.display_name}{u.disabled && <span className="badge">Disabled</span>}</h2>
        <p className="muted">{u.email} · created {when(u.created_at)} · last sign-in {when(u.last_login_at)}</p>
        {manage ? (
          <form onSubmit={save}>
            <Field label="Name" required value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} error={errorAt("save")} field="display_name" />
            <SelectField label="Role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })} error={errorAt("save")} field="role">
              <RoleOptions custom={custom} current={u.role} />
            </SelectField>
            <div className="field checkbox">
              <input id="eu-disabled" type="checkbox" checked={form.disabled} onChange={(e) => setForm({ ...form, disabled: e.target.checked })} />
              <label htmlFor="eu-disabled">Disabled (cannot sign in; their sessions end at once)</label>
            </div>
            <ErrorMessage error={errorAt("save")} />
            {saved && <p role="status" className="ok">{saved}</p>}
            <div className="actions left"><button className="primary" disabled={busy}>Save</button></div>
          </form>
        ) : (
          <p data-testid="user-role">Role: {roleLabel(u.role, custom)}</p>
        )}
      </section>
      <section className="card">
        <h2>MFA</h2>
        <p data-testid="user-mfa-status">
          {u.mfa_enabled ? "MFA is enabled." : "MFA is not set up."}
          {u.require_mfa ? " MFA is required for this user (their own setting)." : u.mfa_required ? " A policy requires MFA for this user." : ""}
        </p>
        {manage && (
          <>
            <div className="field checkbox">
              <input id="eu-require-mfa" type="checkbox" checked={requireMfa} disabled={busy || requireBlocked !== null}
                aria-describedby="eu-require-mfa-hint" onChange={(e) => void changeRequireMfa(e.target.checked)} />
              <label htmlFor="eu-require-mfa">Require MFA for this user</label>
            </div>
            <p className="hint" id="eu-require-mfa-hint">
              {requireBlocked ?? "Whatever the policy of their account or MyGlue account, and at once: without MFA they set it up at their next sign-in."}
            </p>
            <ErrorMessage error={errorAt("require")} />
            {requireNote && <p role="status" className="ok">{requireNote}</p>}
          </>
        )}
        {lockedNow(u) && (
          <p className="notice">
            Locked out after too many wrong MFA codes until {when(u.mfa_locked_until)}. Reset MFA lifts the lock; the user then sets up MFA again.
          </p>
        )}
        {reset && <p role="status" className="ok">{reset}</p>}
        <ResetError error={errorAt("reset")} />
        {resetBlocked === null ? (
          <button type="button" className="link" onClick={() => setConfirm("reset")}>Reset MFA</button>
        ) : (
          <p className="hint" data-testid="reset-reason">Reset MFA is not available: {resetBlocked}</p>
        )}
      </section>
      {can("users.view") && (
        <UserDevices key={devicesVersion} user={u} forgetBlocked={mfaChangeBlocked("forget another user's devices")} />
      )}
      {manage && (
        <section className="card">
          <h2>Delete</h2>
          <ErrorMessage error={errorAt("delete")} />
          <button type="button" className="danger" disabled={u.id === (auth.status === "authenticated" ? auth.user.id : "")} onClick={() => setConfirm("delete")}>Delete user</button>
        </section>
      )}
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

/**
 * The user's remembered devices (`users.view`): each skips their second
 * step until it expires. Forget (`users.reset_mfa`, a change to their MFA:
 * it may ask to confirm with the administrator's own second factor).
 */
function UserDevices({ user, forgetBlocked }: { user: User; forgetBlocked: string | null }) {
  const devices = useAsync(() => client.listUserDevices(user.id, { per_page: 100 }), [user.id]);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function forget(d: Device) {
    setBusy(true); setError(null); setDone(null);
    try {
      await client.forgetUserDevice(user.id, d.id);
      setDone(`The device is forgotten: ${user.display_name} will be asked for the second factor there at the next sign-in.`);
      devices.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section className="card" aria-labelledby="user-devices-h">
      <h2 id="user-devices-h">Remembered devices</h2>
      {devices.error instanceof LatchkeyError && devices.error.code === "forbidden" ? (
        // Out of the caller's reach (the user holds permissions the caller lacks): said plainly, not as an error.
        <p className="hint" data-testid="devices-out-of-reach">
          You cannot see the remembered devices of {user.display_name}: they hold permissions that your role does not.
        </p>
      ) : <ErrorMessage error={devices.error} />}
      <ErrorMessage error={error} />
      {done && <p role="status" className="ok">{done}</p>}
      {devices.loading && !devices.data ? <Loading /> : devices.data && (devices.data.items.length === 0 ? (
        <p className="hint" data-testid="no-devices">No remembered devices: every sign-in of {user.display_name} asks for the second factor.</p>
      ) : (
        <>
          <DeviceTable devices={devices.data.items} busy={busy} onForget={forgetBlocked === null ? (d) => void forget(d) : undefined} />
          {forgetBlocked && <p className="hint">{forgetBlocked}</p>}
        </>
      ))}
    </section>
  );
}

/** Why Reset MFA was refused; a 403 here means the user holds a permission the caller lacks. */
function ResetError({ error }: { error: unknown }) {
  if (error instanceof LatchkeyError && error.code === "forbidden") {
    return <div role="alert" className="error">You cannot reset the MFA of this user: they hold permissions that your role does not.</div>;
  }
  return <ErrorMessage error={error} />;
}
