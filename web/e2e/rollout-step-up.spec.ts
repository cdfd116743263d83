import { expect, test, type BrowserContext, type CDPSession, type Page } from "@playwright/test";
import {
  LOCAL, PASSWORD, api, apiEnableMfa, apiSignIn, apiSignOut, enterMfaCode, shot, signInWithPassword, signOut, uniqueEmail, virtualAuthenticator,
  type AuthenticatorApp,
} from "./support";

/** Signs in through the API with the code, remembering the device; ends that session. */
async function apiRememberDevice(email: string, app: AuthenticatorApp): Promise<void> {
  const first = await api<{ status: string; mfa_token?: string }>("/api/v1/sessions", { body: { email, password: PASSWORD } });
  if (first.status !== "mfa_required" || !first.mfa_token) throw new Error(`sign-in of ${email}: ${first.status}`);
  const done = await api<{ access_token: string; device_token?: string }>("/api/v1/sessions/mfa", {
    body: { mfa_token: first.mfa_token, code: await app.code(), remember_device: true },
  });
  if (!done.device_token) throw new Error("no device token");
  await apiSignOut(done.access_token);
}

/** The sign-in method of this session, from Edit Profile → My sessions. */
function thisSession(page: Page) {
  return page.getByTestId("session-row").filter({ hasText: "This session" }).getByTestId("session-method");
}

