/** Which account's sign-in page this is, for its "Sign in with …" buttons. */
const ACCOUNT_KEY = "latchkey.account";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Remembers `?account=<uuid>` (or an account signed in to); returns the account to show, if any. */
export function rememberAccount(fromUrl: string | null | undefined): string | null {
  if (fromUrl && UUID.test(fromUrl)) {
    localStorage.setItem(ACCOUNT_KEY, fromUrl.toLowerCase());
    return fromUrl.toLowerCase();
  }
  const kept = localStorage.getItem(ACCOUNT_KEY);
  return kept && UUID.test(kept) ? kept : null;
}

export function forgetAccount(): void {
  localStorage.removeItem(ACCOUNT_KEY);
}

/** The web app's SSO callback page: what goes into a provider's allowed redirect URIs. */
export function callbackUrl(): string {
  return `${location.origin}/sso/callback`;
}

/** The sign-in link of an account: its sign-in page with the SSO buttons. */
export function signInLink(accountId: string): string {
  return `${location.origin}/?account=${accountId}`;
}
