/**
 * Where the refresh token lives between page loads. The access token is never
 * stored: it stays in memory.
 *
 * - `memoryStorage()`: nothing persists; a reload signs the user out. Nothing
 *   for an injected script to find later. Each tab is its own session.
 * - `webStorage(sessionStorage)`: survives reloads, per tab, gone with the tab.
 * - `webStorage(localStorage)`: survives reloads and restarts and is shared by
 *   every tab of the origin (tabs share one session); readable by any script
 *   running on the origin, so an XSS can take it away.
 * - your own: anything with `get`/`set`/`remove` (IndexedDB, a native secure
 *   store in React Native, ...).
 */
export interface TokenStorage {
  get(): string | null | Promise<string | null>;
  set(value: string): void | Promise<void>;
  remove(): void | Promise<void>;
}

/** Keeps the value in this JavaScript realm only. Share one instance to share it. */
export function memoryStorage(): TokenStorage {
  let value: string | null = null;
  return {
    get: () => value,
    set: (v) => { value = v; },
    remove: () => { value = null; },
  };
}

/** A `Storage` (`localStorage`, `sessionStorage`) under one key. */
export function webStorage(storage: Storage, key = "latchkey.session"): TokenStorage {
  return {
    get: () => storage.getItem(key),
    set: (v) => storage.setItem(key, v),
    remove: () => storage.removeItem(key),
  };
}

/**
 * Where "Remember this device" tokens are kept, one per email (the server
 * binds each token to one user). A token skips the second step of the
 * password sign-in of that email until it expires or is forgotten; the
 * server ignores a stale one (the second step is then asked as usual).
 * Unlike the refresh token, it outlives sign-out: that is its point.
 */
export interface DeviceTokenStore {
  get(email: string): string | null | Promise<string | null>;
  set(email: string, token: string): void | Promise<void>;
  remove(email: string): void | Promise<void>;
}

/** An email as the server keys users by it: trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Device tokens in this JavaScript realm only (the default: a reload forgets them). */
export function memoryDeviceTokens(): DeviceTokenStore {
  const tokens = new Map<string, string>();
  return {
    get: (email) => tokens.get(normalizeEmail(email)) ?? null,
    set: (email, token) => { tokens.set(normalizeEmail(email), token); },
    remove: (email) => { tokens.delete(normalizeEmail(email)); },
  };
}

/**
 * Device tokens in a `Storage` (`localStorage`: this browser remembers
 * the device across restarts), one key per normalized email:
 * `<prefix><email>`.
 */
export function webDeviceTokens(storage: Storage, prefix = "latchkey.device:"): DeviceTokenStore {
  return {
    get: (email) => storage.getItem(prefix + normalizeEmail(email)),
    set: (email, token) => storage.setItem(prefix + normalizeEmail(email), token),
    remove: (email) => storage.removeItem(prefix + normalizeEmail(email)),
  };
}
