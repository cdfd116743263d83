import { useState, type FormEvent } from "react";
import { LatchkeyError, unwrap, type Device, type Me } from "@latchkey/client";
import { client } from "../api";
import { useAuth } from "../auth";
import { Dialog, Empty, ErrorMessage, Field, Loading, PadlockIcon, useAsync, validationMessage, when, whenShort } from "../ui";
import { DeviceTable } from "./Devices";
import { compactCode } from "../errors";
import { EnableMfaDialog, RecoveryToken } from "./EnableMfa";
import { AddPasskeyDialog, LOST_PASSKEYS, NO_RECOVERY_TOKEN, PasskeyList, PasskeysElsewhere } from "./Passkeys";
import { usePasskeysHere } from "../passkeys";
import { permissionText } from "../permissions";
import { roleLabel, useCustomRoles } from "../roles";
import { useReloadMe } from "../me";

export function Profile() {
  const me = useAsync(() => unwrap(client.api.GET("/api/v1/me")), []);
  const auth = useAuth();
  // A change of this session's factors (MFA set up: other sessions ended, this one raised) reads the sessions again.
  const amr = auth.status === "authenticated" ? auth.claims.amr.join(" ") : "";
  // Custom role names are read with roles.manage; otherwise the role shows as its id.
  const custom = useCustomRoles();
  return (
    <main>
      <h1>Edit Profile</h1>
      {me.loading && !me.data ? <Loading /> : me.error ? <ErrorMessage error={me.error} /> : me.data && (
        <>
          <section className="card" aria-labelledby="about-h">
            <h2 id="about-h">{me.data.display_name}</h2>
            <p className="muted">{me.data.email} · {roleLabel(me.data.role, custom)}</p>
            {me.data.permissions.length > 0 && (
              <p data-testid="my-permissions">
                Your role allows: {me.data.permissions.map((p) => <span key={p} className="badge">{permissionText(p)}</span>)}
              </p>
            )}
          </section>
          <MfaSettings me={me.data} reload={me.reload} />
          <ChangePassword />
          <RememberedDevices />
          <MySessions key={amr} />
        </>
      )}
    </main>
  );
}

function requiredReason(me: Me, subAccountName: string | undefined): string {
  if (me.mfa.required_by === "user") {
    return "MFA is required for your profile by your administrator, so it cannot be disabled.";
  }
  if (me.mfa.required_by === "sub_account") {
    return subAccountName
      ? `MFA is required for access to the MyGlue account "${subAccountName}", so it cannot be disabled.`
      : "MFA is required for access to your MyGlue account, so it cannot be disabled.";
  }
  return "MFA is required for access to this account by your administrator, so it cannot be disabled.";
}

