// Passkey pieces that need no server: base64url, the option and credential
// conversions (by hand, and through the browser's own converters when
// present), the browser errors, and the calls the client makes (fetch mocked).
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  LatchkeyClient, LatchkeyError, base64urlToBytes, bytesToBase64url, createPasskey, creationOptionsFromJSON, credentialToJSON,
  getPasskey, memoryStorage, passkeyAvailability, requestOptionsFromJSON, type AuthenticationCredentialJSON, type CreationOptionsJSON,
  type RegistrationCredentialJSON,
} from "../src/index.js";

const enc = (s: string) => new TextEncoder().encode(s);
const b64 = (s: string) => Buffer.from(s).toString("base64url");
const text = (b: BufferSource) => new TextDecoder().decode(b);

afterEach(() => vi.unstubAllGlobals());

describe("base64url", () => {
  it("round-trips bytes without padding, views included", () => {
    for (const n of [0, 1, 2, 3, 31, 32, 33, 100_000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
      const s = bytesToBase64url(bytes);
      expect(s).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(s).toBe(Buffer.from(bytes).toString("base64url"));
      expect(new Uint8Array(base64urlToBytes(s))).toEqual(bytes);
    }
    const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
    expect(bytesToBase64url(view)).toBe("AQID");
    expect(bytesToBase64url(view.buffer)).toBe("CQECAwk");
  });

  it("reads padded and standard base64 too, and refuses anything else", () => {
    expect(new Uint8Array(base64urlToBytes("-_8="))).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(new Uint8Array(base64urlToBytes("+/8"))).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(() => base64urlToBytes("not base64!")).toThrow(TypeError);
    expect(() => base64urlToBytes("abcde")).toThrow(TypeError);
  });
});

const creation: CreationOptionsJSON = {
  rp: { name: "Latchkey", id: "localhost" },
  user: { id: b64("user-handle"), name: "ann@example.com", displayName: "Ann" },
  challenge: b64("creation-challenge"),
  pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
  timeout: 300000,
  excludeCredentials: [{ type: "public-key", id: b64("old-credential"), transports: ["internal"] }],
  authenticatorSelection: { residentKey: "preferred", requireResidentKey: false, userVerification: "required" },
  attestation: "none",
  extensions: { credProps: true, uvm: true },
};

describe("options: JSON to ArrayBuffers", () => {
  it("converts creation options by hand: challenge, user.id, excludeCredentials ids; the rest as is", () => {
    const o = creationOptionsFromJSON(creation);
    expect(o.challenge).toBeInstanceOf(ArrayBuffer);
    expect(text(o.challenge as ArrayBuffer)).toBe("creation-challenge");
    expect(text(o.user.id as ArrayBuffer)).toBe("user-handle");
    expect(o.user).toMatchObject({ name: "ann@example.com", displayName: "Ann" });
    expect(o.excludeCredentials).toHaveLength(1);
    expect(text(o.excludeCredentials![0]!.id as ArrayBuffer)).toBe("old-credential");
    expect(o.excludeCredentials![0]).toMatchObject({ type: "public-key", transports: ["internal"] });
    expect(o).toMatchObject({
      rp: creation.rp, pubKeyCredParams: creation.pubKeyCredParams, timeout: 300000, attestation: "none",
      authenticatorSelection: creation.authenticatorSelection, extensions: { credProps: true, uvm: true },
    });
    // The JSON it came from is untouched.
    expect(creation.challenge).toBe(b64("creation-challenge"));
  });

  it("converts request options by hand; no allowCredentials stays absent (discoverable)", () => {
    const withAllow = requestOptionsFromJSON({
      challenge: b64("req"), rpId: "localhost", userVerification: "required",
      allowCredentials: [{ type: "public-key", id: b64("cred-1") }],
    });
    expect(text(withAllow.challenge as ArrayBuffer)).toBe("req");
    expect(text(withAllow.allowCredentials![0]!.id as ArrayBuffer)).toBe("cred-1");
    expect(withAllow).toMatchObject({ rpId: "localhost", userVerification: "required" });
    const discoverable = requestOptionsFromJSON({ challenge: b64("x") });
    expect("allowCredentials" in discoverable).toBe(false);
  });

  it("uses the browser's parse*FromJSON when it has them, and falls back when they throw", () => {
    const parsed = { challenge: new ArrayBuffer(1) } as unknown as PublicKeyCredentialCreationOptions;
    const parseCreationOptionsFromJSON = vi.fn(() => parsed);
    vi.stubGlobal("PublicKeyCredential", { parseCreationOptionsFromJSON });
    expect(creationOptionsFromJSON(creation)).toBe(parsed);
    expect(parseCreationOptionsFromJSON).toHaveBeenCalledWith(creation);

    vi.stubGlobal("PublicKeyCredential", {
      parseRequestOptionsFromJSON: () => { throw new TypeError("unknown member"); },
    });
    expect(text(requestOptionsFromJSON({ challenge: b64("fallback") }).challenge as ArrayBuffer)).toBe("fallback");
  });
});

/** A PublicKeyCredential as a browser without toJSON gives it. */
function attestation(extra: Record<string, unknown> = {}) {
  return {
    id: b64("cred-id"), rawId: enc("cred-id").buffer, type: "public-key", authenticatorAttachment: "platform",
    response: { clientDataJSON: enc('{"type":"webauthn.create"}').buffer, attestationObject: enc("att-obj").buffer, getTransports: () => ["internal", "hybrid"] },
    getClientExtensionResults: () => ({ credProps: { rk: true } }),
    ...extra,
  };
}
function assertion(userHandle: ArrayBuffer | null) {
  return {
    id: b64("cred-id"), rawId: enc("cred-id").buffer, type: "public-key", authenticatorAttachment: null,
    response: { clientDataJSON: enc("cd").buffer, authenticatorData: enc("ad").buffer, signature: enc("sig").buffer, userHandle },
    getClientExtensionResults: () => ({ prf: { results: { first: enc("prf").buffer } } }),
  };
}

describe("credentials: PublicKeyCredential to JSON", () => {
  it("converts a new credential by hand", () => {
    const json = credentialToJSON(attestation() as unknown as PublicKeyCredential) as RegistrationCredentialJSON;
    expect(json).toEqual({
      id: b64("cred-id"), rawId: b64("cred-id"), type: "public-key", authenticatorAttachment: "platform",
      response: { clientDataJSON: b64('{"type":"webauthn.create"}'), attestationObject: b64("att-obj"), transports: ["internal", "hybrid"] },
      clientExtensionResults: { credProps: { rk: true } },
    });
  });

  it("converts an assertion by hand: binary extension outputs too; no userHandle when there is none", () => {
    const json = credentialToJSON(assertion(enc("user-handle").buffer) as unknown as PublicKeyCredential) as AuthenticationCredentialJSON;
    expect(json).toEqual({
      id: b64("cred-id"), rawId: b64("cred-id"), type: "public-key",
      response: { clientDataJSON: b64("cd"), authenticatorData: b64("ad"), signature: b64("sig"), userHandle: b64("user-handle") },
      clientExtensionResults: { prf: { results: { first: b64("prf") } } },
    });
    const noHandle = credentialToJSON(assertion(null) as unknown as PublicKeyCredential) as AuthenticationCredentialJSON;
    expect("userHandle" in noHandle.response).toBe(false);
  });

  it("prefers the browser's toJSON, unless it fails or answers something else", () => {
    const native = { id: "n", rawId: "n", type: "public-key", response: { clientDataJSON: "x", attestationObject: "y" }, clientExtensionResults: {} };
    expect(credentialToJSON(attestation({ toJSON: () => native }) as unknown as PublicKeyCredential)).toBe(native);
    const broken = credentialToJSON(attestation({ toJSON: () => { throw new Error("wrapped"); } }) as unknown as PublicKeyCredential);
    expect(broken.rawId).toBe(b64("cred-id"));
    const raw = credentialToJSON(attestation({ toJSON: () => ({ id: "n", rawId: new ArrayBuffer(2) }) }) as unknown as PublicKeyCredential);
    expect(raw.response.clientDataJSON).toBe(b64('{"type":"webauthn.create"}'));
  });
});

describe("createPasskey / getPasskey", () => {
  it("hand the converted options to navigator.credentials and the credential back as JSON", async () => {
    const create = vi.fn(async (_: CredentialCreationOptions) => attestation() as unknown as Credential);
    const get = vi.fn(async (_: CredentialRequestOptions) => assertion(enc("h").buffer) as unknown as Credential);
    const signal = new AbortController().signal;
    const made = await createPasskey({ publicKey: creation }, { credentials: { create, get }, signal });
    expect(made.response.attestationObject).toBe(b64("att-obj"));
    const arg = create.mock.calls[0]![0];
    expect(arg.signal).toBe(signal);
    expect(text(arg.publicKey!.challenge as ArrayBuffer)).toBe("creation-challenge");

    const got = await getPasskey({ publicKey: { challenge: b64("c"), allowCredentials: [] } }, { credentials: { create, get }, mediation: "conditional" });
    expect(got.response.signature).toBe(b64("sig"));
    expect(get.mock.calls[0]![0]).toMatchObject({ mediation: "conditional" });
  });

  it("turn the browser's errors into LatchkeyErrors", async () => {
    const failing = (name: string) => ({
      create: async () => { throw new DOMException("no", name); },
      get: async () => { throw new DOMException("no", name); },
    });
    const codeOf = async (p: Promise<unknown>) => {
      try { await p; } catch (e) { expect(e).toBeInstanceOf(LatchkeyError); return (e as LatchkeyError).code; }
      return "resolved";
    };
    expect(await codeOf(createPasskey({ publicKey: creation }, { credentials: failing("NotAllowedError") }))).toBe("passkey_cancelled");
    expect(await codeOf(createPasskey({ publicKey: creation }, { credentials: failing("InvalidStateError") }))).toBe("passkey_exists");
    expect(await codeOf(getPasskey({ publicKey: { challenge: "" } }, { credentials: failing("AbortError") }))).toBe("passkey_cancelled");
    expect(await codeOf(getPasskey({ publicKey: { challenge: "" } }, { credentials: failing("SecurityError") }))).toBe("passkey_failed");
    expect(await codeOf(getPasskey({ publicKey: { challenge: "" } }, { credentials: { create: async () => null, get: async () => null } }))).toBe("passkey_cancelled");
    // Node has no WebAuthn: without a container of its own, "unsupported".
    expect(await codeOf(createPasskey({ publicKey: creation }))).toBe("passkey_unsupported");
  });
});

// ---- the client's calls --------------------------------------------------------

function jwt(claims: Record<string, unknown>): string {
  return `h.${Buffer.from(JSON.stringify({ sub: "u", sid: "s", acc: "a", role: "administrator", exp: 2e9, ...claims })).toString("base64url")}.sig`;
}
function session(amr: string[], sessionId = "s1") {
  return {
    status: "authenticated", access_token: jwt({ amr, aal: amr.length > 1 ? "aal2" : "aal1", sid: sessionId }), token_type: "Bearer",
    expires_in: 900, refresh_token: `r-${sessionId}-${amr.join("")}`, session_id: sessionId,
    user: { id: "u", email: "ann@example.com", display_name: "Ann" },
  };
}
const passkey = { id: "0b6c4a56-0000-4000-8000-000000000001", name: "Laptop", created_at: "2026-01-01T00:00:00Z", last_used_at: null, backed_up: false };
const requestOptions = { publicKey: { challenge: b64("c"), rpId: "localhost", allowCredentials: [{ type: "public-key", id: b64("k") }] } };

interface Call { method: string; path: string; auth: string | null; body: unknown }
/** A fake server: answers by "METHOD path", records every call. */
function fakeServer(answers: Record<string, { status?: number; body?: unknown } | ((call: Call) => { status?: number; body?: unknown })>) {
  const calls: Call[] = [];
  const fetch = async (r: Request) => {
    const path = new URL(r.url).pathname;
    const raw = await r.text();
    const call = { method: r.method, path, auth: r.headers.get("authorization"), body: raw ? JSON.parse(raw) : null };
    calls.push(call);
    const a = answers[`${r.method} ${path}`];
    const answer = typeof a === "function" ? a(call) : a;
    if (!answer) return new Response(JSON.stringify({ code: "not_found", status: 404, title: "Not found" }), { status: 404, headers: { "content-type": "application/problem+json" } });
    const status = answer.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(answer.body), {
      status, headers: { "content-type": status >= 400 ? "application/problem+json" : "application/json" },
    });
  };
  return { calls, fetch };
}
function client(fetch: (r: Request) => Promise<Response>) {
  return new LatchkeyClient({ baseUrl: "http://latchkey.test", fetch, channel: null, autoRefresh: false, storage: memoryStorage() });
}
const problem = (status: number, code: string, extra: Record<string, unknown> = {}) => ({ status, body: { type: "t", title: code, status, detail: code, code, ...extra } });

