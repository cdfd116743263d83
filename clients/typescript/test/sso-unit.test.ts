// Single sign-on pieces that need no server: the CSRF state kept by
// beginSso and checked by completeSso, and the login-code exchange.
import { describe, expect, it } from "vitest";
import { LatchkeyClient, memoryStorage } from "../src/index.js";

function fakeServer(answer: unknown) {
  const calls: { url: string; body: unknown }[] = [];
  const fetch = async (r: Request) => {
    calls.push({ url: r.url, body: r.method === "POST" ? await r.json() : null });
    return new Response(JSON.stringify(answer), { status: 200, headers: { "content-type": "application/json" } });
  };
  return { calls, fetch };
}

function client(fetch: (r: Request) => Promise<Response>, now = () => Date.now()) {
  return new LatchkeyClient({
    baseUrl: "http://latchkey.test/", fetch, now, channel: null, autoRefresh: false, ssoStateStorage: memoryStorage(),
  });
}

describe("single sign-on", () => {
  it("beginSso makes a fresh random state per call and points at the authorize route", async () => {
    const c = client(fakeServer({}).fetch);
    const a = new URL(await c.beginSso("0b6c4a56-0000-4000-8000-000000000001", "https://app.test/sso/callback"));
    const b = new URL(await c.beginSso("0b6c4a56-0000-4000-8000-000000000001", "https://app.test/sso/callback"));
    expect(a.origin + a.pathname).toBe("http://latchkey.test/api/v1/sso/0b6c4a56-0000-4000-8000-000000000001/authorize");
    expect(a.searchParams.get("redirect_uri")).toBe("https://app.test/sso/callback");
    const state = a.searchParams.get("state")!;
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.searchParams.get("state")).not.toBe(state);
    c.dispose();
  });

  it("completeSso refuses a foreign or missing state without calling the server, and spends the kept one", async () => {
    const server = fakeServer({ status: "mfa_required", mfa_token: "m", expires_in: 300, methods: ["totp"] });
    const c = client(server.fetch);
    await expect(c.completeSso("?login_code=abc&state=attacker")).rejects.toMatchObject({ code: "sso_state_mismatch" });
    const url = new URL(await c.beginSso("p", "https://app.test/sso/callback"));
    const state = url.searchParams.get("state")!;
    await expect(c.completeSso(`?login_code=abc&state=${state}x`)).rejects.toMatchObject({ code: "sso_state_mismatch" });
    // The kept state was spent by the refused attempt: the right one is refused now too.
    await expect(c.completeSso(`?login_code=abc&state=${state}`)).rejects.toMatchObject({ code: "sso_state_mismatch" });
    await expect(c.completeSso("?login_code=abc")).rejects.toMatchObject({ code: "sso_state_mismatch" });
    expect(server.calls).toHaveLength(0);
    c.dispose();
  });

  it("completeSso exchanges the login code and enters the sign-in state machine", async () => {
    const server = fakeServer({ status: "mfa_required", mfa_token: "m", expires_in: 300, methods: ["totp", "recovery_token"] });
    const c = client(server.fetch);
    const state = new URL(await c.beginSso("p", "https://app.test/sso/callback")).searchParams.get("state")!;
    const s = await c.completeSso(new URLSearchParams({ login_code: "the-code", state }));
    expect(s).toMatchObject({ status: "mfa_required", methods: ["totp", "recovery_token"] });
    expect(server.calls).toEqual([{ url: "http://latchkey.test/api/v1/sessions/sso", body: { login_code: "the-code" } }]);
    // Single use on this side too.
    await expect(c.completeSso(new URLSearchParams({ login_code: "the-code", state }))).rejects.toMatchObject({ code: "sso_state_mismatch" });
    c.dispose();
  });

  it("completeSso throws the error code Latchkey sent back", async () => {
    const server = fakeServer({});
    const c = client(server.fetch);
    const state = new URL(await c.beginSso("p", "https://app.test/sso/callback")).searchParams.get("state")!;
    await expect(c.completeSso(`?error=user_not_found&state=${state}`)).rejects.toMatchObject({ code: "user_not_found", status: 400 });
    expect(server.calls).toHaveLength(0);
    c.dispose();
  });

  it("completeSso refuses a state kept too long", async () => {
    let t = 1_000_000;
    const c = client(fakeServer({}).fetch, () => t);
    const state = new URL(await c.beginSso("p", "https://app.test/sso/callback")).searchParams.get("state")!;
    t += 16 * 60 * 1000;
    await expect(c.completeSso(`?login_code=x&state=${state}`)).rejects.toMatchObject({ code: "flow_expired" });
    c.dispose();
  });

  it("signInWithLoginCode answers like signIn (enrollment)", async () => {
    const c = client(fakeServer({ status: "mfa_enrollment_required", enrollment_token: "e", expires_in: 600 }).fetch);
    expect((await c.signInWithLoginCode("x")).status).toBe("mfa_enrollment_required");
    c.dispose();
  });
});