function MfaSettings({ me, reload }: { me: Me; reload: () => void }) {
  const auth = useAuth();
  const aal2 = auth.status === "authenticated" && auth.claims.aal === "aal2";
  const [dialog, setDialog] = useState<null | "enable" | "reenroll" | "recovery" | "disable" | "passkey">(null);
  const factors = useAsync(() => client.factors(), []);
  const passkeys = factors.data?.passkeys ?? [];
  const hasTotp = !!factors.data?.totp;
  // Where the account (or MyGlue account) counts only passkeys, codes from an app are no second factor.
  const passkeysOnly = me.mfa.methods === "phishing_resistant";
  // Passkeys are added only where this page may use them (see ../passkeys).
  const here = usePasskeysHere();
  // What the last change did, said once it is done (e.g. after Disable MFA).
  const [done, setDone] = useState<string | null>(null);
  const open = (d: NonNullable<typeof dialog>) => { setDone(null); setDialog(d); };
  const subAccount = useAsync(async () => {
    if (me.mfa.required_by !== "sub_account" || !me.sub_account_id) return undefined;
    // Client users may not read sub-accounts; then the reason stays generic.
    try {
      return (await unwrap(client.api.GET("/api/v1/sub-accounts/{id}", { params: { path: { id: me.sub_account_id } } }))).name;
    } catch {
      return undefined;
    }
  }, [me.sub_account_id, me.mfa.required_by]);
  const reloadMe = useReloadMe();
  // The app shell's /me too: e.g. the Reset-MFA notice goes once MFA is set up again.
  const close = () => { setDialog(null); reload(); reloadMe(); factors.reload(); };
  const mfa = me.mfa;
  const reason = mfa.required ? requiredReason(me, subAccount.data) : null;

  return (
    <section className="card" aria-labelledby="mfa-h">
      <h2 id="mfa-h">MFA Settings</h2>
      <p role="status" className="ok" data-testid="mfa-done">{done}</p>
      {passkeysOnly && (
        <p className="notice" data-testid="passkeys-only">
          Your administrator accepts only passkeys (phishing-resistant) as the second factor: codes from an authenticator
          application and recovery tokens do not count when you sign in.
          {mfa.enabled && passkeys.length === 0 && factors.data ? " Add a passkey: you will be asked to at your next sign-in." : ""}
        </p>
      )}
      {mfa.enabled ? (
        <>
          <p data-testid="mfa-status"><PadlockIcon open={false} /> MFA is enabled{mfa.enabled_at ? ` since ${when(mfa.enabled_at)}` : ""}.</p>
          {!aal2 && (
            <p className="notice">
              You signed in without an MFA code in this session. Changing your MFA settings needs a sign-in with your MFA code.
            </p>
          )}
          {passkeysOnly ? (
            // No recovery token is issued or accepted where only passkeys count (403 phishing_resistant_required).
            <p className="hint" data-testid="recovery-token-status">{NO_RECOVERY_TOKEN}</p>
          ) : (
            <>
              <p data-testid="recovery-token-status">
                Recovery token:{" "}
                {mfa.recovery_token.active
                  ? `active (created ${when(mfa.recovery_token.created_at)})`
                  : "none unused — generate a new one so you can still sign in without your phone."}
              </p>
              <p>
                <button type="button" className="link" onClick={() => open("recovery")}>
                  Click here to generate a new one-time MFA recovery token
                </button>
              </p>
            </>
          )}
          <div className="actions left">
            {!passkeysOnly && (
              <button type="button" onClick={() => open("reenroll")}>
                {hasTotp || !factors.data ? "Set up a new device" : "Add an authenticator application"}
              </button>
            )}
            <button type="button" disabled={!mfa.can_disable} aria-describedby={reason ? "disable-reason" : undefined}
              onClick={() => open("disable")}>Disable MFA</button>
          </div>
          {reason && <p id="disable-reason" className="hint" data-testid="disable-reason">{reason}</p>}
        </>
      ) : (
        <>
          <p data-testid="mfa-status"><PadlockIcon open /> MFA is not enabled.</p>
          {mfa.required && (
            <p className="notice" data-testid="mfa-required-notice">
              {reason?.replace(", so it cannot be disabled", "")}
              {mfa.setup_due_at && <> <strong>Set up MFA by {whenShort(mfa.setup_due_at)}</strong>: until then your password alone signs you in; from then on you must set it up before you can sign in.</>}
            </p>
          )}
          <p className="hint">
            With MFA you sign in with your password plus a code from an authenticator application on your phone
            (Google Authenticator, Microsoft Authenticator, Authy, …), or with a passkey.
          </p>
          {!passkeysOnly && (
            <div className="actions left"><button type="button" className="primary" onClick={() => open("enable")}>Enable MFA</button></div>
          )}
        </>
      )}
      <h3 id="passkeys-h">Passkeys</h3>
      <ErrorMessage error={factors.error} />
      {factors.data && (passkeys.length === 0
        ? <p className="hint" data-testid="no-passkeys">
            No passkeys yet. A passkey signs you in with this device's fingerprint, face or screen lock, or with a security
            key{mfa.enabled ? "" : ", and adding one turns MFA on"}.
          </p>
        : <PasskeyList passkeys={passkeys} hasTotp={hasTotp} passkeysOnly={passkeysOnly}
            onChanged={() => { factors.reload(); reload(); reloadMe(); }} />)}
      {here.status === "available" ? (
        <div className="actions left">
          <button type="button" className={passkeysOnly && passkeys.length === 0 ? "primary" : undefined} onClick={() => open("passkey")}>
            Add a passkey
          </button>
        </div>
      ) : here.status === "elsewhere" ? (
        <PasskeysElsewhere useAt={here.useAt}>: open Latchkey there (and sign in again) to add one.</PasskeysElsewhere>
      ) : here.status === "unsupported" ? (
        <p className="hint">This browser cannot make passkeys. Use another browser to add one.</p>
      ) : null}
      {(dialog === "enable" || dialog === "reenroll") && (
        <EnableMfaDialog needsPassword={dialog === "reenroll"} hasTotp={hasTotp || !factors.data} onClose={close} />
      )}
      {dialog === "passkey" && <AddPasskeyDialog needsPassword={mfa.enabled} onClose={close} />}
      {dialog === "recovery" && <NewRecoveryTokenDialog onClose={close} />}
      {dialog === "disable" && (
        <DisableMfaDialog onClose={close} onDisabled={() => { setDone("MFA is now disabled for your account."); close(); }} />
      )}
    </section>
  );
}

