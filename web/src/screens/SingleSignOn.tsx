import { useId, useState, type FormEvent } from "react";
import { LatchkeyError, type CreateIdentityProvider, type IdentityProvider } from "@latchkey/client";
import { client } from "../api";
import { useAuth } from "../auth";
import { callbackUrl, signInLink } from "../sso";
import { CopyButton, Dialog, Empty, ErrorMessage, Field, Loading, Pager, SelectField, useAsync } from "../ui";
import { RoleOptions, roleLabel, useCustomRoles, type CustomRole } from "../roles";
import { useSubAccounts } from "./Users";

const DEFAULT_SCOPES = ["openid", "email", "profile"];

/** Account → Single sign-on: the account's OpenID Connect identity providers. */
export function SingleSignOn() {
  const auth = useAuth();
  const accountId = auth.status === "authenticated" ? auth.claims.acc : "";
  const [page, setPage] = useState(1);
  const list = useAsync(() => client.listIdentityProviders({ page, per_page: 20 }), [page]);
  // Read with roles.manage; without it only the built-in roles are offered and custom ones show as ids.
  const custom = useCustomRoles();
  // Needs sub_accounts.manage; without it providers can only be made for the account's own users.
  const subs = useSubAccounts();
  const subName = (id: string | null | undefined) => (id ? `MyGlue: ${subs.data?.items.find((x) => x.id === id)?.name ?? id}` : "This account");
  const [editing, setEditing] = useState<IdentityProvider | "new" | null>(null);
  const [deleting, setDeleting] = useState<IdentityProvider | null>(null);
  const [connected, setConnected] = useState<IdentityProvider | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function remove(p: IdentityProvider) {
    setError(null);
    try {
      await client.deleteIdentityProvider(p.id);
      if (connected?.id === p.id) setConnected(null);
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setDeleting(null);
    }
  }

  const link = signInLink(accountId);
  return (
    <main>
      <div className="title-row">
        <h1>Single sign-on</h1>
        <button type="button" className="primary" onClick={() => { setError(null); setEditing("new"); }}>Add identity provider</button>
      </div>
      <p className="muted">
        Users of this account can sign in through your organization's OpenID Connect provider (Microsoft Entra ID,
        Google Workspace, Okta, …). Latchkey's MFA policy still applies on top, unless you trust the provider's MFA.
      </p>
      <section className="card sso-link" aria-labelledby="link-h">
        <h2 id="link-h">Sign-in link</h2>
        <p>Give your users this link: its sign-in page shows a "Sign in with …" button for each provider.</p>
        <p className="token-row"><code data-testid="sign-in-link">{link}</code> <CopyButton text={link} label="Copy link" /></p>
      </section>
      {connected && (
        <section className="card callback-url" role="status" aria-labelledby="connected-h">
          <h2 id="connected-h">{connected.name} is connected</h2>
          <p>Register this redirect (callback) URL in the application you created at the provider:</p>
          <p className="token-row"><code data-testid="new-callback-url">{connected.callback_url}</code> <CopyButton text={connected.callback_url} /></p>
        </section>
      )}
      <ErrorMessage error={error ?? list.error} />
      {list.loading && !list.data ? <Loading what="Loading identity providers" /> : list.data && (list.data.items.length === 0 ? (
        <Empty>No identity providers yet.</Empty>
      ) : (
        <>
          <table>
            <thead>
              <tr><th>Name</th><th>Issuer</th><th>MFA</th><th>New users</th><th>Callback URL</th><th><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.id} data-testid="idp-row">
                  <td>{p.name}<br /><small className="muted">{subName(p.sub_account_id)} · Client ID {p.client_id}</small></td>
                  <td><small>{p.issuer}</small></td>
                  <td>{p.trust_idp_mfa ? "Provider's MFA trusted" : "Latchkey MFA"}</td>
                  <td>{p.jit_provisioning ? `Created as ${roleLabel(p.default_role, custom)}` : "Must exist in Latchkey"}</td>
                  <td><small data-testid="callback-url">{p.callback_url}</small></td>
                  <td className="row-actions">
                    <button type="button" onClick={() => { setError(null); setEditing(p); }} aria-label={`Edit ${p.name}`}>Edit</button>
                    <button type="button" className="danger" onClick={() => { setError(null); setDeleting(p); }} aria-label={`Delete ${p.name}`}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager page={list.data.page} perPage={list.data.per_page} total={list.data.total} onPage={setPage} />
        </>
      ))}
      {editing && (
        <EditProvider provider={editing === "new" ? null : editing} customRoles={custom}
          subAccounts={subs.data?.items ?? []} subName={subName}
          onClose={(saved, created) => {
            setEditing(null);
            if (created) setConnected(saved);
            if (saved) list.reload();
          }} />
      )}
      {deleting && (
        <Dialog title="Delete identity provider" onClose={() => setDeleting(null)}>
          <p>Delete "{deleting.name}"? Its users can no longer sign in through it (their passwords, if any, still work). This cannot be undone.</p>
          <div className="actions">
            <button type="button" onClick={() => setDeleting(null)}>Cancel</button>
            <button type="button" className="danger" onClick={() => remove(deleting)}>Delete</button>
          </div>
        </Dialog>
      )}
    </main>
  );
}

