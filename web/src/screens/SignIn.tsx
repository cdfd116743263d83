import { useMemo, useState, type FormEvent } from "react";
import { LatchkeyError, getPasskey } from "@latchkey/client";
import { client } from "../api";
import { useAuth } from "../auth";
import { Link, useLocation } from "../router";
import { callbackUrl, forgetAccount, rememberAccount } from "../sso";
import { signInHandover } from "../links";
import { ErrorMessage, Field, useAsync, validationMessage } from "../ui";
import { PHONE_TIME_HINT, RECOVERY_TOKEN_HINT, compactCode } from "../errors";
import { EnableMfaDialog } from "./EnableMfa";
import { PasskeysElsewhere } from "./Passkeys";
import { usePasskeysHere } from "../passkeys";

/**
 * Sign in: email and password, then the MFA Code (a code or the recovery
 * token). A forced enrollment opens the Enable MFA dialog straight away;
 * `setHold` keeps this screen up until its recovery token has been seen.
 * A first single sign-on that reached a user with a password asks for that
 * password once, to link the provider's account to them.
 *
 * The MFA Code step names the email signing in (the client's `mfa_required`
 * state has none: it is the one typed on the password step, kept here); a
 * wrong code comes with the seeds' hints (the phone's time, the recovery
 * token); a lock says until when, as a local time. When the user has a
 * passkey it offers "Use your passkey"; where only passkeys count (the
 * challenge's methods are `passkey` alone) there is no code field at all.
 *
 * "Sign in with a passkey" signs in without email and password (a
 * discoverable passkey).
 *
 * Passkey buttons show only where this page may use passkeys (its origin is
 * one of the relying party's, `GET /api/v1/passkeys/relying-party`, and the
 * browser has WebAuthn). Opened at another address (say 127.0.0.1 while the
 * relying party is `localhost`), the page says where passkeys work instead;
 * at the MFA step of a user whose passkey is the only way through, it says
 * that the passkey must be used there.
 */
