import { afterEach, describe, expect, it } from "vitest";
import {
  LatchkeyError, inProcessLock, memoryStorage, unwrap, broadcastChannel, type LatchkeyClient,
} from "../src/index.js";
import { Authenticator, PASSWORD, baseUrl, disposeClients, newClient, signUpAndIn, uniqueEmail } from "./helpers.js";

afterEach(() => disposeClients());

async function caught(p: Promise<unknown>): Promise<LatchkeyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LatchkeyError);
    return e as LatchkeyError;
  }
  throw new Error("expected a LatchkeyError");
}

async function enroll(
  c: LatchkeyClient,
  password?: string,
): Promise<{ auth: Authenticator; recoveryToken: string; sessionRenewed: boolean }> {
  const e = await c.startEnrollment(password);
  expect(e.secret).toMatch(/^[A-Z2-7]+$/);
  expect(e.qr_code_png).toMatch(/^data:image\/png;base64,/);
  expect(e.otpauth_uri).toContain(`secret=${e.secret}`);
  const auth = new Authenticator(e.secret);
  const { recoveryToken, mfa, sessionRenewed } = await c.verifyEnrollment(await auth.code());
  expect(mfa.enabled).toBe(true);
  return { auth, recoveryToken, sessionRenewed };
}

describe("sign-in state machine", () => {
  it("signs up, signs in without MFA and calls the API with the access token", async () => {
    const c = newClient();
    const email = await signUpAndIn(c);
    expect(c.state.status).toBe("authenticated");
    if (c.state.status !== "authenticated") return;
    expect(c.state.user.email).toBe(email);
    expect(c.state.claims.aal).toBe("aal1");
    const me = await unwrap(c.api.GET("/api/v1/me"));
    expect(me.email).toBe(email);
    expect(me.mfa.enabled).toBe(false);
  });

  it("turns a wrong password into invalid_credentials", async () => {
    const c = newClient();
    const email = await signUpAndIn(c);
    const err = await caught(newClient().signIn(email, "not the password at all"));
    expect(err.status).toBe(401);
    expect(err.code).toBe("invalid_credentials");
  });

  it("carries the 422 field list", async () => {
    const err = await caught(newClient().signUp({ account_name: "x", email: uniqueEmail("short"), password: "short" }));
    expect(err.status).toBe(422);
    expect(err.code).toBe("validation_failed");
    expect(err.fieldError("password")).toBeTruthy();
  });

  it("carries retry_after on a lockout", async () => {
    const c = newClient();
    const email = await signUpAndIn(c);
    const other = newClient();
    for (let i = 0; i < 5; i++) await caught(other.signIn(email, `wrong password number ${i}`));
    const err = await caught(other.signIn(email, PASSWORD));
    expect(err.status).toBe(429);
    expect(err.code).toBe("too_many_attempts");
    expect(err.retryAfter).toBeGreaterThan(0);
  });

  it("enrolls, then signs in with a code, a wrong code and the recovery token", async () => {
    const c = newClient();
    const email = await signUpAndIn(c);
    const { auth, recoveryToken, sessionRenewed } = await enroll(c);
    // Verifying returns fresh aal2 tokens for this session; the client switched to them.
    expect(sessionRenewed).toBe(true);
    expect(c.state.status === "authenticated" && c.state.claims.aal).toBe("aal2");
    expect((await unwrap(c.api.GET("/api/v1/me"))).mfa.enabled).toBe(true);
    await c.signOut();
    expect(c.state.status).toBe("signed_out");

    const s = await c.signIn(email, PASSWORD);
    expect(s.status).toBe("mfa_required");
    if (s.status === "mfa_required") expect(s.methods).toEqual(["totp", "recovery_token"]);
    const wrong = await caught(c.submitMfaCode(auth.wrong()));
    expect(wrong.code).toBe("mfa_code_invalid");
    expect(wrong.attemptsRemaining).toBe(4);
    const done = await c.submitMfaCode(await auth.code());
    expect(done.recoveryTokenUsed).toBe(false);
    expect(c.state.status === "authenticated" && c.state.claims.amr).toEqual(["pwd", "otp"]);
    await c.signOut();

    await c.signIn(email, PASSWORD);
    const rec = await c.submitMfaCode(recoveryToken.toLowerCase());
    expect(rec.recoveryTokenUsed).toBe(true);
    const me = await unwrap(c.api.GET("/api/v1/me"));
    expect(me.mfa.enabled).toBe(true);
    expect(me.mfa.recovery_token.active).toBe(false);
    await c.signOut();

    const again = await c.signIn(email, PASSWORD);
    expect(again.status === "mfa_required" && again.methods).toEqual(["totp"]);
    const spent = await caught(c.submitMfaCode(recoveryToken));
    expect(spent.code).toBe("mfa_code_invalid");
  });

  it("verifying ends the user's other sessions and keeps this one", async () => {
    const c = newClient();
    const email = await signUpAndIn(c);
    const elsewhere = newClient();
    await elsewhere.signIn(email, PASSWORD);
    const sessionId = c.state.status === "authenticated" ? c.state.sessionId : "";
    await enroll(c);
    expect(c.state.status === "authenticated" && c.state.sessionId).toBe(sessionId);
    const ended = await caught(unwrap(elsewhere.api.GET("/api/v1/me")));
    expect(ended.status).toBe(401);
    expect(elsewhere.state.status).toBe("signed_out");
    expect((await unwrap(c.api.GET("/api/v1/me/sessions"))).total).toBe(1);
    await c.refresh();
    expect((await unwrap(c.api.GET("/api/v1/me"))).mfa.enabled).toBe(true);
  });

  it("re-enrolling needs the password once MFA is on", async () => {
    const c = newClient();
    await signUpAndIn(c);
    await enroll(c);
    const err = await caught(c.startEnrollment());
    expect(err.status).toBe(403);
    expect(["reauthentication_required", "mfa_required_for_action"]).toContain(err.code);
    const again = await c.startEnrollment(PASSWORD);
    expect(again.secret).toMatch(/^[A-Z2-7]+$/);
  });

  it("a forced enrollment uses the enrollment token and ends in a new session", async () => {
    const admin = newClient();
    await signUpAndIn(admin);
    await unwrap(admin.api.PATCH("/api/v1/account", { body: { require_mfa: true } }));
    const email = uniqueEmail("ed");
    await unwrap(admin.api.POST("/api/v1/users", { body: { email, display_name: "Ed", role: "editor", password: PASSWORD } }));

    const ed = newClient();
    const s = await ed.signIn(email, PASSWORD);
    expect(s.status).toBe("mfa_enrollment_required");
    // Nothing but enrollment works with that token.
    const refused = await caught(unwrap(ed.api.GET("/api/v1/me")));
    expect(refused.status).toBe(401);
    const { recoveryToken, sessionRenewed } = await enroll(ed);
    expect(recoveryToken).toBeTruthy();
    expect(sessionRenewed).toBe(true);
    expect(ed.state.status).toBe("authenticated");
    const me = await unwrap(ed.api.GET("/api/v1/me"));
    expect(me.mfa).toMatchObject({ enabled: true, required: true, required_by: "account", can_disable: false });
    const disable = await caught(unwrap(ed.api.DELETE("/api/v1/me/mfa", { body: { password: PASSWORD, code: recoveryToken } })));
    expect(disable.code).toBe("mfa_enforced");
  });
});

