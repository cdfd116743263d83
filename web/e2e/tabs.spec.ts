import { expect, test, type Page } from "@playwright/test";
import { API_URL, PASSWORD, shot, uniqueEmail } from "./support";

/**
 * The access token a tab last sent to the API, read off its requests (a
 * production build keeps its tokens to itself: no debugging hook on window).
 */
function bearerOf(page: Page): () => string | null {
  let last: string | null = null;
  page.on("request", (r) => {
    const auth = r.headers()["authorization"];
    if (r.url().startsWith(API_URL) && auth?.startsWith("Bearer ")) last = auth.slice("Bearer ".length);
  });
  return () => last;
}

/** The Users screen loads in this tab: its calls were answered with the session alive. */
async function usersLoad(page: Page, email: string): Promise<void> {
  await page.getByRole("link", { name: "Users" }).click();
  await expect(page.getByTestId("user-row").filter({ hasText: email })).toBeVisible();
}

test("two tabs refreshing at the same moment stay signed in", async ({ browser }) => {
  const context = await browser.newContext();
  await context.clock.install();
  const email = uniqueEmail("tabs");
  const tab1 = await context.newPage();
  const bearer1 = bearerOf(tab1);
  await tab1.goto("/signup");
  await tab1.getByLabel("Company name").fill("Tabs Inc");
  await tab1.getByLabel("Email").fill(email);
  await tab1.getByLabel("Password").fill(PASSWORD);
  await tab1.getByRole("button", { name: "Create account" }).click();
  await expect(tab1.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  // The console hook `window.latchkey` is for development builds only.
  expect(await tab1.evaluate(() => "latchkey" in window)).toBe(false);

  // A second tab of the same browser picks up the session.
  const tab2 = await context.newPage();
  const bearer2 = bearerOf(tab2);
  await tab2.goto("/profile");
  await expect(tab2.getByRole("heading", { name: "Edit Profile" })).toBeVisible();

  // Both tabs refresh at once (a reload picks the session up with a refresh),
  // three times over: one spent refresh token presented twice would end the
  // session in both.
  for (let round = 0; round < 3; round++) {
    await Promise.all([tab1.reload(), tab2.reload()]);
    await expect(tab1.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(tab2.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  }

  // And as it happens in life: both tabs' timers fire together shortly before
  // the access token (15 minutes) expires. Each tab then calls the API with a
  // new token, and the session is still alive.
  const before1 = bearer1();
  const before2 = bearer2();
  expect(before1).not.toBeNull();
  expect(before2).not.toBeNull();
  await context.clock.fastForward("14:30");
  await usersLoad(tab1, email);
  await usersLoad(tab2, email);
  expect(bearer1()).not.toBe(before1);
  expect(bearer2()).not.toBe(before2);

  // Still one session, in both tabs, after reloading them.
  await tab1.reload();
  await tab2.reload();
  await expect(tab1.getByRole("heading", { name: "Users" })).toBeVisible();
  await tab2.getByRole("button", { name: /▾/ }).click();
  await tab2.getByRole("menuitem", { name: "Edit Profile" }).click();
  await expect(tab2.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  await expect(tab2.getByTestId("session-row")).toHaveCount(1);
  await shot(tab2, "30-second-tab-still-signed-in");

  // Signing out in one tab signs the other out.
  await tab1.getByRole("button", { name: /▾/ }).click();
  await tab1.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(tab2.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await context.close();
});
