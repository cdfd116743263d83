// The MFA rollout calls without a server (fetch mocked): the step-up handler
// and its single retry, remembered device tokens per email, the coverage
// CSV, the step-up calls and what the session state says.
import { describe, expect, it } from "vitest";
import {
  LatchkeyClient, LatchkeyError, memoryDeviceTokens, memoryStorage, normalizeEmail, webDeviceTokens, type AuthenticationCredentialJSON,
  type StepUpRequest,
} from "../src/index.js";

const b64 = (s: string) => Buffer.from(s).toString("base64url");
const jwt = (claims: object) => `h.${b64(JSON.stringify(claims))}.s`;

const user = {
  id: "u1", email: "ann@example.com", display_name: "Ann", role: "administrator", disabled: false, mfa_enabled: true,
  mfa_required: false, require_mfa: false, created_at: "2026-01-01T00:00:00Z",
};

/** An `authenticated` answer whose tokens are numbered `n`. */
function authenticated(n: number, extra: Record<string, unknown> = {}) {
  return {
    status: "authenticated", token_type: "Bearer", expires_in: 900, session_id: "s1", user,
    access_token: jwt({ sub: "u1", sid: "s1", acc: "a1", role: "administrator", amr: ["pwd", "dev"], aal: "aal2", exp: 9e9, n }),
    refresh_token: `refresh-${n}`,
    ...extra,
  };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const problem = status >= 400;
  return new Response(JSON.stringify(body), {
    status, headers: { "content-type": problem ? "application/problem+json" : "application/json", ...headers },
  });
}
const problem = (status: number, code: string, extra: Record<string, unknown> = {}) =>
  json(status, { type: "about:blank", title: code, status, detail: code, code, ...extra });

interface Seen { method: string; path: string; auth: string | null; accept: string | null; body: unknown }

/**
 * A fake API: `routes` answers each call (by "METHOD /path"), in order when
 * a route lists several answers; every call is recorded in `seen`.
 */
function fakeApi(routes: Record<string, Array<(r: Seen) => Response> | ((r: Seen) => Response)>) {
  const seen: Seen[] = [];
  const fetch = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const text = await req.text();
    const r: Seen = {
      method: req.method, path: url.pathname, auth: req.headers.get("authorization"), accept: req.headers.get("accept"),
      body: text ? JSON.parse(text) as unknown : undefined,
    };
    seen.push(r);
    const route = routes[`${req.method} ${url.pathname}`];
    if (!route) return problem(404, "not_found");
    const answer = Array.isArray(route) ? route.shift() : route;
    if (!answer) throw new Error(`no more answers for ${req.method} ${url.pathname}`);
    return answer(r);
  };
  return { fetch, seen };
}

function newClient(fetch: (r: Request) => Promise<Response>, more: Partial<ConstructorParameters<typeof LatchkeyClient>[0]> = {}) {
  return new LatchkeyClient({ baseUrl: "http://api.test", fetch, channel: null, autoRefresh: false, ...more });
}

const tokenOf = (n: number) => `Bearer ${authenticated(n).access_token}`;

