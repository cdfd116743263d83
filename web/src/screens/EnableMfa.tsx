import { useEffect, useState, type FormEvent } from "react";
import { LatchkeyError, type Enrollment, type RegisteredPasskey } from "@latchkey/client";
import { client } from "../api";
import { CopyButton, Dialog, ErrorMessage, Field, Loading, validationMessage } from "../ui";
import { PHONE_TIME_HINT, compactCode } from "../errors";
import { RecoveryToken } from "./RecoveryToken";
import { PasskeyAdded, PasskeySetup, PasskeysElsewhere, turnedMfaOn } from "./Passkeys";
import { usePasskeysHere } from "../passkeys";

export { RecoveryToken };

/** What the Verify MFA Code field accepts (its hint and its browser validation message). */
const VERIFY_ACCEPTS = "Enter the 6-digit code from your authenticator application.";

/**
 * Enable MFA: the QR code, "Show secret key for manual configuration",
 * "Verify MFA Code" and Enable; then the recovery token. `needsPassword`
 * when MFA is already on (setting up a new device replaces the secret;
 * `hasTotp: false`: there is no secret yet, the user has passkeys only).
 *
 * Setting MFA up for the first time (from Edit Profile, the Reset-MFA
 * notice, or a forced enrollment at sign-in) offers "Use a passkey" beside
 * the authenticator application. Where the account counts only passkeys
 * the server refuses a TOTP enrollment to a user who has one already; the
 * dialog then offers the passkey alone. "Use a passkey" shows only where
 * this page may use passkeys; where they work at another address, a hint
 * names it instead.
 */
