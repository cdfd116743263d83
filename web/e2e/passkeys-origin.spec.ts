import { expect, test, type BrowserContext, type CDPSession, type Page } from "@playwright/test";
import {
  LOCAL, PASSWORD, WEB_URL, api, apiSignIn, apiSignOut, shot, signInWithPassword, signOut, uniqueEmail, virtualAuthenticator,
} from "./support";

// Passkeys work only on pages of the relying party's origins
// (GET /api/v1/passkeys/relying-party). .ci/web serves the app at
// http://127.0.0.1:<port>, while the relying party is `localhost` (WebAuthn
// refuses IP addresses): opened at 127.0.0.1 the app offers no passkey
// button, and says where passkeys work instead. Passkeys themselves are made
// at LOCAL (http://localhost:<port>) with Chromium's virtual authenticator.
const HERE = new URL(WEB_URL).origin;

interface RelyingParty { id: string; name: string; origins: string[] }

test.describe.serial("passkeys at an address that is not the relying party's", () => {
  let local: BrowserContext;
  let ip: BrowserContext;
  let atLocal: Page;
  let atIp: Page;
  let cdp: CDPSession;
  const ann = { name: "Ann Origin", email: uniqueEmail("pko-ann") };
  let recoveryToken = "";

  test.beforeAll(async ({ browser }) => {
    local = await browser.newContext({ baseURL: LOCAL });
    atLocal = await local.newPage();
    cdp = await local.newCDPSession(atLocal);
    await cdp.send("WebAuthn.enable");
    await virtualAuthenticator(cdp);
    ip = await browser.newContext({ baseURL: HERE });
    atIp = await ip.newPage();
    await api("/api/v1/accounts", { body: { account_name: "Origin Co", email: ann.email, password: PASSWORD, display_name: ann.name } });
  });
  test.afterAll(async () => {
    await local.close();
    await ip.close();
  });

  test("the relying party is localhost, and this address is not among its origins", async () => {
    test.skip(HERE === LOCAL, "WEB_URL is the relying party's origin already: nothing to check here");
    const rp = await api<RelyingParty>("/api/v1/passkeys/relying-party");
    expect(rp.id).toBe("localhost");
    expect(rp.origins).toContain(LOCAL);
    expect(rp.origins).not.toContain(HERE);
  });

  test("sign-in page: no Sign in with a passkey, but where passkeys work", async () => {
    await atIp.goto("/");
    await expect(atIp.getByRole("heading", { name: "Sign in" })).toBeVisible();
    const hint = atIp.getByTestId("passkeys-elsewhere");
    await expect(hint).toContainText(`Passkeys work at ${LOCAL}`);
    await expect(hint.getByRole("link", { name: LOCAL })).toHaveAttribute("href", `${LOCAL}/`);
    await expect(atIp.getByRole("button", { name: "Sign in with a passkey" })).toHaveCount(0);
    // Not for want of WebAuthn: this browser has it here; the origin is what does not fit.
    expect(await atIp.evaluate(() => typeof window.PublicKeyCredential)).toBe("function");
    await shot(atIp, "pko-01-sign-in-at-ip");
    // At the relying party's origin the button is there.
    await atLocal.goto("/");
    await expect(atLocal.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
    await expect(atLocal.getByTestId("passkeys-elsewhere")).toHaveCount(0);
  });

  test("Edit Profile and Enable MFA: no passkey buttons, a hint instead", async () => {
    await signInWithPassword(atIp, ann.email);
    await expect(atIp.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await expect(atIp.getByTestId("no-passkeys")).toBeVisible();
    await expect(atIp.getByRole("button", { name: "Add a passkey" })).toHaveCount(0);
    await expect(atIp.getByTestId("passkeys-elsewhere")).toContainText(`Passkeys work at ${LOCAL}`);
    await shot(atIp, "pko-02-mfa-settings-at-ip");

    await atIp.getByRole("button", { name: "Enable MFA" }).click();
    const dialog = atIp.getByRole("dialog", { name: "Enable MFA" });
    await expect(dialog.getByRole("img", { name: /QR code/ })).toBeVisible();
    await expect(dialog.getByRole("button", { name: "Use a passkey" })).toHaveCount(0);
    await expect(dialog.getByTestId("passkeys-elsewhere")).toContainText(`Passkeys work at ${LOCAL}`);
    await shot(atIp, "pko-03-enable-mfa-at-ip");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await signOut(atIp);
  });

  test("the MFA step: the code field, and where the passkey works", async () => {
    // Ann adds a passkey where passkeys work: MFA turns on, with a recovery token.
    await signInWithPassword(atLocal, ann.email);
    await atLocal.getByRole("button", { name: "Add a passkey" }).click();
    const add = atLocal.getByRole("dialog", { name: "Add a passkey" });
    await add.getByLabel("Passkey name").fill("Laptop");
    await add.getByRole("button", { name: "Create passkey" }).click();
    const done = atLocal.getByRole("dialog", { name: "MFA is enabled" });
    recoveryToken = (await done.getByTestId("recovery-token").textContent())!.trim();
    await done.getByRole("button", { name: "Done" }).click();
    await signOut(atLocal);

    await signInWithPassword(atIp, ann.email);
    await expect(atIp.getByLabel("MFA Code")).toBeVisible();
    await expect(atIp.getByRole("button", { name: "Use your passkey" })).toHaveCount(0);
    await expect(atIp.getByTestId("passkeys-elsewhere")).toContainText(`Passkeys work at ${LOCAL}`);
    await shot(atIp, "pko-04-mfa-step-at-ip");
    await atIp.getByLabel("MFA Code").fill(recoveryToken);
    await atIp.getByRole("button", { name: "Verify" }).click();
    await expect(atIp.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    // Her passkey is listed (rename and delete need no WebAuthn); adding one is for the other address.
    await expect(atIp.getByTestId("passkey-name")).toHaveText("Laptop");
    await expect(atIp.getByRole("button", { name: "Add a passkey" })).toHaveCount(0);
    await expect(atIp.getByTestId("passkeys-elsewhere")).toBeVisible();
  });

  test("a recovery token asked for after only passkeys count: the refusal is said plainly", async () => {
    // Ann's Edit Profile at 127.0.0.1 still offers a new recovery token; meanwhile, at localhost,
    // she (the administrator) makes the account count only passkeys.
    await expect(atIp.getByRole("button", { name: "Click here to generate a new one-time MFA recovery token" })).toBeVisible();
    await signInWithPassword(atLocal, ann.email);
    await atLocal.getByRole("button", { name: "Use your passkey" }).click();
    await expect(atLocal.getByRole("heading", { name: "Edit Profile" })).toBeVisible();
    await atLocal.getByRole("link", { name: "Settings" }).click();
    await atLocal.getByLabel("Only phishing-resistant methods (passkeys)").check();
    await atLocal.getByRole("button", { name: "Save" }).click();
    await expect(atLocal.getByText("Settings saved.")).toBeVisible();

    await atIp.getByRole("button", { name: "Click here to generate a new one-time MFA recovery token" }).click();
    const dialog = atIp.getByRole("dialog", { name: "New MFA recovery token" });
    await dialog.getByLabel("Password").fill(PASSWORD);
    await dialog.getByRole("button", { name: "Generate" }).click();
    await expect(dialog.getByRole("alert")).toContainText("accepts only passkeys for this account, so no recovery token is issued");
    await expect(dialog.getByTestId("recovery-token")).toHaveCount(0);
    await shot(atIp, "pko-05-recovery-token-refused");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    // Read again: no recovery token is offered under this policy.
    await expect(atIp.getByTestId("recovery-token-status")).toContainText("Recovery codes are not used");
    await expect(atIp.getByRole("button", { name: "Click here to generate a new one-time MFA recovery token" })).toHaveCount(0);
    await signOut(atIp);
    await signOut(atLocal);
  });

  test("phishing_resistant: a first passkey turns MFA on without a recovery token; at 127.0.0.1 the passkey step says where to go", async () => {
    const boss = { name: "Bea Boss", email: uniqueEmail("pko-bea") };
    await api("/api/v1/accounts", { body: { account_name: "Passkeys Only Co", email: boss.email, password: PASSWORD, display_name: boss.name } });
    const token = await apiSignIn(boss.email);
    await api("/api/v1/account", { method: "PATCH", token, body: { mfa_methods: "phishing_resistant" } });
    await apiSignOut(token);

    await signInWithPassword(atLocal, boss.email);
    await expect(atLocal.getByTestId("passkeys-only")).toBeVisible();
    await expect(atLocal.getByTestId("mfa-status")).toContainText("MFA is not enabled");
    await atLocal.getByRole("button", { name: "Add a passkey" }).click();
    const add = atLocal.getByRole("dialog", { name: "Add a passkey" });
    await add.getByLabel("Passkey name").fill("Bea's laptop");
    await add.getByRole("button", { name: "Create passkey" }).click();
    const done = atLocal.getByRole("dialog", { name: "MFA is enabled" });
    await expect(done.getByTestId("passkey-added")).toContainText("MFA is now enabled");
    // No empty recovery-token panel: the policy issues none, and the dialog says what to do instead.
    await expect(done.getByTestId("recovery-token")).toHaveCount(0);
    await expect(done.getByTestId("no-recovery-token")).toContainText("Recovery codes are not used");
    await expect(done.getByTestId("no-recovery-token")).toContainText("contact an administrator");
    await shot(atLocal, "pko-06-passkey-no-recovery-token");
    await done.getByRole("button", { name: "Done" }).click();
    await expect(atLocal.getByTestId("mfa-status")).toContainText("MFA is enabled");
    await expect(atLocal.getByTestId("recovery-token-status")).toContainText("Recovery codes are not used");
    await expect(atLocal.getByRole("button", { name: "Click here to generate a new one-time MFA recovery token" })).toHaveCount(0);
    await signOut(atLocal);

    // At 127.0.0.1 only a passkey would do, and it cannot be used here: the step says where.
    await signInWithPassword(atIp, boss.email);
    const step = atIp.getByTestId("passkey-elsewhere-step");
    await expect(step).toContainText(`your passkey can be used only at ${LOCAL}`);
    await expect(step.getByRole("link", { name: LOCAL })).toHaveAttribute("href", `${LOCAL}/`);
    await expect(atIp.getByRole("button", { name: "Use your passkey" })).toHaveCount(0);
    await expect(atIp.getByLabel("MFA Code")).toHaveCount(0);
    await shot(atIp, "pko-07-passkey-only-step-at-ip");
    await atIp.getByRole("button", { name: "Back" }).click();
    await expect(atIp.getByLabel("Email")).toBeVisible();
  });
});
