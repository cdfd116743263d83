import { useEffect, useState, type FormEvent } from "react";
import { LatchkeyError } from "@latchkey/client";
import { client } from "../api";
import { Link } from "../router";
import { signInHandover, useLinkToken } from "../links";
import { ErrorMessage, Field } from "../ui";

/** Whether an error means the mail link itself is spent or wrong (no point in trying it again). */
export function isLinkError(e: unknown): e is LatchkeyError {
  return e instanceof LatchkeyError && (e.code === "link_expired" || e.code === "link_invalid");
}

/**
 * "Forgot your password?": asks for the email and always answers the same
 * words, whether or not the address has an account (the server's answer
 * is the same too), so this page never tells who is registered.
 */
export function ForgotPassword() {
  const [email, setEmail] = useState(() => signInHandover().email ?? "");
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await client.requestPasswordReset(email.trim());
      setSent(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth-page">
      <h1>Forgot your password?</h1>
      {sent ? (
        <div className="card">
          <p role="status" className="ok" data-testid="reset-requested">
            If an account exists for that address, we've sent a link to choose a new password.
          </p>
          <p>The link works once, within 30 minutes. If nothing arrives in a few minutes, check your spam folder or ask again.</p>
          <p className="muted">
            Your multi-factor authentication is not changed by a new password: you will still be asked for your code.
          </p>
          <div className="actions left">
            <button type="button" onClick={() => setSent(false)}>Ask again</button>
          </div>
          <p><Link to="/">Back to sign in</Link></p>
        </div>
      ) : (
        <form onSubmit={submit} className="card">
          <p>Enter the email you sign in with. We'll send you a link to choose a new password.</p>
          <Field label="Email" type="email" name="email" autoComplete="username" required autoFocus value={email}
            onChange={(e) => setEmail(e.target.value)} error={error} field="email" />
          <ErrorMessage error={error} />
          <div className="actions">
            <button className="primary" disabled={busy}>{busy ? "Sending…" : "Send me a link"}</button>
          </div>
          <p className="muted"><Link to="/">Back to sign in</Link></p>
        </form>
      )}
    </main>
  );
}

/**
 * /reset-password#token=…: the new password, twice. The token comes from the
 * fragment and leaves the address bar at once. A spent or wrong link says
 * so and offers a new one; success says that MFA stays on.
 */
export function ResetPassword() {
  const token = useLinkToken();
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  // Another link opened in this tab starts afresh.
  useEffect(() => { setError(null); setDone(false); }, [token]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!token) return;
    setError(null);
    if (password !== again) { setError(new Error("The new passwords do not match.")); return; }
    setBusy(true);
    try {
      await client.confirmPasswordReset(token, password);
      setDone(true);
      setPassword(""); setAgain("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const askAgain = <p><Link to="/forgot-password">Ask for a new link</Link></p>;
  return (
    <main className="auth-page">
      <h1>Choose a new password</h1>
      <div className="card">
        {done ? (
          <>
            <p role="status" className="ok" data-testid="reset-done">Your password has been reset.</p>
            <p>
              Every session of yours was signed out. Your multi-factor authentication stays on: if you use it,
              you will still be asked for your code when you sign in.
            </p>
            <div className="actions left"><Link to="/" className="button primary">Sign in</Link></div>
          </>
        ) : !token ? (
          <>
            <div role="alert" className="error">
              This page opens from the link in a password-reset email. Open the link from the email again
              (it works once, within 30 minutes), or ask for a new one.
            </div>
            {askAgain}
          </>
        ) : isLinkError(error) ? (
          <>
            <ErrorMessage error={error} />
            {askAgain}
          </>
        ) : (
          <form onSubmit={submit}>
            <Field label="New password" type="password" name="password" autoComplete="new-password" required minLength={12} autoFocus
              value={password} onChange={(e) => setPassword(e.target.value)} hint="At least 12 characters." error={error} field="password" />
            <Field label="Confirm new password" type="password" name="password_again" autoComplete="new-password" required
              value={again} onChange={(e) => setAgain(e.target.value)} />
            <ErrorMessage error={error} />
            <div className="actions">
              <button className="primary" disabled={busy}>Set new password</button>
            </div>
          </form>
        )}
      </div>
    </main>
  );
}