describe("step-up handler", () => {
  it("on 403 step_up_required runs the handler once, then retries the call once with the fresh tokens and the same body", async () => {
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1)),
      "PATCH /api/v1/account": [() => problem(403, "step_up_required"), () => json(200, { id: "a1", name: "Acme", require_mfa: true })],
      "POST /api/v1/sessions/current/step-up": () => json(200, authenticated(2)),
    });
    const storage = memoryStorage();
    const requests: StepUpRequest[] = [];
    const c = newClient(fetch, { storage });
    c.setStepUpHandler(async (request) => {
      requests.push(request);
      await c.stepUp({ code: "123456" });
      return true;
    });
    await c.signIn("ann@example.com", "correct horse battery staple");
    const account = await c.updateAccount({ require_mfa: true });
    expect(account.require_mfa).toBe(true);
    expect(requests).toEqual([{ method: "PATCH", url: "http://api.test/api/v1/account" }]);
    const patches = seen.filter((r) => r.path === "/api/v1/account");
    expect(patches.map((r) => r.auth)).toEqual([tokenOf(1), tokenOf(2)]);
    expect(patches.map((r) => r.body)).toEqual([{ require_mfa: true }, { require_mfa: true }]);
    const stepUp = seen.find((r) => r.path === "/api/v1/sessions/current/step-up")!;
    expect(stepUp).toMatchObject({ auth: tokenOf(1), body: { code: "123456" } });
    // The fresh refresh token replaced the old one.
    expect(JSON.parse(String(await storage.get()))).toEqual({ refreshToken: "refresh-2", sessionId: "s1" });
    c.dispose();
  });

  it("a cancelled step-up leaves the 403 to the caller, without a retry", async () => {
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1)),
      "POST /api/v1/users/u2/mfa/reset": () => problem(403, "step_up_required"),
    });
    let asked = 0;
    const c = newClient(fetch, { onStepUpRequired: () => { asked++; return false; } });
    await c.signIn("ann@example.com", "correct horse battery staple");
    const err = await c.resetUserMfa("u2").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ status: 403, code: "step_up_required" });
    expect(asked).toBe(1);
    expect(seen.filter((r) => r.path === "/api/v1/users/u2/mfa/reset")).toHaveLength(1);
    c.dispose();
  });

  it("calls refused together share one prompt; a handler that throws counts as cancelled", async () => {
    let release!: (ok: boolean) => void;
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1)),
      "PATCH /api/v1/users/u2": [() => problem(403, "step_up_required"), () => json(200, { ...user, id: "u2" })],
      "PATCH /api/v1/users/u3": [() => problem(403, "step_up_required"), () => json(200, { ...user, id: "u3" })],
      "PATCH /api/v1/users/u4": () => problem(403, "step_up_required"),
    });
    let prompts = 0;
    const c = newClient(fetch);
    c.setStepUpHandler(() => { prompts++; return new Promise<boolean>((r) => { release = r; }); });
    await c.signIn("ann@example.com", "correct horse battery staple");
    const both = Promise.all([c.setUserRequireMfa("u2", true), c.setUserRequireMfa("u3", true)]);
    await new Promise((r) => setTimeout(r, 20));
    expect(prompts).toBe(1);
    release(true);
    expect((await both).map((u) => u.id)).toEqual(["u2", "u3"]);
    expect(seen.filter((r) => r.path.startsWith("/api/v1/users/u")).length).toBe(4);

    const restore = c.setStepUpHandler(() => { throw new Error("no dialog"); });
    await expect(c.setUserRequireMfa("u4", true)).rejects.toMatchObject({ code: "step_up_required" });
    restore();
    c.dispose();
  });

  it("without a handler the 403 reaches the caller; other 403s never prompt", async () => {
    const { fetch } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1)),
      "PATCH /api/v1/account": [() => problem(403, "step_up_required"), () => problem(403, "forbidden")],
    });
    const c = newClient(fetch);
    await c.signIn("ann@example.com", "correct horse battery staple");
    await expect(c.updateAccount({ require_mfa: true })).rejects.toMatchObject({ code: "step_up_required" });
    let asked = false;
    c.setStepUpHandler(() => { asked = true; return true; });
    await expect(c.updateAccount({ require_mfa: true })).rejects.toMatchObject({ code: "forbidden" });
    expect(asked).toBe(false);
    c.dispose();
  });

  it("a 401 with a code of its own (a wrong MFA code) is not refreshed and retried: it would count twice", async () => {
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1)),
      "DELETE /api/v1/me/mfa": () => problem(401, "mfa_code_invalid"),
      "GET /api/v1/me": [() => problem(401, "unauthorized"), () => json(200, { ...user, mfa: {}, permissions: [] })],
      "POST /api/v1/sessions/refresh": () => json(200, authenticated(2)),
    });
    const c = newClient(fetch);
    await c.signIn("ann@example.com", "correct horse battery staple");
    const { error } = await c.api.DELETE("/api/v1/me/mfa", { body: { password: "x".repeat(12), code: "000000" } });
    expect(error).toMatchObject({ code: "mfa_code_invalid" });
    expect(seen.filter((r) => r.path === "/api/v1/me/mfa")).toHaveLength(1);
    expect(seen.some((r) => r.path === "/api/v1/sessions/refresh")).toBe(false);
    // A refused token (unauthorized) is still refreshed once and retried.
    expect((await c.me()).email).toBe("ann@example.com");
    expect(seen.filter((r) => r.path === "/api/v1/me").map((r) => r.auth)).toEqual([tokenOf(1), tokenOf(2)]);
    c.dispose();
  });
});

