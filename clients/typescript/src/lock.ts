/**
 * Mutual exclusion for refreshing. Latchkey revokes the whole session when a
 * spent refresh token is presented again, so two refreshes of one session must
 * never overlap: not two calls in one page, not two tabs.
 */
export interface RefreshLock {
  /** Runs `fn` while holding the lock `name`; resolves with its result. */
  run<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Minimal shape of `navigator.locks` (Web Locks API). */
export interface LockManagerLike {
  request<T>(name: string, options: { mode: "exclusive" }, callback: () => Promise<T>): Promise<T>;
}

/** Web Locks: exclusive across every tab and worker of the origin. */
export function webLocks(locks: LockManagerLike): RefreshLock {
  return { run: (name, fn) => locks.request(name, { mode: "exclusive" }, fn) };
}

/** A promise chain per name: exclusive within one JavaScript realm. Share one instance to share the lock. */
export function inProcessLock(): RefreshLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const previous = tails.get(name) ?? Promise.resolve();
      const result = previous.then(fn, fn);
      const tail = result.then(() => undefined, () => undefined);
      tails.set(name, tail);
      void tail.then(() => { if (tails.get(name) === tail) tails.delete(name); });
      return result;
    },
  };
}

/**
 * Fallback for browsers without Web Locks: a lease in `localStorage`, taken by
 * writing our id and reading it back after a pause (the last writer wins; the
 * others wait and retry). Best effort; a holder that dies frees it when the
 * lease runs out.
 */
export function storageLock(storage: Storage, options: { leaseMs?: number; settleMs?: number } = {}): RefreshLock {
  const leaseMs = options.leaseMs ?? 10_000;
  const settleMs = options.settleMs ?? 40;
  const local = inProcessLock();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  return {
    run<T>(name: string, fn: () => Promise<T>): Promise<T> {
      return local.run(name, async () => {
        const key = `latchkey.lock.${name}`;
        const id = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
        for (;;) {
          const held = parseLease(storage.getItem(key));
          if (!held || held.until < Date.now()) {
            storage.setItem(key, JSON.stringify({ id, until: Date.now() + leaseMs }));
            await sleep(settleMs);
            if (parseLease(storage.getItem(key))?.id === id) break;
          }
          await sleep(settleMs + Math.random() * settleMs * 2);
        }
        try {
          return await fn();
        } finally {
          if (parseLease(storage.getItem(key))?.id === id) storage.removeItem(key);
        }
      });
    },
  };
}

function parseLease(raw: string | null): { id: string; until: number } | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as { id?: unknown; until?: unknown };
    return typeof v.id === "string" && typeof v.until === "number" ? { id: v.id, until: v.until } : null;
  } catch {
    return null;
  }
}

/** Web Locks when the platform has them, else the localStorage lease, else in-process. */
export function defaultLock(): RefreshLock {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  if (nav?.locks) return webLocks(nav.locks);
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (ls) return storageLock(ls);
  return inProcessLock();
}
