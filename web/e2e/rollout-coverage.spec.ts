import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import {
  PASSWORD, api, apiEnableMfa, apiSignIn, apiSignOut, completeEnableMfa, shot, signInWithPassword, signOut, uniqueEmail,
} from "./support";

/**
 * A date some days ahead at 09:30 in the browser's time zone: the value to
 * type in a datetime-local input, the time it stands for, and how the app
 * shows it ("medium" date, "short" time, the browser's language).
 */
async function deadlineIn(page: Page, days: number): Promise<{ input: string; iso: string; shown: string }> {
  return page.evaluate((d) => {
    const at = new Date(Date.now() + d * 86_400_000);
    at.setHours(9, 30, 0, 0);
    const pad = (n: number) => String(n).padStart(2, "0");
    return {
      input: `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T09:30`,
      iso: at.toISOString(),
      shown: at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }),
    };
  }, days);
}

// The MFA rollout seen by an administrator: a deadline on the account and
// on a MyGlue account, the MFA coverage screen (counts per scope, the
// deadline, a CSV download, the users of a scope without MFA), and a
// required user's "Set up MFA by <date>" banner before the deadline.
test.describe.serial("MFA rollout: deadlines, coverage and the setup banner", () => {
  let page: Page;
  const cora = { name: "Cora Admin", email: uniqueEmail("cora") };
  const ann = { name: "Ann Ready", email: uniqueEmail("cov-ann") };
  const bob = { name: "Bob Later", email: uniqueEmail("cov-bob") };
  const gus = { name: "Gus Client", email: uniqueEmail("cov-gus") };
  const gia = { name: "Gia Client", email: uniqueEmail("cov-gia") };
  let accountDeadline: { input: string; iso: string; shown: string };
  let globexDeadline: { input: string; iso: string; shown: string };

  test.beforeAll(async ({ browser }) => {
    await api("/api/v1/accounts", { body: { account_name: "Coverage Co", email: cora.email, password: PASSWORD, display_name: cora.name } });
    const token = await apiSignIn(cora.email);
    const globex = await api<{ id: string }>("/api/v1/sub-accounts", { token, body: { name: "Globex" } });
    for (const u of [ann, bob]) {
      await api("/api/v1/users", { token, body: { email: u.email, display_name: u.name, role: "editor", password: PASSWORD } });
    }
    for (const u of [gus, gia]) {
      await api("/api/v1/users", { token, body: { email: u.email, display_name: u.name, role: "editor", password: PASSWORD, sub_account_id: globex.id } });
    }
    await apiSignOut(token);
    // Ann and Gia have set MFA up with an authenticator app.
    for (const u of [ann, gia]) {
      const t = await apiSignIn(u.email);
      await apiEnableMfa(t);
      await apiSignOut(t);
    }
    page = await browser.newPage();
  });
  test.afterAll(async () => {
    await page.close();
  });

  test("the administrator requires MFA from a deadline, on the account and on a MyGlue account", async () => {
    await signInWithPassword(page, cora.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    accountDeadline = await deadlineIn(page, 14);
    globexDeadline = await deadlineIn(page, 7);

    await page.getByRole("link", { name: "Settings" }).click();
    const deadline = page.getByLabel("MFA required from (deadline)");
    await expect(deadline).toBeDisabled();
    await page.getByLabel("Require MFA for access to this account").check();
    await deadline.fill(accountDeadline.input);
    await shot(page, "rollout-01-account-deadline");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("Settings saved.")).toBeVisible();
    await expect(page.getByTestId("deadline-status")).toContainText(`Users without MFA must set it up by ${accountDeadline.shown}.`);
    await expect(deadline).toHaveValue(accountDeadline.input);
    const account = await api<{ require_mfa: boolean; require_mfa_from: string }>("/api/v1/account", { token: await apiSignIn(cora.email) });
    expect(account.require_mfa).toBe(true);
    expect(Date.parse(account.require_mfa_from)).toBe(Date.parse(accountDeadline.iso));

    await page.getByRole("link", { name: "MyGlue" }).click();
    await page.getByRole("button", { name: "Action for Globex" }).click();
    await page.getByRole("menuitem", { name: "Edit" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit MyGlue Account" });
    await dialog.getByLabel("Require MFA for access to this MyGlue account").check();
    await dialog.getByLabel("MFA required from (deadline)").fill(globexDeadline.input);
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("subaccount-row").filter({ hasText: "Globex" }).getByTestId("subaccount-require"))
      .toHaveText(`Yesfrom ${globexDeadline.shown}`);
  });

  test("MFA coverage: per scope, with the deadline; CSV download; the users without MFA of a scope", async () => {
    await page.getByRole("link", { name: "MFA coverage" }).click();
    await expect(page.getByRole("heading", { name: "MFA coverage" })).toBeVisible();
    const rows = page.getByTestId("coverage-row");
    await expect(rows).toHaveCount(2);
    const own = rows.filter({ hasText: "Coverage Co (this account)" });
    // Cora, Ann and Bob; Ann has MFA; Cora and Bob are due by the account's deadline.
    await expect(own.getByTestId("coverage-users")).toHaveText("3");
    await expect(own.getByTestId("coverage-enrolled")).toHaveText("1 (33%)");
    await expect(own.getByTestId("coverage-totp")).toHaveText("1");
    await expect(own.getByTestId("coverage-passkey")).toHaveText("0");
    await expect(own.getByTestId("coverage-sso")).toHaveText("0");
    await expect(own.getByTestId("coverage-due")).toHaveText(`2by ${accountDeadline.shown}`);
    await expect(own.getByTestId("coverage-overdue")).toHaveText("0");
    await expect(own.getByTestId("coverage-policy")).toHaveText(`Required from ${accountDeadline.shown}`);
    const globex = rows.filter({ hasText: "MyGlue: Globex" });
    await expect(globex.getByTestId("coverage-users")).toHaveText("2");
    await expect(globex.getByTestId("coverage-enrolled")).toHaveText("1 (50%)");
    await expect(globex.getByTestId("coverage-due")).toHaveText(`1by ${globexDeadline.shown}`);
    await expect(globex.getByTestId("coverage-policy")).toHaveText(`Required from ${globexDeadline.shown}`);
    await shot(page, "rollout-02-mfa-coverage");

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("mfa-coverage.csv");
    const csv = readFileSync((await download.path())!, "utf8").trim().split(/\r?\n/);
    expect(csv).toHaveLength(3);
    expect(csv[0]).toMatch(/^scope,/);
    expect(csv[1]).toMatch(/^account,,Coverage Co,true,/);
    expect(csv[2]).toMatch(/^sub_account,[0-9a-f-]{36},Globex,true,/);
    expect(csv[1]).toContain(new Date(accountDeadline.iso).toISOString().slice(0, 16));

    // Globex's users without MFA: the users list, filtered.
    await globex.getByRole("link", { name: "Users without MFA: MyGlue: Globex" }).click();
    await expect(page).toHaveURL(/\/account\/users\?mfa_enabled=false&sub_account_id=/);
    await expect(page.getByRole("heading", { name: "Users" })).toBeVisible();
    await expect(page.getByLabel("MFA", { exact: true })).toHaveValue("not_set_up");
    await expect(page.getByLabel("MyGlue account").locator("option:checked")).toHaveText("Globex");
    await expect(page.getByTestId("user-row")).toHaveCount(1);
    await expect(page.getByTestId("user-row")).toContainText(gus.email);
    await shot(page, "rollout-03-users-without-mfa");
    // The Users link of the menu: every user again.
    await page.getByRole("navigation", { name: "Account" }).getByRole("link", { name: "Users", exact: true }).click();
    await expect(page.getByTestId("user-row")).toHaveCount(5);
  });

  test("a required user without MFA signs in before the deadline and is asked to set it up by then", async () => {
    await signOut(page);
    await signInWithPassword(page, bob.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    const banner = page.getByTestId("setup-due-notice");
    await expect(banner).toContainText(`Set up MFA by ${accountDeadline.shown}.`);
    await expect(page.getByTestId("mfa-required-notice")).toContainText(`Set up MFA by ${accountDeadline.shown}`);
    await shot(page, "rollout-04-setup-due-banner");
    await banner.getByRole("button", { name: "Enable MFA" }).click();
    await completeEnableMfa(page);
    await expect(banner).toHaveCount(0);
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
  });

  test("the coverage counts the new enrollment", async () => {
    await signOut(page);
    await signInWithPassword(page, cora.email);
    // Cora herself is due too: the banner is on every screen until she sets MFA up.
    await expect(page.getByTestId("setup-due-notice")).toContainText(`Set up MFA by ${accountDeadline.shown}.`);
    await page.getByRole("button", { name: "Not now" }).click();
    await expect(page.getByTestId("setup-due-notice")).toHaveCount(0);
    await page.getByRole("link", { name: "MFA coverage" }).click();
    const own = page.getByTestId("coverage-row").filter({ hasText: "Coverage Co (this account)" });
    await expect(own.getByTestId("coverage-enrolled")).toHaveText("2 (67%)");
    await expect(own.getByTestId("coverage-due")).toHaveText(`1by ${accountDeadline.shown}`);
  });
});