// Step-up: changes to others' MFA, roles, identity providers and MFA
// policies need a second factor proven in this session within the last 10
// minutes. The server's clock cannot be moved from here, so these sessions
// come from a remembered device (amr ["pwd","dev"]): such a session has
// never proven a factor and must always step up. The app asks in place (the
// "Confirm it's you" dialog over the screen), then makes the change itself;
// Cancel leaves everything as it was.
test.describe.serial("MFA rollout: step-up in place", () => {
  let page: Page;
  const sam = { name: "Sam Admin", email: uniqueEmail("sam") };
  const eve = { name: "Eve Editor", email: uniqueEmail("eve") };
  let samApp: AuthenticatorApp;

  test.beforeAll(async ({ browser }) => {
    await api("/api/v1/accounts", { body: { account_name: "Step Co", email: sam.email, password: PASSWORD, display_name: sam.name } });
    const token = await apiSignIn(sam.email);
    // Policy first, while Sam has no MFA (nothing to step up with yet).
    await api("/api/v1/account", { method: "PATCH", token, body: { remember_device_days: 30 } });
    await api("/api/v1/users", { token, body: { email: eve.email, display_name: eve.name, role: "editor", password: PASSWORD } });
    samApp = await apiEnableMfa(token);
    await apiSignOut(token);
    const eveToken = await apiSignIn(eve.email);
    await apiEnableMfa(eveToken);
    await apiSignOut(eveToken);
    page = await browser.newPage();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("the administrator signs in on a remembered device: no recent factor", async () => {
    await signInWithPassword(page, sam.email);
    await page.getByLabel("Remember this device for 30 days").check();
    await enterMfaCode(page, await samApp.code());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await signOut(page);
    await signInWithPassword(page, sam.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(thisSession(page)).toHaveText("Password + remembered device");
  });

  test("a role change asks to confirm; Cancel changes nothing", async () => {
    await page.getByRole("link", { name: "Users", exact: true }).click();
    await page.getByTestId("user-row").filter({ hasText: eve.email }).getByRole("link", { name: `Edit ${eve.name}` }).click();
    await expect(page.getByRole("heading", { name: "Edit User" })).toBeVisible();
    await page.getByLabel("Role").selectOption("creator");
    await page.getByRole("button", { name: "Save" }).click();
    const stepUp = page.getByRole("dialog", { name: "Confirm it's you" });
    await expect(stepUp).toBeVisible();
    await expect(stepUp.getByLabel("MFA Code")).toBeFocused();
    // Sam has no passkey: the code only.
    await expect(stepUp.getByRole("button", { name: "Use your passkey" })).toHaveCount(0);
    await shot(page, "rollout-20-step-up-dialog");
    await stepUp.getByRole("button", { name: "Cancel" }).click();
    await expect(stepUp).toHaveCount(0);
    await expect(page.getByRole("alert")).toContainText("Nothing was changed");
    await page.reload();
    await expect(page.getByLabel("Role").locator("option:checked")).toHaveText("Editor");
    // A change that needs none (the name) goes through without asking.
    await page.getByLabel("Name", { exact: true }).fill("Eve E. Editor");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("The user has been saved.")).toBeVisible();
    await expect(page.getByRole("dialog", { name: "Confirm it's you" })).toHaveCount(0);
  });

  test("Reset MFA asks to confirm; a wrong code is refused in the dialog, the right one resets", async () => {
    await page.getByRole("button", { name: "Reset MFA" }).click();
    await page.getByRole("dialog", { name: "Reset MFA" }).getByRole("button", { name: "Reset MFA" }).click();
    const stepUp = page.getByRole("dialog", { name: "Confirm it's you" });
    await expect(stepUp).toBeVisible();
    await stepUp.getByLabel("MFA Code").fill(samApp.wrongCode());
    await stepUp.getByRole("button", { name: "Verify" }).click();
    await expect(stepUp.getByRole("alert")).toContainText("That MFA code is not valid");
    await shot(page, "rollout-21-step-up-wrong-code");
    await stepUp.getByLabel("MFA Code").fill(await samApp.code());
    await stepUp.getByRole("button", { name: "Verify" }).click();
    await expect(stepUp).toHaveCount(0);
    await expect(page.getByText(`MFA of Eve E. Editor has been reset.`)).toBeVisible();
    await expect(page.getByTestId("user-mfa-status")).toContainText("MFA is not set up.");
    // Stepped up: this session proved a factor now (the remembered device gave way to it).
    await page.goto("/profile");
    await expect(thisSession(page)).toHaveText("Password + MFA");
  });

  test("within the 10 minutes, forgetting a user's device, Require MFA and a role change go through without asking", async () => {
    // Eve sets MFA up again and lets a browser remember it.
    const eveToken = await apiSignIn(eve.email);
    const eveApp = await apiEnableMfa(eveToken);
    await apiSignOut(eveToken);
    await apiRememberDevice(eve.email, eveApp);

    await page.goto("/account/users");
    await page.getByTestId("user-row").filter({ hasText: eve.email }).getByRole("link", { name: /^Edit / }).click();
    const device = page.getByTestId("device-row");
    await expect(device).toHaveCount(1);
    await expect(device).toContainText("Authenticator code");
    await shot(page, "rollout-23-user-devices");
    await device.getByRole("button", { name: /^Forget/ }).click();
    await expect(page.getByText("The device is forgotten: Eve E. Editor will be asked for the second factor there")).toBeVisible();
    await expect(page.getByTestId("no-devices")).toBeVisible();

    await page.getByLabel("Require MFA for this user").check();
    // Eve has MFA again: required from now on, nothing for her to set up.
    await expect(page.getByText("MFA is now required for Eve E. Editor.", { exact: true })).toBeVisible();
    await expect(page.getByTestId("user-mfa-status")).toContainText("MFA is required for this user (their own setting).");
    await page.getByLabel("Role").selectOption("creator");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("The user has been saved.")).toBeVisible();
    await expect(page.getByRole("dialog", { name: "Confirm it's you" })).toHaveCount(0);
    await page.reload();
    await expect(page.getByLabel("Role").locator("option:checked")).toHaveText("Creator");
    await expect(page.getByLabel("Require MFA for this user")).toBeChecked();
  });
});

// The same with a passkey, at the relying party's origin (Chromium's virtual
// authenticator): the dialog offers "Use your passkey", and a user whose
// only factor is a passkey gets no code field.
test.describe.serial("MFA rollout: step-up with a passkey", () => {
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  const pia = { name: "Pia Passkey", email: uniqueEmail("pia") };

  test.beforeAll(async ({ browser }) => {
    await api("/api/v1/accounts", { body: { account_name: "Passkey Step Co", email: pia.email, password: PASSWORD, display_name: pia.name } });
    const token = await apiSignIn(pia.email);
    await api("/api/v1/account", { method: "PATCH", token, body: { remember_device_days: 30 } });
    await apiSignOut(token);
    context = await browser.newContext({ baseURL: LOCAL });
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await virtualAuthenticator(cdp);
  });
  test.afterAll(async () => {
    await context.close();
  });

  test("a passkey-only administrator on a remembered device confirms a policy change with the passkey", async () => {
    await signInWithPassword(page, pia.email);
    await page.getByRole("button", { name: "Add a passkey" }).click();
    const add = page.getByRole("dialog", { name: "Add a passkey" });
    await add.getByLabel("Passkey name").fill("Laptop");
    await add.getByRole("button", { name: "Create passkey" }).click();
    await page.getByRole("dialog", { name: "MFA is enabled" }).getByRole("button", { name: "Done" }).click();
    await signOut(page);

    // The MFA step with the passkey, remembering this device.
    await signInWithPassword(page, pia.email);
    await page.getByLabel("Remember this device for 30 days").check();
    await page.getByRole("button", { name: "Use your passkey" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("device-row")).toContainText("Passkey");
    await signOut(page);
    await signInWithPassword(page, pia.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(thisSession(page)).toHaveText("Password + remembered device");

    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Remember devices for (days)").fill("14");
    await page.getByRole("button", { name: "Save" }).click();
    const stepUp = page.getByRole("dialog", { name: "Confirm it's you" });
    await expect(stepUp.getByRole("button", { name: "Use your passkey" })).toBeVisible();
    await expect(stepUp.getByLabel("MFA Code")).toHaveCount(0);
    await shot(page, "rollout-22-step-up-passkey");
    await stepUp.getByRole("button", { name: "Use your passkey" }).click();
    await expect(stepUp).toHaveCount(0);
    await expect(page.getByText("Settings saved.")).toBeVisible();
    await page.reload();
    await expect(page.getByLabel("Remember devices for (days)")).toHaveValue("14");
  });
});
