import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test, type Browser, type Page } from "@playwright/test";
import {
  MAIL_DIR, PASSWORD, api, apiEnableMfa, apiSignIn, completeEnableMfa, enterMfaCode, mailLink, mailTo, shot, signInWithPassword,
  signOut, uniqueEmail, type AuthenticatorApp,
} from "./support";

// Mail links, as people get them: the server under test writes its mail as
// .eml files (no SMTP server), which these tests read like a mailbox.
const WEB_URL = process.env.WEB_URL ?? "http://127.0.0.1:4173";
const NEEDS_MAIL = "needs LATCHKEY_MAIL_DIR, the mail directory of the server under test (.ci/web sets it)";
const NEW_PASSWORD = "a brand new passphrase";

/** A new account through the API whose administrator (`name`) has MFA; the token is of an aal2 session. */
async function adminWithMfa(name: string, company: string): Promise<{ email: string; app: AuthenticatorApp; token: string }> {
  const email = uniqueEmail(name.split(" ")[0]!.toLowerCase());
  await api("/api/v1/accounts", { body: { account_name: company, email, password: PASSWORD, display_name: name } });
  const token = await apiSignIn(email);
  const app = await apiEnableMfa(token);
  return { email, app, token };
}

/** A fresh browser (no session of anyone else) on the web app. */
async function freshPage(browser: Browser): Promise<Page> {
  return (await browser.newContext({ baseURL: WEB_URL })).newPage();
}

/** The mail link's token has left the address bar (and this history entry). */
async function expectTokenGone(page: Page, path: string): Promise<void> {
  await expect.poll(() => page.evaluate(() => location.hash)).toBe("");
  expect(new URL(page.url()).pathname).toBe(path);
  expect(page.url()).not.toContain("token");
}

