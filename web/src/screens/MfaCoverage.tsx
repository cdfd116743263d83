import { useState } from "react";
import type { CoverageRow } from "@latchkey/client";
import { client } from "../api";
import { Link } from "../router";
import { Empty, ErrorMessage, Loading, useAsync, whenShort } from "../ui";

/** The users list of a row's scope, without MFA (the account's row: every user without MFA). */
export function withoutMfaLink(row: CoverageRow): string {
  const q = new URLSearchParams({ mfa_enabled: "false" });
  if (row.scope === "sub_account" && row.sub_account_id) q.set("sub_account_id", row.sub_account_id);
  return `/account/users?${q}`;
}

function policyText(row: CoverageRow): string {
  const required = !row.require_mfa ? "Not required"
    : row.require_mfa_from ? `Required from ${whenShort(row.require_mfa_from)}` : "Required";
  return row.mfa_methods === "phishing_resistant" ? `${required} · passkeys only` : required;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? "" : ` (${Math.round((part / whole) * 100)}%)`;
}

/** Saves a file the browser holds (a Blob) under `filename`. */
function saveFile(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Account → MFA coverage (`users.view`): per scope (this account's own
 * users, then each MyGlue account) how many users there are, how many have
 * MFA and with what, how many must still set it up before a deadline (and
 * which) and how many are overdue; the scope's policy; a link to the users
 * of the scope without MFA; and the same rows as a CSV file.
 */
export function MfaCoverage() {
  const coverage = useAsync(() => client.mfaCoverage(), []);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function download() {
    setBusy(true); setError(null);
    try {
      const { blob, filename } = await client.mfaCoverageCsv();
      saveFile(blob, filename);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const data = coverage.data;
  return (
    <main>
      <div className="title-row">
        <h1>MFA coverage</h1>
        <div className="row-actions">
          <button type="button" onClick={() => coverage.reload()} disabled={coverage.loading}>Refresh</button>
          <button type="button" className="primary" onClick={() => void download()} disabled={busy}>
            {busy ? "Preparing CSV…" : "Download CSV"}
          </button>
        </div>
      </div>
      <p className="hint">
        Who has set up multi-factor authentication, per scope. <strong>Due</strong>: required users without MFA who may still
        sign in until the deadline; <strong>Overdue</strong>: required users without MFA past the deadline (or required at once),
        who must set it up at their next sign-in. Disabled users are not counted.
      </p>
      <ErrorMessage error={error ?? coverage.error} />
      {coverage.loading && !data ? <Loading what="Counting" /> : data && (data.items.length === 0 ? <Empty>No users yet.</Empty> : (
        <>
          <table aria-busy={coverage.loading} data-testid="coverage-table">
            <thead>
              <tr>
                <th>Scope</th><th>Users</th><th>Enrolled</th><th>TOTP</th><th>Passkey</th><th>SSO MFA</th>
                <th>Due (deadline)</th><th>Overdue</th><th>Policy</th><th><span className="sr-only">Users without MFA</span></th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((row) => {
                const scope = row.scope === "account" ? `${row.name} (this account)` : `MyGlue: ${row.name}`;
                const missing = row.users - row.enrolled;
                return (
                  <tr key={row.sub_account_id ?? "account"} data-testid="coverage-row" data-scope={row.scope}>
                    <th scope="row">{scope}</th>
                    <td data-testid="coverage-users">{row.users}</td>
                    <td data-testid="coverage-enrolled">{row.enrolled}{percent(row.enrolled, row.users)}</td>
                    <td data-testid="coverage-totp">{row.by_method.totp}</td>
                    <td data-testid="coverage-passkey">{row.by_method.passkey}</td>
                    <td data-testid="coverage-sso">{row.by_method.sso_mfa}</td>
                    <td data-testid="coverage-due">
                      {row.due}{row.due > 0 && row.due_at ? <><br /><small>by {whenShort(row.due_at)}</small></> : null}
                    </td>
                    <td data-testid="coverage-overdue" className={row.overdue > 0 ? "overdue" : undefined}>{row.overdue}</td>
                    <td data-testid="coverage-policy">{policyText(row)}</td>
                    <td>
                      {missing > 0 ? (
                        <Link to={withoutMfaLink(row)} aria-label={`Users without MFA: ${scope}`}>
                          {row.scope === "account" ? "Users without MFA" : `${missing} without MFA`}
                        </Link>
                      ) : <span className="ok">All set up</span>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <p className="muted" data-testid="coverage-generated">As of {whenShort(data.generated_at)}.</p>
        </>
      ))}
    </main>
  );
}
