// The MFA rollout against a real `latchkey serve`: deadlines (setup due,
// then enrollment), Require MFA per user, coverage as JSON and CSV,
// "Remember this device" (the second step skipped, forgotten devices),
// and step-up (a remembered-device session never has a recent factor): by
// code, by passkey, and through the client's step-up handler.
import { afterEach, describe, expect, it } from "vitest";
import {
  LatchkeyError, createPasskey, getPasskey, memoryDeviceTokens, memoryStorage, unwrap, type LatchkeyClient,
} from "../src/index.js";
import { Authenticator, PASSWORD, baseUrl, disposeClients, newClient, signUpAndIn, uniqueEmail } from "./helpers.js";
import { SoftAuthenticator } from "./soft-authenticator.js";

afterEach(() => disposeClients());

// The relying party's origin (see passkeys.test.ts): an IP becomes localhost.
const origin = (() => {
  const u = new URL(baseUrl);
  if (/^[\d.]+$/.test(u.hostname)) u.hostname = "localhost";
  return u.origin;
})();

async function caught(p: Promise<unknown>): Promise<LatchkeyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LatchkeyError);
    return e as LatchkeyError;
  }
  throw new Error("expected a LatchkeyError");
}

function claims(c: LatchkeyClient) {
  if (c.state.status !== "authenticated") throw new Error(`expected authenticated, got ${c.state.status}`);
  return c.state.claims;
}

async function enroll(c: LatchkeyClient): Promise<Authenticator> {
  const e = await c.startEnrollment();
  const auth = new Authenticator(e.secret);
  await c.verifyEnrollment(await auth.code());
  return auth;
}

