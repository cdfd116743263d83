import { expect, test, type Page } from "@playwright/test";
import { PASSWORD, shot, uniqueEmail } from "./support";

type Win = { latchkey: import("@latchkey/client").LatchkeyClient };
const meStatus = (page: Page) =>
  page.evaluate(async () => (await (window as unknown as Win).latchkey.api.GET("/api/v1/me")).response.status);
const sessionCount = (page: Page) =>
  page.evaluate(async () => (await (window as unknown as Win).latchkey.api.GET("/api/v1/me/sessions")).data?.total);
const accessToken = (page: Page) => page.evaluate(() => (window as unknown as Win).latchkey.accessToken());

test("two tabs refreshing at the same moment stay signed in", async ({ browser }) => {
  const context = await browser.newContext();
  await context.clock.install();
  const tab1 = await context.newPage();
  await tab1.goto("/signup");
  await tab1.getByLabel("Company name").fill("Tabs Inc");
  await tab1.getByLabel("Email").fill(uniqueEmail("tabs"));
  await tab1.getByLabel("Password").fill(PASSWORD);
  await tab1.getByRole("button", { name: "Create account" }).click();
  await expect(tab1.getByRole("heading", { name: "Edit Profile" })).toBeVisible();

  // A second tab of the same browser picks up the session.
  const tab2 = await context.newPage();
  await tab2.goto("/profile");
  await expect(tab2.getByRole("heading", { name: "Edit Profile" })).toBeVisible();

  // Both tabs refresh at once, three times over.
  for (let round = 0; round < 3; round++) {
    await Promise.all([
      tab1.evaluate(() => (window as unknown as Win).latchkey.refresh()),
      tab2.evaluate(() => (window as unknown as Win).latchkey.refresh()),
    ]);
    expect(await meStatus(tab1)).toBe(200);
    expect(await meStatus(tab2)).toBe(200);
  }

  // And as it happens in life: both tabs' timers fire together shortly before
  // the access token (15 minutes) expires.
  const before = await accessToken(tab1);
  await context.clock.fastForward("14:30");
  await expect.poll(() => accessToken(tab1), { timeout: 15_000 }).not.toBe(before);
  await expect.poll(() => accessToken(tab2), { timeout: 15_000 }).not.toBe(before);
  expect(await meStatus(tab1)).toBe(200);
  expect(await meStatus(tab2)).toBe(200);
  expect(await sessionCount(tab1)).toBe(1);

  await tab1.reload();
  await tab2.reload();
  await expect(tab1.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  await expect(tab2.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  await shot(tab2, "30-second-tab-still-signed-in");

  // Signing out in one tab signs the other out.
  await tab1.getByRole("button", { name: /▾/ }).click();
  await tab1.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(tab2.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await context.close();
});
