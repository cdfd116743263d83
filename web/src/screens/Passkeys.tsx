import { useState, type FormEvent, type ReactNode } from "react";
import { LatchkeyError, createPasskey, type Passkey, type RegisteredPasskey } from "@latchkey/client";
import { client } from "../api";
import { useAuth } from "../auth";
import { usePasskeysHere } from "../passkeys";
import { Dialog, ErrorMessage, Field, when } from "../ui";
import { RecoveryToken } from "./RecoveryToken";

/**
 * Where passkeys would work but this page cannot use them (another origin
 * than the relying party's): "Passkeys work at <origin>", a link there, and
 * what to do (`children`). Nothing when the server names no origin.
 */
export function PasskeysElsewhere({ useAt, className = "hint", children }: { useAt: string; className?: string; children?: ReactNode }) {
  if (!useAt) return null;
  return (
    <p className={className} data-testid="passkeys-elsewhere">
      Passkeys work at <a href={`${useAt}/`}>{useAt}</a>{children}
    </p>
  );
}

/** What to do without a recovery token (the phishing-resistant policy issues none). */
export const LOST_PASSKEYS = "If you lose all your passkeys, contact an administrator to reset your MFA.";
/** Under the phishing-resistant policy no recovery token is issued: what to do instead. */
export const NO_RECOVERY_TOKEN = `Recovery codes are not used under your administrator's policy: only passkeys count. ${LOST_PASSKEYS}`;

/** A name for a new passkey from the browser and system ("Chrome on macOS"); the person may change it. */
export function defaultPasskeyName(ua: string = navigator.userAgent): string {
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome"
    : /Safari\//.test(ua) ? "Safari" : "Browser";
  const system = /iPhone|iPad/.test(ua) ? "iOS" : /Android/.test(ua) ? "Android" : /Mac OS X|Macintosh/.test(ua) ? "macOS"
    : /Windows/.test(ua) ? "Windows" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : "";
  return system ? `${browser} on ${system}` : browser;
}

/** What a passkey is, in the words of the screens that offer one. */
export const PASSKEY_EXPLAINED =
  "A passkey signs you in with this device's fingerprint, face or screen lock, or with a security key: nothing to type, and it only works on this site.";

/** The password-check errors of passkey calls, as the dialogs say them. */
function passkeyCallError(e: unknown): unknown {
  if (e instanceof LatchkeyError && e.code === "no_pending_enrollment") {
    return new Error("The passkey set-up expired. Try again.");
  }
  if (e instanceof LatchkeyError && e.code === "validation_failed" && e.fieldError("credential")) {
    return new Error("Latchkey could not verify this passkey. Try again, or use another device or security key.");
  }
  return e;
}

/**
 * The passkey form: a name (and the password once MFA is on), then the
 * browser's prompt, then registration. With the enrollment token of a forced
 * enrollment the client sends that token; the answer signs in.
 */
export function PasskeySetup({ needsPassword, onRegistered, onCancel, cancelLabel = "Cancel" }: {
  needsPassword: boolean;
  onRegistered: (r: RegisteredPasskey) => void;
  onCancel: () => void;
  cancelLabel?: string;
}) {
  const [name, setName] = useState(defaultPasskeyName);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Only where this page may use passkeys (its origin is the relying party's, WebAuthn present).
  const here = usePasskeysHere();
  const supported = here.status === "available";

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const options = await client.passkeyOptions(needsPassword ? password : undefined);
      const credential = await createPasskey(options);
      onRegistered(await client.registerPasskey(name.trim(), credential));
    } catch (err) {
      setError(passkeyCallError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} data-testid="passkey-setup">
      <p>{PASSKEY_EXPLAINED}</p>
      {here.status === "elsewhere" ? (
        <PasskeysElsewhere useAt={here.useAt} className="notice">
          , not at this address: open Latchkey there and sign in again to add one.
        </PasskeysElsewhere>
      ) : here.status === "unsupported" || here.status === "unknown" ? (
        <p className="notice">This browser cannot make passkeys here. Use another browser, or an authenticator application.</p>
      ) : null}
      <Field label="Passkey name" name="passkey_name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)}
        hint="So you can tell your passkeys apart, e.g. “Work laptop” or “Blue security key”." error={error} field="name" />
      {needsPassword && (
        <Field label="Password" type="password" autoComplete="current-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} />
      )}
      <ErrorMessage error={error} />
      <div className="actions">
        <button type="button" onClick={onCancel}>{cancelLabel}</button>
        <button className="primary" disabled={busy || !supported}>{busy ? "Waiting for your passkey…" : "Create passkey"}</button>
      </div>
    </form>
  );
}

/**
 * Whether registering `result` turned MFA on: it came with the first recovery
 * token, or (where only passkeys count, which issues none) it renewed the
 * session of a user whose MFA was off (`mfaWasOn`).
 */
export function turnedMfaOn(result: RegisteredPasskey, mfaWasOn: boolean): boolean {
  return !!result.recoveryToken || (result.sessionRenewed && !mfaWasOn);
}

/**
 * After registering: the recovery token when the passkey turned MFA on (or,
 * under the phishing-resistant policy, that there is none), else that it is
 * ready.
 */
export function PasskeyAdded({ result, mfaWasOn, onDone }: { result: RegisteredPasskey; mfaWasOn: boolean; onDone: () => void }) {
  const enabled = turnedMfaOn(result, mfaWasOn);
  return (
    <>
      <p role="status" className="ok" data-testid="passkey-added">
        Your passkey “{result.passkey.name}” is ready. {enabled ? "MFA is now enabled for your account." : "Use it the next time you sign in."}
      </p>
      {result.recoveryToken
        ? <RecoveryToken token={result.recoveryToken} />
        : enabled && <p className="notice" data-testid="no-recovery-token">{NO_RECOVERY_TOKEN}</p>}
      <div className="actions"><button type="button" className="primary" onClick={onDone}>Done</button></div>
    </>
  );
}