export function EnableMfaDialog({ needsPassword = false, hasTotp = true, forced = false, onClose, onEnabled }: {
  needsPassword?: boolean;
  hasTotp?: boolean;
  forced?: boolean;
  onClose: () => void;
  onEnabled?: () => void;
}) {
  const [password, setPassword] = useState("");
  const [passwordOk, setPasswordOk] = useState(!needsPassword);
  const [enrollment, setEnrollment] = useState<Enrollment | null>(null);
  const [showSecret, setShowSecret] = useState(false);
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [recoveryToken, setRecoveryToken] = useState<string | null>(null);
  // "Use a passkey" instead of the authenticator application, and its outcome.
  const [passkey, setPasskey] = useState(false);
  const [passkeyOnly, setPasskeyOnly] = useState(false);
  const [registered, setRegistered] = useState<RegisteredPasskey | null>(null);
  // A forced enrollment of a user who has TOTP already (MFA on): the passkey does not turn MFA on.
  const [hadTotp, setHadTotp] = useState(false);
  const here = usePasskeysHere();
  const offerPasskey = !needsPassword;

  async function start(pw?: string) {
    setBusy(true); setError(null);
    try {
      setEnrollment(await client.startEnrollment(pw));
      setPasswordOk(true);
    } catch (e) {
      // Where only passkeys count, TOTP set-up is refused: 403
      // phishing_resistant_required, or (a forced enrollment of a user who
      // has TOTP already) 401 while the sign-in still waits for a factor.
      const passkeysOnly = e instanceof LatchkeyError && (e.code === "phishing_resistant_required"
        || (forced && e.code === "unauthorized" && client.state.status === "mfa_enrollment_required"));
      if (passkeysOnly) {
        if (e.code === "unauthorized") setHadTotp(true);
        setPasskeyOnly(true);
        setPasskey(true);
      } else {
        setError(e);
      }
    } finally {
      setBusy(false);
    }
  }
  useEffect(() => { if (!needsPassword) void start(); }, []); // eslint-disable-line react-hooks/exhaustive-deps

  async function verify(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const res = await client.verifyEnrollment(compactCode(code));
      setRecoveryToken(res.recoveryToken);
      onEnabled?.();
    } catch (err) {
      setError(err);
      setCode("");
    } finally {
      setBusy(false);
    }
  }

  const mfaWasOn = needsPassword || hadTotp;
  const title = recoveryToken || (registered && turnedMfaOn(registered, mfaWasOn)) ? "MFA is enabled" : registered ? "Passkey added" : "Enable MFA";
  return (
    <Dialog title={title} onClose={onClose}>
      {forced && !recoveryToken && !registered && (
        <p className="notice">
          {passkeyOnly
            ? "Your administrator requires a passkey for your account: codes from an authenticator application no longer count. Add a passkey to continue."
            : "Your administrator requires MFA for your account. Set it up to continue."}
        </p>
      )}
      {registered ? (
        <PasskeyAdded result={registered} mfaWasOn={mfaWasOn} onDone={onClose} />
      ) : passkey ? (
        <PasskeySetup needsPassword={false} cancelLabel={passkeyOnly ? "Cancel" : "Back"}
          onCancel={() => (passkeyOnly ? onClose() : setPasskey(false))}
          onRegistered={(r) => { setRegistered(r); onEnabled?.(); }} />
      ) : recoveryToken ? (
        <>
          <RecoveryToken token={recoveryToken} />
          <div className="actions"><button type="button" className="primary" onClick={onClose}>Done</button></div>
        </>
      ) : !passwordOk ? (
        <form onSubmit={(e) => { e.preventDefault(); void start(password); }}>
          <p>{hasTotp
            ? "MFA is already on. Setting up a new device replaces the current secret: codes from the old one stop working."
            : "MFA is already on with your passkeys. Confirm your password to add an authenticator application too."}</p>
          <Field label="Password" type="password" autoComplete="current-password" required value={password}
            onChange={(e) => setPassword(e.target.value)} />
          <ErrorMessage error={error} />
          <div className="actions">
            <button type="button" onClick={onClose}>Cancel</button>
            <button className="primary" disabled={busy}>Continue</button>
          </div>
        </form>
      ) : !enrollment ? (
        error ? <><ErrorMessage error={error} /><div className="actions"><button type="button" onClick={onClose}>Close</button></div></> : <Loading what="Preparing your QR code" />
      ) : (
        <form onSubmit={verify}>
          {offerPasskey && here.status === "available" && (
            <div className="choice" data-testid="passkey-alternative">
              <p>Use an authenticator application (below), or a passkey instead: this device's fingerprint, face or screen lock, or a security key.</p>
              <button type="button" onClick={() => { setError(null); setPasskey(true); }}>Use a passkey</button>
            </div>
          )}
          {offerPasskey && here.status === "elsewhere" && (
            <PasskeysElsewhere useAt={here.useAt}>
              , not at this address: to use one instead of an authenticator application, open Latchkey there and sign in again.
            </PasskeysElsewhere>
          )}
          <ol className="steps">
            <li>
              Open your authenticator application and scan this QR code.
              <div className="qr"><img src={enrollment.qr_code_png} alt="QR code to scan with your authenticator application" width={200} height={200} /></div>
              <button type="button" className="link" aria-expanded={showSecret} onClick={() => setShowSecret((s) => !s)}>
                {showSecret ? "Hide secret key" : "Show secret key for manual configuration"}
              </button>
              {showSecret && (
                <p className="secret">
                  Secret key: <code data-testid="secret-key">{enrollment.secret}</code>{" "}
                  <CopyButton text={enrollment.secret} label="Copy key" />
                  <br /><small className="hint">Type: time-based, 6 digits, every 30 seconds.</small>
                </p>
              )}
            </li>
            <li>
              {/* No pattern: "123 456" and "123-456" are fine too, and the browser's "match the requested format" says nothing useful. */}
              <Field label="Verify MFA Code" name="code" inputMode="numeric" autoComplete="one-time-code"
                required value={code} onChange={(e) => setCode(e.target.value)} {...validationMessage(VERIFY_ACCEPTS)}
                hint={<>{VERIFY_ACCEPTS} {PHONE_TIME_HINT}</>} />
            </li>
          </ol>
          <ErrorMessage error={error} lock="code" />
          <div className="actions">
            <button type="button" onClick={onClose}>Cancel</button>
            <button className="primary" disabled={busy}>Enable</button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
