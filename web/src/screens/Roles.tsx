import { useState, type FormEvent } from "react";
import { unwrap, type Schemas } from "@latchkey/client";
import { client } from "../api";
import { Dialog, Empty, ErrorMessage, Field, Loading, Pager, useAsync } from "../ui";
import { permissionText } from "../permissions";
import type { CustomRole } from "../roles";

type Permission = Schemas["PermissionResponse"];

/** Account → Roles: custom roles made of named permissions. */
export function Roles() {
  const [page, setPage] = useState(1);
  const list = useAsync(() => unwrap(client.api.GET("/api/v1/roles", { params: { query: { page, per_page: 20 } } })), [page]);
  const perms = useAsync(() => unwrap(client.api.GET("/api/v1/permissions")), []);
  const [editing, setEditing] = useState<CustomRole | "new" | null>(null);
  const [deleting, setDeleting] = useState<CustomRole | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function remove(r: CustomRole) {
    setError(null);
    try {
      await unwrap(client.api.DELETE("/api/v1/roles/{id}", { params: { path: { id: r.id } } }));
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setDeleting(null);
    }
  }

  return (
    <main>
      <div className="title-row">
        <h1>Roles</h1>
        <button type="button" className="primary" disabled={!perms.data} onClick={() => { setError(null); setEditing("new"); }}>New role</button>
      </div>
      <p className="muted">The built-in roles (Administrator, Manager, Editor, Creator, Lite, Read-only) are fixed. A custom role is a set of permissions; give it to a user of this account in Edit user.</p>
      <ErrorMessage error={error ?? list.error ?? perms.error} />
      {list.loading && !list.data ? <Loading what="Loading roles" /> : list.data && (list.data.items.length === 0 ? (
        <Empty>No custom roles yet.</Empty>
      ) : (
        <>
          <table>
            <thead><tr><th>Name</th><th>Description</th><th>Permissions</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.data.items.map((r) => (
                <tr key={r.id} data-testid="role-row">
                  <td>{r.name}</td>
                  <td>{r.description}</td>
                  <td>{r.permissions.length ? r.permissions.map((p) => <span key={p} className="badge" data-testid="role-permission">{permissionText(p)}</span>) : "—"}</td>
                  <td className="row-actions">
                    <button type="button" disabled={!perms.data} onClick={() => { setError(null); setEditing(r); }} aria-label={`Edit ${r.name}`}>Edit</button>
                    <button type="button" className="danger" onClick={() => { setError(null); setDeleting(r); }} aria-label={`Delete ${r.name}`}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager page={list.data.page} perPage={list.data.per_page} total={list.data.total} onPage={setPage} />
        </>
      ))}
      {editing && perms.data && (
        <EditRole role={editing === "new" ? null : editing} permissions={perms.data.items}
          onClose={(changed) => { setEditing(null); if (changed) list.reload(); }} />
      )}
      {deleting && (
        <Dialog title="Delete role" onClose={() => setDeleting(null)}>
          <p>Delete the role "{deleting.name}"? This cannot be undone. A role still held by a user cannot be deleted.</p>
          <div className="actions">
            <button type="button" onClick={() => setDeleting(null)}>Cancel</button>
            <button type="button" className="danger" onClick={() => remove(deleting)}>Delete</button>
          </div>
        </Dialog>
      )}
    </main>
  );
}

function EditRole({ role, permissions, onClose }: { role: CustomRole | null; permissions: Permission[]; onClose: (changed: boolean) => void }) {
  const [name, setName] = useState(role?.name ?? "");
  const [description, setDescription] = useState(role?.description ?? "");
  const [chosen, setChosen] = useState<string[]>(role?.permissions ?? []);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toggle = (p: string, on: boolean) => setChosen((c) => (on ? [...c.filter((x) => x !== p), p] : c.filter((x) => x !== p)));
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    // Keep the order of GET /permissions.
    const body = { name, description, permissions: permissions.map((p) => p.name).filter((p) => chosen.includes(p)) };
    try {
      if (role) await unwrap(client.api.PATCH("/api/v1/roles/{id}", { params: { path: { id: role.id } }, body }));
      else await unwrap(client.api.POST("/api/v1/roles", { body }));
      onClose(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title={role ? "Edit role" : "New role"} onClose={() => onClose(false)}>
      <form onSubmit={submit}>
        <Field label="Name" required value={name} onChange={(e) => setName(e.target.value)} error={error} field="name" />
        <Field label="Description" value={description} onChange={(e) => setDescription(e.target.value)} error={error} field="description" />
        <fieldset className="permissions">
          <legend>Permissions</legend>
          {permissions.map((p) => (
            <div key={p.name} className="field checkbox">
              <input id={`perm-${p.name}`} type="checkbox" checked={chosen.includes(p.name)} aria-describedby={`perm-${p.name}-d`}
                onChange={(e) => toggle(p.name, e.target.checked)} />
              <label htmlFor={`perm-${p.name}`}>{permissionText(p.name)}</label>
              <small id={`perm-${p.name}-d`} className="hint">{p.description}</small>
            </div>
          ))}
        </fieldset>
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={() => onClose(false)}>Cancel</button>
          <button className="primary" disabled={busy}>Save</button>
        </div>
      </form>
    </Dialog>
  );
}