export function SignIn({ setHold }: { setHold: (hold: boolean) => void }) {
  const auth = useAuth();
  // A screen that sent the browser here (a confirmed sign-up) may say why and fill in the email.
  const [email, setEmail] = useState(() => signInHandover().email ?? "");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(() => signInHandover().notice ?? null);
  // The email of the sign-in under way (shown on the MFA Code step).
  const [signingInAs, setSigningInAs] = useState<string | null>(null);
  // Whether the challenge of the last wrong code offered the recovery token
  // (after the last attempt the state, and its methods, are gone).
  const [recoveryOffered, setRecoveryOffered] = useState(false);
  // "Remember this device" at the MFA step (offered while the account remembers devices).
  const [remember, setRemember] = useState(false);
  const here = usePasskeysHere();

  async function submitPassword(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null); setNotice(null);
    // Before the call: its answer may show the MFA Code step at once.
    setSigningInAs(email.trim());
    try {
      const s = await client.signIn(email.trim(), password);
      if (s.status === "mfa_enrollment_required") setHold(true);
      setPassword("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function submitLink(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    setSigningInAs(auth.status === "link_required" ? auth.email : null);
    try {
      const s = await client.linkIdentity(password);
      if (s.status === "mfa_enrollment_required") setHold(true);
      setPassword("");
    } catch (err) {
      setError(err instanceof LatchkeyError && err.code === "invalid_credentials" ? new Error("That password is not correct.") : err);
      setPassword("");
    } finally {
      setBusy(false);
    }
  }

  /** The second step with the passkey the challenge asks for. */
  async function usePasskey() {
    if (auth.status !== "mfa_required" || !auth.passkeyOptions) return;
    setBusy(true); setError(null);
    try {
      await client.submitMfaPasskey(await getPasskey(auth.passkeyOptions), { rememberDevice: remember && auth.rememberDeviceDays > 0 });
    } catch (err) {
      if (err instanceof LatchkeyError && err.code === "mfa_code_invalid") {
        const again = client.state.status === "mfa_required";
        setError(new Error(again
          ? "Your passkey was not accepted. Enter a code instead, or go back and sign in again to retry the passkey."
          : "Your passkey was not accepted. Sign in again."));
        if (!again) setNotice(null);
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  }

  async function submitCode(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    setRecoveryOffered(auth.status === "mfa_required" && auth.methods.includes("recovery_token"));
    try {
      const r = await client.submitMfaCode(compactCode(code), {
        rememberDevice: remember && auth.status === "mfa_required" && auth.rememberDeviceDays > 0,
      });
      if (r.recoveryTokenUsed) sessionStorage.setItem("latchkey.recoveryUsed", "1");
    } catch (err) {
      setError(err);
      setCode("");
      if (err instanceof LatchkeyError && client.state.status === "signed_out") setNotice(null);
    } finally {
      setBusy(false);
    }
  }

  // A wrong code: what to check, as the Enable MFA dialog and the seeds say.
  const codeHints = error instanceof LatchkeyError && error.code === "mfa_code_invalid"
    ? [PHONE_TIME_HINT, ...(recoveryOffered ? [RECOVERY_TOKEN_HINT] : [])]
    : undefined;

  if (auth.status === "mfa_enrollment_required" || (auth.status === "authenticated")) {
    return (
      <main className="auth-page">
        <h1>Sign in</h1>
        <EnableMfaDialog forced
          onClose={() => { if (client.state.status !== "authenticated") client.cancelSignIn(); setHold(false); }} />
      </main>
    );
  }

  if (auth.status === "link_required") {
    return (
      <main className="auth-page">
        <h1>Confirm your password to link</h1>
        <form onSubmit={submitLink} className="card" aria-describedby="link-help">
          <p id="link-help">
            Your identity provider signed you in as <strong>{auth.email}</strong>, who already has a Latchkey password.
            Enter that password once to link the two; later sign-ins through the provider will not ask for it.
          </p>
          <input type="email" name="email" autoComplete="username" value={auth.email} readOnly hidden />
          <Field label="Password" type="password" name="password" autoComplete="current-password" autoFocus required value={password}
            onChange={(e) => setPassword(e.target.value)} />
          <ErrorMessage error={error} lock="password" />
          <div className="actions">
            <button type="button" onClick={() => { client.cancelSignIn(); setError(null); setPassword(""); }}>Back</button>
            <button className="primary" disabled={busy}>Link and sign in</button>
          </div>
        </form>
      </main>
    );
  }

  if (auth.status === "mfa_required") {
    const recovery = auth.methods.includes("recovery_token");
    const hasPasskey = auth.methods.includes("passkey") && auth.passkeyOptions !== null;
    // Offered only where this page may use it; else where it works is said instead.
    const passkey = hasPasskey && here.status === "available";
    const passkeyElsewhere = hasPasskey && here.status === "elsewhere" ? here.useAt : null;
    // Codes count: a TOTP secret or an unused recovery token (not where only passkeys count).
    const codes = auth.methods.some((m) => m !== "passkey");
    const accepts = !auth.methods.includes("totp")
      ? "Enter your one-time recovery token."
      : recovery
        ? "Enter the 6-digit code from your authenticator application, or your one-time recovery token if you do not have your phone."
        : "Enter the 6-digit code from your authenticator application.";
    const back = <button type="button" onClick={() => { client.cancelSignIn(); setError(null); }}>Back</button>;
    const days = auth.rememberDeviceDays;
    const rememberBox = days > 0 && (
      <div className="field checkbox remember">
        <input id="remember-device" type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)}
          aria-describedby="remember-device-hint" />
        <label htmlFor="remember-device">Remember this device for {days} {days === 1 ? "day" : "days"}</label>
        <small id="remember-device-hint" className="hint">
          Your password alone then signs you in on this browser. Not on a shared or public computer.
        </small>
      </div>
    );
    const who = signingInAs && (
      <p id="signing-in-as" data-testid="signing-in-as">Signing in as <strong>{signingInAs}</strong></p>
    );
    const usePasskeyButton = passkey && (
      <button type="button" className={codes ? undefined : "primary"} disabled={busy} onClick={() => void usePasskey()}>
        {busy && !codes ? "Waiting for your passkey…" : "Use your passkey"}
      </button>
    );
    if (!codes) {
      return (
        <main className="auth-page">
          <h1>Sign in</h1>
          <div className="card" aria-describedby={signingInAs ? "signing-in-as" : undefined}>
            {who}
            {passkeyElsewhere ? (
              <p className="notice" role="alert" data-testid="passkey-elsewhere-step">
                Your administrator accepts only a passkey for this sign-in, and your passkey can be used only
                at <a href={`${passkeyElsewhere}/`}>{passkeyElsewhere}</a>, not at this address ({window.location.origin}).
                Open Latchkey at {passkeyElsewhere} and sign in there.
              </p>
            ) : (
              <p data-testid="passkey-step">
                {passkey
                  ? "Confirm it is you with your passkey: your browser asks for this device's fingerprint, face or screen lock, or your security key."
                  : hasPasskey && (here.status === "unsupported" || here.status === "unknown")
                    ? "Your administrator accepts only a passkey for this sign-in, and this browser cannot use passkeys here. Sign in with a browser that can."
                    : hasPasskey && here.status === "loading"
                      ? "Checking where your passkey can be used…"
                      : "This sign-in can no longer be finished. Go back and sign in again."}
              </p>
            )}
            {passkey && rememberBox}
            <ErrorMessage error={error} lock="code" />
            <div className="actions">{back}{usePasskeyButton}</div>
          </div>
        </main>
      );
    }
    return (
      <main className="auth-page">
        <h1>Sign in</h1>
        <form onSubmit={submitCode} className="card" aria-describedby={signingInAs ? "signing-in-as" : undefined}>
          {who}
          {/* No pattern: codes with spaces or dashes and recovery tokens are all fine; the server decides. */}
          <Field label="MFA Code" name="mfa_code" autoComplete="one-time-code" autoFocus required autoCapitalize="characters"
            spellCheck={false} value={code} onChange={(e) => setCode(e.target.value)} hint={accepts}
            {...validationMessage(accepts)} />
          {rememberBox}
          <ErrorMessage error={error} lock="code" hints={codeHints} />
          <div className="actions">
            {back}
            <button className="primary" disabled={busy}>Verify</button>
          </div>
          {passkey && (
            <p className="alternative">Or sign in with the passkey you added: {usePasskeyButton}</p>
          )}
          {passkeyElsewhere && (
            <PasskeysElsewhere useAt={passkeyElsewhere} className="alternative hint">
              , not at this address: enter a code here, or sign in there to use your passkey.
            </PasskeysElsewhere>
          )}
        </form>
      </main>
    );
  }

  return (
    <main className="auth-page">
      <h1>Sign in</h1>
      <form onSubmit={submitPassword} className="card">
        {auth.status === "signed_out" && auth.reason === "session_ended" && (
          <p className="notice" role="status">Your session has ended. Sign in again.</p>
        )}
        {notice && <p className="notice" role="status" data-testid="sign-in-notice">{notice}</p>}
        <Field label="Email" type="email" name="email" autoComplete="username" required autoFocus value={email}
          onChange={(e) => setEmail(e.target.value)} />
        <Field label="Password" type="password" name="password" autoComplete="current-password" required value={password}
          onChange={(e) => setPassword(e.target.value)} />
        <ErrorMessage error={error} lock="password" hints={codeHints} />
        <div className="actions">
          <button className="primary" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
        </div>
        <p className="muted">
          <Link to="/forgot-password" state={{ email: email.trim() }}>Forgot your password?</Link>
        </p>
        <p className="muted">New to Latchkey? <Link to="/signup">Create an account</Link></p>
      </form>
      <PasskeySignIn onStart={() => { setError(null); setNotice(null); }} />
      <SsoButtons />
    </main>
  );
}

/**
 * "Sign in with a passkey": no email, no password; the browser offers the
 * passkeys it holds for this site. Shown where this page may use passkeys;
 * where they work at another address, a hint names it instead.
 */
function PasskeySignIn({ onStart }: { onStart: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const here = usePasskeysHere();
  if (here.status === "elsewhere") {
    return here.useAt ? (
      <section className="card passkey-sign-in" aria-label="Passkey">
        <PasskeysElsewhere useAt={here.useAt}>: open Latchkey there to sign in with a passkey.</PasskeysElsewhere>
      </section>
    ) : null;
  }
  if (here.status !== "available") return null;
  async function start() {
    onStart();
    setBusy(true); setError(null);
    try {
      const options = await client.passwordlessOptions();
      await client.signInWithPasskey(options.ceremony_id, await getPasskey(options));
    } catch (err) {
      setError(err instanceof LatchkeyError && err.code === "invalid_credentials"
        ? new Error("That passkey did not sign you in: it may have been deleted from your profile. Sign in with your email and password.")
        : err);
      setBusy(false);
    }
  }
  return (
    <section className="card passkey-sign-in" aria-label="Passkey">
      <button type="button" className="sso-button" disabled={busy} onClick={() => void start()}>
        {busy ? "Waiting for your passkey…" : "Sign in with a passkey"}
      </button>
      <p className="hint">No password needed: use a passkey you added in Edit Profile.</p>
      <ErrorMessage error={error} />
    </section>
  );
}

/**
 * "Sign in with <provider>" for the account of this sign-in page
 * (`?account=<id>`, remembered in localStorage). Nothing when the page does
 * not know the account or the account has no providers.
 */
function SsoButtons() {
  const { query } = useLocation();
  const fromUrl = query.get("account");
  const accountId = useMemo(() => rememberAccount(fromUrl), [fromUrl]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const providers = useAsync(async () => {
    if (!accountId) return [];
    try {
      return await client.ssoProviders(accountId);
    } catch (err) {
      // An account id that is not (any more) an account: stop asking.
      if (err instanceof LatchkeyError && (err.status === 404 || err.status === 422)) forgetAccount();
      throw err;
    }
  }, [accountId]);

  async function start(id: string) {
    setBusy(id); setError(null);
    try {
      location.assign(await client.beginSso(id, callbackUrl()));
    } catch (err) {
      setError(err);
      setBusy(null);
    }
  }

  if (!accountId || !providers.data?.length) return null;
  return (
    <section className="card sso" aria-label="Single sign-on">
      <p className="muted">Or sign in through your organization:</p>
      {providers.data.map((p) => (
        <button key={p.id} type="button" className="sso-button" disabled={busy !== null} onClick={() => start(p.id)}>
          {busy === p.id ? "Redirecting…" : `Sign in with ${p.name}`}
        </button>
      ))}
      <ErrorMessage error={error} />
    </section>
  );
}
