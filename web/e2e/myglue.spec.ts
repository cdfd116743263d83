import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, api, apiSignIn, apiSignOut, completeEnableMfa, shot, signInWithPassword, signOut, uniqueEmail } from "./support";

/** Creates a user through the New user dialog of Account → Users. */
async function newUser(page: Page, u: { name: string; email: string; role: string; belongsTo?: string }) {
  await page.getByRole("button", { name: "New user" }).click();
  const dialog = page.getByRole("dialog", { name: "New user" });
  await dialog.getByLabel("Email").fill(u.email);
  await dialog.getByLabel("Name").fill(u.name);
  if (u.belongsTo) await dialog.getByLabel("Belongs to").selectOption({ label: `MyGlue: ${u.belongsTo}` });
  await dialog.getByLabel("Role").selectOption(u.role);
  await dialog.getByLabel("Initial password").fill(PASSWORD);
  await dialog.getByRole("button", { name: "Create user" }).click();
  await expect(dialog).toBeHidden();
}

test.describe.serial("MyGlue accounts, users and the audit log", () => {
  let page: Page;
  const admin = { name: "Mo Admin", email: uniqueEmail("mo") };
  const gus = { name: "Gus Globex", email: uniqueEmail("gus"), role: "editor", belongsTo: "Globex" };
  const ivy = { name: "Ivy Initech", email: uniqueEmail("ivy"), role: "read_only", belongsTo: "Initech" };
  const al = { name: "Al Account", email: uniqueEmail("al"), role: "manager" };

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
    await page.goto("/signup");
    await page.getByLabel("Company name").fill("Mo's MSP");
    await page.getByLabel("Your name").fill(admin.name);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("create, edit and delete MyGlue accounts", async () => {
    await page.getByRole("link", { name: "MyGlue" }).click();
    await expect(page.getByText("No MyGlue accounts yet")).toBeVisible();
    await shot(page, "20-myglue-empty");
    for (const [name, require] of [["Globex", true], ["Initech", false], ["Temporary", false]] as const) {
      await page.getByRole("button", { name: "New MyGlue account" }).click();
      const dialog = page.getByRole("dialog", { name: "New MyGlue Account" });
      await dialog.getByLabel("Name").fill(name);
      if (require) await dialog.getByLabel("Require MFA for access to this MyGlue account").check();
      await dialog.getByRole("button", { name: "Save" }).click();
      await expect(page.getByTestId("subaccount-row").filter({ hasText: name })).toBeVisible();
    }
    // The seed: "Click the Action button and select Edit on the organization".
    const action = page.getByTestId("subaccount-row").filter({ hasText: "Initech" }).getByRole("button", { name: "Action for Initech" });
    await expect(action).toHaveText("Action ▾");
    await expect(action).toHaveAttribute("aria-haspopup", "menu");
    await expect(action).toHaveAttribute("aria-expanded", "false");
    await action.click();
    await expect(action).toHaveAttribute("aria-expanded", "true");
    const menu = page.getByRole("menu", { name: "Action for Initech" });
    await expect(menu.getByRole("menuitem")).toHaveText(["Edit", "Delete"]);
    await expect(menu.getByRole("menuitem", { name: "Edit" })).toBeFocused();
    await shot(page, "21a-myglue-action-menu");
    // Escape closes it and gives focus back to the button.
    await page.keyboard.press("Escape");
    await expect(menu).toBeHidden();
    await expect(action).toBeFocused();
    await action.click();
    await menu.getByRole("menuitem", { name: "Edit" }).click();
    await expect(menu).toBeHidden();
    const edit = page.getByRole("dialog", { name: "Edit MyGlue Account" });
    await expect(edit.getByLabel("Require MFA for access to this MyGlue account")).not.toBeChecked();
    await edit.getByLabel("Name").fill("Initech Corp");
    await shot(page, "21-edit-myglue-account");
    await edit.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("subaccount-row").filter({ hasText: "Initech Corp" })).toContainText("No");
    await page.getByRole("button", { name: "Action for Temporary" }).click();
    await page.getByRole("menu", { name: "Action for Temporary" }).getByRole("menuitem", { name: "Delete" }).click();
    await page.getByRole("dialog", { name: "Delete MyGlue account" }).getByRole("button", { name: "Delete" }).click();
    await expect(page.getByTestId("subaccount-row")).toHaveCount(2);
    await expect(page.getByTestId("subaccount-row").filter({ hasText: "Globex" })).toContainText("Yes");
    await shot(page, "22-myglue");
    ivy.belongsTo = "Initech Corp";
  });

  test("users: padlocks, filters, search and paging", async () => {
    await page.getByRole("link", { name: "Users" }).click();
    for (const u of [gus, ivy, al]) await newUser(page, u);
    // A MyGlue user may not hold an account role: the server says so (422 on
    // role) and the dialog shows it by the Role field.
    await page.getByRole("button", { name: "New user" }).click();
    const dialog = page.getByRole("dialog", { name: "New user" });
    await dialog.getByLabel("Email").fill(uniqueEmail("refused"));
    await dialog.getByLabel("Name").fill("Refused Manager");
    await dialog.getByLabel("Belongs to").selectOption({ label: "MyGlue: Globex" });
    await dialog.getByLabel("Role").selectOption("manager");
    await dialog.getByLabel("Initial password").fill(PASSWORD);
    await dialog.getByRole("button", { name: "Create user" }).click();
    await expect(dialog.getByLabel("Role")).toHaveAttribute("aria-invalid", "true");
    await expect(dialog.getByLabel("Role")).toHaveAccessibleDescription(/sub-account/);
    await shot(page, "23a-new-user-role-refused");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await expect(dialog).toBeHidden();

    // Enough users for a second page (10 per page), made through the API.
    const token = await apiSignIn(admin.email);
    for (let i = 1; i <= 9; i++) {
      await api("/api/v1/users", { token, body: { email: uniqueEmail(`filler${i}`), display_name: `Filler ${i}`, role: "lite", password: PASSWORD } });
    }
    await apiSignOut(token);
    await page.reload();
    await expect(page.getByRole("navigation", { name: "Pages" })).toContainText("1–10 of 13");
    await shot(page, "23-users-page-1");
    await page.getByRole("button", { name: "Next" }).click();
    await expect(page.getByRole("navigation", { name: "Pages" })).toContainText("11–13 of 13");
    // Straight to page 2 on opening the screen, and it stays there (the
    // search box's debounce, started on mount, once sent a quick click
    // back to page 1).
    await page.getByRole("link", { name: "MyGlue" }).click();
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("button", { name: "Next" }).click();
    await expect(page.getByRole("navigation", { name: "Pages" })).toContainText("11–13 of 13");
    await page.waitForTimeout(500);
    await expect(page.getByRole("navigation", { name: "Pages" })).toContainText("11–13 of 13");
    await page.getByLabel("Search").fill("ivy");
    await expect(page.getByTestId("user-row")).toHaveCount(1);
    await expect(page.getByTestId("user-row")).toContainText(ivy.email);
    await page.getByLabel("Search").fill("");
    await page.getByLabel("MyGlue account").selectOption({ label: "Globex" });
    await expect(page.getByTestId("user-row")).toHaveCount(1);
    await expect(page.getByTestId("user-row")).toContainText(gus.name);
    await page.getByLabel("MyGlue account").selectOption({ label: "All users" });
    await page.getByLabel("Role").selectOption("manager");
    await expect(page.getByTestId("user-row")).toHaveCount(1);
    await page.getByLabel("Role").selectOption("");
    await page.getByLabel("MFA", { exact: true }).selectOption("enabled");
    await expect(page.getByText("No users match these filters.")).toBeVisible();
    await shot(page, "24-users-filtered-empty");
    await page.getByLabel("MFA", { exact: true }).selectOption("");
  });

  test("a MyGlue account's policy covers only its users", async () => {
    await signOut(page);
    // Ivy's MyGlue account does not require MFA: straight in.
    await signInWithPassword(page, ivy.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is not enabled");
    // A client user sees no Account menu.
    await expect(page.getByRole("navigation", { name: "Account" })).toHaveCount(0);
    await signOut(page);
    // Al belongs to the account itself, which does not require MFA either.
    await signInWithPassword(page, al.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await signOut(page);
    // Gus's MyGlue account requires it: enrollment at sign-in.
    await signInWithPassword(page, gus.email);
    await expect(page.getByRole("dialog", { name: "Enable MFA" }).getByText("Your administrator requires MFA")).toBeVisible();
    await completeEnableMfa(page);
    await expect(page.getByRole("button", { name: "Disable MFA" })).toBeDisabled();
    await expect(page.getByTestId("disable-reason")).toContainText("MyGlue account");
    await shot(page, "25-myglue-user-disable-refused");
    await signOut(page);
  });

  test("wrong passwords lock sign-in, with the time to try again", async () => {
    for (let i = 0; i < 5; i++) {
      await signInWithPassword(page, al.email, `not the password ${i}`);
      await expect(page.getByRole("alert")).toContainText("The email or password is not correct.");
    }
    await signInWithPassword(page, al.email);
    await expect(page.getByRole("alert")).toHaveText(/^Too many wrong passwords\. Try again after \d\d:\d\d( tomorrow)?\.$/);
    await shot(page, "26-sign-in-locked");
  });

  test("Reset MFA is not offered to an administrator without MFA, with the reason", async () => {
    await signInWithPassword(page, admin.email);
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByTestId("user-row").filter({ hasText: gus.email }).getByRole("link", { name: `Edit ${gus.name}` }).click();
    await expect(page.getByText("MFA is enabled. A policy requires MFA for this user.")).toBeVisible();
    await expect(page.getByRole("button", { name: "Reset MFA" })).toHaveCount(0);
    await expect(page.getByTestId("reset-reason")).toContainText("enable MFA on your own profile first");
    await shot(page, "29-edit-user-reset-not-offered");
  });

  test("audit log with filters", async () => {
    await page.getByRole("link", { name: "Audit log" }).click();
    await expect(page.getByTestId("audit-row").first()).toBeVisible();
    await page.getByLabel("Event").selectOption("mfa.enabled");
    await expect(page.getByTestId("audit-row")).toHaveCount(1);
    await expect(page.getByTestId("audit-row")).toContainText(gus.email);
    await page.getByLabel("Event").selectOption("");
    await page.getByLabel("User").selectOption({ label: al.email });
    await expect(page.getByTestId("audit-row").filter({ hasText: "login.failed" }).first()).toBeVisible();
    await shot(page, "27-audit-log");
    await page.getByLabel("Event").selectOption("mfa.reset");
    await expect(page.getByText("No events match these filters.")).toBeVisible();
  });

  test("my sessions: sign out another session", async ({ browser }) => {
    const other = await browser.newPage();
    await signInWithPassword(other, admin.email);
    await expect(other.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await page.getByRole("button", { name: /▾/ }).click();
    await page.getByRole("menuitem", { name: "Edit Profile" }).click();
    await expect(page.getByTestId("session-row")).toHaveCount(2);
    await shot(page, "28-my-sessions");
    await page.getByTestId("session-row").filter({ hasNotText: "This session" }).getByRole("button", { name: "Sign out" }).click();
    await expect(page.getByTestId("session-row")).toHaveCount(1);
    // The other browser finds out at its next call (here: a reload).
    await other.reload();
    await expect(other.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await other.close();
  });
});
