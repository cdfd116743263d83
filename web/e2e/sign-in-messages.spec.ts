import { expect, test, type Locator, type Page } from "@playwright/test";
import {
  PASSWORD, api, apiAttempt, apiEnableMfa, apiSignIn, apiSignOut, enterMfaCode, shot, signInWithPassword, uniqueEmail,
  type AuthenticatorApp,
} from "./support";

// Issue 18, item 7: the sign-in screens say what happened.

/** The browser's time zone in this file: UTC+05:45, so its clock differs from UTC's in hours and minutes. */
const TIME_ZONE = "Asia/Kathmandu";
test.use({ timezoneId: TIME_ZONE });

/** A time as "HH:MM" in TIME_ZONE. */
function clockIn(ms: number, timeZone = TIME_ZONE): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(ms));
}

/**
 * The local times a lock of `retryAfter` seconds, answered between `t0` and
 * `t1` (ms), may name: its end, rounded up to the whole minute.
 */
function possibleEnds(t0: number, t1: number, retryAfter: number, timeZone = TIME_ZONE): string[] {
  const first = Math.ceil((t0 + retryAfter * 1000) / 60_000);
  const last = Math.ceil((t1 + retryAfter * 1000) / 60_000);
  const ends: string[] = [];
  for (let m = first; m <= last; m++) ends.push(clockIn(m * 60_000, timeZone));
  return ends;
}

/** A new account whose administrator has MFA (set up through the API) and a recovery token. */
async function userWithMfa(name: string): Promise<{ email: string; app: AuthenticatorApp }> {
  const email = uniqueEmail(name);
  await api("/api/v1/accounts", { body: { account_name: `${name}'s company`, email, password: PASSWORD, display_name: name } });
  const token = await apiSignIn(email);
  const app = await apiEnableMfa(token);
  await apiSignOut(token);
  return { email, app };
}

/**
 * Submits the form of `button` and checks that the browser's validation
 * message of the empty `field` says what it accepts (not its generic words).
 */
async function expectValidationMessage(field: Locator, button: Locator, message: string | RegExp): Promise<void> {
  await field.fill("");
  await button.click();
  const text = await field.evaluate((el) => (el as HTMLInputElement).validationMessage);
  expect(text).toMatch(message);
  expect(text).not.toMatch(/requested format|fill out this field/i);
}

/** Waits for the answer of a POST to `path`. */
function answerOf(page: Page, path: string) {
  return page.waitForResponse((r) => r.url().endsWith(path) && r.request().method() === "POST");
}

