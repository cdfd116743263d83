import { useEffect, useState, type FormEvent } from "react";
import { LatchkeyError } from "@latchkey/client";
import { client } from "../api";
import { useAuth } from "../auth";
import { Link, navigate } from "../router";
import { useLinkToken } from "../links";
import { ErrorMessage, Field } from "../ui";
import { isLinkError } from "./ForgotPassword";

/** What a refused acceptance means for the invitee, and what to do. */
function acceptError(e: unknown): unknown {
  if (!(e instanceof LatchkeyError)) return e;
  if (e.code === "link_expired") {
    return new Error("This invitation link has expired or was already used — ask your administrator to send the invitation again.");
  }
  if (e.code === "link_invalid") {
    return new Error("This invitation link is not valid. Open it from the email again, or ask your administrator to send the invitation again.");
  }
  if (e.code === "conflict") {
    return new Error("There is already a user with this email address. Sign in instead (or use \"Forgot your password?\").");
  }
  return e;
}

/**
 * /accept-invitation#token=…: the invitee chooses a password (and may
 * correct their name), then continues as a sign-in does: signed in, or the
 * Enable MFA dialog when the account requires MFA (`setHold` keeps the
 * sign-in screen up until the recovery token has been seen).
 */
export function AcceptInvitation({ setHold }: { setHold: (hold: boolean) => void }) {
  const auth = useAuth();
  const token = useLinkToken();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Another link opened in this tab starts afresh.
  useEffect(() => setError(null), [token]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!token) return;
    setError(null);
    if (password !== again) { setError(new Error("The passwords do not match.")); return; }
    setBusy(true);
    try {
      // Whoever is signed in in this browser is not the invitee: their session ends first.
      if (client.state.status === "authenticated") await client.signOut();
      else client.cancelSignIn();
      const s = await client.acceptInvitation({ token, password, ...(name.trim() ? { display_name: name.trim() } : {}) });
      if (s.status === "mfa_enrollment_required") setHold(true);
      navigate(s.status === "authenticated" ? "/profile" : "/", true);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const dead = isLinkError(error) || (error instanceof LatchkeyError && error.code === "conflict");
  return (
    <main className="auth-page">
      <h1>Accept your invitation</h1>
      <div className="card">
        {!token ? (
          <>
            <div role="alert" className="error">
              This page opens from the link in an invitation email. Open the link from the email again (it works once,
              within 7 days), or ask your administrator to send the invitation again.
            </div>
            <p><Link to="/">Go to sign in</Link></p>
          </>
        ) : dead ? (
          <>
            <ErrorMessage error={acceptError(error)} />
            <p><Link to="/">Go to sign in</Link></p>
          </>
        ) : (
          <form onSubmit={submit}>
            <p>You have been invited to Latchkey. Choose the password you will sign in with.</p>
            {auth.status === "authenticated" && (
              <p className="notice">You are signed in as {auth.user.email} in this browser. Accepting signs that session out.</p>
            )}
            <Field label="Your name" name="display_name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)}
              hint="Optional: leave it empty to keep the name your administrator entered." error={error} field="display_name" />
            <Field label="Password" type="password" name="password" autoComplete="new-password" required minLength={12} autoFocus
              value={password} onChange={(e) => setPassword(e.target.value)} hint="At least 12 characters." error={error} field="password" />
            <Field label="Confirm password" type="password" name="password_again" autoComplete="new-password" required
              value={again} onChange={(e) => setAgain(e.target.value)} />
            <ErrorMessage error={acceptError(error)} />
            <div className="actions">
              <button className="primary" disabled={busy}>{busy ? "Signing in…" : "Accept and sign in"}</button>
            </div>
          </form>
        )}
      </div>
    </main>
  );
}