describe("step-up calls", () => {
  it("stepUpOptions hands the passkey options over as JSON; stepUp sends the assertion", async () => {
    const publicKey = { challenge: b64("step-up-challenge"), rpId: "localhost", allowCredentials: [{ type: "public-key", id: b64("cred") }] };
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1)),
      "POST /api/v1/sessions/current/step-up/options": () => json(200, { methods: ["totp", "passkey"], passkey_options: { publicKey } }),
      "POST /api/v1/sessions/current/step-up": [
        () => problem(401, "mfa_code_invalid"),
        () => json(200, authenticated(2, { user: { ...user, display_name: "Ann Stepped" } })),
      ],
    });
    const c = newClient(fetch);
    await c.signIn("ann@example.com", "correct horse battery staple");
    const options = await c.stepUpOptions();
    expect(options).toEqual({ methods: ["totp", "passkey"], passkeyOptions: { publicKey } });
    const assertion: AuthenticationCredentialJSON = {
      id: "cred", rawId: b64("cred"), type: "public-key", clientExtensionResults: {},
      response: { clientDataJSON: b64("{}"), authenticatorData: b64("ad"), signature: b64("sig") },
    };
    // A refused assertion: the session and its tokens stay as they were.
    await expect(c.stepUp({ passkey: assertion })).rejects.toMatchObject({ code: "mfa_code_invalid" });
    expect(c.state.status === "authenticated" && c.state.user.display_name).toBe("Ann");
    const state = await c.stepUp({ passkey: assertion });
    expect(state.status === "authenticated" && state.user.display_name).toBe("Ann Stepped");
    const calls = seen.filter((r) => r.path === "/api/v1/sessions/current/step-up");
    expect(calls.map((r) => r.body)).toEqual([{ passkey: assertion }, { passkey: assertion }]);
    // No refresh-and-retry of the refused one.
    expect(seen.some((r) => r.path === "/api/v1/sessions/refresh")).toBe(false);
    c.dispose();
  });

  it("stepUp needs a session", async () => {
    const c = newClient(async () => { throw new Error("no call expected"); });
    await expect(c.stepUp({ code: "123456" })).rejects.toMatchObject({ code: "unauthorized" });
    c.dispose();
  });
});

describe("remember this device", () => {
  it("keeps the token of the second step under the email, sends it with the password, drops it when refused", async () => {
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": [
        () => json(200, { status: "mfa_required", mfa_token: "m1", expires_in: 300, methods: ["totp"], remember_device_days: 30 }),
        () => json(200, authenticated(2)),
        () => json(200, { status: "mfa_required", mfa_token: "m2", expires_in: 300, methods: ["totp"], remember_device_days: 30 }),
        () => json(200, { status: "mfa_required", mfa_token: "m3", expires_in: 300, methods: ["totp"], remember_device_days: 0 }),
      ],
      "POST /api/v1/sessions/mfa": () => json(200, authenticated(1, { device_token: "device-secret", recovery_token_used: false })),
      "DELETE /api/v1/sessions/current": () => new Response(null, { status: 204 }),
    });
    const deviceTokens = memoryDeviceTokens();
    const c = newClient(fetch, { deviceTokens });
    const first = await c.signIn("  Ann@Example.com ", "correct horse battery staple");
    expect(first).toMatchObject({ status: "mfa_required", rememberDeviceDays: 30 });
    const done = await c.submitMfaCode("123456", { rememberDevice: true });
    expect(done.deviceRemembered).toBe(true);
    expect(await deviceTokens.get("ann@example.com")).toBe("device-secret");
    await c.signOut();
    // The token outlives sign-out and goes with the next password of that email.
    expect(await c.deviceToken("ANN@example.com")).toBe("device-secret");
    expect((await c.signIn("ann@example.com", "correct horse battery staple")).status).toBe("authenticated");
    await c.signOut();
    // Not taken any more (forgotten): the second step as usual, and the token is dropped.
    expect((await c.signIn("ann@example.com", "correct horse battery staple")).status).toBe("mfa_required");
    expect(await c.deviceToken("ann@example.com")).toBeNull();
    const fourth = await c.signIn("ann@example.com", "correct horse battery staple");
    expect(fourth).toMatchObject({ status: "mfa_required", rememberDeviceDays: 0 });

    const logins = seen.filter((r) => r.path === "/api/v1/sessions" && r.method === "POST").map((r) => r.body);
    expect(logins[0]).toEqual({ email: "  Ann@Example.com ", password: "correct horse battery staple" });
    expect(logins[1]).toMatchObject({ device_token: "device-secret" });
    expect(logins[2]).toMatchObject({ device_token: "device-secret" });
    expect(logins[3]).not.toHaveProperty("device_token");
    expect(seen.find((r) => r.path === "/api/v1/sessions/mfa")?.body).toEqual({ mfa_token: "m1", code: "123456", remember_device: true });
    c.dispose();
  });

  it("an explicit token (or null) wins over the kept one; without rememberDevice nothing is sent or kept", async () => {
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": [
        () => json(200, authenticated(1)),
        () => json(200, { status: "mfa_required", mfa_token: "m1", expires_in: 300, methods: ["totp"], remember_device_days: 30 }),
      ],
      "POST /api/v1/sessions/mfa": () => json(200, authenticated(2)),
    });
    const deviceTokens = memoryDeviceTokens();
    await deviceTokens.set("ann@example.com", "kept");
    const c = newClient(fetch, { deviceTokens });
    await c.signIn("ann@example.com", "pw".repeat(6), { deviceToken: "given" });
    await c.signIn("ann@example.com", "pw".repeat(6), { deviceToken: null });
    // An explicit null sent nothing: the kept token was not the one refused, so it stays.
    expect(await c.deviceToken("ann@example.com")).toBe("kept");
    const done = await c.submitMfaCode("123456");
    expect(done.deviceRemembered).toBe(false);
    const bodies = seen.map((r) => r.body as Record<string, unknown>);
    expect(bodies[0]).toMatchObject({ device_token: "given" });
    expect(bodies[1]).not.toHaveProperty("device_token");
    expect(bodies[2]).toEqual({ mfa_token: "m1", code: "123456" });
    c.dispose();
  });

  it("webDeviceTokens keys a Storage by the normalized email", () => {
    const map = new Map<string, string>();
    const storage = {
      getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v),
      removeItem: (k: string) => void map.delete(k), clear: () => map.clear(), key: () => null, get length() { return map.size; },
    } as Storage;
    const tokens = webDeviceTokens(storage);
    void tokens.set(" Ann@Example.COM", "t1");
    expect([...map.keys()]).toEqual(["latchkey.device:ann@example.com"]);
    expect(tokens.get("ann@example.com")).toBe("t1");
    void tokens.remove("ANN@example.com ");
    expect(map.size).toBe(0);
    expect(normalizeEmail("  A@B.C ")).toBe("a@b.c");
  });
});