function NewRecoveryTokenDialog({ onClose }: { onClose: () => void }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [token, setToken] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const r = await unwrap(client.api.POST("/api/v1/me/mfa/recovery-token", { body: { password } }));
      setToken(r.recovery_token);
    } catch (err) {
      // Where only passkeys count no recovery token is issued (the policy may have changed since this page was read).
      setError(err instanceof LatchkeyError && err.code === "phishing_resistant_required"
        ? new Error(`Your administrator accepts only passkeys for this account, so no recovery token is issued. ${LOST_PASSKEYS}`)
        : err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title="New MFA recovery token" onClose={onClose}>
      {token ? (
        <>
          <RecoveryToken token={token} />
          <p className="hint">Your previous recovery token no longer works.</p>
          <div className="actions"><button type="button" className="primary" onClick={onClose}>Done</button></div>
        </>
      ) : (
        <form onSubmit={submit}>
          <p>Generating a new one-time recovery token invalidates the previous one.</p>
          <Field label="Password" type="password" autoComplete="current-password" required value={password}
            onChange={(e) => setPassword(e.target.value)} />
          <ErrorMessage error={error} />
          <div className="actions">
            <button type="button" onClick={onClose}>Cancel</button>
            <button className="primary" disabled={busy}>Generate</button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function DisableMfaDialog({ onClose, onDisabled }: { onClose: () => void; onDisabled: () => void }) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await unwrap(client.api.DELETE("/api/v1/me/mfa", { body: { password, code: compactCode(code) } }));
      onDisabled();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title="Disable MFA" onClose={onClose}>
      <form onSubmit={submit}>
        <p>After disabling, your password alone signs you in. Remove this account from your authenticator application too.</p>
        <Field label="Password" type="password" autoComplete="current-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} error={error} field="password" />
        <Field label="MFA Code" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)}
          hint="A code from your authenticator application, or your recovery token." error={error} field="code"
          {...validationMessage("Enter the 6-digit code from your authenticator application, or your recovery token.")} />
        <ErrorMessage error={error} />
        <div className="actions">
          <button type="button" onClick={onClose}>Cancel</button>
          <button className="danger" disabled={busy}>Disable MFA</button>
        </div>
      </form>
    </Dialog>
  );
}

function ChangePassword() {
  const [cur, setCur] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null); setDone(false);
    if (next !== again) { setError(new Error("The new passwords do not match.")); return; }
    setBusy(true);
    try {
      await unwrap(client.api.PUT("/api/v1/me/password", { body: { current_password: cur, new_password: next } }));
      setDone(true); setCur(""); setNext(""); setAgain("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section className="card" aria-labelledby="pw-h">
      <h2 id="pw-h">Change password</h2>
      <form onSubmit={submit}>
        <Field label="Current password" type="password" autoComplete="current-password" required value={cur} onChange={(e) => setCur(e.target.value)} />
        <Field label="New password" type="password" autoComplete="new-password" required minLength={12} value={next}
          onChange={(e) => setNext(e.target.value)} hint="At least 12 characters." error={error} field="new_password" />
        <Field label="Confirm new password" type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} />
        <ErrorMessage error={error} />
        {done && <p role="status" className="ok">Your password has been changed.</p>}
        <div className="actions left"><button className="primary" disabled={busy}>Change password</button></div>
      </form>
    </section>
  );
}

