// The mail-link calls against a real `latchkey serve`, reading the links from
// the .eml files it writes (no SMTP server configured): forgotten password,
// invitations, verified sign-up (a second server with LATCHKEY_SIGNUP=verify).
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { LatchkeyClient, LatchkeyError, linkToken, unwrap } from "../src/index.js";
import { Authenticator, PASSWORD, disposeClients, newClient, signUpAndIn, uniqueEmail } from "./helpers.js";
import { waitForLink } from "./mail.js";
import { startServer, type RunningServer } from "./server.js";

const dataDir = inject("latchkeyDataDir");
const mailDir = dataDir ? join(dataDir, "mail") : "";
const NEW_PASSWORD = "a brand new passphrase";

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

/** Enrolls the signed-in user in TOTP; returns the authenticator. */
async function enroll(c: LatchkeyClient): Promise<Authenticator> {
  const e = await c.startEnrollment();
  const auth = new Authenticator(e.secret);
  await c.verifyEnrollment(await auth.code());
  return auth;
}

// Needs the mail of a server this run started (not one given by LATCHKEY_URL).
describe.skipIf(!mailDir)("mail links against latchkey serve", () => {
  it("forgotten password: the link sets a new password, ends the sessions, leaves MFA on, and works once", async () => {
    const c = newClient();
    const email = await signUpAndIn(c, "forgot");
    const auth = await enroll(c);

    await newClient().requestPasswordReset(email.toUpperCase());
    // The same answer for an address without an account.
    await newClient().requestPasswordReset(uniqueEmail("nobody"));
    const link = await waitForLink(mailDir, email, "reset-password");
    expect(link.mail.subject).toMatch(/Reset your password/);
    expect(link.mail.text).toMatch(/multi-factor authentication stays on/);
    expect(linkToken(link.url)).toBe(link.token);

    const other = newClient();
    const short = await caught(other.confirmPasswordReset(link.token, "short"));
    expect(short.code).toBe("validation_failed");
    expect(short.fieldError("password")).toBeTruthy();
    await other.confirmPasswordReset(link.token, NEW_PASSWORD);

    // The session from before the reset is over.
    const ended = await caught(unwrap(c.api.GET("/api/v1/me")));
    expect(ended.status).toBe(401);
    expect(c.state.status).toBe("signed_out");
    // The old password is refused; the new one still asks for the code.
    expect((await caught(newClient().signIn(email, PASSWORD))).code).toBe("invalid_credentials");
    const s = await other.signIn(email, NEW_PASSWORD);
    expect(s.status).toBe("mfa_required");
    await other.submitMfaCode(await auth.code());
    expect(other.state.status).toBe("authenticated");

    expect((await caught(newClient().confirmPasswordReset(link.token, "yet another passphrase"))).code).toBe("link_expired");
    expect((await caught(newClient().confirmPasswordReset("lkp_never_issued", "yet another passphrase"))).code).toBe("link_invalid");
  });

  describe("an administrator: invitations, Reset MFA", () => {
    let admin: LatchkeyClient;

    beforeAll(async () => {
      admin = new LatchkeyClient({ baseUrl: inject("latchkeyUrl"), channel: null, autoRefresh: false });
      await signUpAndIn(admin, "inviter");
      await enroll(admin);
    });
    afterAll(() => admin.dispose());

    it("invite, list, accept with a name of one's own: signed in", async () => {
      const email = uniqueEmail("ivy");
      const inv = await admin.invite({ email, display_name: "Ivy", role: "editor" });
      expect(inv).toMatchObject({ email, display_name: "Ivy", role: "editor", status: "pending", sub_account_id: null });
      const listed = await admin.listInvitations();
      expect(listed.items.find((i) => i.id === inv.id)?.status).toBe("pending");
      expect(listed.page).toBe(1);

      const link = await waitForLink(mailDir, email, "accept-invitation");
      const c = newClient();
      const s = await c.acceptInvitation({ token: link.token, password: PASSWORD, display_name: "Ivy Invited" });
      expect(s.status).toBe("authenticated");
      if (s.status !== "authenticated") return;
      expect(s.user).toMatchObject({ email, display_name: "Ivy Invited", role: "editor" });
      expect((await unwrap(c.api.GET("/api/v1/me"))).email).toBe(email);
      expect((await admin.listInvitations({ per_page: 100 })).items.find((i) => i.id === inv.id)?.status).toBe("accepted");
      expect((await caught(newClient().acceptInvitation({ token: link.token, password: PASSWORD }))).code).toBe("link_expired");
      expect((await caught(admin.resendInvitation(inv.id))).code).toBe("conflict");
    });

    it("an MFA-required invitee is led into enrollment", async () => {
      await unwrap(admin.api.PATCH("/api/v1/account", { body: { require_mfa: true } }));
      try {
        const email = uniqueEmail("mo");
        await admin.invite({ email, display_name: "Mo", role: "lite" });
        const link = await waitForLink(mailDir, email, "accept-invitation");
        const c = newClient();
        expect((await c.acceptInvitation({ token: link.token, password: PASSWORD })).status).toBe("mfa_enrollment_required");
        await enroll(c);
        expect(c.state.status === "authenticated" && c.state.claims.aal).toBe("aal2");
        expect((await unwrap(c.api.GET("/api/v1/me"))).mfa).toMatchObject({ enabled: true, required: true });
      } finally {
        await unwrap(admin.api.PATCH("/api/v1/account", { body: { require_mfa: false } }));
      }
    });

    it("revoking kills the link", async () => {
      const email = uniqueEmail("rex");
      const inv = await admin.invite({ email, display_name: "Rex", role: "read_only" });
      const link = await waitForLink(mailDir, email, "accept-invitation");
      await admin.revokeInvitation(inv.id);
      expect((await admin.listInvitations({ per_page: 100 })).items.find((i) => i.id === inv.id)?.status).toBe("revoked");
      expect((await caught(newClient().acceptInvitation({ token: link.token, password: PASSWORD }))).code).toBe("link_expired");
      expect((await caught(admin.revokeInvitation(inv.id))).code).toBe("conflict");
      expect((await caught(newClient().acceptInvitation({ token: "lki_never_issued", password: PASSWORD }))).code).toBe("link_invalid");
    });

    it("resending mails a new link that works", async () => {
      const email = uniqueEmail("rae");
      const inv = await admin.invite({ email, display_name: "Rae", role: "editor" });
      const first = await waitForLink(mailDir, email, "accept-invitation");
      const again = await admin.resendInvitation(inv.id);
      expect(again.status).toBe("pending");
      const second = await waitForLink(mailDir, email, "accept-invitation", { not: [first.token] });
      expect(second.token).not.toBe(first.token);
      expect((await newClient().acceptInvitation({ token: second.token, password: PASSWORD })).status).toBe("authenticated");
    });

    // A link replaced by a resend answers 410 link_expired (the server keeps
    // replaced links apart from links that never were).
    it("a link replaced by a resend answers link_expired", async () => {
      const email = uniqueEmail("ray");
      const inv = await admin.invite({ email, display_name: "Ray", role: "editor" });
      const first = await waitForLink(mailDir, email, "accept-invitation");
      await admin.resendInvitation(inv.id);
      await waitForLink(mailDir, email, "accept-invitation", { not: [first.token] });
      const old = await caught(newClient().acceptInvitation({ token: first.token, password: PASSWORD }));
      expect(old).toMatchObject({ status: 410, code: "link_expired" });
    });

    it("the administrator's Reset MFA shows in /me until the user enrolls again", async () => {
      const c = newClient();
      const email = uniqueEmail("rita");
      const user = await unwrap(admin.api.POST("/api/v1/users", { body: { email, display_name: "Rita", role: "editor", password: PASSWORD } }));
      await c.signIn(email, PASSWORD);
      await enroll(c);
      // Reset MFA needs the administrator's MFA in this session (aal2): enrolling made it so.
      expect(admin.state.status === "authenticated" && admin.state.claims.aal).toBe("aal2");
      const adminName = (await unwrap(admin.api.GET("/api/v1/me"))).display_name;
      await unwrap(admin.api.POST("/api/v1/users/{id}/mfa/reset", { params: { path: { id: user.id } } }));
      const again = newClient();
      expect((await again.signIn(email, PASSWORD)).status).toBe("authenticated");
      const me = await unwrap(again.api.GET("/api/v1/me"));
      expect(me.mfa.enabled).toBe(false);
      expect(me.mfa.reset_by).toBe(adminName);
      expect(Date.now() - Date.parse(me.mfa.reset_at!)).toBeLessThan(60_000);
      await enroll(again);
      const after = await unwrap(again.api.GET("/api/v1/me"));
      expect(after.mfa.reset_at ?? null).toBeNull();
      expect(after.mfa.reset_by ?? null).toBeNull();
    });
  });
});

