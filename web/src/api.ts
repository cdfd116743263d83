import { LatchkeyClient, webDeviceTokens, webStorage } from "@latchkey/client";

/**
 * Where the API runs: `VITE_LATCHKEY_URL` at build time; else, in a build,
 * the page's own origin (`latchkey serve` serves the app beside the API),
 * and in development (`npm run dev`) a local server.
 */
export const API_URL: string =
  import.meta.env.VITE_LATCHKEY_URL ?? (import.meta.env.DEV ? "http://127.0.0.1:8080" : window.location.origin);

// localStorage: tabs share one session and a reload keeps it (see the client's README for the trade-off).
// "Remember this device" tokens live there too, one per email (`latchkey.device:<email>`), and outlive sign-out.
export const client = new LatchkeyClient({
  baseUrl: API_URL,
  storage: webStorage(localStorage, "latchkey.session"),
  deviceTokens: webDeviceTokens(localStorage, "latchkey.device:"),
});

// For debugging in the console of a development build (`npm run dev`) only:
// a production build hands no page script the session's tokens.
if (import.meta.env.DEV) (window as unknown as { latchkey: LatchkeyClient }).latchkey = client;
