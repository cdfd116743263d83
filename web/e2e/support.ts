import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, type CDPSession, type Page } from "@playwright/test";
import * as OTPAuth from "otpauth";

export const API_URL = process.env.LATCHKEY_URL ?? "http://127.0.0.1:8080";
export const PASSWORD = "correct horse battery staple";
/** Where the app is served (.ci/web: by latchkey serve, at 127.0.0.1). */
export const WEB_URL = process.env.WEB_URL ?? "http://127.0.0.1:4173";
/**
 * The app at the relying party's origin. WebAuthn needs a domain: Latchkey's
 * relying party id is the host of its public URL, and an IP (127.0.0.1, as
 * .ci/web serves) becomes `localhost`, with the origin http://localhost:<port>.
 */
export const LOCAL = (() => {
  const u = new URL(WEB_URL);
  if (u.hostname === "127.0.0.1" || u.hostname === "[::1]") u.hostname = "localhost";
  return u.origin;
})();

/**
 * A Chromium virtual authenticator (CDP WebAuthn) standing in for a platform
 * authenticator that verifies its user; call `WebAuthn.enable` first.
 */
export async function virtualAuthenticator(cdp: CDPSession): Promise<string> {
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return authenticatorId;
}

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

// ---- mail ------------------------------------------------------------------
// Without LATCHKEY_SMTP_URL the server writes every message as `<uuid>.eml`
// under `<LATCHKEY_DATA_DIR>/mail/` (RFC 5322, multipart/alternative text +
// HTML, quoted-printable or base64), within about a second. .ci/web passes
// that directory as LATCHKEY_MAIL_DIR. A small decoder, no dependency.

/** The mail directory of the server under test; "" when unknown (then mail specs skip). */
export const MAIL_DIR = process.env.LATCHKEY_MAIL_DIR
  ?? (process.env.LATCHKEY_DATA_DIR ? join(process.env.LATCHKEY_DATA_DIR, "mail") : "");

export interface Mail { file: string; mtimeMs: number; to: string; subject: string; text: string; html: string }
/** A link of a mail: `<app>/<screen>#token=<token>`. */
export interface MailLink { url: string; screen: string; token: string; mail: Mail }

function mailHeaders(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | null = null;
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) { out[last] += ` ${line.trim()}`; continue; }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    out[last] = line.slice(i + 1).trim();
  }
  return out;
}

function headerParam(value: string | undefined, name: string): string | undefined {
  return new RegExp(`;\\s*${name}="?([^";]+)"?`, "i").exec(value ?? "")?.[1];
}

function quotedPrintable(body: string): Buffer {
  const src = Buffer.from(body.replace(/=\r?\n/g, ""), "latin1");
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const hex = src.toString("latin1", i + 1, i + 3);
    if (src[i] === 0x3d && /^[0-9A-Fa-f]{2}$/.test(hex)) { out.push(parseInt(hex, 16)); i += 2; }
    else out.push(src[i]!);
  }
  return Buffer.from(out);
}

function decodePart(body: string, encoding: string | undefined, charset = "utf-8"): string {
  const cte = (encoding ?? "").toLowerCase();
  const bytes = cte === "quoted-printable" ? quotedPrintable(body)
    : cte === "base64" ? Buffer.from(body.replace(/\s+/g, ""), "base64")
    : Buffer.from(body, "latin1");
  return new TextDecoder(charset).decode(bytes);
}

/** RFC 2047 encoded words of a header (`=?utf-8?q?…?=`, `=?utf-8?b?…?=`). */
function decodeWords(value: string): string {
  return value.replace(/(\?=)\s+(=\?)/g, "$1$2").replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, charset: string, kind: string, text: string) =>
    new TextDecoder(charset).decode(kind.toUpperCase() === "B" ? Buffer.from(text, "base64") : quotedPrintable(text.replace(/_/g, " "))));
}

/** Decodes an .eml (read as latin1: bytes kept); `null` while it is incomplete (still being written). */
export function parseMail(raw: string, file = ""): Omit<Mail, "mtimeMs"> | null {
  const split = /\r?\n\r?\n/.exec(raw);
  if (!split) return null;
  const parts: { type: string; text: string }[] = [];
  const walk = (h: Record<string, string>, b: string): boolean => {
    const type = (h["content-type"] ?? "text/plain").split(";")[0]!.trim().toLowerCase();
    if (type.startsWith("multipart/")) {
      const boundary = headerParam(h["content-type"], "boundary");
      if (!boundary || !b.includes(`--${boundary}--`)) return false;
      for (const part of b.split(`--${boundary}--`)[0]!.split(`--${boundary}`).slice(1)) {
        const p = part.replace(/^\r?\n/, "");
        const s = /\r?\n\r?\n/.exec(p);
        if (!s || !walk(mailHeaders(p.slice(0, s.index)), p.slice(s.index + s[0].length).replace(/\r?\n$/, ""))) return false;
      }
      return true;
    }
    parts.push({ type, text: decodePart(b, h["content-transfer-encoding"], headerParam(h["content-type"], "charset")) });
    return true;
  };
  const head = mailHeaders(raw.slice(0, split.index));
  if (!walk(head, raw.slice(split.index + split[0].length))) return null;
  return {
    file,
    to: decodeWords(head.to ?? ""),
    subject: decodeWords(head.subject ?? ""),
    text: parts.find((p) => p.type === "text/plain")?.text ?? "",
    html: parts.find((p) => p.type === "text/html")?.text ?? "",
  };
}

/** Every complete mail in `dir` addressed to `to`, newest first. */
export function mailTo(to: string, dir = MAIL_DIR): Mail[] {
  let names: string[];
  try { names = readdirSync(dir).filter((n) => n.endsWith(".eml")); } catch { return []; }
  const found: Mail[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const mail = parseMail(readFileSync(file, "latin1"), file);
    const addresses: string[] = mail?.to.toLowerCase().match(/[^\s<>,"]+@[^\s<>,"]+/g) ?? [];
    if (mail && addresses.includes(to.toLowerCase())) found.push({ ...mail, mtimeMs: statSync(file).mtimeMs });
  }
  return found.sort((a, b) => b.mtimeMs - a.mtimeMs || b.file.localeCompare(a.file));
}

/**
 * Waits up to 10 s for the newest mail to `to` with a `<screen>#token=` link
 * (`reset-password`, `accept-invitation`, `verify-signup`) whose token is
 * not among `not` (e.g. the link a resend replaced), and returns the link.
 */
export async function mailLink(to: string, screen: string, opts: { not?: string[]; dir?: string; timeoutMs?: number } = {}): Promise<MailLink> {
  const dir = opts.dir ?? MAIL_DIR;
  const timeout = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const mail of mailTo(to, dir)) {
      const m = /(https?:\/\/[^\s<>"]+?\/([a-z-]+)#token=([^\s<>"&]+))/.exec(mail.text);
      if (m && m[2] === screen && !(opts.not ?? []).includes(m[3]!)) return { url: m[1]!, screen, token: m[3]!, mail };
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} with a /${screen}#token= link in ${dir || "(no mail directory)"} within ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
