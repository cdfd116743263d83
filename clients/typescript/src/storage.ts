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