describe("token life cycle", () => {
  it("refreshes single-flight within a page", async () => {
    const c = newClient();
    await signUpAndIn(c);
    await Promise.all([c.refresh(), c.refresh(), c.refresh(), c.refresh()]);
    expect((await unwrap(c.api.GET("/api/v1/me"))).email).toContain("admin-");
  });

  it("two tabs refreshing at the same moment keep the session alive", async () => {
    const storage = memoryStorage();
    const lock = inProcessLock();
    const tabA = newClient({ storage, lock, channel: broadcastChannel("latchkey-test-a") });
    const tabB = newClient({ storage, lock, channel: broadcastChannel("latchkey-test-a") });
    await signUpAndIn(tabA);
    expect((await tabB.restore()).status).toBe("authenticated");
    if (tabA.state.status !== "authenticated" || tabB.state.status !== "authenticated") return;
    expect(tabB.state.sessionId).toBe(tabA.state.sessionId);

    for (let round = 0; round < 3; round++) {
      await Promise.all([tabA.refresh(), tabB.refresh()]);
      const [a, b] = await Promise.all([unwrap(tabA.api.GET("/api/v1/me")), unwrap(tabB.api.GET("/api/v1/me"))]);
      expect(a.id).toBe(b.id);
    }
    const sessions = await unwrap(tabA.api.GET("/api/v1/me/sessions"));
    expect(sessions.total).toBe(1);
  });

  it("without the shared lock the same race revokes the session (why the lock exists)", async () => {
    const storage = memoryStorage();
    const tabA = newClient({ storage, lock: inProcessLock() });
    const tabB = newClient({ storage, lock: inProcessLock() });
    await signUpAndIn(tabA);
    await tabB.restore();
    const results = await Promise.allSettled([tabA.refresh(), tabB.refresh()]);
    // At most one rotation wins; when the loser's reuse revocation lands
    // before the winner has read its session back, the winner is refused too.
    const refused = results.filter((r) => r.status === "rejected");
    expect(refused.length).toBeGreaterThanOrEqual(1);
    // The spent token presented again revoked the whole session, also for the winner.
    const err = await caught(unwrap(tabA.api.GET("/api/v1/me")));
    expect(err.status).toBe(401);
    expect(tabA.state.status).toBe("signed_out");
  });

  it("signing out in one tab signs the other out", async () => {
    const storage = memoryStorage();
    const lock = inProcessLock();
    const tabA = newClient({ storage, lock, channel: broadcastChannel("latchkey-test-b") });
    const tabB = newClient({ storage, lock, channel: broadcastChannel("latchkey-test-b") });
    await signUpAndIn(tabA);
    await tabB.restore();
    const out = new Promise<void>((r) => tabB.subscribe((s) => s.status === "signed_out" && r()));
    await tabA.signOut();
    await out;
    expect(tabB.state.status).toBe("signed_out");
    const err = await caught(tabB.refresh());
    expect(err.code).toBe("unauthorized");
  });

  it("refreshes before expiry on its own", async () => {
    let skew = 0;
    const c = newClient({ now: () => Date.now() + skew });
    await signUpAndIn(c);
    const first = await c.accessToken();
    skew = 15 * 60 * 1000 - 30_000; // 30 s before expiry, inside the margin
    const second = await c.accessToken();
    expect(second).not.toBe(first);
    skew = 0;
    expect((await unwrap(c.api.GET("/api/v1/me"))).role).toBe("administrator");
  });

  it("reports an unreachable server as network_error", async () => {
    const c = newClient({ baseUrl: "http://127.0.0.1:9" });
    const err = await caught(c.signIn("a@example.com", PASSWORD));
    expect(err.code).toBe("network_error");
    expect(err.status).toBe(0);
    expect(baseUrl).toMatch(/^http/);
  });
});
