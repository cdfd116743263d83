import { expect, test, type BrowserContext, type CDPSession, type Page } from "@playwright/test";
import {
  LOCAL, PASSWORD, api, apiEnableMfa, apiSignIn, apiSignOut, shot, signInWithPassword, signOut, uniqueEmail, virtualAuthenticator,
} from "./support";

// Passkeys with Chromium's virtual authenticator (CDP WebAuthn), which stands
// in for a platform authenticator that verifies its user.
//
// WebAuthn needs a domain: Latchkey's relying party id is the host of its
// public URL, and an IP (127.0.0.1, as .ci/web serves) becomes `localhost`
// with the origin http://localhost:<port>. So these pages open the app on
// localhost, same port (LOCAL); e2e/passkeys-origin.spec.ts opens it at
// 127.0.0.1, where passkeys are not offered.

async function credentialsOf(cdp: CDPSession, authenticatorId: string) {
  return (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
}

/** The sign-in method of this session, from Edit Profile → My sessions. */
function thisSession(page: Page) {
  return page.getByTestId("session-row").filter({ hasText: "This session" }).getByTestId("session-method");
}

test.describe.serial("passkeys", () => {
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let laptop: string;
  const ann = { name: "Ann Passkey", email: uniqueEmail("pk-ann") };
  const tina = { name: "Tina Totp", email: uniqueEmail("pk-tina") };

  test.beforeAll(async ({ browser }) => {
    context = await browser.newContext({ baseURL: LOCAL });
    page = await context.newPage();
    cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    laptop = await virtualAuthenticator(cdp);
    await api("/api/v1/accounts", { body: { account_name: "Passkey Co", email: ann.email, password: PASSWORD, display_name: ann.name } });
  });
  test.afterAll(async () => {
    await context.close();
  });

  test("add a passkey from Edit Profile: MFA turns on and the recovery token is shown", async () => {
    await signInWithPassword(page, ann.email);
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is not enabled");
    await expect(page.getByTestId("no-passkeys")).toBeVisible();
    await page.getByRole("button", { name: "Add a passkey" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a passkey" });
    // MFA is off: no password asked.
    await expect(dialog.getByLabel("Password")).toHaveCount(0);
    await dialog.getByLabel("Passkey name").fill("Laptop");
    await shot(page, "pk-01-add-passkey");
    await dialog.getByRole("button", { name: "Create passkey" }).click();

    const done = page.getByRole("dialog", { name: "MFA is enabled" });
    await expect(done.getByTestId("passkey-added")).toContainText("Laptop");
    const token = (await done.getByTestId("recovery-token").textContent())!.trim();
    expect(token.length).toBeGreaterThan(10);
    await shot(page, "pk-02-passkey-recovery-token");
    await done.getByRole("button", { name: "Done" }).click();

    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await expect(page.getByTestId("passkey-row")).toHaveCount(1);
    await expect(page.getByTestId("passkey-name")).toHaveText("Laptop");
    await expect(thisSession(page)).toHaveText("Password + passkey");
    await shot(page, "pk-03-edit-profile-passkeys");
    const creds = await credentialsOf(cdp, laptop);
    expect(creds).toHaveLength(1);
    expect(creds[0]!.isResidentCredential).toBe(true);
  });

  test("sign out, sign in with the password, then Use your passkey", async () => {
    await signOut(page);
    await signInWithPassword(page, ann.email);
    await expect(page.getByTestId("signing-in-as")).toContainText(ann.email);
    // No authenticator app: the field takes the recovery token; the passkey is offered beside it.
    await expect(page.getByLabel("MFA Code")).toBeVisible();
    await expect(page.getByText("Enter your one-time recovery token.")).toBeVisible();
    await shot(page, "pk-04-mfa-step-passkey");
    await page.getByRole("button", { name: "Use your passkey" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(thisSession(page)).toHaveText("Password + passkey");
    await expect(page.getByTestId("passkey-row").getByRole("cell").nth(2)).not.toHaveText("Never");
  });

  test("sign out, then Sign in with a passkey: no email, no password", async () => {
    await signOut(page);
    await shot(page, "pk-05-sign-in-with-a-passkey");
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByRole("heading", { name: ann.name })).toBeVisible();
    await expect(thisSession(page)).toHaveText("Passkey (no password)");
  });

  test("rename, refuse a second passkey on the same authenticator, add one on another, delete both", async () => {
    const row = page.getByTestId("passkey-row");
    await page.getByRole("button", { name: "Rename Laptop" }).click();
    const rename = page.getByRole("dialog", { name: "Rename passkey" });
    await expect(rename.getByLabel("Passkey name")).toHaveValue("Laptop");
    await rename.getByLabel("Passkey name").fill("Work laptop");
    await rename.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("passkey-name")).toHaveText("Work laptop");

    // MFA is on: adding one needs the password; this authenticator holds one for Ann already.
    await page.getByRole("button", { name: "Add a passkey" }).click();
    let add = page.getByRole("dialog", { name: "Add a passkey" });
    await add.getByLabel("Passkey name").fill("Same laptop");
    await add.getByLabel("Password").fill(PASSWORD);
    await add.getByRole("button", { name: "Create passkey" }).click();
    await expect(add.getByRole("alert")).toContainText("already holds a passkey");
    await shot(page, "pk-06-passkey-exists");
    await add.getByRole("button", { name: "Cancel" }).click();

    // A security key: another authenticator (the laptop's is taken away meanwhile).
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: laptop });
    const key = await virtualAuthenticator(cdp);
    await page.getByRole("button", { name: "Add a passkey" }).click();
    add = page.getByRole("dialog", { name: "Add a passkey" });
    await add.getByLabel("Passkey name").fill("Security key");
    await add.getByLabel("Password").fill("not the password at all");
    await add.getByRole("button", { name: "Create passkey" }).click();
    await expect(add.getByRole("alert")).toContainText("Your password is not correct.");
    await add.getByLabel("Password").fill(PASSWORD);
    await add.getByRole("button", { name: "Create passkey" }).click();
    const added = page.getByRole("dialog", { name: "Passkey added" });
    await expect(added.getByTestId("passkey-added")).toContainText("Security key");
    await expect(added.getByTestId("recovery-token")).toHaveCount(0);
    await added.getByRole("button", { name: "Done" }).click();
    await expect(row).toHaveCount(2);
    expect(await credentialsOf(cdp, key)).toHaveLength(1);

    await page.getByRole("button", { name: "Delete Work laptop" }).click();
    let del = page.getByRole("dialog", { name: "Delete passkey" });
    await expect(del.getByText("turns MFA off")).toHaveCount(0);
    await del.getByLabel("Password").fill(PASSWORD);
    await del.getByRole("button", { name: "Delete passkey" }).click();
    await expect(row).toHaveCount(1);
    await expect(page.getByTestId("passkey-name")).toHaveText("Security key");
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");

    await page.getByRole("button", { name: "Delete Security key" }).click();
    del = page.getByRole("dialog", { name: "Delete passkey" });
    await expect(del.getByText("This is your last second factor: deleting it turns MFA off")).toBeVisible();
    // This session began with a passkey alone: it goes on as a password session (the password is asked here).
    await expect(del.getByText("you stay signed in")).toBeVisible();
    await shot(page, "pk-07-delete-last-passkey");
    await del.getByLabel("Password").fill(PASSWORD);
    await del.getByRole("button", { name: "Delete passkey" }).click();
    await expect(del).toHaveCount(0);
    // Still signed in: the app read /me, the factors and its session again.
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is not enabled");
    await expect(page.getByTestId("no-passkeys")).toBeVisible();
    await expect(thisSession(page)).toHaveText("Password");
    await expect(page.getByText("Your session has ended")).toHaveCount(0);
    await shot(page, "pk-07b-after-last-passkey-deleted");
    // And after a reload (the kept session, with its new tokens).
    await page.reload();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(thisSession(page)).toHaveText("Password");
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: key });
  });

  test("only phishing-resistant methods: a user with an authenticator app must add a passkey", async () => {
    // Tina, an editor, set up an authenticator application while any method counted.
    const admin = await apiSignIn(ann.email);
    await api("/api/v1/users", { token: admin, body: { email: tina.email, display_name: tina.name, role: "editor", password: PASSWORD } });
    await apiSignOut(admin);
    const tinaToken = await apiSignIn(tina.email);
    await apiEnableMfa(tinaToken);
    await apiSignOut(tinaToken).catch(() => {});

    // Account → Settings: only passkeys count from now on; a MyGlue account too.
    await page.getByRole("link", { name: "Settings" }).click();
    const only = page.getByLabel("Only phishing-resistant methods (passkeys)");
    await expect(only).not.toBeChecked();
    await only.check();
    await shot(page, "pk-08-account-phishing-resistant");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByText("Settings saved.")).toBeVisible();
    await page.reload();
    await expect(page.getByLabel("Only phishing-resistant methods (passkeys)")).toBeChecked();
    await page.getByRole("link", { name: "MyGlue" }).click();
    await page.getByRole("button", { name: "New MyGlue account" }).click();
    const sub = page.getByRole("dialog", { name: "New MyGlue Account" });
    await sub.getByLabel("Name", { exact: true }).fill("Globex");
    await sub.getByLabel("Only phishing-resistant methods (passkeys)").check();
    await sub.getByRole("button", { name: "Save" }).click();
    await expect(page.getByTestId("subaccount-row").filter({ hasText: "Globex" }).getByTestId("subaccount-methods")).toHaveText("Passkeys only");

    // Tina signs in: her app's codes no longer count, so she is asked for a passkey (and only that).
    await signOut(page);
    const tinaKey = await virtualAuthenticator(cdp);
    await signInWithPassword(page, tina.email);
    const dialog = page.getByRole("dialog", { name: "Enable MFA" });
    await expect(dialog.getByText("Your administrator requires a passkey for your account")).toBeVisible();
    await expect(dialog.getByRole("img", { name: /QR code/ })).toHaveCount(0);
    await shot(page, "pk-09-forced-passkey");
    await dialog.getByLabel("Passkey name").fill("Tina's laptop");
    await dialog.getByRole("button", { name: "Create passkey" }).click();
    const added = page.getByRole("dialog", { name: "Passkey added" });
    await expect(added.getByTestId("passkey-added")).toContainText("Tina's laptop");
    await added.getByRole("button", { name: "Done" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByTestId("passkeys-only")).toBeVisible();
    await expect(page.getByTestId("passkey-name")).toHaveText("Tina's laptop");
    await expect(page.getByRole("button", { name: "Set up a new device" })).toHaveCount(0);
    await expect(thisSession(page)).toHaveText("Password + passkey");
    expect(await credentialsOf(cdp, tinaKey)).toHaveLength(1);

    // The next sign-in asks for the passkey alone: no MFA Code field.
    await signOut(page);
    await signInWithPassword(page, tina.email);
    await expect(page.getByTestId("passkey-step")).toBeVisible();
    await expect(page.getByLabel("MFA Code")).toHaveCount(0);
    await shot(page, "pk-10-passkey-only-step");
    await page.getByRole("button", { name: "Use your passkey" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByRole("heading", { name: tina.name })).toBeVisible();
    await signOut(page);
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId: tinaKey });
  });

  test("a forced enrollment offers Use a passkey beside the authenticator application", async () => {
    const boss = uniqueEmail("pk-boss");
    const newcomer = { name: "Nina New", email: uniqueEmail("pk-nina") };
    await api("/api/v1/accounts", { body: { account_name: "Required Co", email: boss, password: PASSWORD } });
    const admin = await apiSignIn(boss);
    await api("/api/v1/users", { token: admin, body: { email: newcomer.email, display_name: newcomer.name, role: "editor", password: PASSWORD } });
    await api("/api/v1/account", { method: "PATCH", token: admin, body: { require_mfa: true } });
    await apiSignOut(admin);

    const key = await virtualAuthenticator(cdp);
    await signInWithPassword(page, newcomer.email);
    const dialog = page.getByRole("dialog", { name: "Enable MFA" });
    await expect(dialog.getByText("Your administrator requires MFA")).toBeVisible();
    await expect(dialog.getByRole("img", { name: /QR code/ })).toBeVisible();
    await shot(page, "pk-11-forced-enrollment-choice");
    await dialog.getByRole("button", { name: "Use a passkey" }).click();
    await dialog.getByRole("button", { name: "Back" }).click();
    await expect(dialog.getByRole("img", { name: /QR code/ })).toBeVisible();
    await dialog.getByRole("button", { name: "Use a passkey" }).click();
    await dialog.getByLabel("Passkey name").fill("Nina's phone");
    await dialog.getByRole("button", { name: "Create passkey" }).click();
    const done = page.getByRole("dialog", { name: "MFA is enabled" });
    await expect(done.getByTestId("recovery-token")).toBeVisible();
    await done.getByRole("button", { name: "Done" }).click();
    await expect(page.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(page.getByRole("heading", { name: newcomer.name })).toBeVisible();
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await expect(page.getByTestId("passkey-name")).toHaveText("Nina's phone");
    await expect(page.getByTestId("disable-reason")).toContainText("required for access to this account");
    expect(await credentialsOf(cdp, key)).toHaveLength(1);

    // MFA is required and the passkey is her only factor: deleting it is refused (403 mfa_enforced), and said.
    await page.getByRole("button", { name: "Delete Nina's phone" }).click();
    const del = page.getByRole("dialog", { name: "Delete passkey" });
    await del.getByLabel("Password").fill(PASSWORD);
    await del.getByRole("button", { name: "Delete passkey" }).click();
    await expect(del.getByRole("alert")).toContainText("MFA is required for your account, so your last passkey cannot be deleted");
    await shot(page, "pk-12-last-passkey-mfa-enforced");
    await del.getByRole("button", { name: "Cancel" }).click();
    await expect(page.getByTestId("passkey-name")).toHaveText("Nina's phone");
    await expect(page.getByTestId("mfa-status")).toContainText("MFA is enabled");
  });
});
