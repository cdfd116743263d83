import { useState, type FormEvent } from "react";
import { unwrap, type CreateSubAccount, type Schemas, type UpdateSubAccount } from "@latchkey/client";
import { client } from "../api";
import {
  ActionMenu, DeadlineField, Dialog, Empty, ErrorMessage, Field, Loading, Pager, fromLocalInput, toLocalInput, useAsync, when, whenShort,
} from "../ui";

type Sub = Schemas["SubAccountResponse"];

/**
 * Account → MyGlue: the sub-accounts (client organizations) and their MFA
 * policy. Each row's Action ▾ offers Edit (the seed: "Click the Action
 * button and select Edit on the organization you want to enforce MFA for")
 * and Delete.
 */
export function MyGlue() {
  const [page, setPage] = useState(1);
  const list = useAsync(() => unwrap(client.api.GET("/api/v1/sub-accounts", { params: { query: { page, per_page: 20 } } })), [page]);
  const [editing, setEditing] = useState<Sub | "new" | null>(null);
  const [deleting, setDeleting] = useState<Sub | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function remove(s: Sub) {
    setError(null);
    try {
      await unwrap(client.api.DELETE("/api/v1/sub-accounts/{id}", { params: { path: { id: s.id } } }));
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
        <h1>MyGlue</h1>
        <button type="button" className="primary" onClick={() => setEditing("new")}>New MyGlue account</button>
      </div>
      <ErrorMessage error={error ?? list.error} />
      {list.loading && !list.data ? <Loading /> : list.data && (list.data.items.length === 0 ? (
        <Empty>No MyGlue accounts yet. Create one for each client organization that needs its own portal.</Empty>
      ) : (
        <>
          <table className="has-menus">
            <thead><tr><th>Name</th><th>Users</th><th>Require MFA</th><th>MFA methods</th><th>Created</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {list.data.items.map((s) => (
                <tr key={s.id} data-testid="subaccount-row">
                  <td>{s.name}</td>
                  <td>{s.user_count}</td>
                  <td data-testid="subaccount-require">
                    {s.require_mfa ? "Yes" : "No"}
                    {s.require_mfa && s.require_mfa_from && <><br /><small>from {whenShort(s.require_mfa_from)}</small></>}
                  </td>
                  <td data-testid="subaccount-methods">{s.mfa_methods === "phishing_resistant" ? "Passkeys only" : "Any"}</td>
                  <td>{when(s.created_at)}</td>
                  <td>
                    <ActionMenu label={`Action for ${s.name}`} items={[
                      { label: "Edit", onSelect: () => setEditing(s) },
                      { label: "Delete", onSelect: () => setDeleting(s), danger: true },
                    ]} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager page={list.data.page} perPage={list.data.per_page} total={list.data.total} onPage={setPage} />
        </>
      ))}
      {editing && <EditSubAccount sub={editing === "new" ? null : editing} onClose={(changed) => { setEditing(null); if (changed) list.reload(); }} />}
      {deleting && (
        <Dialog title="Delete MyGlue account" onClose={() => setDeleting(null)}>
          <p>Delete the MyGlue account "{deleting.name}"?{deleting.user_count > 0 ? ` It still has ${deleting.user_count} users.` : ""}</p>
          <div className="actions">
            <button type="button" onClick={() => setDeleting(null)}>Cancel</button>
            <button type="button" className="danger" onClick={() => remove(deleting)}>Delete</button>
          </div>
        </Dialog>
      )}
    </main>
  );
}

function EditSubAccount({ sub, onClose }: { sub: Sub | null; onClose: (changed: boolean) => void }) {
  const [name, setName] = useState(sub?.name ?? "");
  const [require, setRequire] = useState(sub?.require_mfa ?? false);
  const [passkeysOnly, setPasskeysOnly] = useState(sub?.mfa_methods === "phishing_resistant");
  const [deadline, setDeadline] = useState(() => toLocalInput(sub?.require_mfa_from));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const methods = passkeysOnly ? "phishing_resistant" as const : "any" as const;
      if (sub) {
        // Only what changed: a policy field in the request asks for a step-up, even unchanged.
        const body: UpdateSubAccount = {};
        if (name !== sub.name) body.name = name;
        if (require !== sub.require_mfa) body.require_mfa = require;
        if (require && deadline !== toLocalInput(sub.require_mfa_from)) body.require_mfa_from = fromLocalInput(deadline);
        if (methods !== sub.mfa_methods) body.mfa_methods = methods;
        if (Object.keys(body).length > 0) await client.updateSubAccount(sub.id, body);
      } else {
        const body: CreateSubAccount = {
          name, require_mfa: require, mfa_methods: methods, ...(require && deadline ? { require_mfa_from: fromLocalInput(deadline) } : {}),
        };
        await client.createSubAccount(body);
      }
      onClose(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title={sub ? "Edit MyGlue Account" : "New MyGlue Account"} onClose={() => onClose(false)}>
      <form onSubmit={submit}>
        <Field label="Name" required value={name} onChange={(e) => setName(e.target.value)} error={error} field="name" />
        <div className="field checkbox">
          <input id="sub-require" type="checkbox" checked={require} onChange={(e) => setRequire(e.target.checked)} />
          <label htmlFor="sub-require">Require MFA for access to this MyGlue account</label>
        </div>
        <p className="hint">Covers only the users of this MyGlue account.</p>
        <DeadlineField value={deadline} onChange={setDeadline} disabled={!require} error={error} />
        <div className="field checkbox">
          <input id="sub-phishing-resistant" type="checkbox" checked={passkeysOnly} aria-describedby="sub-phishing-resistant-hint"
            onChange={(e) => setPasskeysOnly(e.target.checked)} />
          <label htmlFor="sub-phishing-resistant">Only phishing-resistant methods (passkeys)</label>
        </div>
        <p className="hint" id="sub-phishing-resistant-hint">
          Its users then need a passkey: codes from an authenticator application and recovery tokens do not count. Where
          this account itself counts only passkeys, so do its MyGlue accounts.
        </p>
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={() => onClose(false)}>Cancel</button>
          <button className="primary" disabled={busy}>Save</button>
        </div>
      </form>
    </Dialog>
  );
}
