import { useEffect, useState } from "react";
import { LatchkeyError, type AuthState } from "@latchkey/client";
import { client } from "../api";
import { Link, navigate } from "../router";
import { ErrorMessage, Loading } from "../ui";

// One exchange per callback URL, even if the component mounts twice
// (StrictMode in development): the login code and the kept state are single use.
const exchanges = new Map<string, Promise<AuthState>>();

/**
 * /sso/callback: where Latchkey sends the browser back after the identity
 * provider. Checks the state this tab made, exchanges the login code and
 * continues where a password would: linking to a user with a password (once),
 * the MFA code, a forced enrollment, or signed in.
 */
export function SsoCallback({ setHold }: { setHold: (hold: boolean) => void }) {
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const search = location.search;
    let exchange = exchanges.get(search);
    if (!exchange) {
      exchange = client.completeSso(search);
      exchanges.set(search, exchange);
    }
    let live = true;
    exchange.then(
      (state) => {
        if (!live) return;
        if (state.status === "mfa_enrollment_required") setHold(true);
        // The login code leaves the address bar (and the history) either way.
        navigate(state.status === "authenticated" ? "/profile" : "/", true);
      },
      (err: unknown) => {
        if (!live) return;
        history.replaceState(null, "", "/sso/callback");
        setError(err instanceof LatchkeyError && err.code === "invalid_credentials"
          ? new Error("This sign-in was already used or has expired. Start again from the sign-in page.")
          : err);
      },
    );
    return () => { live = false; };
  }, [setHold]);

  return (
    <main className="auth-page">
      <h1>Single sign-on</h1>
      <div className="card">
        {error ? (
          <>
            <ErrorMessage error={error} />
            <p><Link to="/">Back to sign in</Link></p>
          </>
        ) : <Loading what="Signing you in" />}
      </div>
    </main>
  );
}
