// Passkeys against a real `latchkey serve`, with a software authenticator
// standing in for the browser's (test/soft-authenticator.ts): the client's
// option and credential conversions, registration (turning MFA on), the
// second step, passwordless sign-in, rename and delete, forced enrollment
// and the phishing-resistant policy.
import { afterEach, describe, expect, it } from "vitest";
import {
  LatchkeyError, createPasskey, getPasskey, passkeyAvailability, unwrap, type AuthenticationCredentialJSON, type LatchkeyClient,
} from "../src/index.js";
import { Authenticator, PASSWORD, baseUrl, disposeClients, newClient, signUpAndIn, uniqueEmail } from "./helpers.js";
import { SoftAuthenticator } from "./soft-authenticator.js";

afterEach(() => disposeClients());

// The server's relying party id is the host of its public URL; an IP
// (127.0.0.1) becomes `localhost`, with the origin http://localhost:PORT.
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

/** Options, the authenticator's credential, registration. */
async function addPasskey(c: LatchkeyClient, key: SoftAuthenticator, name: string, password?: string) {
  const options = await c.passkeyOptions(password);
  const credential = await createPasskey(options, { credentials: key });
  return c.registerPasskey(name, credential);
}

function claims(c: LatchkeyClient) {
  if (c.state.status !== "authenticated") throw new Error(`expected authenticated, got ${c.state.status}`);
  return c.state.claims;
}