/** A user of the admin's account, by the API. */
async function addUser(admin: LatchkeyClient, tag: string, extra: { sub_account_id?: string } = {}): Promise<{ id: string; email: string }> {
  const email = uniqueEmail(tag);
  const u = await unwrap(admin.api.POST("/api/v1/users", { body: { email, display_name: tag, role: "editor", password: PASSWORD, ...extra } }));
  return { id: u.id, email };
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe("deadlines and Require MFA per user", () => {
  it("before the deadline a required user signs in and is told when setup is due; from it, they must enroll", async () => {
    const admin = newClient();
    await signUpAndIn(admin, "deadline");
    const due = inDays(14);
    const account = await admin.updateAccount({ require_mfa: true, require_mfa_from: due });
    expect(account.require_mfa).toBe(true);
    expect(Date.parse(account.require_mfa_from!)).toBe(Date.parse(due));
    const ed = await addUser(admin, "ed");

    const c = newClient();
    const s = await c.signIn(ed.email, PASSWORD);
    expect(s.status).toBe("authenticated");
    if (s.status !== "authenticated") return;
    expect(Date.parse(s.setupDueAt!)).toBe(Date.parse(due));
    const me = await c.me();
    expect(me.mfa).toMatchObject({ enabled: false, required: true, required_by: "account" });
    expect(Date.parse(me.mfa.setup_due_at!)).toBe(Date.parse(due));
    // The refresh keeps what the session was told.
    await c.refresh();
    expect(c.state.status === "authenticated" && c.state.setupDueAt).toBeTruthy();

    // The user list says the same: required (from a deadline), not enrolled.
    const listed = await unwrap(admin.api.GET("/api/v1/users/{id}", { params: { path: { id: ed.id } } }));
    expect(listed).toMatchObject({ mfa_required: true, require_mfa: false, mfa_enabled: false });

    // The deadline has passed: enrollment at sign-in.
    await admin.updateAccount({ require_mfa_from: inDays(-1) });
    expect((await newClient().signIn(ed.email, PASSWORD)).status).toBe("mfa_enrollment_required");
    // A deadline without Require MFA is refused.
    const bad = await caught(admin.updateAccount({ require_mfa: false, require_mfa_from: due }));
    expect(bad.code).toBe("validation_failed");
    expect(bad.fieldError("require_mfa_from")).toBeTruthy();
  });

  it("a sub-account's deadline, and Require MFA for one user whatever the scope says", async () => {
    const admin = newClient();
    await signUpAndIn(admin, "per-user");
    const due = inDays(3);
    const sub = await admin.createSubAccount({ name: "Globex", require_mfa: true, require_mfa_from: due });
    expect(Date.parse(sub.require_mfa_from!)).toBe(Date.parse(due));
    const later = inDays(5);
    const moved = await admin.updateSubAccount(sub.id, { require_mfa_from: later });
    expect(Date.parse(moved.require_mfa_from!)).toBe(Date.parse(later));
    const client = await addUser(admin, "client", { sub_account_id: sub.id });
    const c = newClient();
    const s = await c.signIn(client.email, PASSWORD);
    expect(s.status === "authenticated" && Date.parse(s.setupDueAt!)).toBe(Date.parse(later));
    expect((await c.me()).mfa.required_by).toBe("sub_account");

    const ed = await addUser(admin, "ed");
    // A change to another user's MFA: the actor needs MFA of their own (as for Reset MFA).
    expect((await caught(admin.setUserRequireMfa(ed.id, true))).code).toBe("mfa_required_for_action");
    await enroll(admin);
    const updated = await admin.setUserRequireMfa(ed.id, true);
    expect(updated).toMatchObject({ require_mfa: true, mfa_required: true });
    const e = newClient();
    expect((await e.signIn(ed.email, PASSWORD)).status).toBe("mfa_enrollment_required");
    await enroll(e);
    expect((await e.me()).mfa).toMatchObject({ enabled: true, required: true, required_by: "user", can_disable: false });
    const off = await admin.setUserRequireMfa(ed.id, false);
    expect(off).toMatchObject({ require_mfa: false, mfa_required: false });
  });
});

describe("coverage", () => {
  it("counts per scope, as JSON and as CSV", async () => {
    const admin = newClient();
    await signUpAndIn(admin, "coverage");
    const due = inDays(10);
    const sub = await admin.createSubAccount({ name: "Initech, \"quoted\"", require_mfa: true, require_mfa_from: due });
    await addUser(admin, "a1");
    const withMfa = await addUser(admin, "a2");
    await addUser(admin, "s1", { sub_account_id: sub.id });
    await addUser(admin, "s2", { sub_account_id: sub.id });
    const u = newClient();
    await u.signIn(withMfa.email, PASSWORD);
    await enroll(u);

    const coverage = await admin.mfaCoverage();
    expect(Date.parse(coverage.generated_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(coverage.items).toHaveLength(2);
    const [own, portal] = coverage.items;
    expect(own).toMatchObject({ scope: "account", sub_account_id: null, require_mfa: false, users: 3, enrolled: 1, due: 0, overdue: 0 });
    expect(own!.by_method).toEqual({ totp: 1, passkey: 0, sso_mfa: 0 });
    expect(portal).toMatchObject({ scope: "sub_account", sub_account_id: sub.id, name: sub.name, require_mfa: true, users: 2, enrolled: 0, due: 2, overdue: 0 });
    expect(Date.parse(portal!.due_at!)).toBe(Date.parse(due));

    const csv = await admin.mfaCoverageCsv();
    expect(csv.filename).toBe("mfa-coverage.csv");
    const text = await csv.blob.text();
    const lines = text.trim().split(/\r?\n/);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain("scope");
    expect(lines[1]).toMatch(/^account,/);
    expect(lines[2]).toContain(sub.id);
    expect(lines[2]).toContain('"Initech, ""quoted"""');

    // users.view only.
    const editor = await addUser(admin, "viewer");
    const v = newClient();
    await v.signIn(editor.email, PASSWORD);
    expect((await caught(v.mfaCoverage())).code).toBe("forbidden");
    expect((await caught(v.mfaCoverageCsv())).code).toBe("forbidden");
  });
});

/**
 * An account that remembers devices for 30 days, its administrator with
 * TOTP, and a client whose device tokens live in `tokens`.
 */
async function rememberingAccount(tag: string) {
  const admin = newClient();
  const email = await signUpAndIn(admin, tag);
  const account = await admin.updateAccount({ remember_device_days: 30 });
  expect(account.remember_device_days).toBe(30);
  const auth = await enroll(admin);
  const tokens = memoryDeviceTokens();
  return { admin, email, auth, tokens };
}

describe("remember this device", () => {
  it("the second sign-in skips the code; forgetting the device brings it back", async () => {
    const { email, auth, tokens } = await rememberingAccount("remember");
    const c = newClient({ deviceTokens: tokens });
    const s = await c.signIn(email, PASSWORD);
    expect(s).toMatchObject({ status: "mfa_required", rememberDeviceDays: 30 });
    const done = await c.submitMfaCode(await auth.code(), { rememberDevice: true });
    expect(done.deviceRemembered).toBe(true);
    expect(await tokens.get(email)).toBeTruthy();
    await c.signOut();

    expect((await c.signIn(email.toUpperCase(), PASSWORD)).status).toBe("authenticated");
    expect(claims(c)).toMatchObject({ aal: "aal2", amr: ["pwd", "dev"] });
    const devices = await c.listMyDevices();
    expect(devices.total).toBe(1);
    expect(devices.items[0]).toMatchObject({ method: "otp" });
    expect(Date.parse(devices.items[0]!.expires_at)).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    await c.forgetMyDevice(devices.items[0]!.id);
    expect((await c.listMyDevices()).total).toBe(0);
    await c.signOut();

    // The server ignores the forgotten token: the code is asked again, and the client drops it.
    expect((await c.signIn(email, PASSWORD)).status).toBe("mfa_required");
    expect(await tokens.get(email)).toBeNull();
    // A recovery token remembers nothing; neither does a second step without the box.
    const plain = await c.submitMfaCode(await auth.code());
    expect(plain.deviceRemembered).toBe(false);
    expect((await c.listMyDevices()).total).toBe(0);
  }, 120_000);

  it("a device token skips only its own user's second step, and ends with a password change", async () => {
    const { admin, email, auth, tokens } = await rememberingAccount("bound");
    const c = newClient({ deviceTokens: tokens });
    await c.signIn(email, PASSWORD);
    await c.submitMfaCode(await auth.code(), { rememberDevice: true });
    const token = (await tokens.get(email))!;
    // Another user (with MFA) signing in with this token: the second step as usual.
    const other = await addUser(admin, "other");
    const o = newClient({ deviceTokens: null });
    await o.signIn(other.email, PASSWORD);
    await enroll(o);
    await o.signOut();
    expect((await o.signIn(other.email, PASSWORD, { deviceToken: token })).status).toBe("mfa_required");
    // A password change ends every device.
    const newPassword = `${PASSWORD} again`;
    await unwrap(c.api.PUT("/api/v1/me/password", { body: { current_password: PASSWORD, new_password: newPassword } }));
    await c.signOut();
    expect((await c.signIn(email, newPassword)).status).toBe("mfa_required");
  }, 120_000);
});

describe("step-up", () => {
  it("a remembered-device session must step up for a policy change; by code, with fresh tokens", async () => {
    const { email, auth, tokens } = await rememberingAccount("stepup");
    const first = newClient({ deviceTokens: tokens });
    await first.signIn(email, PASSWORD);
    await first.submitMfaCode(await auth.code(), { rememberDevice: true });
    await first.signOut();

    const storage = memoryStorage();
    const c = newClient({ deviceTokens: tokens, storage });
    expect((await c.signIn(email, PASSWORD)).status).toBe("authenticated");
    expect(claims(c).amr).toEqual(["pwd", "dev"]);
    const refused = await caught(c.updateAccount({ require_mfa: true }));
    expect(refused).toMatchObject({ status: 403, code: "step_up_required" });
    // Reading needs none.
    expect((await c.getAccount()).require_mfa).toBe(false);

    const options = await c.stepUpOptions();
    expect(options).toEqual({ methods: ["totp"], passkeyOptions: null });
    // A wrong code: refused, and the session goes on as it was.
    const wrong = await caught(c.stepUp({ code: auth.wrong() }));
    expect(wrong).toMatchObject({ status: 401, code: "mfa_code_invalid" });
    expect(c.state.status).toBe("authenticated");
    // The recovery token does not step up.
    expect((await caught(c.stepUp({ code: "AAAA-BBBB-CCCC-DDDD" }))).status).toBeGreaterThanOrEqual(400);

    const before = JSON.parse(String(await storage.get())) as { refreshToken: string; sessionId: string };
    const sessionId = c.state.status === "authenticated" ? c.state.sessionId : "";
    const state = await c.stepUp({ code: await auth.code() });
    expect(state.status === "authenticated" && state.sessionId).toBe(sessionId);
    expect(claims(c)).toMatchObject({ aal: "aal2", amr: ["pwd", "otp"] });
    const after = JSON.parse(String(await storage.get())) as { refreshToken: string };
    expect(after.refreshToken).not.toBe(before.refreshToken);
    expect((await c.updateAccount({ require_mfa: true })).require_mfa).toBe(true);
    // The refresh token from before the step-up no longer works.
    const res = await fetch(`${baseUrl}/api/v1/sessions/refresh`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: before.refreshToken }),
    });
    expect(res.status).toBe(401);
  }, 120_000);

  it("the step-up handler prompts once and the refused call goes through; cancelling leaves it refused", async () => {
    const { admin, email, auth, tokens } = await rememberingAccount("handler");
    const target = await addUser(admin, "target");
    const first = newClient({ deviceTokens: tokens });
    await first.signIn(email, PASSWORD);
    await first.submitMfaCode(await auth.code(), { rememberDevice: true });
    await first.signOut();

    const c = newClient({ deviceTokens: tokens });
    await c.signIn(email, PASSWORD);
    let prompts = 0;
    c.setStepUpHandler(() => { prompts++; return false; });
    expect((await caught(c.setUserRequireMfa(target.id, true))).code).toBe("step_up_required");
    expect((await unwrap(c.api.GET("/api/v1/users/{id}", { params: { path: { id: target.id } } }))).require_mfa).toBe(false);
    expect(prompts).toBe(1);

    c.setStepUpHandler(async () => {
      prompts++;
      const options = await c.stepUpOptions();
      expect(options.methods).toContain("totp");
      await c.stepUp({ code: await auth.code() });
      return true;
    });
    const [a, b] = await Promise.all([c.setUserRequireMfa(target.id, true), c.updateAccount({ remember_device_days: 7 })]);
    expect(a.require_mfa).toBe(true);
    expect(b.remember_device_days).toBe(7);
    expect(prompts).toBe(2);
    // Within the 10 minutes, no prompt.
    await c.setUserRequireMfa(target.id, false);
    expect(prompts).toBe(2);
  }, 120_000);

  it("administrators list and forget a user's devices (a change to their MFA)", async () => {
    const { admin, email: adminEmail, auth: adminAuth } = await rememberingAccount("admin-devices");
    const ed = await addUser(admin, "ed");
    const e = newClient({ deviceTokens: memoryDeviceTokens() });
    await e.signIn(ed.email, PASSWORD);
    const edAuth = await enroll(e);
    await e.signOut();
    await e.signIn(ed.email, PASSWORD);
    await e.submitMfaCode(await edAuth.code(), { rememberDevice: true });
    void adminEmail;

    // The admin's own session has a fresh factor (the enrollment just now).
    const devices = await admin.listUserDevices(ed.id);
    expect(devices.total).toBe(1);
    expect(devices.items[0]!.method).toBe("otp");
    await admin.forgetUserDevice(ed.id, devices.items[0]!.id);
    expect((await admin.listUserDevices(ed.id)).total).toBe(0);
    expect((await caught(admin.forgetUserDevice(ed.id, devices.items[0]!.id))).code).toBe("not_found");
    void adminAuth;
    await e.signOut();
    expect((await e.signIn(ed.email, PASSWORD)).status).toBe("mfa_required");
  }, 120_000);

  it("steps up with a passkey, converting the options and the assertion", async () => {
    const admin = newClient();
    const email = await signUpAndIn(admin, "pk-stepup");
    await admin.updateAccount({ remember_device_days: 30 });
    const key = new SoftAuthenticator(origin);
    const options = await admin.passkeyOptions();
    await admin.registerPasskey("Laptop", await createPasskey(options, { credentials: key }));
    await admin.signOut();

    const tokens = memoryDeviceTokens();
    const c = newClient({ deviceTokens: tokens });
    const s = await c.signIn(email, PASSWORD);
    if (s.status !== "mfa_required") throw new Error(s.status);
    expect(s.rememberDeviceDays).toBe(30);
    const done = await c.submitMfaPasskey(await getPasskey(s.passkeyOptions!, { credentials: key }), { rememberDevice: true });
    expect(done.deviceRemembered).toBe(true);
    await c.signOut();
    await c.signIn(email, PASSWORD);
    expect(claims(c).amr).toEqual(["pwd", "dev"]);
    expect((await c.listMyDevices()).items[0]!.method).toBe("hwk");

    const up = await c.stepUpOptions();
    expect(up.methods).toEqual(["passkey"]);
    expect(up.passkeyOptions?.publicKey.challenge).toBeTruthy();
    await c.stepUp({ passkey: await getPasskey(up.passkeyOptions!, { credentials: key }) });
    expect(claims(c).amr).toEqual(["pwd", "hwk"]);
    expect((await c.updateAccount({ require_mfa: true })).require_mfa).toBe(true);
  }, 120_000);
});