/**
 * Remembered devices: the browsers where "Remember this device" skips the
 * MFA step. Forget one to be asked for the second factor there again.
 */
function RememberedDevices() {
  const devices = useAsync(() => client.listMyDevices({ per_page: 100 }), []);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function forget(d: Device) {
    setBusy(true); setError(null); setDone(null);
    try {
      await client.forgetMyDevice(d.id);
      setDone("The device is forgotten: signing in there asks for your second factor again.");
      devices.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }
  return (
    <section className="card" aria-labelledby="devices-h">
      <h2 id="devices-h">Remembered devices</h2>
      <ErrorMessage error={error ?? devices.error} />
      <p role="status" className="ok">{done}</p>
      {devices.loading && !devices.data ? <Loading /> : devices.data && (devices.data.items.length === 0 ? (
        <p className="hint" data-testid="no-devices">
          No remembered devices. Where your administrator allows it, the MFA step at sign-in offers "Remember this device":
          your password alone then signs you in on that browser for a while.
        </p>
      ) : (
        <>
          <p className="hint">These browsers skip the MFA step when you sign in with your password. Forget any you no longer use or do not recognize.</p>
          <DeviceTable devices={devices.data.items} busy={busy} onForget={(d) => void forget(d)} />
        </>
      ))}
    </section>
  );
}

function MySessions() {
  const sessions = useAsync(() => unwrap(client.api.GET("/api/v1/me/sessions", { params: { query: { per_page: 100 } } })), []);
  const [error, setError] = useState<unknown>(null);
  async function end(id: string, current: boolean) {
    setError(null);
    try {
      if (current) return await client.signOut();
      await unwrap(client.api.DELETE("/api/v1/me/sessions/{id}", { params: { path: { id } } }));
      sessions.reload();
    } catch (err) {
      setError(err);
    }
  }
  return (
    <section className="card" aria-labelledby="sess-h">
      <h2 id="sess-h">My sessions</h2>
      <ErrorMessage error={error ?? sessions.error} />
      {sessions.loading && !sessions.data ? <Loading /> : sessions.data && (sessions.data.items.length === 0 ? <Empty>No sessions.</Empty> : (
        <table>
          <thead><tr><th>Signed in</th><th>Last used</th><th>From</th><th>With</th><th><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {sessions.data.items.map((s) => (
              <tr key={s.id} data-testid="session-row">
                <td>{when(s.created_at)} {s.current && <strong className="badge">This session</strong>}</td>
                <td>{when(s.last_used_at)}</td>
                <td>{s.ip ?? "—"}<br /><small className="muted">{s.user_agent ?? ""}</small></td>
                <td data-testid="session-method">{signInMethod(s.amr, s.aal)}</td>
                <td><button type="button" onClick={() => end(s.id, s.current)}>Sign out</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}

/** How a session was signed in, from its `amr` and `aal`. */
function signInMethod(amr: string[], aal: string): string {
  if (amr.includes("hwk") && amr.includes("user") && !amr.includes("pwd") && !amr.includes("sso")) return "Passkey (no password)";
  const first = amr.includes("sso") ? "Single sign-on" : "Password";
  if (amr.includes("sso") && amr.includes("mfa")) return "Single sign-on + MFA at the identity provider";
  if (amr.includes("dev")) return `${first} + remembered device`;
  if (aal !== "aal2" && !amr.includes("otp") && !amr.includes("rec") && !amr.includes("hwk")) return first;
  return `${first} + ${amr.includes("hwk") ? "passkey" : `MFA${amr.includes("rec") ? " (recovery token)" : ""}`}`;
}