/** Edit Profile → Add a passkey. `needsPassword`: MFA is on already. */
export function AddPasskeyDialog({ needsPassword, onClose }: { needsPassword: boolean; onClose: () => void }) {
  const [result, setResult] = useState<RegisteredPasskey | null>(null);
  const title = result ? (turnedMfaOn(result, needsPassword) ? "MFA is enabled" : "Passkey added") : "Add a passkey";
  return (
    <Dialog title={title} onClose={onClose}>
      {result ? <PasskeyAdded result={result} mfaWasOn={needsPassword} onDone={onClose} />
        : <PasskeySetup needsPassword={needsPassword} onRegistered={setResult} onCancel={onClose} />}
    </Dialog>
  );
}

function RenamePasskeyDialog({ passkey, onClose }: { passkey: Passkey; onClose: (changed: boolean) => void }) {
  const [name, setName] = useState(passkey.name);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await client.renamePasskey(passkey.id, name.trim());
      onClose(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title="Rename passkey" onClose={() => onClose(false)}>
      <form onSubmit={submit}>
        <Field label="Passkey name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} error={error} field="name" />
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={() => onClose(false)}>Cancel</button>
          <button className="primary" disabled={busy}>Save</button>
        </div>
      </form>
    </Dialog>
  );
}

function DeletePasskeyDialog({ passkey, last, lastCounting, passkeysOnly, onClose }: {
  passkey: Passkey; last: boolean; lastCounting: boolean; passkeysOnly: boolean; onClose: (deleted: boolean) => void;
}) {
  const auth = useAuth();
  // A session signed in with a passkey alone goes on as a password session when MFA goes (the password is asked here).
  const passwordless = auth.status === "authenticated" && auth.claims.amr.includes("hwk") && !auth.claims.amr.includes("pwd");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await client.deletePasskey(passkey.id, password);
      onClose(true);
    } catch (err) {
      setError(err instanceof LatchkeyError && err.code === "mfa_enforced"
        ? new Error(passkeysOnly
          ? "MFA is required for your account and only passkeys count, so your last passkey cannot be deleted. Add another passkey first."
          : "MFA is required for your account, so your last passkey cannot be deleted. Add another passkey or an authenticator application first.")
        : err);
      setBusy(false);
    }
  }
  return (
    <Dialog title="Delete passkey" onClose={() => onClose(false)}>
      <form onSubmit={submit}>
        <p>Delete the passkey “{passkey.name}”? It stops working at once, and your other sessions are signed out.</p>
        {last && (
          <p className="notice">
            This is your last second factor: deleting it turns MFA off for your account.
            {passwordless ? " You signed in with a passkey alone: you stay signed in, and this session goes on as a sign-in with your password." : ""}
          </p>
        )}
        {!last && lastCounting && (
          <p className="notice">
            This is your last passkey, and only passkeys count for your account: your authenticator application does not.
            Without a passkey you will be asked to add one at your next sign-in.
          </p>
        )}
        <p className="hint">Remove it from the device or security key too (its passkey settings).</p>
        <Field label="Password" type="password" autoComplete="current-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} />
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={() => onClose(false)}>Cancel</button>
          <button className="danger" disabled={busy}>Delete passkey</button>
        </div>
      </form>
    </Dialog>
  );
}

/**
 * The passkeys of Edit Profile → MFA Settings: name, when added and last
 * used, Rename and Delete (with the password). Deleting the only passkey
 * of a user without TOTP turns MFA off (the dialog says so; a passwordless
 * session goes on as a password session); where only passkeys count
 * (`passkeysOnly`), a TOTP secret left behind does not count.
 */
export function PasskeyList({ passkeys, hasTotp, passkeysOnly = false, onChanged }: {
  passkeys: Passkey[]; hasTotp: boolean; passkeysOnly?: boolean; onChanged: () => void;
}) {
  const [renaming, setRenaming] = useState<Passkey | null>(null);
  const [deleting, setDeleting] = useState<Passkey | null>(null);
  if (passkeys.length === 0) return null;
  return (
    <>
      <table className="passkeys" aria-label="Passkeys">
        <thead><tr><th>Passkey</th><th>Added</th><th>Last used</th><th><span className="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {passkeys.map((p) => (
            <tr key={p.id} data-testid="passkey-row">
              <td>
                <span data-testid="passkey-name">{p.name}</span>
                {p.backed_up && <span className="badge" title="Synced across your devices by your password manager or platform">synced</span>}
              </td>
              <td>{when(p.created_at)}</td>
              <td>{p.last_used_at ? when(p.last_used_at) : "Never"}</td>
              <td>
                <div className="row-actions">
                  <button type="button" aria-label={`Rename ${p.name}`} onClick={() => setRenaming(p)}>Rename</button>
                  <button type="button" className="danger" aria-label={`Delete ${p.name}`} onClick={() => setDeleting(p)}>Delete</button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {renaming && <RenamePasskeyDialog passkey={renaming} onClose={(changed) => { setRenaming(null); if (changed) onChanged(); }} />}
      {deleting && (
        <DeletePasskeyDialog passkey={deleting} last={passkeys.length === 1 && !hasTotp}
          lastCounting={passkeys.length === 1 && passkeysOnly} passkeysOnly={passkeysOnly}
          onClose={(deleted) => { setDeleting(null); if (deleted) onChanged(); }} />
      )}
    </>
  );
}
