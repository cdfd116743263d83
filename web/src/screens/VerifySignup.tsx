import { useEffect, useState } from "react";
import { LatchkeyError, type SignupResponse } from "@latchkey/client";
import { client } from "../api";
import { Link, navigate } from "../router";
import { useLinkToken } from "../links";
import { ErrorMessage, Loading } from "../ui";

// One verification per token, even if the screen mounts twice (StrictMode in
// development): the link is single use.
const verifications = new Map<string, Promise<SignupResponse>>();

/** What a refused link means here: sign up again for a new one. */
function verifyError(e: unknown): unknown {
  if (!(e instanceof LatchkeyError)) return e;
  if (e.code === "link_expired") return new Error("This link has expired or was already used — sign up again for a new one. If you already confirmed it, sign in.");
  if (e.code === "link_invalid") return new Error("This link is not valid. Open it from the email again, or sign up again for a new one.");
  if (e.code === "conflict") return new Error("This email address already has an account. Sign in instead.");
  return e;
}

/**
 * /verify-signup#token=…: confirms the address of a verified sign-up
 * (`LATCHKEY_SIGNUP=verify`), which creates the account, then sends the
 * browser to Sign in with the email filled in.
 */
export function VerifySignup() {
  const token = useLinkToken();
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<SignupResponse | null>(null);

  useEffect(() => {
    if (!token) return;
    setError(null);
    setCreated(null);
    let verification = verifications.get(token);
    if (!verification) {
      verification = client.verifySignup(token);
      verifications.set(token, verification);
    }
    let live = true;
    verification.then(
      (r) => {
        if (!live) return;
        if (client.state.status === "authenticated") {
          // Someone is signed in in this browser: say it is done, and let them choose.
          setCreated(r);
          return;
        }
        client.cancelSignIn();
        navigate("/", true, {
          notice: `Your email address is confirmed and your account "${r.account.name}" is ready. Sign in to continue.`,
          email: r.user.email,
        });
      },
      (err: unknown) => { if (live) setError(err); },
    );
    return () => { live = false; };
  }, [token]);

  return (
    <main className="auth-page">
      <h1>Confirm your email address</h1>
      <div className="card">
        {!token ? (
          <>
            <div role="alert" className="error">
              This page opens from the link in the email we sent when you signed up. Open the link from the email again
              (it works once, within 24 hours), or sign up again.
            </div>
            <p><Link to="/signup">Sign up</Link> · <Link to="/">Sign in</Link></p>
          </>
        ) : error ? (
          <>
            <ErrorMessage error={verifyError(error)} />
            <p><Link to="/signup">Sign up</Link> · <Link to="/">Sign in</Link></p>
          </>
        ) : created ? (
          <>
            <p role="status" className="ok">
              Your email address is confirmed and your account "{created.account.name}" is ready.
            </p>
            <p>You are signed in as someone else in this browser. Sign out to sign in as {created.user.email}.</p>
            <div className="actions left">
              <button type="button" className="primary" onClick={() => void client.signOut().then(() => navigate("/", true, {
                notice: `Your account "${created.account.name}" is ready. Sign in to continue.`, email: created.user.email,
              }))}>Sign out and sign in</button>
              <Link to="/profile" className="button">Stay signed in</Link>
            </div>
          </>
        ) : <Loading what="Confirming your email address" />}
      </div>
    </main>
  );
}
