import { expect, type Page } from "@playwright/test";
import * as OTPAuth from "otpauth";

export const API_URL = process.env.LATCHKEY_URL ?? "http://127.0.0.1:8080";
export const PASSWORD = "correct horse battery staple";

let n = 0;
export function uniqueEmail(name: string): string {
  return `${name}-${Date.now().toString(36)}${(n++).toString(36)}@example.com`;
}

/** Saves a full-page screenshot of a screen under test-results/screens/. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });
}

/**
 * What a person does with an authenticator app: reads the secret key shown by
 * "Show secret key for manual configuration" and types the app's code. A code
 * is accepted once per 30 s step (and the next step is accepted already), so
 * each code handed out is for a step above the last one used; when that step
 * is more than one ahead, this waits, as a person would for the next code.
 */
export class AuthenticatorApp {
  private readonly totp: OTPAuth.TOTP;
  private lastStep = -Infinity;
  constructor(readonly secret: string) {
    this.totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });
  }
  async code(): Promise<string> {
    const now = () => Math.floor(Date.now() / 30_000);
    const step = Math.max(now(), this.lastStep + 1);
    while (step > now() + 1) await new Promise((r) => setTimeout(r, 500));
    this.lastStep = step;
    return this.totp.generate({ timestamp: step * 30_000 + 1000 });
  }
  /** A 6-digit code that is surely wrong: none of the codes of the steps around now. */
  wrongCode(): string {
    const now = Math.floor(Date.now() / 30_000);
    const near = new Set([-2, -1, 0, 1, 2].map((d) => this.totp.generate({ timestamp: (now + d) * 30_000 + 1000 })));
    for (let i = 0; ; i++) {
      const code = String((123456 + i * 111111) % 1_000_000).padStart(6, "0");
      if (!near.has(code)) return code;
    }
  }
}

export async function signInWithPassword(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto("/");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  // exact: the page may also offer "Sign in with <provider>".
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

export async function enterMfaCode(page: Page, code: string): Promise<void> {
  await page.getByLabel("MFA Code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: /▾/ }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
}

/**
 * In the open Enable MFA dialog: reads the secret key, verifies with a code
 * and returns the authenticator and the recovery token shown once.
 */
export async function completeEnableMfa(page: Page, screenshotPrefix?: string): Promise<{ app: AuthenticatorApp; recoveryToken: string }> {
  const dialog = page.getByRole("dialog", { name: "Enable MFA" });
  await expect(dialog.getByRole("img", { name: /QR code/ })).toBeVisible();
  if (screenshotPrefix) await shot(page, `${screenshotPrefix}-enable-mfa-qr`);
  await dialog.getByRole("button", { name: "Show secret key for manual configuration" }).click();
  const secret = (await dialog.getByTestId("secret-key").textContent())!.trim();
  if (screenshotPrefix) await shot(page, `${screenshotPrefix}-enable-mfa-secret`);
  const app = new AuthenticatorApp(secret);
  await dialog.getByLabel("Verify MFA Code").fill(await app.code());
  await dialog.getByRole("button", { name: "Enable" }).click();
  const done = page.getByRole("dialog", { name: "MFA is enabled" });
  const recoveryToken = (await done.getByTestId("recovery-token").textContent())!.trim();
  expect(recoveryToken.length).toBeGreaterThan(10);
  if (screenshotPrefix) await shot(page, `${screenshotPrefix}-recovery-token`);
  await done.getByRole("button", { name: "Done" }).click();
  return { app, recoveryToken };
}

/** One call to the API from the test itself (set-up and checks), as JSON; throws on an error status. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const method = init.method ?? (init.body ? "POST" : "GET");
  const res = await fetch(`${API_URL}${path}`, {
    method,
    headers: {
      ...(init.body ? { "content-type": "application/json" } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: init.body ? JSON.stringify(init.body) : null,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** Signs in through the API (a user without MFA) and returns the access token of that new session. */
export async function apiSignIn(email: string, password = PASSWORD): Promise<string> {
  const r = await api<{ status: string; access_token?: string }>("/api/v1/sessions", { body: { email, password } });
  if (r.status !== "authenticated" || !r.access_token) throw new Error(`sign-in of ${email}: ${r.status}`);
  return r.access_token;
}

/** Ends the session of `token` (so that it does not show among the user's sessions). */
export async function apiSignOut(token: string): Promise<void> {
  await api("/api/v1/sessions/current", { method: "DELETE", token });
}

/**
 * Sets up TOTP for the user signed in with `token`, as a person does with an
 * authenticator app (the secret key, then a code), and returns that app.
 * Verifying makes this session aal2; it ends the user's other sessions.
 */
export async function apiEnableMfa(token: string): Promise<AuthenticatorApp> {
  const { secret } = await api<{ secret: string }>("/api/v1/me/mfa/totp", { body: {}, token });
  const app = new AuthenticatorApp(secret);
  await api("/api/v1/me/mfa/totp/verify", { body: { code: await app.code() }, token });
  return app;
}

/** One call to the API that is expected to fail: its status, `Retry-After` and problem body (never throws on a status). */
export async function apiAttempt(path: string, body: unknown): Promise<{ status: number; retryAfter: string | null; problem: Record<string, unknown> }> {
  const res = await fetch(`${API_URL}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get("retry-after"), problem: text ? JSON.parse(text) as Record<string, unknown> : {} };
}
