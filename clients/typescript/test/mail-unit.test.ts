// The mail-link calls without a server: what each sends, how the answers
// come back (sign-up's 201 or 202, the link errors), and that an accepted
// invitation enters the sign-in state machine like a password.
import { describe, expect, it } from "vitest";
import { LatchkeyClient, LatchkeyError, linkToken } from "../src/index.js";
import { parseMail } from "./mail.js";

type Answer = { status: number; body?: unknown };
interface Call { method: string; url: string; auth: string | null; body: unknown }

/** A fetch that answers each call with the next of `answers` and records what was sent. */
function fakeServer(...answers: Answer[]) {
  const calls: Call[] = [];
  const fetch = async (r: Request) => {
    const text = await r.text();
    calls.push({ method: r.method, url: r.url, auth: r.headers.get("authorization"), body: text ? JSON.parse(text) : null });
    const a = answers.shift() ?? { status: 500 };
    const problem = a.status >= 400;
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), {
      status: a.status,
      headers: { "content-type": problem ? "application/problem+json" : "application/json" },
    });
  };
  return { calls, fetch };
}

function client(fetch: (r: Request) => Promise<Response>) {
  return new LatchkeyClient({ baseUrl: "http://latchkey.test", fetch, channel: null, autoRefresh: false });
}

function problem(status: number, code: string) {
  return { status, body: { type: `https://latchkey.dev/problems/${code}`, title: code, status, detail: `${code} detail`, code } };
}

