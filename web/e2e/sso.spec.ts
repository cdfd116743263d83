import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { API_URL, PASSWORD, api, completeEnableMfa, enterMfaCode, shot, signInWithPassword, uniqueEmail, type AuthenticatorApp } from "./support";

// Single sign-on through a real OpenID provider (tests/oidc-provider), in
// order: an administrator connects it on the Single sign-on screen, then
// people sign in through the provider's own login page.
const WEB_URL = process.env.WEB_URL ?? "http://127.0.0.1:4173";
/** Latchkey's own callback: what the administrator registers at the provider. */
const LATCHKEY_CALLBACK = `${API_URL}/api/v1/sso/callback`;

/**
 * Starts tests/oidc-provider/server.mjs and waits for its `ready <issuer>`
 * line (one retry). It stops when its stdin closes: `stop()`, or this
 * worker ending.
 */
async function startTestIdp(redirectUris: string[]): Promise<{ issuer: string; stop: () => Promise<void> }> {
  const server = fileURLToPath(new URL("../../tests/oidc-provider/server.mjs", import.meta.url));
  for (let attempt = 1; ; attempt++) {
    const child = spawn(process.execPath, [server, "--port", "0", ...redirectUris.flatMap((u) => ["--redirect-uri", u])], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    try {
      const issuer = await new Promise<string>((ok, fail) => {
        let out = "";
        const timer = setTimeout(() => fail(new Error("the test OpenID provider did not get ready in 20 s")), 20_000);
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /^ready (\S+)$/m.exec(out);
          if (m) { clearTimeout(timer); ok(m[1]!); }
        });
        child.once("exit", (code, signal) => { clearTimeout(timer); fail(new Error(`the test OpenID provider exited (${code ?? signal})`)); });
      });
      return {
        issuer,
        stop: async () => {
          const gone = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, "exit");
          child.stdin!.end();
          await gone;
        },
      };
    } catch (e) {
      child.kill("SIGTERM");
      if (attempt >= 2) throw e;
    }
  }
}