describe("setup due and coverage", () => {
  it("setupDueAt comes from the sign-in answer and stays across a refresh of the session", async () => {
    const due = "2027-01-31T12:00:00Z";
    const { fetch } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1, { mfa: { setup_due_at: due } })),
      "POST /api/v1/sessions/refresh": [() => json(200, authenticated(2)), () => json(200, authenticated(3, { mfa: null }))],
    });
    const c = newClient(fetch);
    const s = await c.signIn("ann@example.com", "correct horse battery staple");
    expect(s.status === "authenticated" && s.setupDueAt).toBe(due);
    await c.refresh();
    expect(c.state.status === "authenticated" && c.state.setupDueAt).toBe(due);
    await c.refresh();
    expect(c.state.status === "authenticated" && c.state.setupDueAt).toBeNull();
    c.dispose();
  });

  it("mfaCoverage asks for JSON; mfaCoverageCsv for text/csv, with the file name of Content-Disposition", async () => {
    const csv = "scope,sub_account_id,name\naccount,,Acme\n";
    const { fetch, seen } = fakeApi({
      "POST /api/v1/sessions": () => json(200, authenticated(1)),
      "GET /api/v1/mfa-coverage": [
        () => json(200, { generated_at: "2026-12-04T10:00:00Z", items: [] }),
        () => new Response(csv, { status: 200, headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": 'attachment; filename="mfa-coverage.csv"' } }),
        () => problem(403, "forbidden"),
      ],
    });
    const c = newClient(fetch);
    await c.signIn("ann@example.com", "correct horse battery staple");
    expect((await c.mfaCoverage()).items).toEqual([]);
    const file = await c.mfaCoverageCsv();
    expect(file.filename).toBe("mfa-coverage.csv");
    expect(await file.blob.text()).toBe(csv);
    expect(file.blob.type).toContain("text/csv");
    await expect(c.mfaCoverageCsv()).rejects.toMatchObject({ status: 403, code: "forbidden" });
    expect(seen.filter((r) => r.path === "/api/v1/mfa-coverage").map((r) => r.accept)).toEqual(["application/json", "text/csv", "text/csv"]);
    c.dispose();
  });
});