/** An unsigned JWT with the claims the client reads. */
function jwt(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b64({ alg: "none" })}.${b64({ sub: "u1", sid: "s1", acc: "a1", role: "editor", amr: ["pwd"], aal: "aal1", exp: 2e9, ...claims })}.x`;
}

const ACCOUNT = { id: "a1", name: "Acme", require_mfa: false, created_at: "2026-12-04T00:00:00Z" };
const USER = {
  id: "u1", email: "ed@example.com", display_name: "Ed", role: "editor", sub_account_id: null, disabled: false,
  mfa_enabled: false, mfa_required: false, last_login_at: null, created_at: "2026-12-04T00:00:00Z",
};
const AUTHENTICATED = {
  status: "authenticated", access_token: jwt({}), token_type: "Bearer", expires_in: 900, refresh_token: "r1", session_id: "s1", user: USER,
};
const INVITATION = {
  id: "0b6c4a56-0000-4000-8000-000000000001", email: "ed@example.com", display_name: "Ed", role: "editor", sub_account_id: null,
  status: "pending", created_at: "2026-12-04T00:00:00Z", expires_at: "2026-12-11T00:00:00Z", invited_by: "u0",
};

async function caught(p: Promise<unknown>): Promise<LatchkeyError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(LatchkeyError);
    return e as LatchkeyError;
  }
  throw new Error("expected a LatchkeyError");
}

describe("sign-up: created or verification sent", () => {
  const body = { account_name: "Acme", email: "ann@example.com", password: "x".repeat(12) };

  it("201 is created, with the account and its administrator", async () => {
    const server = fakeServer({ status: 201, body: { account: ACCOUNT, user: USER } });
    const r = await client(server.fetch).signUp(body);
    expect(r).toEqual({ status: "created", account: ACCOUNT, user: USER });
    if (r.status === "created") expect(r.account.name).toBe("Acme"); // narrows
    expect(server.calls).toEqual([{ method: "POST", url: "http://latchkey.test/api/v1/accounts", auth: null, body }]);
  });

  it("202 is verification_sent, and nothing else", async () => {
    const r = await client(fakeServer({ status: 202, body: { status: "verification_sent" } }).fetch).signUp(body);
    expect(r).toEqual({ status: "verification_sent" });
  });

  it("verifySignup sends the link's token and answers the account and administrator", async () => {
    const server = fakeServer({ status: 201, body: { account: ACCOUNT, user: USER } }, problem(410, "link_expired"), problem(401, "link_invalid"));
    const c = client(server.fetch);
    expect(await c.verifySignup("lkv_abc")).toEqual({ account: ACCOUNT, user: USER });
    expect(server.calls[0]).toMatchObject({ method: "POST", url: "http://latchkey.test/api/v1/accounts/verify", body: { token: "lkv_abc" } });
    expect(await caught(c.verifySignup("lkv_abc"))).toMatchObject({ status: 410, code: "link_expired" });
    expect(await caught(c.verifySignup("nonsense"))).toMatchObject({ status: 401, code: "link_invalid" });
    // Not signed in by any of it.
    expect(c.state.status).toBe("signed_out");
  });
});

describe("forgotten password", () => {
  it("requestPasswordReset posts the email and resolves on 202", async () => {
    const server = fakeServer({ status: 202, body: { status: "accepted" } });
    await expect(client(server.fetch).requestPasswordReset("ann@example.com")).resolves.toBeUndefined();
    expect(server.calls).toEqual([{ method: "POST", url: "http://latchkey.test/api/v1/password-resets", auth: null, body: { email: "ann@example.com" } }]);
  });

  it("confirmPasswordReset posts token and password; the link errors keep their codes; the state does not move", async () => {
    const server = fakeServer({ status: 204 }, problem(410, "link_expired"), problem(401, "link_invalid"));
    const c = client(server.fetch);
    await expect(c.confirmPasswordReset("lkp_1", "new password here")).resolves.toBeUndefined();
    expect(server.calls[0]).toMatchObject({ url: "http://latchkey.test/api/v1/password-resets/confirm", body: { token: "lkp_1", password: "new password here" } });
    const expired = await caught(c.confirmPasswordReset("lkp_1", "new password here"));
    expect(expired).toMatchObject({ status: 410, code: "link_expired" });
    const invalid = await caught(c.confirmPasswordReset("lkp_x", "new password here"));
    expect(invalid).toMatchObject({ status: 401, code: "link_invalid" });
    expect(c.state.status).toBe("signed_out");
  });
});

describe("invitations", () => {
  it("invite, list, resend and revoke call their routes with the session's token", async () => {
    const server = fakeServer(
      { status: 200, body: AUTHENTICATED },
      { status: 201, body: INVITATION },
      { status: 200, body: { items: [INVITATION], page: 2, per_page: 50, total: 51 } },
      { status: 200, body: { items: [], page: 1, per_page: 10, total: 0 } },
      { status: 200, body: { ...INVITATION, expires_at: "2026-12-12T00:00:00Z" } },
      { status: 204 },
      problem(409, "conflict"),
    );
    const c = client(server.fetch);
    await c.signIn("ann@example.com", "x".repeat(12));
    const body = { email: "ed@example.com", display_name: "Ed", role: "editor", sub_account_id: null };
    expect(await c.invite(body)).toEqual(INVITATION);
    expect((await c.listInvitations(2)).total).toBe(51);
    expect((await c.listInvitations({ per_page: 10 })).items).toEqual([]);
    expect((await c.resendInvitation(INVITATION.id)).expires_at).toBe("2026-12-12T00:00:00Z");
    await expect(c.revokeInvitation(INVITATION.id)).resolves.toBeUndefined();
    expect(await caught(c.revokeInvitation(INVITATION.id))).toMatchObject({ status: 409, code: "conflict" });
    const bearer = `Bearer ${AUTHENTICATED.access_token}`;
    expect(server.calls.slice(1).map((x) => [x.method, x.url.replace("http://latchkey.test", ""), x.auth])).toEqual([
      ["POST", "/api/v1/invitations", bearer],
      ["GET", "/api/v1/invitations?page=2", bearer],
      ["GET", "/api/v1/invitations?per_page=10", bearer],
      ["POST", `/api/v1/invitations/${INVITATION.id}/resend`, bearer],
      ["DELETE", `/api/v1/invitations/${INVITATION.id}`, bearer],
      ["DELETE", `/api/v1/invitations/${INVITATION.id}`, bearer],
    ]);
    expect(server.calls[1]!.body).toEqual(body);
    c.dispose();
  });

  it("acceptInvitation signs in like a password: authenticated", async () => {
    const server = fakeServer({ status: 200, body: AUTHENTICATED });
    const c = client(server.fetch);
    const seen: string[] = [];
    c.subscribe((s) => seen.push(s.status));
    const s = await c.acceptInvitation({ token: "lki_1", password: "x".repeat(12), display_name: "Eddie" });
    expect(s.status).toBe("authenticated");
    expect(s.status === "authenticated" && s.sessionId).toBe("s1");
    expect(seen).toEqual(["authenticated"]);
    expect(server.calls[0]).toMatchObject({
      method: "POST", url: "http://latchkey.test/api/v1/invitations/accept", auth: null,
      body: { token: "lki_1", password: "x".repeat(12), display_name: "Eddie" },
    });
    c.dispose();
  });

  it("acceptInvitation of an MFA-required invitee leads into enrollment with the enrollment token", async () => {
    const enrollment = {
      secret: "JBSWY3DPEHPK3PXP", otpauth_uri: "otpauth://totp/x", qr_code_png: "data:image/png;base64,", qr_code_svg: "<svg/>",
      expires_at: "2026-12-04T00:10:00Z",
    };
    const server = fakeServer(
      { status: 200, body: { status: "mfa_enrollment_required", enrollment_token: "enr_1", expires_in: 600 } },
      { status: 201, body: enrollment },
      { status: 200, body: { mfa: { enabled: true }, recovery_token: "REC", session: { ...AUTHENTICATED, access_token: jwt({ amr: ["pwd", "otp"], aal: "aal2" }) } } },
    );
    const c = client(server.fetch);
    const s = await c.acceptInvitation({ token: "lki_1", password: "x".repeat(12) });
    expect(s.status).toBe("mfa_enrollment_required");
    expect((await c.startEnrollment()).secret).toBe(enrollment.secret);
    const done = await c.verifyEnrollment("123456");
    expect(done).toMatchObject({ recoveryToken: "REC", sessionRenewed: true });
    expect(c.state.status === "authenticated" && c.state.claims.aal).toBe("aal2");
    expect(server.calls.map((x) => x.auth)).toEqual([null, "Bearer enr_1", "Bearer enr_1"]);
    c.dispose();
  });

  it("acceptInvitation's link errors leave the state as it was", async () => {
    const c = client(fakeServer(problem(410, "link_expired"), problem(401, "link_invalid"), problem(409, "conflict")).fetch);
    expect(await caught(c.acceptInvitation({ token: "old", password: "x".repeat(12) }))).toMatchObject({ code: "link_expired", status: 410 });
    expect(await caught(c.acceptInvitation({ token: "bad", password: "x".repeat(12) }))).toMatchObject({ code: "link_invalid", status: 401 });
    expect(await caught(c.acceptInvitation({ token: "lki", password: "x".repeat(12) }))).toMatchObject({ code: "conflict", status: 409 });
    expect(c.state.status).toBe("signed_out");
    c.dispose();
  });
});

describe("linkToken", () => {
  it("reads #token= from a fragment or a whole URL", () => {
    expect(linkToken("#token=lkp_abc-DEF_1")).toBe("lkp_abc-DEF_1");
    expect(linkToken("https://app.test/reset-password#token=lki_x")).toBe("lki_x");
    expect(linkToken("token=lkv_y")).toBe("lkv_y");
    expect(linkToken("")).toBeNull();
    expect(linkToken("#")).toBeNull();
    expect(linkToken("#token=")).toBeNull();
    expect(linkToken("https://app.test/reset-password?token=nope")).toBeNull();
  });
});

describe("the test's .eml reader", () => {
  const eml = (parts: string) => [
    "From: Latchkey <no-reply@localhost>",
    "To: Zoë <zoe@example.com>",
    "Subject: =?utf-8?b?UmVzZXQgeW91ciBwYXNzd29yZCBmb3IgWm/Dqw==?=",
    "MIME-Version: 1.0",
    "Content-Type: multipart/alternative;",
    ' boundary="BOUND"',
    "",
    parts,
  ].join("\r\n");

  it("decodes quoted-printable and base64 parts and RFC 2047 subjects", () => {
    const text = "Hello Zoë,\r\n\r\nhttp://app.test/reset-password#token=lkp_0123456789abcdefghijklmnopqrstuvwxyz_-AB\r\n";
    const qp = "Hello Zo=C3=AB,\r\n\r\nhttp://app.test/reset-password#token=3Dlkp_0123456789abcdef=\r\nghijklmnopqrstuvwxyz_-AB\r\n";
    const raw = eml([
      "--BOUND", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "", qp,
      "--BOUND", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "",
      Buffer.from("<p>Hello Zoë</p>").toString("base64"),
      "--BOUND--", "",
    ].join("\r\n"));
    const m = parseMail(raw);
    expect(m).not.toBeNull();
    expect(m!.subject).toBe("Reset your password for Zoë");
    expect(m!.to).toBe("Zoë <zoe@example.com>");
    expect(m!.text.replace(/\r\n$/, "")).toBe(text.replace(/\r\n$/, ""));
    expect(m!.html).toBe("<p>Hello Zoë</p>");
  });

  it("refuses a file still being written (no closing boundary)", () => {
    expect(parseMail(eml("--BOUND\r\nContent-Type: text/plain\r\n\r\nHel"))).toBeNull();
  });
});
