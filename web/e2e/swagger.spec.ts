import { expect, test } from "@playwright/test";
import { API_URL, PASSWORD, shot, uniqueEmail } from "./support";

test("Swagger UI: sign in with Try it out, Authorize, GET /api/v1/me", async ({ page, request }) => {
  const email = uniqueEmail("swagger");
  const signup = await request.post(`${API_URL}/api/v1/accounts`, { data: { account_name: "Swagger Co", email, password: PASSWORD } });
  expect(signup.status()).toBe(201);

  await page.goto(`${API_URL}/swagger-ui/`);
  const login = page.locator("#operations-sessions-create_session");
  await login.locator(".opblock-summary").click();
  await login.getByRole("button", { name: "Try it out" }).click();
  await login.locator("textarea.body-param__text").fill(JSON.stringify({ email, password: PASSWORD }));
  await login.getByRole("button", { name: "Execute" }).click();
  const body = login.locator(".live-responses-table .response-col_description pre").first();
  await expect(body).toContainText("access_token");
  const token = JSON.parse((await body.textContent())!).access_token as string;
  expect(token.split(".")).toHaveLength(3);
  await shot(page, "40-swagger-login");

  await page.getByRole("button", { name: /Authorize/ }).first().click();
  const auth = page.locator(".auth-container").filter({ hasText: "bearer" });
  await auth.locator("input").fill(token);
  await page.getByRole("button", { name: "Apply credentials" }).click();
  await expect(page.locator(".dialog-ux").getByRole("button", { name: "Remove authorization" })).toBeVisible();
  await page.locator(".dialog-ux button.btn-done").click();

  const me = page.locator("#operations-me-get_me");
  await me.locator(".opblock-summary").click();
  await me.getByRole("button", { name: "Try it out" }).click();
  await me.getByRole("button", { name: "Execute" }).click();
  await expect(me.locator(".live-responses-table .response .response-col_status").first()).toHaveText("200");
  await expect(me.locator(".live-responses-table .response-col_description pre").first()).toContainText(email);
  await shot(page, "41-swagger-me");
});
