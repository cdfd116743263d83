/** What one tab tells the others about the session they share. */
export type TabMessage =
  | {
      type: "tokens";
      sessionId: string;
      accessToken: string;
      /** Epoch milliseconds. */
      expiresAt: number;
      refreshToken: string;
      user: unknown;
    }
  | { type: "signed_out"; sessionId: string | null };

/** A way to reach the other tabs of this origin. The sender does not hear its own messages. */
export interface TabChannel {
  post(message: TabMessage): void;
  subscribe(listener: (message: TabMessage) => void): () => void;
  close(): void;
}

/** `BroadcastChannel` (every modern browser, workers, Node 18+). */
export function broadcastChannel(name = "latchkey"): TabChannel {
  const bc = new BroadcastChannel(name);
  return {
    post: (m) => bc.postMessage(m),
    subscribe(listener) {
      const h = (e: MessageEvent) => listener(e.data as TabMessage);
      bc.addEventListener("message", h);
      return () => bc.removeEventListener("message", h);
    },
    close: () => bc.close(),
  };
}

/** Fallback through `storage` events of `localStorage` (fired in the other tabs only). */
export function storageEventChannel(storage: Storage, key = "latchkey.message"): TabChannel {
  return {
    post(m) {
      storage.setItem(key, JSON.stringify({ m, n: Math.random() }));
      storage.removeItem(key);
    },
    subscribe(listener) {
      const h = (e: StorageEvent) => {
        if (e.key !== key || !e.newValue) return;
        try { listener((JSON.parse(e.newValue) as { m: TabMessage }).m); } catch { /* not ours */ }
      };
      globalThis.addEventListener("storage", h);
      return () => globalThis.removeEventListener("storage", h);
    },
    close() {},
  };
}

/** BroadcastChannel when present, else storage events, else nothing. */
export function defaultChannel(name = "latchkey"): TabChannel | null {
  if (typeof BroadcastChannel === "function") return broadcastChannel(name);
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (ls && typeof globalThis.addEventListener === "function") return storageEventChannel(ls, `${name}.message`);
  return null;
}
