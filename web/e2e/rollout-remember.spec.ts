import { expect, test, type Page } from "@playwright/test";
import {
  PASSWORD, api, apiEnableMfa, apiSignIn, apiSignOut, enterMfaCode, shot, signInWithPassword, signOut, uniqueEmail, type AuthenticatorApp,
} from "./support";

/** The sign-in method of this session, from Edit Profile → My sessions. */
function thisSession(page: Page) {
  return page.getByTestId("session-row").filter({ hasText: "This session" }).getByTestId("session-method");
}

// "Remember this device": the account remembers devices for 30 days, so the
// MFA step offers the box; checked, the next sign-in in this browser needs
// only the password. Edit Profile lists the device; forgetting it brings
// the MFA step back.
test.describe.serial("MFA rollout: remember this device", () => {
  let page: Page;
  const rita = { name: "Rita Admin", email: uniqueEmail("rita") };
  const uma = { name: "Uma User", email: uniqueEmail("uma") };
  let app: AuthenticatorApp;

  test.beforeAll(async ({ browser }) => {
    await api("/api/v1/accounts", { body: { account_name: "Remember Co", email: rita.email, password: PASSWORD, display_name: rita.name } });
    const token = await apiSignIn(rita.email);
    await api("/api/v1/users", { token, body: { email: uma.email, display_name: uma.name, role: "editor", password: PASSWORD } });
    await apiSignOut(token);
    const umaToken = await apiSignIn(uma.email);
    app = await apiEnableMfa(umaToken);
    await apiSignOut(umaToken);
    page = await browser.newPage();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("the administrator lets devices be remembered for 30 days", async () => {
    await signInWithPassword(page, rita.email);
    await page.getByRole("link", { name: "Settings" }).click();
    const days = page.getByLabel("Remember devices for (days)");
    await expect(days).toHaveValue("0");
    await days.fill("91");
    await page.getByRole("button", { name: "Save" }).click();
    // Over 90: the browser's own check keeps it from being sent.
    await expect(page.getByText("Settings saved.")).toHaveCount(0);
    await days.fill("30");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("Settings saved.")).toBeVisible();
    await expect(days).toHaveValue("30");
    await signOut(page);
  });

  test("the MFA step offers Remember this device; checked, the next sign-in skips the code", async () => {
    await signInWithPassword(page, uma.email);
    const remember = page.getByLabel("Remember this device for 30 days");
    await expect(remember).not.toBeChecked();
    await remember.check();
    await shot(page, "rollout-10-remember-this-device");
    await enterMfaCode(page, await app.code());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    // The token is kept in this browser, per email.
    const kept = await page.evaluate((email) => localStorage.getItem(`latchkey.device:${email}`), uma.email);
    expect(kept).toBeTruthy();
    const devices = page.getByTestId("device-row");
    await expect(devices).toHaveCount(1);
    await expect(devices).toContainText("Authenticator code");
    await expect(devices).toContainText("Chrome");

    await signOut(page);
    // Typed in capitals: the same email, the same device.
    await signInWithPassword(page, uma.email.toUpperCase());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByLabel("MFA Code")).toHaveCount(0);
    await expect(thisSession(page)).toHaveText("Password + remembered device");
    await shot(page, "rollout-11-remembered-devices");
  });

  test("forgetting the device brings the MFA step back", async () => {
    await page.getByTestId("device-row").getByRole("button", { name: /^Forget/ }).click();
    await expect(page.getByText("The device is forgotten")).toBeVisible();
    await expect(page.getByTestId("device-row")).toHaveCount(0);
    await expect(page.getByTestId("no-devices")).toBeVisible();
    await signOut(page);

    await signInWithPassword(page, uma.email);
    await expect(page.getByLabel("MFA Code")).toBeVisible();
    // The server did not take the forgotten token: the app dropped it.
    expect(await page.evaluate((email) => localStorage.getItem(`latchkey.device:${email}`), uma.email)).toBeNull();
    await expect(page.getByLabel("Remember this device for 30 days")).not.toBeChecked();
    await enterMfaCode(page, await app.code());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    // Not checked this time: nothing remembered.
    await expect(page.getByTestId("no-devices")).toBeVisible();
    await expect(thisSession(page)).toHaveText("Password + MFA");
    await signOut(page);
    await signInWithPassword(page, uma.email);
    await expect(page.getByLabel("MFA Code")).toBeVisible();
  });

  test("with devices not remembered (0 days), the box is not offered", async () => {
    await page.getByRole("button", { name: "Back" }).click();
    const token = await apiSignIn(rita.email);
    await api("/api/v1/account", { method: "PATCH", token, body: { remember_device_days: 0 } });
    await apiSignOut(token);
    await signInWithPassword(page, uma.email);
    await expect(page.getByLabel("MFA Code")).toBeVisible();
    await expect(page.getByLabel(/Remember this device/)).toHaveCount(0);
  });
});