test.describe.serial("the MFA Code step", () => {
  let page: Page;
  let user: { email: string; app: AuthenticatorApp };

  test.beforeAll(async ({ browser }) => {
    user = await userWithMfa("Nia");
    page = await browser.newPage();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("names the email signing in and says what the field accepts", async () => {
    await signInWithPassword(page, user.email);
    const field = page.getByLabel("MFA Code");
    await expect(field).toBeVisible();
    // 5. The email typed on the previous step.
    await expect(page.getByTestId("signing-in-as")).toHaveText(`Signing in as ${user.email}`);
    // 3. What the field accepts, as its description and as the browser's message; no pattern to trip over.
    await expect(field).not.toHaveAttribute("pattern");
    await expect(field).toHaveAccessibleDescription(/6-digit code from your authenticator application.*recovery token/);
    await expectValidationMessage(field, page.getByRole("button", { name: "Verify" }),
      /^Enter the 6-digit code from your authenticator application, or your one-time recovery token/);
    await expect(field).toBeVisible(); // nothing was sent
    // Codes with spaces or dashes and recovery tokens are not refused by the browser.
    for (const typed of ["123 456", "123-456", "ABCD-EFGH-JKLM-NPQR-STUV", "abcd efgh"]) {
      await field.fill(typed);
      expect(await field.evaluate((el) => (el as HTMLInputElement).checkValidity()), typed).toBe(true);
    }
    await shot(page, "40-mfa-code-step");
  });

  test("a wrong code comes with the seeds' hints", async () => {
    await enterMfaCode(page, user.app.wrongCode());
    const alert = page.getByRole("alert");
    await expect(alert).toContainText("That MFA code is not valid. 4 attempts left.");
    // 2. The phone's time, and the recovery token (once, in this same field).
    await expect(alert).toContainText("Make sure your phone's time is set automatically");
    await expect(alert).toContainText("type your one-time recovery token in the MFA Code field instead");
    await expect(alert).toContainText("A recovery token works once.");
    await expect(page.getByTestId("signing-in-as")).toHaveText(`Signing in as ${user.email}`);
    await shot(page, "41-wrong-code-hints");
  });

  test("a code typed with a dash signs in", async () => {
    const code = await user.app.code();
    await enterMfaCode(page, `${code.slice(0, 3)}-${code.slice(3)}`);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  });

  test("disabling MFA says so, and the Enable dialog's field says what it accepts", async () => {
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await page.getByRole("button", { name: "Disable MFA" }).click();
    const dialog = page.getByRole("dialog", { name: "Disable MFA" });
    await dialog.getByLabel("Password").fill(PASSWORD);
    const codeField = dialog.getByLabel("MFA Code");
    await expectValidationMessage(codeField, dialog.getByRole("button", { name: "Disable MFA" }), /6-digit code.*recovery token/);
    await codeField.fill(await user.app.code());
    await dialog.getByRole("button", { name: "Disable MFA" }).click();
    await expect(dialog).toBeHidden();
    // 4. The confirmation, as a status message.
    await expect(page.getByRole("status").filter({ hasText: "MFA is now disabled for your account." })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is not enabled");
    await shot(page, "42-mfa-disabled");

    // 3. The Enable dialog's Verify MFA Code: no pattern, its own message.
    await page.getByRole("button", { name: "Enable MFA" }).click();
    await expect(page.getByTestId("mfa-done")).toBeEmpty();
    const enable = page.getByRole("dialog", { name: "Enable MFA" });
    const verify = enable.getByLabel("Verify MFA Code");
    await expect(verify).not.toHaveAttribute("pattern");
    await expect(verify).toHaveAccessibleDescription(/6-digit code.*phone's time is set automatically/);
    await expectValidationMessage(verify, enable.getByRole("button", { name: "Enable" }), /^Enter the 6-digit code from your authenticator application\.$/);
    await verify.fill("123 456");
    expect(await verify.evaluate((el) => (el as HTMLInputElement).checkValidity())).toBe(true);
    await enable.getByRole("button", { name: "Cancel" }).click();
  });
});

test.describe("lockouts name their end as a local time", () => {
  test("the second-factor lock after 10 wrong codes", async ({ page }) => {
    const user = await userWithMfa("Lou");
    // Set-up: 10 wrong codes through the API, in two challenges of five.
    for (let challenge = 0; challenge < 2; challenge++) {
      const s = await api<{ status: string; mfa_token: string }>("/api/v1/sessions", { body: { email: user.email, password: PASSWORD } });
      expect(s.status).toBe("mfa_required");
      for (let i = 0; i < 5; i++) {
        const r = await apiAttempt("/api/v1/sessions/mfa", { mfa_token: s.mfa_token, code: user.app.wrongCode() });
        expect(r.status).toBe(401);
        expect(r.problem.code).toBe("mfa_code_invalid");
      }
    }

    // The browser runs at UTC+05:45 (Chromium may name the zone "Asia/Katmandu").
    expect(await page.evaluate(() => new Date().getTimezoneOffset())).toBe(-345);
    await signInWithPassword(page, user.email);
    await expect(page.getByTestId("signing-in-as")).toHaveText(`Signing in as ${user.email}`);
    const answer = answerOf(page, "/api/v1/sessions/mfa");
    const t0 = Date.now();
    await enterMfaCode(page, await user.app.code());
    const res = await answer;
    const t1 = Date.now();
    expect(res.status()).toBe(429);
    const problem = (await res.json()) as { code: string; retry_after: number };
    expect(problem.code).toBe("too_many_attempts");
    expect(res.headers()["retry-after"]).toBe(String(problem.retry_after));
    expect(problem.retry_after).toBeGreaterThan(14 * 60);

    // 1. Announced when it starts: what happened and the local time it ends.
    const alert = page.getByRole("alert");
    await expect(alert).toHaveText(/^Too many wrong codes\. Try again after \d\d:\d\d( tomorrow)?\.$/);
    const text = (await alert.textContent())!;
    const named = /after (\d\d:\d\d)/.exec(text)![1]!;
    expect(possibleEnds(t0, t1, problem.retry_after)).toContain(named);
    // In the browser's time zone, not UTC's.
    expect(possibleEnds(t0, t1, problem.retry_after, "UTC")).not.toContain(named);
    await shot(page, "43-mfa-locked");
    // Not a countdown: the words stay as they are.
    await page.waitForTimeout(2500);
    await expect(alert).toHaveText(text);
  });

  test("the password lock after 5 wrong passwords", async ({ page }) => {
    const email = uniqueEmail("pat");
    await api("/api/v1/accounts", { body: { account_name: "Pat's company", email, password: PASSWORD, display_name: "Pat" } });
    for (let i = 0; i < 5; i++) {
      const r = await apiAttempt("/api/v1/sessions", { email, password: `not the password ${i}` });
      expect(r.status).toBe(401);
    }

    await page.goto("/");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    const answer = answerOf(page, "/api/v1/sessions");
    const t0 = Date.now();
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    const res = await answer;
    const t1 = Date.now();
    expect(res.status()).toBe(429);
    const problem = (await res.json()) as { retry_after: number };

    const alert = page.getByRole("alert");
    await expect(alert).toHaveText(/^Too many wrong passwords\. Try again after \d\d:\d\d( tomorrow)?\.$/);
    const text = (await alert.textContent())!;
    const named = /after (\d\d:\d\d)/.exec(text)![1]!;
    expect(possibleEnds(t0, t1, problem.retry_after)).toContain(named);
    expect(possibleEnds(t0, t1, problem.retry_after, "UTC")).not.toContain(named);
    await shot(page, "44-password-locked");
  });
});
