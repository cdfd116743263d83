// Single sign-on against a real `latchkey serve` and the real OpenID provider
// of tests/oidc-provider, driven by hand (no browser): beginSso, the provider's
// login form, Latchkey's callback, completeSso.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { unwrap, type IdentityProvider, type LatchkeyClient } from "../src/index.js";
import { PASSWORD, baseUrl, disposeClients, newClient, signUpAndIn } from "./helpers.js";

// http is allowed for loopback redirect URIs only; nothing listens there (the test reads the Location).
const APP_CALLBACK = "http://127.0.0.1:9/sso/callback";
const LATCHKEY_CALLBACK = `${baseUrl}/api/v1/sso/callback`;
let idp: ChildProcess;
let issuer: string;

beforeAll(async () => {
  const server = fileURLToPath(new URL("../../../tests/oidc-provider/server.mjs", import.meta.url));
  idp = spawn(process.execPath, [server, "--port", "0", "--redirect-uri", LATCHKEY_CALLBACK], { stdio: ["pipe", "pipe", "ignore"] });
  issuer = await new Promise<string>((ok, fail) => {
    let out = "";
    idp.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^ready (\S+)$/m.exec(out);
      if (m) ok(m[1]!);
    });
    idp.once("exit", (code) => fail(new Error(`the test OpenID provider exited (${code}); npm ci in tests/oidc-provider?`)));
  });
});
afterAll(async () => {
  if (!idp || idp.exitCode !== null || idp.signalCode !== null) return;
  const gone = once(idp, "exit");
  idp.stdin!.end();
  await gone;
});
afterEach(() => disposeClients());

/** A browser, by hand: follows redirects one at a time and keeps the provider's cookies. */
async function ssoRoundTrip(c: LatchkeyClient, providerId: string, login: string): Promise<URL> {
  const jar = new Map<string, string>();
  const step = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...(init.headers as Record<string, string>), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") },
    });
    for (const sc of res.headers.getSetCookie()) {
      const [pair = ""] = sc.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  };
  let res = await step(await c.beginSso(providerId, APP_CALLBACK));
  for (let hops = 0; ; hops++) {
    expect(hops).toBeLessThan(12);
    expect([302, 303, 200]).toContain(res.status);
    if (res.status === 200) {
      // The provider's login page: one form, fields login and password.
      const html = await res.text();
      const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
      expect(action).toBeTruthy();
      res = await step(new URL(action!, issuer).href, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ login, password: "password" }).toString(),
      });
      continue;
    }
    const location = new URL(res.headers.get("location")!, res.url);
    if (location.href.startsWith(APP_CALLBACK)) return location;
    res = await step(location.href);
  }
}

