import { useSyncExternalStore } from "react";
import { passkeyAvailability, type PasskeyAvailability } from "@latchkey/client";
import { client } from "./api";

/**
 * Whether this page may offer passkeys: `available` (this origin is one of
 * the relying party's and the browser has WebAuthn), `elsewhere` (they work
 * at `useAt`, not at this address: e.g. the app opened at 127.0.0.1 while
 * the relying party is `localhost`), `unsupported` (no WebAuthn here),
 * `loading` (the relying party not known yet) or `unknown` (it could not be
 * read). Only `available` offers passkey buttons.
 */
export type PasskeysHere = PasskeyAvailability | { status: "loading" } | { status: "unknown" };

let current: PasskeysHere = { status: "loading" };
let asking = false;
const listeners = new Set<() => void>();

function set(next: PasskeysHere): void {
  current = next;
  for (const l of [...listeners]) l();
}

/** Asks the server once (`GET /api/v1/passkeys/relying-party`); after a failure, the next screen asks again. */
function ask(): void {
  if (asking || (current.status !== "loading" && current.status !== "unknown")) return;
  asking = true;
  client.getRelyingParty().then(
    (rp) => set(passkeyAvailability(rp, { origin: window.location.origin })),
    () => set({ status: "unknown" }),
  ).finally(() => { asking = false; });
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  ask();
  return () => listeners.delete(listener);
}

/** Where this page stands with passkeys (see `PasskeysHere`). */
export function usePasskeysHere(): PasskeysHere {
  return useSyncExternalStore(subscribe, () => current);
}