describe("client: passkey calls", () => {
  it("mfa_required carries passkeyOptions; submitMfaPasskey sends {mfa_token, passkey} and signs in", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions": { body: { status: "mfa_required", mfa_token: "mfa-1", expires_in: 300, methods: ["totp", "passkey"], passkey_options: requestOptions } },
      "POST /api/v1/sessions/mfa": { body: session(["pwd", "hwk"]) },
    });
    const c = client(server.fetch);
    const state = await c.signIn("ann@example.com", "x".repeat(12));
    expect(state).toMatchObject({ status: "mfa_required", methods: ["totp", "passkey"], passkeyOptions: requestOptions });
    const assertionJson = { id: "k", rawId: "k", type: "public-key", response: { clientDataJSON: "a", authenticatorData: "b", signature: "c" }, clientExtensionResults: {} };
    const r = await c.submitMfaPasskey(assertionJson);
    expect(r.state).toMatchObject({ status: "authenticated", claims: { amr: ["pwd", "hwk"], aal: "aal2" } });
    expect(server.calls[1]).toMatchObject({ path: "/api/v1/sessions/mfa", body: { mfa_token: "mfa-1", passkey: assertionJson } });
    expect(server.calls[1]!.body).not.toHaveProperty("code");
    c.dispose();
  });

  it("without a passkey, passkeyOptions is null; submitMfaPasskey out of order throws no_challenge", async () => {
    const server = fakeServer({ "POST /api/v1/sessions": { body: { status: "mfa_required", mfa_token: "m", expires_in: 300, methods: ["totp"] } } });
    const c = client(server.fetch);
    await expect(c.submitMfaPasskey({} as AuthenticationCredentialJSON)).rejects.toMatchObject({ code: "no_challenge" });
    expect(await c.signIn("a@example.com", "x".repeat(12))).toMatchObject({ passkeyOptions: null });
    c.dispose();
  });

  it("a refused assertion drops passkey from the methods (its ceremony is spent); with nothing left, signed out", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions": { body: { status: "mfa_required", mfa_token: "m", expires_in: 300, methods: ["recovery_token", "passkey"], passkey_options: requestOptions } },
      "POST /api/v1/sessions/mfa": problem(401, "mfa_code_invalid", { attempts_remaining: 4 }),
    });
    const c = client(server.fetch);
    await c.signIn("a@example.com", "x".repeat(12));
    await expect(c.submitMfaPasskey({} as AuthenticationCredentialJSON)).rejects.toMatchObject({ code: "mfa_code_invalid", attemptsRemaining: 4 });
    expect(c.state).toMatchObject({ status: "mfa_required", methods: ["recovery_token"], passkeyOptions: null });

    const only = fakeServer({
      "POST /api/v1/sessions": { body: { status: "mfa_required", mfa_token: "m", expires_in: 300, methods: ["passkey"], passkey_options: requestOptions } },
      "POST /api/v1/sessions/mfa": problem(401, "mfa_code_invalid", { attempts_remaining: 4 }),
    });
    const d = client(only.fetch);
    await d.signIn("a@example.com", "x".repeat(12));
    await expect(d.submitMfaPasskey({} as AuthenticationCredentialJSON)).rejects.toMatchObject({ code: "mfa_code_invalid" });
    expect(d.state.status).toBe("signed_out");
    c.dispose(); d.dispose();
  });

  it("a code where only passkeys count keeps the challenge (phishing_resistant_required)", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions": { body: { status: "mfa_required", mfa_token: "m", expires_in: 300, methods: ["passkey"], passkey_options: requestOptions } },
      "POST /api/v1/sessions/mfa": problem(403, "phishing_resistant_required"),
    });
    const c = client(server.fetch);
    await c.signIn("a@example.com", "x".repeat(12));
    await expect(c.submitMfaCode("123456")).rejects.toMatchObject({ code: "phishing_resistant_required", status: 403 });
    expect(c.state.status).toBe("mfa_required");
    c.dispose();
  });

  it("a forced enrollment sends the enrollment token to the passkey routes and signs in with the answer", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions": { body: { status: "mfa_enrollment_required", enrollment_token: "lke_grant", expires_in: 600 } },
      "POST /api/v1/me/mfa/passkeys/options": { body: { publicKey: creation } },
      "POST /api/v1/me/mfa/passkeys": { status: 201, body: { ...passkey, recovery_token: "AAAAA-BBBBB", session: session(["pwd", "hwk"], "s9") } },
    });
    const c = client(server.fetch);
    await c.signIn("a@example.com", "x".repeat(12));
    const options = await c.passkeyOptions();
    expect(options.publicKey.challenge).toBe(creation.challenge);
    const cred = { id: "k", rawId: "k", type: "public-key", response: { clientDataJSON: "a", attestationObject: "b" }, clientExtensionResults: {} };
    const r = await c.registerPasskey("Laptop", cred);
    expect(r).toEqual({ passkey, recoveryToken: "AAAAA-BBBBB", sessionRenewed: true });
    expect(c.state).toMatchObject({ status: "authenticated", sessionId: "s9" });
    expect(server.calls.slice(1).map((x) => [x.path, x.auth])).toEqual([
      ["/api/v1/me/mfa/passkeys/options", "Bearer lke_grant"],
      ["/api/v1/me/mfa/passkeys", "Bearer lke_grant"],
    ]);
    expect(server.calls[1]!.body).toEqual({});
    expect(server.calls[2]!.body).toEqual({ name: "Laptop", credential: cred });
    c.dispose();
  });

  it("in a session: options with the password, register, factors, rename, delete", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions": { body: session(["pwd"]) },
      "POST /api/v1/me/mfa/passkeys/options": { body: { publicKey: creation } },
      "POST /api/v1/me/mfa/passkeys": { status: 201, body: { ...passkey } },
      "GET /api/v1/me/mfa/factors": { body: { totp: { activated_at: "2026-01-01T00:00:00Z" }, passkeys: [passkey] } },
      [`PATCH /api/v1/me/mfa/passkeys/${passkey.id}`]: (call) => ({ body: { ...passkey, ...(call.body as object) } }),
      [`DELETE /api/v1/me/mfa/passkeys/${passkey.id}`]: { status: 204 },
      "POST /api/v1/sessions/refresh": { body: session(["pwd"]) },
    });
    const c = client(server.fetch);
    await c.signIn("a@example.com", "x".repeat(12));
    await c.passkeyOptions("pw pw pw pw pw");
    const r = await c.registerPasskey("Laptop", {} as RegistrationCredentialJSON);
    expect(r).toEqual({ passkey, recoveryToken: null, sessionRenewed: false });
    expect(c.state).toMatchObject({ status: "authenticated", sessionId: "s1" });
    expect((await c.factors()).passkeys).toEqual([passkey]);
    expect((await c.renamePasskey(passkey.id, "Work laptop")).name).toBe("Work laptop");
    await c.deletePasskey(passkey.id, "pw pw pw pw pw");
    const sent = server.calls.slice(1).map((x) => [x.method, x.path, x.body]);
    expect(sent).toEqual([
      ["POST", "/api/v1/me/mfa/passkeys/options", { password: "pw pw pw pw pw" }],
      ["POST", "/api/v1/me/mfa/passkeys", { name: "Laptop", credential: {} }],
      ["GET", "/api/v1/me/mfa/factors", null],
      ["PATCH", `/api/v1/me/mfa/passkeys/${passkey.id}`, { name: "Work laptop" }],
      ["DELETE", `/api/v1/me/mfa/passkeys/${passkey.id}`, { password: "pw pw pw pw pw" }],
      // The session's factors may have changed: fresh claims.
      ["POST", "/api/v1/sessions/refresh", { refresh_token: session(["pwd"]).refresh_token }],
    ]);
    expect(server.calls.slice(1, -1).every((x) => x.auth === `Bearer ${session(["pwd"]).access_token}`)).toBe(true);
    c.dispose();
  });

  it("a first passkey in a session switches to the upgraded session's tokens", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions": { body: session(["pwd"]) },
      "POST /api/v1/me/mfa/passkeys": { status: 201, body: { ...passkey, recovery_token: "R", session: session(["pwd", "hwk"]) } },
    });
    const c = client(server.fetch);
    await c.signIn("a@example.com", "x".repeat(12));
    const r = await c.registerPasskey("Laptop", {} as RegistrationCredentialJSON);
    expect(r.sessionRenewed).toBe(true);
    expect(c.state).toMatchObject({ status: "authenticated", claims: { aal: "aal2", amr: ["pwd", "hwk"] } });
    c.dispose();
  });

  it("passwordless: options with a ceremony id, then the assertion signs in", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions/passkey/options": { body: { ceremony_id: "cer-1", publicKey: { challenge: b64("c"), rpId: "localhost", allowCredentials: [] } } },
      "POST /api/v1/sessions/passkey": (call) => ((call.body as { ceremony_id: string }).ceremony_id === "cer-1"
        ? { body: session(["hwk", "user"], "s5") } : problem(401, "invalid_credentials")),
    });
    const c = client(server.fetch);
    const options = await c.passwordlessOptions();
    expect(options).toEqual({ ceremony_id: "cer-1", publicKey: { challenge: b64("c"), rpId: "localhost", allowCredentials: [] } });
    const cred = { id: "k", rawId: "k", type: "public-key", response: { clientDataJSON: "a", authenticatorData: "b", signature: "c", userHandle: "u" }, clientExtensionResults: {} };
    await expect(c.signInWithPasskey("other", cred)).rejects.toMatchObject({ code: "invalid_credentials" });
    expect(c.state.status).toBe("signed_out");
    const state = await c.signInWithPasskey("cer-1", cred);
    expect(state).toMatchObject({ status: "authenticated", sessionId: "s5", claims: { amr: ["hwk", "user"] } });
    expect(server.calls[0]!.auth).toBeNull();
    expect(server.calls[2]!.body).toEqual({ ceremony_id: "cer-1", credential: cred });
    c.dispose();
  });
});

