import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, shot, uniqueEmail } from "./support";

test.describe.serial("custom roles", () => {
  let page: Page;
  const admin = { name: "Rae Admin", email: uniqueEmail("rae") };
  const hal = { name: "Hal Helpdesk", email: uniqueEmail("hal") };

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage();
    await page.goto("/signup");
    await page.getByLabel("Company name").fill("Rae's MSP");
    await page.getByLabel("Your name").fill(admin.name);
    await page.getByLabel("Email").fill(admin.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("create a role, give it to a user, deleting it is refused while held", async () => {
    await page.getByRole("link", { name: "Roles" }).click();
    await expect(page.getByRole("heading", { name: "Roles" })).toBeVisible();
    await expect(page.getByText("No custom roles yet.")).toBeVisible();

    await page.getByRole("button", { name: "New role" }).click();
    const dialog = page.getByRole("dialog", { name: "New role" });
    await dialog.getByLabel("Name").fill("Help desk");
    await dialog.getByLabel("Description").fill("Looks users up and resets their MFA");
    // Each permission by its name in the help pages, with its code.
    await dialog.getByRole("checkbox", { name: "View Users (users.view)", exact: true }).check();
    await dialog.getByRole("checkbox", { name: "Disable Two-Factor Authentication (Reset MFA) (users.reset_mfa)", exact: true }).check();
    await shot(page, "50-new-role");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog).toBeHidden();
    const row = page.getByTestId("role-row").filter({ hasText: "Help desk" });
    await expect(row).toContainText("View Users (users.view)");
    await expect(row).toContainText("Disable Two-Factor Authentication (Reset MFA) (users.reset_mfa)");
    await expect(row).not.toContainText("users.manage");

    // Edit role shows what the role holds.
    await page.getByRole("button", { name: "Edit Help desk" }).click();
    const edit = page.getByRole("dialog", { name: "Edit role" });
    await expect(edit.getByRole("checkbox", { name: "View Users (users.view)", exact: true })).toBeChecked();
    await expect(edit.getByRole("checkbox", { name: "Disable Two-Factor Authentication (Reset MFA) (users.reset_mfa)", exact: true })).toBeChecked();
    await expect(edit.getByRole("checkbox", { name: "Manage Users (users.manage)", exact: true })).not.toBeChecked();
    await edit.getByRole("button", { name: "Cancel" }).click();
    await expect(edit).toBeHidden();
    await shot(page, "51-roles");

    // A new user, then Edit user gives them the custom role.
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("button", { name: "New user" }).click();
    const nu = page.getByRole("dialog", { name: "New user" });
    await nu.getByLabel("Email").fill(hal.email);
    await nu.getByLabel("Name").fill(hal.name);
    await nu.getByLabel("Role").selectOption("lite");
    await nu.getByLabel("Initial password").fill(PASSWORD);
    await nu.getByRole("button", { name: "Create user" }).click();
    await expect(nu).toBeHidden();
    const halRow = page.getByTestId("user-row").filter({ hasText: hal.email });
    await halRow.getByRole("link", { name: `Edit ${hal.name}` }).click();
    await expect(page.getByRole("heading", { name: "Edit User" })).toBeVisible();
    await page.getByLabel("Role").selectOption({ label: "Help desk" });
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("The user has been saved.")).toBeVisible();
    await page.getByRole("link", { name: "← Users" }).click();
    await expect(halRow).toContainText("Help desk");
    await shot(page, "52-users-custom-role");

    // Deleting a role someone holds is refused (409) and the role stays.
    await page.getByRole("link", { name: "Roles" }).click();
    await page.getByRole("button", { name: "Delete Help desk" }).click();
    await page.getByRole("dialog", { name: "Delete role" }).getByRole("button", { name: "Delete" }).click();
    await expect(page.getByRole("alert")).toContainText("hold this role");
    await expect(page.getByTestId("role-row").filter({ hasText: "Help desk" })).toBeVisible();
    await shot(page, "53-roles-delete-refused");
  });
});