test.describe.serial("single sign-on (OIDC) with MFA on top", () => {
  let idp: { issuer: string; stop: () => Promise<void> } | undefined;
  let issuer: string;
  let accountId: string;
  let admin: Page;
  let bobApp: AuthenticatorApp;
  const sam = { name: "Sam Admin", email: uniqueEmail("sam") };
  const sid = { email: uniqueEmail("sid") };

  /** A fresh browser (no Latchkey or provider cookies) that signs in as `login` at the provider. */
  async function ssoSignIn(browser: Browser, login: string, screenshot?: string): Promise<Page> {
    const page = await (await browser.newContext({ baseURL: WEB_URL })).newPage();
    await page.goto(`/?account=${accountId}`);
    await page.getByRole("button", { name: "Sign in with Test IdP" }).click();
    // The provider's login page, as a person sees it.
    await page.waitForURL(`${issuer}/interaction/**`);
    await expect(page.getByRole("heading", { name: "Test IdP" })).toBeVisible();
    await page.getByLabel("Email").fill(login);
    await page.getByLabel("Password").fill("password");
    if (screenshot) await shot(page, screenshot);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${WEB_URL}/**`);
    return page;
  }

  /** The first sign-in through the provider of a user who has a Latchkey password: that password, once, links them. */
  async function linkWithPassword(page: Page, email: string, screenshot?: string) {
    await expect(page.getByRole("heading", { name: "Confirm your password to link" })).toBeVisible();
    await expect(page.getByText(`signed you in as ${email}`)).toBeVisible();
    if (screenshot) await shot(page, screenshot);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Link and sign in" }).click();
  }

  async function closeAll(page: Page) {
    await page.context().close();
  }

  test.beforeAll(async ({ browser }) => {
    // The provider sends people back to Latchkey's callback, which sends them on to the web app's.
    idp = await startTestIdp([LATCHKEY_CALLBACK]);
    issuer = idp.issuer;

    // The account and its users come from the API; the provider is connected in the UI.
    const { account } = await api<{ account: { id: string } }>("/api/v1/accounts", {
      body: { account_name: "SSO Co", email: sam.email, password: PASSWORD, display_name: sam.name },
    });
    accountId = account.id;
    const { access_token } = await api<{ access_token: string }>("/api/v1/sessions", { body: { email: sam.email, password: PASSWORD } });
    for (const [email, name] of [["alice@example.com", "Alice Example"], ["bob@example.com", "Bob Example"]]) {
      await api("/api/v1/users", { token: access_token, body: { email, display_name: name, role: "editor", password: PASSWORD } });
    }
    // A custom role for the default-role picker.
    await api("/api/v1/roles", { token: access_token, body: { name: "Newcomer", description: "Users made by SSO", permissions: [] } });
    // Someone who may manage SSO and nothing else.
    const ssoRole = await api<{ id: string }>("/api/v1/roles", {
      token: access_token, body: { name: "SSO admin", description: "Connects identity providers", permissions: ["sso.manage"] },
    });
    await api("/api/v1/users", { token: access_token, body: { email: sid.email, display_name: "Sid SSO", role: ssoRole.id, password: PASSWORD } });
    admin = await browser.newPage();
    await signInWithPassword(admin, sam.email);
    await expect(admin.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
  });
  test.afterAll(async () => {
    await admin?.close();
    await idp?.stop();
  });

  test("an administrator connects the provider on the Single sign-on screen", async () => {
    await admin.getByRole("link", { name: "Single sign-on" }).click();
    await expect(admin.getByRole("heading", { name: "Single sign-on" })).toBeVisible();
    await expect(admin.getByText("No identity providers yet.")).toBeVisible();
    await expect(admin.getByTestId("sign-in-link")).toHaveText(`${WEB_URL}/?account=${accountId}`);

    await admin.getByRole("button", { name: "Add identity provider" }).click();
    const dialog = admin.getByRole("dialog", { name: "Add identity provider" });
    await dialog.getByLabel("Name").fill("Test IdP");
    await dialog.getByLabel("Issuer URL").fill(issuer);
    await dialog.getByLabel("Client ID").fill("latchkey");
    await dialog.getByLabel("Client secret").fill("latchkey-test-secret");
    await expect(dialog.getByLabel("Scopes")).toHaveValue("openid email profile");
    await expect(dialog.getByLabel("Allowed redirect URIs")).toHaveValue(`${WEB_URL}/sso/callback`);
    await expect(dialog.getByRole("checkbox", { name: "Trust the provider's MFA" })).not.toBeChecked();
    await expect(dialog.getByRole("checkbox", { name: "Create users on their first sign-in" })).not.toBeChecked();
    await expect(dialog.getByLabel("Default role")).toHaveValue("read_only");
    await shot(admin, "60-sso-add-provider");
    await dialog.getByRole("button", { name: "Add provider" }).click();
    await expect(dialog).toBeHidden();

    // What to register at the provider: Latchkey's callback URL.
    await expect(admin.getByTestId("new-callback-url")).toHaveText(LATCHKEY_CALLBACK);
    const row = admin.getByTestId("idp-row").filter({ hasText: "Test IdP" });
    await expect(row).toContainText(issuer);
    await expect(row).toContainText("Latchkey MFA");
    await expect(row.getByTestId("callback-url")).toHaveText(LATCHKEY_CALLBACK);
    await shot(admin, "61-sso-connected");
  });

  test("the Account menu follows permissions: sso.manage alone shows Single sign-on only", async ({ browser }) => {
    const page = await (await browser.newContext({ baseURL: WEB_URL })).newPage();
    await signInWithPassword(page, sid.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    const nav = page.getByRole("navigation", { name: "Account" });
    await expect(nav.getByRole("link")).toHaveText(["Single sign-on"]);
    await nav.getByRole("link", { name: "Single sign-on" }).click();
    await expect(page.getByTestId("idp-row").filter({ hasText: "Test IdP" })).toBeVisible();
    await closeAll(page);
  });

  test("alice signs in through the provider", async ({ browser }) => {
    const page = await (await browser.newContext({ baseURL: WEB_URL })).newPage();
    await page.goto(`/?account=${accountId}`);
    await expect(page.getByRole("button", { name: "Sign in with Test IdP" })).toBeVisible();
    await shot(page, "62-sso-sign-in-page");
    // The account is remembered: the plain sign-in page offers the button too.
    await page.goto("/");
    await expect(page.getByRole("button", { name: "Sign in with Test IdP" })).toBeVisible();
    await closeAll(page);

    const alice = await ssoSignIn(browser, "alice@example.com", "63-sso-provider-login");
    // A wrong password does not link (and counts toward the login lockout).
    await expect(alice.getByRole("button", { name: "Link and sign in" })).toBeVisible();
    await alice.getByLabel("Password").fill("not alice's password");
    await alice.getByRole("button", { name: "Link and sign in" }).click();
    await expect(alice.getByRole("alert")).toContainText("That password is not correct.");
    await linkWithPassword(alice, "alice@example.com", "63a-sso-link-password");
    await expect(alice.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(alice.getByText("alice@example.com")).toBeVisible();
    await expect(alice.getByTestId("session-row").filter({ hasText: "This session" }).getByTestId("session-method")).toHaveText("Single sign-on");
    expect(new URL(alice.url()).search).toBe("");
    await shot(alice, "64-sso-signed-in");
    await closeAll(alice);
  });

  test("someone without a user here, and a callback this tab did not start, get a clear message", async ({ browser }) => {
    const dave = await ssoSignIn(browser, "dave@example.com");
    await expect(dave.getByRole("heading", { name: "Single sign-on" })).toBeVisible();
    await expect(dave.getByRole("alert")).toContainText("There is no user for you in this account");
    await shot(dave, "65-sso-user-not-found");
    await dave.getByRole("link", { name: "Back to sign in" }).click();
    await expect(dave.getByRole("button", { name: "Sign in with Test IdP" })).toBeVisible();

    // Login CSRF: a login code pushed at this browser with a state it never made.
    await dave.goto("/sso/callback?login_code=someone-elses-code&state=not-mine");
    await expect(dave.getByRole("alert")).toContainText("not started in this browser tab");
    await closeAll(dave);
  });

  test("with Require MFA on, alice (no MFA yet) must set it up after the provider", async ({ browser }) => {
    await admin.getByRole("link", { name: "Settings" }).click();
    await admin.getByLabel("Require MFA for access to this account").check();
    await admin.getByRole("button", { name: "Save" }).click();
    await expect(admin.getByText("Settings saved.")).toBeVisible();

    const alice = await ssoSignIn(browser, "alice@example.com");
    await expect(alice.getByRole("dialog", { name: "Enable MFA" })).toBeVisible();
    await shot(alice, "66-sso-forced-enrollment");
    await completeEnableMfa(alice);
    await expect(alice.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(alice.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await expect(alice.getByTestId("session-row").filter({ hasText: "This session" }).getByTestId("session-method")).toHaveText("Single sign-on + MFA");
    await closeAll(alice);
  });

  test("bob did MFA at a provider trusted for it: signed in at aal2 without a code", async ({ browser }) => {
    await admin.getByRole("link", { name: "Single sign-on" }).click();
    await admin.getByRole("button", { name: "Edit Test IdP" }).click();
    const dialog = admin.getByRole("dialog", { name: "Edit identity provider" });
    await expect(dialog.getByLabel("Issuer URL")).toHaveValue(issuer);
    await dialog.getByRole("checkbox", { name: "Trust the provider's MFA" }).check();
    await shot(admin, "67-sso-trust-mfa");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog).toBeHidden();
    await expect(admin.getByTestId("idp-row").filter({ hasText: "Test IdP" })).toContainText("Provider's MFA trusted");

    const bob = await ssoSignIn(browser, "bob@example.com");
    await linkWithPassword(bob, "bob@example.com");
    await expect(bob.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(bob.getByTestId("session-row").filter({ hasText: "This session" }).getByTestId("session-method"))
      .toHaveText("Single sign-on + MFA at the identity provider");
    await shot(bob, "68-sso-trusted-mfa-aal2");
    // An aal2 session may set up Latchkey MFA too.
    await bob.getByRole("button", { name: "Enable MFA" }).click();
    ({ app: bobApp } = await completeEnableMfa(bob));
    await expect(bob.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await closeAll(bob);
  });

  test("without that trust, bob is asked for his Latchkey MFA code", async ({ browser }) => {
    await admin.getByRole("button", { name: "Edit Test IdP" }).click();
    const dialog = admin.getByRole("dialog", { name: "Edit identity provider" });
    await dialog.getByRole("checkbox", { name: "Trust the provider's MFA" }).uncheck();
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog).toBeHidden();
    await expect(admin.getByTestId("idp-row").filter({ hasText: "Test IdP" })).toContainText("Latchkey MFA");

    const bob = await ssoSignIn(browser, "bob@example.com");
    await expect(bob.getByLabel("MFA Code")).toBeVisible();
    await shot(bob, "69-sso-mfa-code");
    await enterMfaCode(bob, await bobApp.code());
    await expect(bob.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(bob.getByTestId("session-row").filter({ hasText: "This session" }).getByTestId("session-method")).toHaveText("Single sign-on + MFA");
    await closeAll(bob);
  });

  test("just-in-time provisioning: dave gets a user with the default role on his first sign-in", async ({ browser }) => {
    await admin.getByRole("button", { name: "Edit Test IdP" }).click();
    const dialog = admin.getByRole("dialog", { name: "Edit identity provider" });
    await dialog.getByRole("checkbox", { name: "Create users on their first sign-in" }).check();
    // Built-in and custom roles, as in the user pickers.
    await expect(dialog.getByLabel("Default role").locator("option")).toContainText(["Administrator", "Read-only", "Newcomer"]);
    await dialog.getByLabel("Default role").selectOption({ label: "Newcomer" });
    await shot(admin, "70-sso-jit");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect(dialog).toBeHidden();
    await expect(admin.getByTestId("idp-row").filter({ hasText: "Test IdP" })).toContainText("Created as Newcomer");

    // Require MFA is still on: the new user sets MFA up straight away.
    const dave = await ssoSignIn(browser, "dave@example.com");
    await expect(dave.getByRole("dialog", { name: "Enable MFA" })).toBeVisible();
    await completeEnableMfa(dave);
    await expect(dave.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(dave.getByText("dave@example.com")).toBeVisible();
    await closeAll(dave);

    await admin.getByRole("link", { name: "Users" }).click();
    await expect(admin.getByTestId("user-row").filter({ hasText: "dave@example.com" })).toContainText("Newcomer");
    await admin.getByRole("link", { name: "Single sign-on" }).click();
  });

  test("deleting the provider takes its button off the sign-in page", async ({ browser }) => {
    await admin.getByRole("button", { name: "Delete Test IdP" }).click();
    await admin.getByRole("dialog", { name: "Delete identity provider" }).getByRole("button", { name: "Delete" }).click();
    await expect(admin.getByText("No identity providers yet.")).toBeVisible();
    const page = await (await browser.newContext({ baseURL: WEB_URL })).newPage();
    await page.goto(`/?account=${accountId}`);
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    // The providers' buttons (the page still has its passkey part: "Sign in with a passkey",
    // or at an address that is not the relying party's origin, where passkeys work).
    await expect(page.getByRole("button", { name: /^Sign in with (?!a passkey$)/ })).toHaveCount(0);
    await expect(page.getByRole("region", { name: "Passkey" })).toBeVisible();
    await closeAll(page);
  });
});