test.describe("forgotten password", () => {
  test.skip(!MAIL_DIR, NEEDS_MAIL);

  test("Forgot your password? → mail → new password → the sign-in still asks for the MFA code", async ({ page }) => {
    const fern = await adminWithMfa("Fern Forgetful", "Fern's company");
    const nobody = uniqueEmail("nobody");

    await page.goto("/");
    await page.getByLabel("Email").fill(nobody);
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await expect(page.getByRole("heading", { name: "Forgot your password?" })).toBeVisible();
    // The email typed on Sign in comes along.
    await expect(page.getByLabel("Email")).toHaveValue(nobody);
    await shot(page, "60-forgot-password");
    const sameWords = "If an account exists for that address, we've sent a link to choose a new password.";
    await page.getByRole("button", { name: "Send me a link" }).click();
    // An address without an account: the same words as for one with an account.
    await expect(page.getByTestId("reset-requested")).toHaveText(sameWords);
    await page.getByRole("button", { name: "Ask again" }).click();
    await page.getByLabel("Email").fill(fern.email);
    await page.getByRole("button", { name: "Send me a link" }).click();
    await expect(page.getByTestId("reset-requested")).toHaveText(sameWords);
    await shot(page, "61-forgot-password-sent");

    const link = await mailLink(fern.email, "reset-password");
    expect(link.mail.subject).toBe("Reset your password for Fern's company");
    expect(link.mail.text).toContain("you will still be asked for your code");
    expect(link.url.startsWith(`${WEB_URL}/reset-password#token=`)).toBe(true);
    expect(mailTo(nobody)).toHaveLength(0);

    await page.goto(link.url);
    await expect(page.getByRole("heading", { name: "Choose a new password" })).toBeVisible();
    await expectTokenGone(page, "/reset-password");
    await page.getByLabel("New password", { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel("Confirm new password").fill(`${NEW_PASSWORD}!`);
    await page.getByRole("button", { name: "Set new password" }).click();
    await expect(page.getByRole("alert")).toHaveText("The new passwords do not match.");
    await page.getByLabel("Confirm new password").fill(NEW_PASSWORD);
    await shot(page, "62-reset-password");
    await page.getByRole("button", { name: "Set new password" }).click();
    await expect(page.getByTestId("reset-done")).toHaveText("Your password has been reset.");
    await expect(page.getByText("you will still be asked for your code when you sign in")).toBeVisible();
    await shot(page, "63-reset-password-done");

    await page.getByRole("link", { name: "Sign in" }).click();
    await page.getByLabel("Email").fill(fern.email);
    await page.getByLabel("Password").fill(NEW_PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    // MFA is untouched by the reset.
    await expect(page.getByLabel("MFA Code")).toBeVisible();
    await enterMfaCode(page, await fern.app.code());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");

    // The link works once.
    await signOut(page);
    await page.goto(link.url);
    await expectTokenGone(page, "/reset-password");
    await page.getByLabel("New password", { exact: true }).fill("yet another passphrase");
    await page.getByLabel("Confirm new password").fill("yet another passphrase");
    await page.getByRole("button", { name: "Set new password" }).click();
    await expect(page.getByRole("alert")).toHaveText("This link has expired or was already used — ask for a new one.");
    await expect(page.getByRole("button", { name: "Set new password" })).toHaveCount(0);
    await shot(page, "64-reset-link-expired");
    await page.getByRole("link", { name: "Ask for a new link" }).click();
    await expect(page.getByRole("heading", { name: "Forgot your password?" })).toBeVisible();

    // A link that never was.
    await page.goto("/reset-password#token=lkp_not_a_link_we_sent");
    await page.getByLabel("New password", { exact: true }).fill("yet another passphrase");
    await page.getByLabel("Confirm new password").fill("yet another passphrase");
    await page.getByRole("button", { name: "Set new password" }).click();
    await expect(page.getByRole("alert")).toContainText("This link is not valid.");
    await expect(page.getByRole("link", { name: "Ask for a new link" })).toBeVisible();

    // Without the link's token at all (e.g. reloaded after it left the address bar).
    await page.goto("/reset-password");
    await expect(page.getByRole("alert")).toContainText("This page opens from the link in a password-reset email.");
  });
});

test.describe.serial("invitations from Account → Users", () => {
  test.skip(!MAIL_DIR, NEEDS_MAIL);
  let admin: Page;
  let ann: { email: string; app: AuthenticatorApp; token: string };
  const ivy = { name: "Ivy Invitee", email: uniqueEmail("ivy") };
  const gil = { name: "Gil Globex", email: uniqueEmail("gil") };
  const rae = { name: "Rae Resent", email: uniqueEmail("rae") };
  const rex = { name: "Rex Revoked", email: uniqueEmail("rex") };

  test.beforeAll(async ({ browser }) => {
    ann = await adminWithMfa("Ann Admin", "Acme Mail");
    // A MyGlue account whose policy requires MFA of its (client) users.
    await api("/api/v1/sub-accounts", { token: ann.token, body: { name: "Globex", require_mfa: true } });
    admin = await browser.newPage();
    await signInWithPassword(admin, ann.email);
    await enterMfaCode(admin, await ann.app.code());
    await expect(admin.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  });
  test.afterAll(async () => {
    await admin.close();
  });

  /** Account → Users → Invite user: the dialog, filled in and sent. */
  async function invite(person: { name: string; email: string }, role: string, belongsTo?: string, screenshot?: string) {
    await admin.getByRole("link", { name: "Users" }).click();
    await admin.getByRole("button", { name: "Invite user" }).click();
    const dialog = admin.getByRole("dialog", { name: "Invite user" });
    await dialog.getByLabel("Email").fill(person.email);
    await dialog.getByLabel("Name").fill(person.name);
    if (belongsTo) await dialog.getByLabel("Belongs to").selectOption({ label: belongsTo });
    await dialog.getByLabel("Role").selectOption(role);
    if (screenshot) await shot(admin, screenshot);
    await dialog.getByRole("button", { name: "Send invitation" }).click();
    await expect(dialog).toBeHidden();
    await expect(admin.getByTestId("invitation-notice")).toContainText(`An invitation was sent to ${person.email}.`);
    return admin.getByTestId("invitation-row").filter({ hasText: person.email });
  }

  /** The invitee, in a browser of their own: the mail's link, a password (and a name), Accept. */
  async function accept(page: Page, url: string, opts: { name?: string } = {}) {
    await page.goto(url);
    await expect(page.getByRole("heading", { name: "Accept your invitation" })).toBeVisible();
    await expectTokenGone(page, "/accept-invitation");
    if (opts.name) await page.getByLabel("Your name").fill(opts.name);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Confirm password").fill(PASSWORD);
    await page.getByRole("button", { name: "Accept and sign in" }).click();
  }

  test("Invite user: the dialog, the mail and the pending invitation", async () => {
    const row = await invite(ivy, "editor", undefined, "65-invite-user");
    await expect(row.getByTestId("invitation-status")).toHaveText("Pending");
    await expect(row).toContainText(ivy.name);
    await expect(row).toContainText("Editor");
    // The link works until 7 days from now, said in local time.
    const listed = await api<{ items: { email: string; expires_at: string }[] }>("/api/v1/invitations", { token: ann.token });
    const expires = listed.items.find((i) => i.email === ivy.email)!.expires_at;
    expect(Date.parse(expires) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    await expect(row).toContainText(await admin.evaluate((iso) => new Date(iso).toLocaleString(), expires));
    await shot(admin, "66-pending-invitations");

    const link = await mailLink(ivy.email, "accept-invitation");
    expect(link.mail.subject).toBe("Ann Admin invited you to Acme Mail");
    expect(link.url.startsWith(`${WEB_URL}/accept-invitation#token=`)).toBe(true);
  });

  test("the invitee accepts, with a name of their own, and is signed in", async ({ browser }) => {
    const link = await mailLink(ivy.email, "accept-invitation");
    const page = await freshPage(browser);
    await page.goto(link.url);
    await shot(page, "67-accept-invitation");
    await accept(page, link.url, { name: "Ivy I." });
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByRole("button", { name: "Ivy I. ▾" })).toBeVisible();
    await expect(page.getByText(`${ivy.email} · Editor`)).toBeVisible();
    await page.close();

    // A user now, no longer a pending invitation.
    await admin.reload();
    await expect(admin.getByTestId("user-row").filter({ hasText: ivy.email })).toContainText("Ivy I.");
    await expect(admin.getByTestId("invitation-row").filter({ hasText: ivy.email })).toHaveCount(0);
  });

  test("a client user of a MyGlue account that requires MFA sets it up on accepting", async ({ browser }) => {
    const row = await invite(gil, "editor", "MyGlue: Globex");
    await expect(row).toContainText("Globex");
    const link = await mailLink(gil.email, "accept-invitation");
    const page = await freshPage(browser);
    await accept(page, link.url);
    // The sign-in flow: a forced enrollment, as at a sign-in.
    const dialog = page.getByRole("dialog", { name: "Enable MFA" });
    await expect(dialog.getByText("Your administrator requires MFA")).toBeVisible();
    await shot(page, "68-accepted-mfa-required");
    await completeEnableMfa(page);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await page.close();
  });

  test("Resend mails a new link that works; the old link no longer signs in", async ({ browser }) => {
    const row = await invite(rae, "lite");
    const first = await mailLink(rae.email, "accept-invitation");
    await row.getByRole("button", { name: /^Resend/ }).click();
    await expect(admin.getByTestId("invitation-notice")).toContainText(`The invitation was sent again to ${rae.email}. The previous link no longer works`);
    await expect(row.getByTestId("invitation-status")).toHaveText("Pending");
    const second = await mailLink(rae.email, "accept-invitation", { not: [first.token] });
    expect(second.token).not.toBe(first.token);
    await shot(admin, "69-invitation-resent");

    const page = await freshPage(browser);
    await accept(page, first.url);
    // Refused (what it says is checked in the test after this group), and nothing to retry with.
    await expect(page.getByRole("alert")).toBeVisible();
    await expect(page.getByRole("button", { name: "Accept and sign in" })).toHaveCount(0);
    await page.goto("/");
    await accept(page, second.url);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await page.close();
  });

  test("Revoke: the link then says it has expired or was already used", async ({ browser }) => {
    const row = await invite(rex, "read_only");
    const link = await mailLink(rex.email, "accept-invitation");
    await row.getByRole("button", { name: /^Revoke/ }).click();
    const dialog = admin.getByRole("dialog", { name: "Revoke invitation" });
    await expect(dialog).toContainText(`Revoke the invitation of ${rex.name} (${rex.email})?`);
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await expect(admin.getByTestId("invitation-notice")).toContainText(`The invitation of ${rex.name} (${rex.email}) was revoked`);
    await expect(row).toHaveCount(0);

    const page = await freshPage(browser);
    await accept(page, link.url);
    await expect(page.getByRole("alert")).toHaveText(
      "This invitation link has expired or was already used — ask your administrator to send the invitation again.");
    await shot(page, "70-invitation-link-expired");
    await page.close();
  });
});

test.describe("a link replaced by a resend", () => {
  test.skip(!MAIL_DIR, NEEDS_MAIL);

  test("says it has expired or was already used", async ({ page }) => {
    // A link replaced by a resend is 410 link_expired (API.md).
    const email = uniqueEmail("ray");
    await api("/api/v1/accounts", { body: { account_name: "Ray's company", email, password: PASSWORD, display_name: "Ray Admin" } });
    const token = await apiSignIn(email);
    const invitee = uniqueEmail("rue");
    const inv = await api<{ id: string }>("/api/v1/invitations", { token, body: { email: invitee, display_name: "Rue", role: "editor" } });
    const first = await mailLink(invitee, "accept-invitation");
    await api(`/api/v1/invitations/${inv.id}/resend`, { method: "POST", token });
    await mailLink(invitee, "accept-invitation", { not: [first.token] });

    await page.goto(first.url);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Confirm password").fill(PASSWORD);
    await page.getByRole("button", { name: "Accept and sign in" }).click();
    await expect(page.getByRole("alert")).toHaveText(
      "This invitation link has expired or was already used — ask your administrator to send the invitation again.", { timeout: 5000 });
  });
});

/** A second `latchkey serve` with `env` on top, serving the built web app (web/dist) on its own origin. */
async function startLatchkey(env: Record<string, string>): Promise<{ url: string; mailDir: string; stop: () => Promise<void> }> {
  const bin = process.env.LATCHKEY_BIN ?? fileURLToPath(new URL("../../target/debug/latchkey", import.meta.url));
  const webDir = fileURLToPath(new URL("../dist", import.meta.url));
  if (!existsSync(bin)) throw new Error(`no latchkey binary at ${bin} (set LATCHKEY_BIN)`);
  if (!existsSync(join(webDir, "index.html"))) throw new Error(`no web build at ${webDir} (npm run build)`);
  const port = await new Promise<number>((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => ok(p)); });
  });
  const dataDir = mkdtempSync(join(tmpdir(), "latchkey-e2e-"));
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(bin, ["serve"], {
    env: {
      ...process.env, LATCHKEY_DATA_DIR: dataDir, LATCHKEY_BIND: `127.0.0.1:${port}`, LATCHKEY_PUBLIC_URL: url,
      LATCHKEY_WEB_DIR: webDir, LATCHKEY_IP_RATE_LIMIT: "0", RUST_LOG: "warn", ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  for (const deadline = Date.now() + 30_000; ;) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline || child.exitCode !== null) { await stop(); throw new Error("the second latchkey serve did not start"); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, mailDir: join(dataDir, "mail"), stop };
}

test.describe("verified sign-up (LATCHKEY_SIGNUP=verify, a server of its own)", () => {
  let server: Awaited<ReturnType<typeof startLatchkey>> | undefined;
  test.beforeAll(async () => {
    server = await startLatchkey({ LATCHKEY_SIGNUP: "verify" });
  });
  test.afterAll(async () => {
    await server?.stop();
  });

  test("Create account → Check your email → the link confirms it → Sign in", async ({ page }) => {
    const s = server!;
    const vera = { name: "Vera Verified", email: uniqueEmail("vera") };
    await page.goto(`${s.url}/`);
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Company name").fill("Vera's company");
    await page.getByLabel("Your name").fill(vera.name);
    await page.getByLabel("Email").fill(vera.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByRole("heading", { name: "Check your email" })).toBeVisible();
    await expect(page.getByTestId("verification-sent")).toHaveText(`We've sent a link to ${vera.email} to confirm your address.`);
    await shot(page, "71-verification-sent");

    const link = await mailLink(vera.email, "verify-signup", { dir: s.mailDir });
    expect(link.url.startsWith(`${s.url}/verify-signup#token=`)).toBe(true);
    await page.goto(link.url);
    // Confirmed, and on to Sign in with the email filled in.
    await expect(page.getByTestId("sign-in-notice")).toHaveText(
      `Your email address is confirmed and your account "Vera's company" is ready. Sign in to continue.`);
    await expectTokenGone(page, "/");
    await expect(page.getByLabel("Email")).toHaveValue(vera.email);
    await shot(page, "72-signup-confirmed");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByRole("button", { name: `${vera.name} ▾` })).toBeVisible();

    // The link works once.
    await signOut(page);
    await page.goto(link.url);
    await expect(page.getByRole("alert")).toContainText("This link has expired or was already used — sign up again for a new one.");
  });
});

test.describe("Reset MFA: the notice at the next sign-in", () => {
  // A time zone of its own: the notice says the local time, not UTC's.
  test.use({ timezoneId: "Asia/Kathmandu" });

  test("says who reset it and when, and Enable MFA sets it up again", async ({ page }) => {
    const ada = await adminWithMfa("Ada Admin", "Ada's company");
    const uma = { name: "Uma User", email: uniqueEmail("uma") };
    const created = await api<{ id: string }>("/api/v1/users", {
      token: ada.token, body: { email: uma.email, display_name: uma.name, role: "editor", password: PASSWORD },
    });
    const umaToken = await apiSignIn(uma.email);
    await apiEnableMfa(umaToken);
    // Ada's session proved her code when she enabled MFA (aal2): she may reset Uma's.
    await api(`/api/v1/users/${created.id}/mfa/reset`, { method: "POST", token: ada.token });
    const me = await api<{ mfa: { reset_at: string; reset_by: string } }>("/api/v1/me", { token: await apiSignIn(uma.email) });
    expect(me.mfa.reset_by).toBe("Ada Admin");

    await signInWithPassword(page, uma.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    const notice = page.getByTestId("mfa-reset-notice");
    const local = await page.evaluate((iso) => new Date(iso).toLocaleString(), me.mfa.reset_at);
    expect(local).not.toBe(new Date(me.mfa.reset_at).toLocaleString("en-US", { timeZone: "UTC" }));
    await expect(notice).toContainText(`An administrator (Ada Admin) reset your multi-factor authentication on ${local}. Set it up again:`);
    await shot(page, "73-mfa-reset-notice");
    await notice.getByRole("button", { name: "Enable MFA" }).click();
    const { app } = await completeEnableMfa(page);
    await expect(notice).toHaveCount(0);
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");

    await signOut(page);
    await signInWithPassword(page, uma.email);
    await enterMfaCode(page, await app.code());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-reset-notice")).toHaveCount(0);
  });
});
