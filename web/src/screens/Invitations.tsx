import { useState, type FormEvent } from "react";
import { LatchkeyError, type Invitation, type Schemas } from "@latchkey/client";
import { client } from "../api";
import { Dialog, Empty, ErrorMessage, Field, Loading, SelectField, useAsync, when } from "../ui";
import { RoleOptions, roleLabel, type CustomRole, type Role } from "../roles";

/** How many invitations the list reads (newest first); open ones are among the newest, since a link lives 7 days. */
const READ = 100;

/**
 * Invite user: email, name and role (the New user dialog's role picker, and
 * "Belongs to" for a MyGlue account's client users). The invitee chooses
 * their own password through the mailed link.
 */
export function InviteUserDialog({ subAccounts, customRoles, onClose }: {
  subAccounts: Schemas["SubAccountResponse"][]; customRoles: CustomRole[] | undefined; onClose: (sent: Invitation | null) => void;
}) {
  const [form, setForm] = useState({ email: "", display_name: "", role: "editor" as Role, sub_account_id: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      onClose(await client.invite({ ...form, email: form.email.trim(), display_name: form.display_name.trim(), sub_account_id: form.sub_account_id || null }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title="Invite user" onClose={() => onClose(null)}>
      <form onSubmit={submit}>
        <p className="hint">They get an email with a link to choose their own password. The link works once, within 7 days.</p>
        <Field label="Email" type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} error={error} field="email" />
        <Field label="Name" required value={form.display_name} onChange={(e) => setForm({ ...form, display_name: e.target.value })} error={error} field="display_name" />
        {subAccounts.length > 0 && (
          <SelectField label="Belongs to" value={form.sub_account_id} onChange={(e) => setForm({ ...form, sub_account_id: e.target.value })}
            error={error} field="sub_account_id">
            <option value="">This account</option>
            {subAccounts.map((s) => <option key={s.id} value={s.id}>MyGlue: {s.name}</option>)}
          </SelectField>
        )}
        {/* As in New user: which roles a MyGlue user may hold is the server's rule (a 422 on role, shown here). */}
        <SelectField label="Role" value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })} error={error} field="role">
          <RoleOptions custom={customRoles} />
        </SelectField>
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={() => onClose(null)}>Cancel</button>
          <button className="primary" disabled={busy}>Send invitation</button>
        </div>
      </form>
    </Dialog>
  );
}

const STATUS_LABELS: Record<Invitation["status"], string> = { pending: "Pending", expired: "Expired", accepted: "Accepted", revoked: "Revoked" };

/**
 * Pending invitations (not yet accepted or revoked; expired ones too, which
 * a resend revives): status, when the link stops working, Resend (a new
 * link; the old one stops working) and Revoke. For holders of `users.manage`.
 * `version` changes when an invitation was sent, to read the list again.
 */
export function PendingInvitations({ version, notice, setNotice, subName, customRoles }: {
  version: number;
  notice: string | null;
  setNotice: (notice: string | null) => void;
  subName: (id: string | null | undefined) => string;
  customRoles: CustomRole[] | undefined;
}) {
  const list = useAsync(() => client.listInvitations({ per_page: READ }), [version]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const open = list.data?.items.filter((i) => i.status === "pending" || i.status === "expired") ?? [];

  async function resend(inv: Invitation) {
    setBusy(inv.id); setError(null); setNotice(null);
    try {
      const again = await client.resendInvitation(inv.id);
      setNotice(`The invitation was sent again to ${again.email}. The previous link no longer works; the new one works until ${when(again.expires_at)}.`);
      list.reload();
    } catch (err) {
      setError(err);
      list.reload();
    } finally {
      setBusy(null);
    }
  }
  async function revoke() {
    const inv = revoking;
    if (!inv) return;
    setBusy(inv.id); setError(null); setNotice(null);
    try {
      await client.revokeInvitation(inv.id);
      setNotice(`The invitation of ${inv.display_name} (${inv.email}) was revoked: its link no longer works.`);
    } catch (err) {
      setError(err);
    } finally {
      setRevoking(null);
      setBusy(null);
      list.reload();
    }
  }

  return (
    <section className="card" aria-labelledby="invitations-h">
      <h2 id="invitations-h">Pending invitations</h2>
      {notice && <p role="status" className="ok" data-testid="invitation-notice">{notice}</p>}
      <ErrorMessage error={error instanceof LatchkeyError && error.code === "conflict"
        ? new Error("This invitation was already accepted or revoked.") : error} />
      <ErrorMessage error={list.error} />
      {list.loading && !list.data ? <Loading what="Loading invitations" /> : list.data && (
        open.length === 0 ? <Empty>No pending invitations.</Empty> : (
          <table aria-busy={list.loading}>
            <thead>
              <tr><th>Name</th><th>Email</th><th>Role</th><th>MyGlue account</th><th>Status</th><th>Link works until</th><th><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {open.map((inv) => (
                <tr key={inv.id} data-testid="invitation-row">
                  <td>{inv.display_name}</td>
                  <td>{inv.email}</td>
                  <td>{roleLabel(inv.role, customRoles)}</td>
                  <td>{subName(inv.sub_account_id)}</td>
                  <td data-testid="invitation-status">
                    <span className={inv.status === "expired" ? "badge warn" : "badge"}>{STATUS_LABELS[inv.status]}</span>
                  </td>
                  <td>{when(inv.expires_at)}</td>
                  <td>
                    <div className="row-actions">
                      <button type="button" disabled={busy !== null} onClick={() => void resend(inv)}>
                        Resend<span className="sr-only"> the invitation to {inv.email}</span>
                      </button>
                      <button type="button" className="danger" disabled={busy !== null} onClick={() => { setNotice(null); setRevoking(inv); }}>
                        Revoke<span className="sr-only"> the invitation to {inv.email}</span>
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
      {list.data && list.data.total > READ && (
        <p className="hint">Showing the open invitations among the newest {READ} of {list.data.total}.</p>
      )}
      {revoking && (
        <Dialog title="Revoke invitation" onClose={() => setRevoking(null)}>
          <p>Revoke the invitation of {revoking.display_name} ({revoking.email})? Its link stops working at once.</p>
          <div className="actions">
            <button type="button" onClick={() => setRevoking(null)}>Cancel</button>
            <button type="button" className="danger" disabled={busy !== null} onClick={() => void revoke()}>Revoke</button>
          </div>
        </Dialog>
      )}
    </section>
  );
}