describe("passkeys", () => {
  it("a first passkey turns MFA on; the second step and passwordless sign-in use it", async () => {
    const c = newClient();
    const email = await signUpAndIn(c, "pk");
    const key = new SoftAuthenticator(origin);

    const first = await addPasskey(c, key, "Laptop");
    expect(first.passkey).toMatchObject({ name: "Laptop", last_used_at: null });
    expect(first.recoveryToken).toMatch(/\w{5}/);
    expect(first.sessionRenewed).toBe(true);
    expect(claims(c)).toMatchObject({ aal: "aal2", amr: ["pwd", "hwk"] });
    const me = await unwrap(c.api.GET("/api/v1/me"));
    expect(me.mfa).toMatchObject({ enabled: true, methods: "any" });

    // Once MFA is on, another passkey needs the password.
    expect((await caught(c.passkeyOptions())).code).toBe("reauthentication_required");
    const second = await addPasskey(c, new SoftAuthenticator(origin), "Phone", PASSWORD);
    expect(second.recoveryToken).toBeNull();
    expect(second.sessionRenewed).toBe(false);
    const factors = await c.factors();
    expect(factors.totp ?? null).toBeNull();
    expect(factors.passkeys.map((p) => p.name).sort()).toEqual(["Laptop", "Phone"]);

    // The second step: methods and request options, then the assertion.
    const s = newClient();
    const state = await s.signIn(email, PASSWORD);
    expect(state.status).toBe("mfa_required");
    if (state.status !== "mfa_required") return;
    expect(state.methods).toEqual(expect.arrayContaining(["recovery_token", "passkey"]));
    expect(state.methods).not.toContain("totp");
    expect(state.passkeyOptions?.publicKey.challenge).toBeTruthy();
    const assertion = await getPasskey(state.passkeyOptions!, { credentials: key });
    await s.submitMfaPasskey(assertion);
    expect(claims(s)).toMatchObject({ aal: "aal2", amr: ["pwd", "hwk"] });
    const used = (await s.factors()).passkeys.find((p) => p.name === "Laptop");
    expect(used?.last_used_at).toBeTruthy();

    // Passwordless: a discoverable passkey alone.
    const p = newClient();
    const options = await p.passwordlessOptions();
    expect(options.ceremony_id).toBeTruthy();
    const signedIn = await p.signInWithPasskey(options.ceremony_id, await getPasskey(options, { credentials: key }));
    expect(signedIn.status).toBe("authenticated");
    expect(claims(p)).toMatchObject({ aal: "aal2", amr: ["hwk", "user"] });
    if (signedIn.status === "authenticated") expect(signedIn.user.email).toBe(email);
    // The ceremony is single use.
    const again = await getPasskey(options, { credentials: key });
    expect((await caught(newClient().signInWithPasskey(options.ceremony_id, again))).code).toBe("invalid_credentials");
  });

  it("passwordless sign-in refuses an authenticator that did not verify the user", async () => {
    const c = newClient();
    await signUpAndIn(c, "pk-uv");
    const key = new SoftAuthenticator(origin);
    await addPasskey(c, key, "Key");
    key.userVerified = false;
    const p = newClient();
    const options = await p.passwordlessOptions();
    const err = await caught(p.signInWithPasskey(options.ceremony_id, await getPasskey(options, { credentials: key })));
    expect(err.code).toBe("invalid_credentials");
    expect(p.state.status).toBe("signed_out");
  });

  it("renames and deletes passkeys; deleting the last one turns MFA off", async () => {
    const c = newClient();
    await signUpAndIn(c, "pk-del");
    const a = await addPasskey(c, new SoftAuthenticator(origin), "Old name");
    const b = await addPasskey(c, new SoftAuthenticator(origin), "Second", PASSWORD);
    expect((await c.renamePasskey(a.passkey.id, "New name")).name).toBe("New name");
    expect((await caught(c.renamePasskey(a.passkey.id, ""))).code).toBe("validation_failed");
    expect((await caught(c.deletePasskey(a.passkey.id, "not the password at all"))).code).toBe("reauthentication_required");
    expect((await caught(c.deletePasskey("00000000-0000-4000-8000-000000000000", PASSWORD))).code).toBe("not_found");
    await c.deletePasskey(b.passkey.id, PASSWORD);
    expect((await c.factors()).passkeys.map((p) => p.name)).toEqual(["New name"]);
    expect((await unwrap(c.api.GET("/api/v1/me"))).mfa.enabled).toBe(true);
    await c.deletePasskey(a.passkey.id, PASSWORD);
    expect((await c.factors()).passkeys).toEqual([]);
    const me = await unwrap(c.api.GET("/api/v1/me"));
    expect(me.mfa.enabled).toBe(false);
    expect(me.mfa.recovery_token.active).toBe(false);
  });

  it("getRelyingParty: public; at an IP the relying party is localhost, and the origin names it", async () => {
    const c = newClient();
    const rp = await c.getRelyingParty();
    expect(rp.id).toBe("localhost");
    expect(rp.origins).toEqual([origin]);
    expect(rp.name).toBeTruthy();
    // The server's own origin (127.0.0.1) is not among them: a page there cannot use passkeys.
    expect(passkeyAvailability(rp, { origin: new URL(baseUrl).origin, supported: true }).status).toBe("elsewhere");
    expect(passkeyAvailability(rp, { origin, supported: true }).status).toBe("available");
  });

  it("deleting the last passkey of a passwordless session keeps it, as a password session with MFA off", async () => {
    const c = newClient();
    const email = await signUpAndIn(c, "pk-pwless-del");
    const key = new SoftAuthenticator(origin);
    await addPasskey(c, key, "Only key");
    const p = newClient();
    const options = await p.passwordlessOptions();
    await p.signInWithPasskey(options.ceremony_id, await getPasskey(options, { credentials: key }));
    expect(claims(p)).toMatchObject({ aal: "aal2", amr: ["hwk", "user"] });
    const sessionId = p.state.status === "authenticated" ? p.state.sessionId : "";
    const [only] = (await p.factors()).passkeys;
    await p.deletePasskey(only!.id, PASSWORD);
    // The same session goes on; the client took its new claims.
    expect(p.state).toMatchObject({ status: "authenticated", sessionId });
    expect(claims(p)).toMatchObject({ aal: "aal1", amr: ["pwd"] });
    const me = await unwrap(p.api.GET("/api/v1/me"));
    expect(me.email).toBe(email);
    expect(me.mfa.enabled).toBe(false);
    expect((await p.factors()).passkeys).toEqual([]);
  });

  it("a refused assertion counts as a wrong code and leaves the codes", async () => {
    const c = newClient();
    const email = await signUpAndIn(c, "pk-bad");
    const key = new SoftAuthenticator(origin);
    const { recoveryToken } = await addPasskey(c, key, "Key");
    const s = newClient();
    const state = await s.signIn(email, PASSWORD);
    if (state.status !== "mfa_required") throw new Error(state.status);
    const good = await getPasskey(state.passkeyOptions!, { credentials: key });
    const sig = Buffer.from(good.response.signature, "base64url");
    sig[sig.length - 1] = sig[sig.length - 1]! ^ 1;
    const bad: AuthenticationCredentialJSON = { ...good, response: { ...good.response, signature: sig.toString("base64url") } };
    const err = await caught(s.submitMfaPasskey(bad));
    expect(err.code).toBe("mfa_code_invalid");
    expect(err.attemptsRemaining).toBe(4);
    // The challenge's passkey ceremony is spent: the state no longer offers it; the recovery token still works.
    expect(s.state).toMatchObject({ status: "mfa_required", methods: ["recovery_token"], passkeyOptions: null });
    const done = await s.submitMfaCode(recoveryToken!);
    expect(done.recoveryTokenUsed).toBe(true);
    expect(claims(s).amr).toEqual(["pwd", "rec"]);
  });

  it("a forced enrollment may register a passkey with the enrollment token, which signs in", async () => {
    const admin = newClient();
    await signUpAndIn(admin, "pk-force");
    const email = uniqueEmail("pk-forced");
    await unwrap(admin.api.POST("/api/v1/users", { body: { email, display_name: "Forced", role: "editor", password: PASSWORD } }));
    await unwrap(admin.api.PATCH("/api/v1/account", { body: { require_mfa: true } }));

    const c = newClient();
    expect((await c.signIn(email, PASSWORD)).status).toBe("mfa_enrollment_required");
    const r = await addPasskey(c, new SoftAuthenticator(origin), "Security key");
    expect(r.sessionRenewed).toBe(true);
    expect(r.recoveryToken).toBeTruthy();
    expect(claims(c)).toMatchObject({ aal: "aal2", amr: ["pwd", "hwk"] });
    expect((await unwrap(c.api.GET("/api/v1/me"))).mfa.enabled).toBe(true);
  });

  it("phishing_resistant: a TOTP-only user must add a passkey, and codes are refused after", async () => {
    const admin = newClient();
    await signUpAndIn(admin, "pk-pr");
    const email = uniqueEmail("pk-totp");
    await unwrap(admin.api.POST("/api/v1/users", { body: { email, display_name: "Tina Totp", role: "editor", password: PASSWORD } }));
    // Tina sets up TOTP while any method counts.
    const t = newClient();
    await t.signIn(email, PASSWORD);
    const app = new Authenticator((await t.startEnrollment()).secret);
    await t.verifyEnrollment(await app.code());
    await t.signOut();
    const account = await unwrap(admin.api.PATCH("/api/v1/account", { body: { mfa_methods: "phishing_resistant" } }));
    expect(account.mfa_methods).toBe("phishing_resistant");

    const c = newClient();
    expect((await c.signIn(email, PASSWORD)).status).toBe("mfa_enrollment_required");
    // A second TOTP secret is no way out; a passkey is.
    expect((await caught(c.startEnrollment())).status).toBe(401);
    const key = new SoftAuthenticator(origin);
    const r = await addPasskey(c, key, "Laptop");
    expect(r.sessionRenewed).toBe(true);
    expect(r.recoveryToken).toBeNull();
    expect(claims(c).aal).toBe("aal2");
    const me = await unwrap(c.api.GET("/api/v1/me"));
    expect(me.mfa.methods).toBe("phishing_resistant");
    // Tina's old recovery token (of her TOTP set-up) would be refused: not active; no new one either.
    expect(me.mfa.recovery_token.active).toBe(false);
    const refused = await caught(unwrap(c.api.POST("/api/v1/me/mfa/recovery-token", { body: { password: PASSWORD } })));
    expect(refused).toMatchObject({ status: 403, code: "phishing_resistant_required" });

    const s = newClient();
    const state = await s.signIn(email, PASSWORD);
    expect(state).toMatchObject({ status: "mfa_required", methods: ["passkey"] });
    expect((await caught(s.submitMfaCode(await app.code()))).code).toBe("phishing_resistant_required");
    expect(s.state.status).toBe("mfa_required");
    if (s.state.status !== "mfa_required") return;
    await s.submitMfaPasskey(await getPasskey(s.state.passkeyOptions!, { credentials: key }));
    expect(claims(s).amr).toEqual(["pwd", "hwk"]);
  });

  it("phishing_resistant: a first passkey turns MFA on without a recovery token", async () => {
    const admin = newClient();
    await signUpAndIn(admin, "pk-pr-first");
    await unwrap(admin.api.PATCH("/api/v1/account", { body: { mfa_methods: "phishing_resistant" } }));
    const r = await addPasskey(admin, new SoftAuthenticator(origin), "Laptop");
    expect(r.recoveryToken).toBeNull();
    expect(r.sessionRenewed).toBe(true);
    expect(claims(admin)).toMatchObject({ aal: "aal2", amr: ["pwd", "hwk"] });
    const me = await unwrap(admin.api.GET("/api/v1/me"));
    expect(me.mfa).toMatchObject({ enabled: true, methods: "phishing_resistant", recovery_token: { active: false } });
  });
});
