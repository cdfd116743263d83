import { useEffect, useState, type FormEvent } from "react";
import type { Enrollment } from "@latchkey/client";
import { client } from "../api";
import { CopyButton, Dialog, ErrorMessage, Field, Loading, validationMessage } from "../ui";
import { PHONE_TIME_HINT, compactCode } from "../errors";

/** What the Verify MFA Code field accepts (its hint and its browser validation message). */
const VERIFY_ACCEPTS = "Enter the 6-digit code from your authenticator application.";

/** The recovery token, shown once, with copy. */
export function RecoveryToken({ token }: { token: string }) {
  return (
    <div className="recovery" aria-live="polite">
      <p><strong>Your one-time MFA recovery token</strong></p>
      <p className="token-row">
        <code data-testid="recovery-token">{token}</code> <CopyButton text={token} label="Copy token" />
      </p>
      <p className="hint">
        Store it in a safe place such as an encrypted notes app. If you lose your phone, enter it in the
        MFA Code field when you sign in. It works once, and it is shown only now.
      </p>
    </div>
  );
}

/**
 * Enable MFA: the QR code, "Show secret key for manual configuration",
 * "Verify MFA Code" and Enable; then the recovery token. `needsPassword`
 * when MFA is already on (setting up a new device replaces the secret).
 */
export function EnableMfaDialog({ needsPassword = false, forced = false, onClose, onEnabled }: {
  needsPassword?: boolean;
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

  async function start(pw?: string) {
    setBusy(true); setError(null);
    try {
      setEnrollment(await client.startEnrollment(pw));
      setPasswordOk(true);
    } catch (e) {
      setError(e);
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

  const title = recoveryToken ? "MFA is enabled" : "Enable MFA";
  return (
    <Dialog title={title} onClose={onClose}>
      {forced && !recoveryToken && (
        <p className="notice">Your administrator requires MFA for your account. Set it up to continue.</p>
      )}
      {recoveryToken ? (
        <>
          <RecoveryToken token={recoveryToken} />
          <div className="actions"><button type="button" className="primary" onClick={onClose}>Done</button></div>
        </>
      ) : !passwordOk ? (
        <form onSubmit={(e) => { e.preventDefault(); void start(password); }}>
          <p>MFA is already on. Setting up a new device replaces the current secret: codes from the old one stop working.</p>
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