describe("client: where passkeys work", () => {
  const rp = { id: "localhost", name: "Latchkey", origins: ["http://localhost:8080"] };

  it("getRelyingParty asks GET /api/v1/passkeys/relying-party once, without a session, and keeps the answer", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const server = fakeServer({ "GET /api/v1/passkeys/relying-party": { body: rp } });
    const slow = async (r: Request) => { await gate; return server.fetch(r); };
    const c = client(slow);
    const first = c.getRelyingParty();
    const second = c.getRelyingParty();
    release();
    expect(await first).toEqual(rp);
    expect(await second).toEqual(rp);
    expect(await c.getRelyingParty()).toEqual(rp);
    expect(server.calls).toEqual([{ method: "GET", path: "/api/v1/passkeys/relying-party", auth: null, body: null }]);
    c.dispose();
  });

  it("a failed getRelyingParty is not kept: the next call asks again", async () => {
    let up = false;
    const server = fakeServer({
      "GET /api/v1/passkeys/relying-party": () => (up ? { body: rp } : problem(503, "service_unavailable")),
    });
    const c = client(server.fetch);
    await expect(c.getRelyingParty()).rejects.toMatchObject({ code: "service_unavailable", status: 503 });
    up = true;
    expect(await c.getRelyingParty()).toEqual(rp);
    expect(server.calls).toHaveLength(2);
    c.dispose();
  });

  it("passkeyAvailability: only at one of the origins, and only with WebAuthn", () => {
    const two = { origins: ["http://localhost:8080", "https://App.Example.com:443/"] };
    expect(passkeyAvailability(two, { origin: "http://localhost:8080", supported: true })).toEqual({ status: "available" });
    // Origins compare as browsers do: case, default port and a trailing slash do not matter.
    expect(passkeyAvailability(two, { origin: "https://app.example.com", supported: true })).toEqual({ status: "available" });
    expect(passkeyAvailability(two, { origin: "http://localhost:8080", supported: false })).toEqual({ status: "unsupported" });
    // An IP address is never the relying party's origin (WebAuthn refuses IPs), nor another port or scheme.
    for (const origin of ["http://127.0.0.1:8080", "http://localhost:8081", "https://localhost:8080", "http://app.example.com"]) {
      expect(passkeyAvailability(two, { origin, supported: true })).toEqual({
        status: "elsewhere", useAt: "http://localhost:8080", origins: ["http://localhost:8080", "https://app.example.com"],
      });
    }
    // Without a page (Node has no location): elsewhere.
    expect(passkeyAvailability(rp).status).toBe("elsewhere");
    vi.stubGlobal("location", { origin: "http://localhost:8080" });
    // The page's origin by default; Node has no WebAuthn.
    expect(passkeyAvailability(rp)).toEqual({ status: "unsupported" });
    expect(passkeyAvailability(rp, { supported: true })).toEqual({ status: "available" });
    expect(passkeyAvailability({ origins: [] }, { supported: true })).toEqual({ status: "elsewhere", useAt: "", origins: [] });
  });

  it("deleting the last passkey of a passwordless session: the client refreshes and goes on as a password session", async () => {
    let deleted = false;
    const server = fakeServer({
      "POST /api/v1/sessions/passkey/options": { body: { ceremony_id: "cer", publicKey: { challenge: b64("c") } } },
      "POST /api/v1/sessions/passkey": { body: session(["hwk", "user"], "s7") },
      [`DELETE /api/v1/me/mfa/passkeys/${passkey.id}`]: () => { deleted = true; return { status: 204 }; },
      // The server rebased the session on the password: same session, amr ["pwd"], aal1.
      "POST /api/v1/sessions/refresh": () => (deleted ? { body: session(["pwd"], "s7") } : problem(401, "unauthorized")),
    });
    const c = client(server.fetch);
    await c.signInWithPasskey("cer", {} as AuthenticationCredentialJSON);
    expect(c.state).toMatchObject({ status: "authenticated", claims: { amr: ["hwk", "user"], aal: "aal2" } });
    await c.deletePasskey(passkey.id, "pw pw pw pw pw");
    expect(c.state).toMatchObject({ status: "authenticated", sessionId: "s7", claims: { amr: ["pwd"], aal: "aal1" } });
    c.dispose();
  });

  it("deletePasskey: mfa_enforced is thrown and nothing is refreshed; a session that ended meanwhile signs out", async () => {
    const refused = fakeServer({
      "POST /api/v1/sessions": { body: session(["pwd", "hwk"]) },
      [`DELETE /api/v1/me/mfa/passkeys/${passkey.id}`]: problem(403, "mfa_enforced"),
    });
    const c = client(refused.fetch);
    await c.signIn("a@example.com", "x".repeat(12));
    await expect(c.deletePasskey(passkey.id, "pw")).rejects.toMatchObject({ code: "mfa_enforced", status: 403 });
    expect(refused.calls.map((x) => x.path)).not.toContain("/api/v1/sessions/refresh");
    expect(c.state.status).toBe("authenticated");

    const ended = fakeServer({
      "POST /api/v1/sessions": { body: session(["pwd", "hwk"]) },
      [`DELETE /api/v1/me/mfa/passkeys/${passkey.id}`]: { status: 204 },
      "POST /api/v1/sessions/refresh": problem(401, "unauthorized"),
    });
    const d = client(ended.fetch);
    await d.signIn("a@example.com", "x".repeat(12));
    await d.deletePasskey(passkey.id, "pw");
    expect(d.state).toEqual({ status: "signed_out", reason: "session_ended" });
    c.dispose(); d.dispose();
  });

  it("a passkey that turned MFA on under phishing_resistant comes without a recovery token", async () => {
    const server = fakeServer({
      "POST /api/v1/sessions": { body: session(["pwd"]) },
      "POST /api/v1/me/mfa/passkeys": { status: 201, body: { ...passkey, session: session(["pwd", "hwk"]) } },
    });
    const c = client(server.fetch);
    await c.signIn("a@example.com", "x".repeat(12));
    const r = await c.registerPasskey("Laptop", {} as RegistrationCredentialJSON);
    expect(r).toEqual({ passkey, recoveryToken: null, sessionRenewed: true });
    c.dispose();
  });
});