describe.skipIf(!mailDir)("verified sign-up (LATCHKEY_SIGNUP=verify)", () => {
  let server: RunningServer;
  const made: LatchkeyClient[] = [];
  const client = () => {
    const c = new LatchkeyClient({ baseUrl: server.url, channel: null, autoRefresh: false });
    made.push(c);
    return c;
  };
  beforeAll(async () => {
    server = await startServer({ LATCHKEY_SIGNUP: "verify" });
  });
  afterAll(async () => {
    for (const c of made) c.dispose();
    await server?.stop();
  });

  it("202 whatever the email; the link creates the account once; then sign in", async () => {
    const email = uniqueEmail("vera");
    const body = { account_name: "Vera's", email, password: PASSWORD, display_name: "Vera" };
    expect(await client().signUp(body)).toEqual({ status: "verification_sent" });
    const link = await waitForLink(join(server.dataDir, "mail"), email, "verify-signup");
    expect(link.url.startsWith(`${server.url}/verify-signup#token=`)).toBe(true);
    // Not yet an account.
    expect((await caught(client().signIn(email, PASSWORD))).code).toBe("invalid_credentials");
    const created = await client().verifySignup(link.token);
    expect(created.account.name).toBe("Vera's");
    expect(created.user).toMatchObject({ email, display_name: "Vera", role: "administrator" });
    expect((await caught(client().verifySignup(link.token))).code).toBe("link_expired");
    expect((await caught(client().verifySignup("lkv_never_issued"))).code).toBe("link_invalid");
    // A taken address gets the same answer (and a different mail).
    expect(await client().signUp(body)).toEqual({ status: "verification_sent" });
    expect((await client().signIn(email, PASSWORD)).status).toBe("authenticated");
  });
});
