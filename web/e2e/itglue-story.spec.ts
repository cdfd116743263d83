import { expect, test, type Page } from "@playwright/test";
import {
  PASSWORD, completeEnableMfa, enterMfaCode, shot, signInWithPassword, signOut, uniqueEmail, type AuthenticatorApp,
} from "./support";

// The IT Glue help pages' story, in order, in one browser: each step builds on the last.
test.describe.serial("the IT Glue MFA story", () => {
  let page: Page;
  const admin = { name: "Ann Admin", email: uniqueEmail("ann") };
  const ed = { name: "Ed Editor", email: uniqueEmail("ed") };
  let annApp: AuthenticatorApp;
  let annRecovery: string;

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("sign up", async () => {
    await page.goto("/");
    await shot(page, "01-sign-in");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Company name").fill("Acme IT");
    await page.getByLabel("Your name").fill(admin.name);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await shot(page, "02-sign-up");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is not enabled");
    await shot(page, "03-edit-profile-no-mfa");
  });

  test("enable MFA by reading the secret key", async () => {
    await page.getByRole("button", { name: "Enable MFA" }).click();
    // Focus moves into the dialog as it opens.
    const dialog = page.getByRole("dialog", { name: "Enable MFA" });
    await expect(dialog).toBeVisible();
    expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
    ({ app: annApp, recoveryToken: annRecovery } = await completeEnableMfa(page, "04"));
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await shot(page, "05-edit-profile-mfa-enabled");
  });

  test("sign out, then sign in with a code", async () => {
    await signOut(page);
    await signInWithPassword(page, admin.email);
    const code = page.getByLabel("MFA Code");
    await expect(code).toBeVisible();
    await expect(code).toHaveAttribute("autocomplete", "one-time-code");
    await shot(page, "06-sign-in-mfa-code");
    await enterMfaCode(page, "000000");
    await expect(page.getByRole("alert")).toContainText("4 attempts left");
    await shot(page, "07-sign-in-wrong-code");
    await enterMfaCode(page, await annApp.code());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  });

  test("sign in with the recovery token and see MFA still on", async () => {
    await signOut(page);
    await signInWithPassword(page, admin.email);
    await enterMfaCode(page, annRecovery);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await expect(page.getByText("none unused")).toBeVisible();
  });

  test("generate a new recovery token and see the old one refused", async () => {
    const generate = async () => {
      await page.getByRole("button", { name: "Click here to generate a new one-time MFA recovery token" }).click();
      const dialog = page.getByRole("dialog", { name: "New MFA recovery token" });
      await dialog.getByLabel("Password").fill(PASSWORD);
      await dialog.getByRole("button", { name: "Generate" }).click();
      const token = (await dialog.getByTestId("recovery-token").textContent())!.trim();
      return { dialog, token };
    };
    const first = await generate();
    await shot(page, "08-new-recovery-token");
    await first.dialog.getByRole("button", { name: "Done" }).click();
    const second = await generate();
    expect(second.token).not.toBe(first.token);
    await second.dialog.getByRole("button", { name: "Done" }).click();
    await signOut(page);
    await signInWithPassword(page, admin.email);
    await enterMfaCode(page, first.token);
    await expect(page.getByRole("alert")).toContainText("not valid");
    await enterMfaCode(page, second.token);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    annRecovery = "";
  });

  test("the administrator requires MFA, seeing first who has not set it up", async () => {
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("button", { name: "New user" }).click();
    const dialog = page.getByRole("dialog", { name: "New user" });
    await dialog.getByLabel("Email").fill(ed.email);
    await dialog.getByLabel("Name").fill(ed.name);
    await dialog.getByLabel("Role").selectOption("editor");
    await dialog.getByLabel("Initial password").fill(PASSWORD);
    await shot(page, "09-new-user");
    await dialog.getByRole("button", { name: "Create user" }).click();
    const row = page.getByTestId("user-row").filter({ hasText: ed.email });
    await expect(row.getByRole("img", { name: "MFA not set up" })).toBeVisible();
    await expect(page.getByTestId("user-row").filter({ hasText: admin.email }).getByRole("img", { name: "MFA enabled" })).toBeVisible();
    await shot(page, "10-users");

    await page.getByRole("link", { name: "Settings" }).click();
    await expect(page.getByTestId("without-mfa")).toContainText("1 user of this account has not set up MFA yet (Ed Editor)");
    await page.getByLabel("Require MFA for access to this account").check();
    await shot(page, "11-account-settings-authentication");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("Settings saved.")).toBeVisible();
  });

  test("a new user is forced to enroll at sign-in, and cannot disable it", async () => {
    await signOut(page);
    await signInWithPassword(page, ed.email);
    const dialog = page.getByRole("dialog", { name: "Enable MFA" });
    await expect(dialog.getByText("Your administrator requires MFA")).toBeVisible();
    await shot(page, "12-forced-enrollment");
    await completeEnableMfa(page);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await expect(page.getByRole("button", { name: "Disable MFA" })).toBeDisabled();
    await expect(page.getByTestId("disable-reason")).toContainText("required for access to this account");
    await shot(page, "13-disable-refused-while-enforced");
  });

  test("the administrator resets a user's MFA", async () => {
    await signOut(page);
    await signInWithPassword(page, admin.email);
    await enterMfaCode(page, await annApp.code());
    await page.getByRole("link", { name: "Users" }).click();
    const row = page.getByTestId("user-row").filter({ hasText: ed.email });
    await expect(row.getByRole("img", { name: "MFA enabled" })).toBeVisible();
    await row.getByRole("link", { name: `Edit ${ed.name}` }).click();
    await expect(page.getByRole("heading", { name: "Edit User" })).toBeVisible();
    await shot(page, "14-edit-user");
    await page.getByRole("button", { name: "Reset MFA" }).click();
    await page.getByRole("dialog", { name: "Reset MFA" }).getByRole("button", { name: "Reset MFA" }).click();
    await expect(page.getByText(`MFA of ${ed.name} has been reset`)).toBeVisible();
    await expect(page.getByTestId("reset-reason")).toContainText("has not set up MFA");
    await page.getByRole("link", { name: "← Users" }).click();
    await expect(page.getByTestId("user-row").filter({ hasText: ed.email }).getByRole("img", { name: /MFA not set up/ })).toBeVisible();
  });
});
