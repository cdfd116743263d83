import { useEffect, useState } from "react";
import { linkToken } from "@latchkey/client";

/** The token of the mail link this page was opened with, kept in memory only. */
let kept: { path: string; token: string } | null = null;

/**
 * The `#token=` of the mail link that opened this screen (`/reset-password`,
 * `/accept-invitation`, `/verify-signup`). The token rides in the fragment so
 * that no server logs it; once read it leaves the address bar (and this
 * history entry), and stays in memory for this screen only: a reload after
 * that asks for the link again rather than keeping the token anywhere.
 */
export function takeLinkToken(): string | null {
  const token = linkToken(location.hash);
  if (token) {
    kept = { path: location.pathname, token };
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  return kept && kept.path === location.pathname ? kept.token : null;
}

/**
 * `takeLinkToken` as a hook: also takes the token of another mail link
 * opened in this same tab while the screen is up (only the fragment
 * changes then, so the page does not load again).
 */
export function useLinkToken(): string | null {
  const [token, setToken] = useState(takeLinkToken);
  useEffect(() => {
    const onHashChange = () => {
      const next = takeLinkToken();
      if (next) setToken(next);
    };
    window.addEventListener("hashchange", onHashChange);
    return () => window.removeEventListener("hashchange", onHashChange);
  }, []);
  return token;
}

/** What Sign in shows when another screen sends the browser there (in the history entry's state). */
export interface SignInHandover {
  notice?: string;
  email?: string;
}

/** The handover of the current history entry, if any. */
export function signInHandover(): SignInHandover {
  const state: unknown = history.state;
  if (typeof state !== "object" || state === null) return {};
  const { notice, email } = state as Record<string, unknown>;
  return { ...(typeof notice === "string" ? { notice } : {}), ...(typeof email === "string" ? { email } : {}) };
}
