import { expect, test, type Page } from "@playwright/test";
import {
  PASSWORD, api, apiEnableMfa, apiSignIn, apiSignOut, enterMfaCode, shot, signInWithPassword, signOut, uniqueEmail,
  type AuthenticatorApp,
} from "./support";

const VIEW_USERS = "View Users (users.view)";
const RESET_MFA = "Disable Two-Factor Authentication (Reset MFA) (users.reset_mfa)";

// Seed 004, "Disable Multi-Factor Authentication for another user": whoever
// holds View Users and Disable Two-Factor Authentication (here a custom "Help
// desk" role, not an administrator) and has MFA on resets an editor's MFA
// from Account → Users. The app offers what the caller's permissions allow.
test.describe.serial("a help desk role resets a user's MFA (seed 004)", () => {
  let page: Page;
  const admin = { name: "Hana Admin", email: uniqueEmail("hana") };
  const desk = { name: "Dee Desk", email: uniqueEmail("dee") };
  const ed = { name: "Eli Editor", email: uniqueEmail("eli") };
  const ari = { name: "Ari Admin", email: uniqueEmail("ari") };
  let deskApp: AuthenticatorApp;

  test.beforeAll(async ({ browser }) => {
    // The account, the role and the users come from the API.
    await api("/api/v1/accounts", { body: { account_name: "Hana's MSP", email: admin.email, password: PASSWORD, display_name: admin.name } });
    const token = await apiSignIn(admin.email);
    const role = await api<{ id: string }>("/api/v1/roles", {
      token, body: { name: "Help desk", description: "Looks users up and resets their MFA", permissions: ["users.view", "users.reset_mfa"] },
    });
    await api("/api/v1/users", { token, body: { email: desk.email, display_name: desk.name, role: role.id, password: PASSWORD } });
    await api("/api/v1/users", { token, body: { email: ed.email, display_name: ed.name, role: "editor", password: PASSWORD } });
    await api("/api/v1/users", { token, body: { email: ari.email, display_name: ari.name, role: "administrator", password: PASSWORD } });
    await apiSignOut(token);
    // They set MFA up with an authenticator app (Reset MFA needs MFA on the one who does it).
    const deskToken = await apiSignIn(desk.email);
    deskApp = await apiEnableMfa(deskToken);
    await apiSignOut(deskToken);
    const edToken = await apiSignIn(ed.email);
    await apiEnableMfa(edToken);
    await apiSignOut(edToken);
    const ariToken = await apiSignIn(ari.email);
    await apiEnableMfa(ariToken);
    await apiSignOut(ariToken);
    page = await browser.newPage();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("the administrator sees the custom role by its name, and its permissions by theirs", async () => {
    await signInWithPassword(page, admin.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();

    await page.getByRole("link", { name: "Roles" }).click();
    const roleRow = page.getByTestId("role-row").filter({ hasText: "Help desk" });
    await expect(roleRow.getByTestId("role-permission")).toHaveText([VIEW_USERS, RESET_MFA]);
    await page.getByRole("button", { name: "Edit Help desk" }).click();
    const edit = page.getByRole("dialog", { name: "Edit role" });
    await expect(edit.getByRole("checkbox", { name: VIEW_USERS, exact: true })).toBeChecked();
    await expect(edit.getByRole("checkbox", { name: RESET_MFA, exact: true })).toBeChecked();
    await expect(edit.getByRole("checkbox", { name: "Manage Users (users.manage)", exact: true })).not.toBeChecked();
    await shot(page, "80-role-permission-labels");
    await edit.getByRole("button", { name: "Cancel" }).click();

    // Users: the role's name in the list, in Edit User and in the Role filter (?role=<id>).
    await page.getByRole("link", { name: "Users" }).click();
    const deskRow = page.getByTestId("user-row").filter({ hasText: desk.email });
    await expect(deskRow.getByRole("cell").nth(3)).toHaveText("Help desk");
    await page.getByLabel("Role").selectOption({ label: "Help desk" });
    await expect(page.getByTestId("user-row")).toHaveCount(1);
    await expect(page.getByTestId("user-row")).toContainText(desk.email);
    await shot(page, "81-users-filtered-by-custom-role");
    await deskRow.getByRole("link", { name: `Edit ${desk.name}` }).click();
    await expect(page.getByRole("heading", { name: "Edit User" })).toBeVisible();
    await expect(page.getByLabel("Role").locator("option:checked")).toHaveText("Help desk");
    await signOut(page);
  });

  test("the help desk, signed in with MFA, resets an editor's MFA from Account → Users", async () => {
    await signInWithPassword(page, desk.email);
    await enterMfaCode(page, await deskApp.code());
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    // The menu and the profile follow the role's permissions.
    // (users.view also opens MFA coverage.)
    await expect(page.getByRole("navigation", { name: "Account" }).getByRole("link")).toHaveText(["Users", "MFA coverage"]);
    await expect(page.getByTestId("my-permissions")).toContainText(VIEW_USERS);
    await expect(page.getByTestId("my-permissions")).toContainText(RESET_MFA);

    // 1. Utilities → Security → Users: a pencil on each row, no New user.
    await page.getByRole("link", { name: "Users" }).click();
    await expect(page.getByTestId("user-row")).toHaveCount(4);
    await expect(page.getByTestId("user-row").getByRole("link", { name: /^Edit / })).toHaveCount(4);
    await expect(page.getByRole("button", { name: "New user" })).toHaveCount(0);
    const edRow = page.getByTestId("user-row").filter({ hasText: ed.email });
    await expect(edRow.getByRole("img", { name: "MFA enabled" })).toBeVisible();
    await shot(page, "82-helpdesk-users");

    // 2. Click on the user: Edit User offers Reset MFA and nothing that needs users.manage.
    await edRow.getByRole("link", { name: `Edit ${ed.name}` }).click();
    await expect(page.getByRole("heading", { name: "Edit User" })).toBeVisible();
    await expect(page.getByText("MFA is enabled.")).toBeVisible();
    await expect(page.getByTestId("user-role")).toHaveText("Role: Editor");
    await expect(page.getByLabel("Name")).toHaveCount(0);
    await expect(page.getByLabel("Role")).toHaveCount(0);
    await expect(page.getByLabel(/Disabled/)).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Save" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Delete user" })).toHaveCount(0);
    await shot(page, "83-helpdesk-edit-user");

    // 3. Reset MFA, 4. confirm.
    await page.getByRole("button", { name: "Reset MFA" }).click();
    await page.getByRole("dialog", { name: "Reset MFA" }).getByRole("button", { name: "Reset MFA" }).click();
    await expect(page.getByRole("status").filter({ hasText: `MFA of ${ed.name} has been reset` })).toBeVisible();
    await expect(page.getByText("MFA is not set up.")).toBeVisible();
    await expect(page.getByTestId("reset-reason")).toContainText("has not set up MFA");
    await shot(page, "84-helpdesk-mfa-reset");

    // Opened by its address alone (no list behind it), Edit User still finds the user.
    await page.goto(page.url());
    await expect(page.getByRole("heading", { name: "Edit User" })).toBeVisible();
    await expect(page.getByText("MFA is not set up.")).toBeVisible();

    await page.getByRole("link", { name: "← Users" }).click();
    await expect(edRow.getByRole("img", { name: /MFA not set up/ })).toBeVisible();

    // Not an administrator's, though: they hold permissions the help desk lacks (403, said plainly).
    await page.getByTestId("user-row").filter({ hasText: ari.email }).getByRole("link", { name: `Edit ${ari.name}` }).click();
    await page.getByRole("button", { name: "Reset MFA" }).click();
    await page.getByRole("dialog", { name: "Reset MFA" }).getByRole("button", { name: "Reset MFA" }).click();
    await expect(page.getByRole("alert")).toContainText("they hold permissions that your role does not");
    await expect(page.getByText("MFA is enabled.")).toBeVisible();
    // Their remembered devices are out of reach too: said as a hint, not an error.
    await expect(page.getByTestId("devices-out-of-reach")).toBeVisible();
    await shot(page, "85-helpdesk-reset-refused-for-administrator");
    await signOut(page);
  });

  test("the editor signs in with the password alone now", async () => {
    await signInWithPassword(page, ed.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is not enabled");
    await signOut(page);
  });
});