function EditProvider({ provider, customRoles, subAccounts, subName, onClose }: {
  provider: IdentityProvider | null;
  customRoles: CustomRole[] | undefined;
  subAccounts: { id: string; name: string }[];
  subName: (id: string | null | undefined) => string;
  onClose: (saved: IdentityProvider | null, created: boolean) => void;
}) {
  const [name, setName] = useState(provider?.name ?? "");
  const [issuer, setIssuer] = useState(provider?.issuer ?? "");
  const [clientId, setClientId] = useState(provider?.client_id ?? "");
  const [secret, setSecret] = useState("");
  const [scopes, setScopes] = useState((provider?.scopes ?? DEFAULT_SCOPES).join(" "));
  const [redirects, setRedirects] = useState((provider?.allowed_redirect_uris ?? [callbackUrl()]).join("\n"));
  const [trust, setTrust] = useState(provider?.trust_idp_mfa ?? false);
  const [jit, setJit] = useState(provider?.jit_provisioning ?? false);
  const [role, setRole] = useState(provider?.default_role ?? "read_only");
  const [sub, setSub] = useState(provider?.sub_account_id ?? "");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const ids = useId();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    const body: Omit<CreateIdentityProvider, "client_secret"> = {
      name: name.trim(),
      issuer: issuer.trim(),
      client_id: clientId.trim(),
      scopes: scopes.split(/[\s,]+/).filter(Boolean),
      allowed_redirect_uris: redirects.split(/\s+/).filter(Boolean),
      trust_idp_mfa: trust,
      jit_provisioning: jit,
      default_role: role,
    };
    try {
      const saved = provider
        ? await client.updateIdentityProvider(provider.id, secret ? { ...body, client_secret: secret } : body)
        : await client.createIdentityProvider({ ...body, client_secret: secret, sub_account_id: sub || null });
      onClose(saved, !provider);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title={provider ? "Edit identity provider" : "Add identity provider"} onClose={() => onClose(null, false)}>
      <form onSubmit={submit}>
        <Field label="Name" required value={name} onChange={(e) => setName(e.target.value)} error={error} field="name"
          hint={'Shown on the sign-in page as "Sign in with <name>".'} />
        {provider ? (
          <p className="muted">Signs in the users of: {subName(provider.sub_account_id)}</p>
        ) : subAccounts.length > 0 && (
          <div className="field">
            <label htmlFor={`${ids}-sub`}>Signs in the users of</label>
            <select id={`${ids}-sub`} value={sub} onChange={(e) => setSub(e.target.value)}>
              <option value="">This account</option>
              {subAccounts.map((x) => <option key={x.id} value={x.id}>MyGlue: {x.name}</option>)}
            </select>
          </div>
        )}
        <Field label="Issuer URL" type="url" required value={issuer} onChange={(e) => setIssuer(e.target.value)} error={error} field="issuer"
          hint="The provider's issuer; its /.well-known/openid-configuration is read from there." />
        <Field label="Client ID" required value={clientId} onChange={(e) => setClientId(e.target.value)} error={error} field="client_id" />
        <Field label="Client secret" type="password" autoComplete="off" required={!provider} value={secret}
          onChange={(e) => setSecret(e.target.value)} error={error} field="client_secret"
          hint={provider ? "Leave empty to keep the current secret. It is never shown again." : "Stored encrypted; never shown again."} />
        <Field label="Scopes" value={scopes} onChange={(e) => setScopes(e.target.value)} error={error} field="scopes"
          hint="Separated by spaces." />
        <div className="field">
          <label htmlFor={`${ids}-redirects`}>Allowed redirect URIs</label>
          <textarea id={`${ids}-redirects`} required value={redirects} onChange={(e) => setRedirects(e.target.value)}
            aria-describedby={`${ids}-redirects-d`} spellCheck={false} />
          <small id={`${ids}-redirects-d`} className={fieldMessage(error, "allowed_redirect_uris") ? "field-error" : "hint"}>
            {fieldMessage(error, "allowed_redirect_uris") ?? "One per line: the pages of your apps that finish a single sign-on (this web app's is prefilled)."}
          </small>
        </div>
        {provider && (
          <p className="callback-url">Callback URL to register at the provider: <code>{provider.callback_url}</code></p>
        )}
        <div className="field checkbox">
          <input id={`${ids}-trust`} type="checkbox" checked={trust} onChange={(e) => setTrust(e.target.checked)}
            aria-describedby={`${ids}-trust-d`} />
          <label htmlFor={`${ids}-trust`}>Trust the provider's MFA</label>
        </div>
        <p id={`${ids}-trust-d`} className="hint">
          When the provider says it did MFA, the session counts as signed in with MFA and Latchkey asks for no code of its own.
          Otherwise Latchkey's MFA policy applies on top of the provider's sign-in.
        </p>
        <div className="field checkbox">
          <input id={`${ids}-jit`} type="checkbox" checked={jit} onChange={(e) => setJit(e.target.checked)} aria-describedby={`${ids}-jit-d`} />
          <label htmlFor={`${ids}-jit`}>Create users on their first sign-in</label>
        </div>
        <p id={`${ids}-jit-d`} className="hint">
          Just-in-time provisioning: someone the provider knows, with a verified email and no user here yet, gets one with the default role.
          Otherwise only existing users (matched by verified email) can sign in.
        </p>
        {/* Which roles the users of a MyGlue account may hold is the server's rule: a refused one is a 422 on default_role, shown here. */}
        <SelectField label="Default role" value={role} onChange={(e) => setRole(e.target.value)} error={error} field="default_role">
          <RoleOptions custom={customRoles} current={provider?.default_role} />
        </SelectField>
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={() => onClose(null, false)}>Cancel</button>
          <button className="primary" disabled={busy}>{provider ? "Save" : "Add provider"}</button>
        </div>
      </form>
    </Dialog>
  );
}

function fieldMessage(error: unknown, field: string): string | undefined {
  return error instanceof LatchkeyError ? error.fieldError(field) : undefined;
}
