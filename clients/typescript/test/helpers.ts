import { inject } from "vitest";
import * as OTPAuth from "otpauth";
import { LatchkeyClient, type LatchkeyClientOptions } from "../src/index.js";

export const baseUrl = inject("latchkeyUrl");
export const PASSWORD = "correct horse battery staple";

let counter = 0;
export function uniqueEmail(tag: string): string {
  return `${tag}-${Date.now().toString(36)}-${counter++}@example.com`;
}

const made: LatchkeyClient[] = [];
export function newClient(options: Partial<LatchkeyClientOptions> = {}): LatchkeyClient {
  const c = new LatchkeyClient({ baseUrl, channel: null, autoRefresh: false, ...options });
  made.push(c);
  return c;
}
export function disposeClients(): void {
  for (const c of made.splice(0)) c.dispose();
}

/** Signs up a new account and signs its administrator in. */
export async function signUpAndIn(c: LatchkeyClient, tag = "admin"): Promise<string> {
  const email = uniqueEmail(tag);
  await c.signUp({ account_name: `Acme ${tag}`, email, password: PASSWORD });
  const state = await c.signIn(email, PASSWORD);
  if (state.status !== "authenticated") throw new Error(`expected authenticated, got ${state.status}`);
  return email;
}

/**
 * An authenticator app reading the secret key. Each code is used once by the
 * server (its step and all earlier ones are consumed), so this hands out a
 * step above the last one used: the next step is accepted at once (one step
 * of skew), later ones are waited for.
 */
export class Authenticator {
  private readonly totp: OTPAuth.TOTP;
  private lastStep = -Infinity;
  constructor(secret: string) {
    this.totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });
  }
  async code(): Promise<string> {
    const now = () => Math.floor(Date.now() / 30_000);
    const step = Math.max(now(), this.lastStep + 1);
    while (step > now() + 1) await new Promise((r) => setTimeout(r, 500));
    this.lastStep = step;
    return this.totp.generate({ timestamp: step * 30_000 + 1000 });
  }
  /** A code that is certainly wrong. */
  wrong(): string {
    const good = this.totp.generate();
    return good === "000000" ? "111111" : "000000";
  }
}