describe("single sign-on (OIDC)", () => {
  let admin: LatchkeyClient;
  let accountId: string;
  let provider: IdentityProvider;

  beforeAll(async () => {
    admin = newClient();
    await signUpAndIn(admin, "sso-admin");
    if (admin.state.status !== "authenticated") throw new Error("not signed in");
    accountId = admin.state.claims.acc;
    provider = await admin.createIdentityProvider({
      name: "Test IdP", issuer, client_id: "latchkey", client_secret: "latchkey-test-secret",
      allowed_redirect_uris: [APP_CALLBACK], trust_idp_mfa: false, jit_provisioning: false, default_role: "read_only",
    });
    for (const email of ["alice@example.com", "bob@example.com"]) {
      await unwrap(admin.api.POST("/api/v1/users", { body: { email, display_name: email.split("@")[0]!, role: "editor", password: PASSWORD } }));
    }
  });

  it("administers providers: defaults, callback URL, no secret in answers, public list", async () => {
    expect(provider).toMatchObject({ name: "Test IdP", issuer, client_id: "latchkey", scopes: ["openid", "email", "profile"], callback_url: LATCHKEY_CALLBACK });
    expect(provider).not.toHaveProperty("client_secret");
    expect((await admin.listIdentityProviders()).items.map((p) => p.id)).toEqual([provider.id]);
    expect(await newClient().ssoProviders(accountId)).toEqual([{ id: provider.id, name: "Test IdP" }]);
    const renamed = await admin.updateIdentityProvider(provider.id, { name: "Test IdP 2" });
    expect(renamed.name).toBe("Test IdP 2");
    expect((await admin.getIdentityProvider(provider.id)).name).toBe("Test IdP 2");
    await admin.updateIdentityProvider(provider.id, { name: "Test IdP" });
  });

  it("alice signs in, proving her password once to link: amr sso, aal1; the login code is single use", async () => {
    const c = newClient();
    const back = await ssoRoundTrip(c, provider.id, "alice@example.com");
    const code = back.searchParams.get("login_code")!;
    expect(code).toBeTruthy();
    const linking = await c.completeSso(back.searchParams);
    expect(linking).toMatchObject({ status: "link_required", email: "alice@example.com" });
    await expect(c.linkIdentity("not alice's password")).rejects.toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(c.state.status).toBe("link_required");
    const state = await c.linkIdentity(PASSWORD);
    expect(state.status).toBe("authenticated");
    if (state.status !== "authenticated") return;
    expect(state.user.email).toBe("alice@example.com");
    expect(state.claims).toMatchObject({ amr: ["sso"], aal: "aal1", acc: accountId });
    await expect(newClient().signInWithLoginCode(code)).rejects.toMatchObject({ status: 401, code: "invalid_credentials" });
  });

  it("a redirect_uri the provider does not allow is refused", async () => {
    const res = await fetch(await newClient().beginSso(provider.id, "http://127.0.0.1:9/elsewhere"), { redirect: "manual" });
    expect(res.status).toBe(422);
  });

  it("dave has no user here (no JIT): error=user_not_found; carol's email is not verified", async () => {
    for (const [login, error] of [["dave@example.com", "user_not_found"], ["carol@example.com", "email_not_verified"]] as const) {
      const c = newClient();
      const back = await ssoRoundTrip(c, provider.id, login);
      expect(back.searchParams.get("error")).toBe(error);
      await expect(c.completeSso(back.searchParams)).rejects.toMatchObject({ code: error });
    }
  });

  it("bob did MFA at the provider: aal2 only while the provider is trusted for MFA", async () => {
    let c = newClient();
    let state = await c.completeSso((await ssoRoundTrip(c, provider.id, "bob@example.com")).searchParams);
    expect(state.status).toBe("link_required");
    state = await c.linkIdentity(PASSWORD);
    expect(state.status === "authenticated" && state.claims).toMatchObject({ amr: ["sso"], aal: "aal1" });
    c = newClient();
    state = await c.completeSso((await ssoRoundTrip(c, provider.id, "bob@example.com")).searchParams);
    expect(state.status === "authenticated" && state.claims).toMatchObject({ amr: ["sso"], aal: "aal1" });
    await admin.updateIdentityProvider(provider.id, { trust_idp_mfa: true });
    c = newClient();
    state = await c.completeSso((await ssoRoundTrip(c, provider.id, "bob@example.com")).searchParams);
    expect(state.status === "authenticated" && state.claims).toMatchObject({ amr: ["sso", "mfa"], aal: "aal2" });
    await admin.updateIdentityProvider(provider.id, { trust_idp_mfa: false });
  });

  it("with Require MFA on, an SSO user without MFA must enroll", async () => {
    await unwrap(admin.api.PATCH("/api/v1/account", { body: { require_mfa: true } }));
    try {
      const c = newClient();
      const state = await c.completeSso((await ssoRoundTrip(c, provider.id, "alice@example.com")).searchParams);
      expect(state.status).toBe("mfa_enrollment_required");
    } finally {
      await unwrap(admin.api.PATCH("/api/v1/account", { body: { require_mfa: false } }));
    }
  });

  it("JIT provisioning creates dave with the default role", async () => {
    await admin.updateIdentityProvider(provider.id, { jit_provisioning: true, default_role: "lite" });
    const c = newClient();
    const state = await c.completeSso((await ssoRoundTrip(c, provider.id, "dave@example.com")).searchParams);
    expect(state.status === "authenticated" && state.user).toMatchObject({ email: "dave@example.com", role: "lite" });
  });

  it("deleting the provider removes it from the sign-in page", async () => {
    await admin.deleteIdentityProvider(provider.id);
    expect(await newClient().ssoProviders(accountId)).toEqual([]);
  });
});
