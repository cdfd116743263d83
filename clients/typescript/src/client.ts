import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";
import { LatchkeyError, isErrorCode, type ClientErrorCode, type ErrorCode } from "./errors.js";
import { memoryStorage, webStorage, type TokenStorage } from "./storage.js";
import { defaultLock, type RefreshLock } from "./lock.js";
import { defaultChannel, type TabChannel, type TabMessage } from "./channel.js";
import type {
  AuthenticationCredentialJSON, PasskeyCreationOptions, PasskeyRequestOptions, RegistrationCredentialJSON, RequestOptionsJSON,
} from "./webauthn.js";

export type Schemas = components["schemas"];
export type User = Schemas["UserResponse"];
export type Me = Schemas["MeResponse"];
export type MfaStatus = Schemas["MfaStatus"];
export type Enrollment = Schemas["EnrollmentResponse"];
export type Authenticated = Schemas["AuthenticatedResponse"];
export type SignupRequest = Schemas["SignupRequest"];
export type SignupResponse = Schemas["SignupResponse"];
/**
 * What `signUp` resolves with: `created` (open sign-up: 201, the account and
 * its administrator exist now) or `verification_sent` (`LATCHKEY_SIGNUP=verify`:
 * 202 whatever the email; the account is created by the mailed link, see
 * `verifySignup`).
 */
export type SignupResult =
  | ({ status: "created" } & SignupResponse)
  | { status: "verification_sent" };
/** An invitation as the account's administrators see it (never its link). */
export type Invitation = Schemas["InvitationResponse"];
export type InvitationStatus = Schemas["InvitationStatusDto"];
export type CreateInvitation = Schemas["CreateInvitationRequest"];
export type AcceptInvitation = Schemas["AcceptInvitationRequest"];
type LoginResponse = Schemas["LoginResponse"];
type JsonOf<T> = T extends { content: { "application/json": infer J } } ? J : never;
/** A list answer: `{items, page, per_page, total}`. */
export interface Page<T> { items: T[]; page: number; per_page: number; total: number }
/** An identity provider as an administrator sees it (no secret). */
export type IdentityProvider = JsonOf<paths["/api/v1/identity-providers/{id}"]["get"]["responses"][200]>;
export type CreateIdentityProvider = JsonOf<NonNullable<paths["/api/v1/identity-providers"]["post"]["requestBody"]>>;
export type UpdateIdentityProvider = JsonOf<NonNullable<paths["/api/v1/identity-providers/{id}"]["patch"]["requestBody"]>>;
/** A passkey as its owner sees it (`GET /api/v1/me/mfa/factors`). */
export type Passkey = Schemas["PasskeyResponse"];
/** A user's second factors: the TOTP secret (when it was activated) and the passkeys. */
export type Factors = Schemas["FactorsResponse"];
/** Which second factors count for a user, an account or a sub-account: `any` or `phishing_resistant` (passkeys only). */
export type MfaMethods = Schemas["MfaMethods"];
/** What `registerPasskey` resolves with. */
export interface RegisteredPasskey {
  passkey: Passkey;
  /**
   * Set when this passkey turned MFA on: the first recovery token, shown
   * once. `null` otherwise, and always where only passkeys count (`mfa.methods`
   * of `/me` is `phishing_resistant`): no recovery token is issued there.
   */
  recoveryToken: string | null;
  /** The client switched to fresh tokens (MFA turned on, or a forced enrollment signed in). */
  sessionRenewed: boolean;
}
/**
 * Where passkeys work (`GET /api/v1/passkeys/relying-party`): the relying
 * party `id` (a domain), its `name`, and the `origins` whose pages may create
 * and use passkeys. See `passkeyAvailability`.
 */
export type RelyingParty = Schemas["RelyingPartyResponse"];
/** The passwordless options: request options and the ceremony to send back with the assertion. */
export interface PasswordlessOptions extends PasskeyRequestOptions { ceremony_id: string }
/** A provider offered on an account's sign-in page. */
export type SsoProvider = JsonOf<paths["/api/v1/sso/providers"]["get"]["responses"][200]>["items"][number];

/** A sign-in started at an identity provider, kept until its callback. */
interface PendingSso {
  state: string;
  providerId: string;
  redirectUri: string;
  createdAt: number;
}
/** Latchkey's SSO flow lives 10 minutes; a state kept longer is refused. */
const SSO_STATE_TTL_MS = 15 * 60 * 1000;

/** Claims of the access token that a UI may use (not verified here: the server does). */
export interface AccessClaims {
  sub: string;
  sid: string;
  acc: string;
  sacc?: string | null;
  role: string;
  amr: string[];
  aal: "aal1" | "aal2" | string;
  exp: number;
}

/** Where the sign-in stands. */
export type AuthState =
  | { status: "signed_out"; reason?: "signed_out" | "session_ended" }
  /**
   * The second step. `methods`: `totp`, `recovery_token` (while one is
   * unused), `passkey`; where only passkeys count, `passkey` alone.
   * `passkeyOptions`: request options for `getPasskey` while a passkey can
   * be used on this challenge, else `null`.
   */
  | { status: "mfa_required"; methods: string[]; passkeyOptions: PasskeyRequestOptions | null; expiresAt: number }
  | { status: "mfa_enrollment_required"; expiresAt: number }
  /** A single sign-on reached an existing user with a password: `linkIdentity(password)` proves it once. */
  | { status: "link_required"; email: string; expiresAt: number }
  | { status: "authenticated"; user: User; sessionId: string; claims: AccessClaims };

export interface LatchkeyClientOptions {
  /** Origin of the API, e.g. `https://auth.example.com` (no trailing `/api/v1`). */
  baseUrl: string;
  /** Where the refresh token is kept; default in memory. */
  storage?: TokenStorage;
  /** Single-flight lock for refreshes; default Web Locks, else a localStorage lease, else in-process. */
  lock?: RefreshLock;
  /** Channel to the other tabs; default BroadcastChannel. `null` for none. */
  channel?: TabChannel | null;
  /** Refresh this many seconds before the access token expires (default 60). */
  refreshMarginSeconds?: number;
  /** Refresh on a timer ahead of expiry (default true). */
  autoRefresh?: boolean;
  /**
   * Where `beginSso` keeps the CSRF `state` until `completeSso`; default
   * this tab's `sessionStorage` (key `latchkey.sso`), else in memory.
   */
  ssoStateStorage?: TokenStorage;
  fetch?: (input: Request) => Promise<Response>;
  now?: () => number;
}

interface Stored {
  refreshToken: string;
  sessionId: string;
}

interface Access {
  token: string;
  expiresAt: number;
  sessionId: string;
}

type Listener = (state: AuthState) => void;

/**
 * The Latchkey client: `api` is a typed openapi-fetch client that signs its
 * calls with a fresh access token; the methods are the flows the types cannot
 * tell: sign-in (three outcomes), the second step, enrollment (also with the
 * enrollment token of a forced enrollment), refresh and sign-out.
 */
export class LatchkeyClient {
  /** Typed calls to every route; adds `Authorization` and refreshes as needed. */
  readonly api: Client<paths>;
  private readonly anon: Client<paths>;
  private readonly storage: TokenStorage;
  private readonly lock: RefreshLock;
  private readonly channel: TabChannel | null;
  private readonly unsubscribeChannel: () => void;
  private readonly marginMs: number;
  private readonly autoRefresh: boolean;
  private readonly fetchImpl: (input: Request) => Promise<Response>;
  private readonly now: () => number;
  private readonly lockName: string;
  private readonly baseUrl: string;
  private readonly ssoState: TokenStorage;

  private current: AuthState = { status: "signed_out" };
  private access: Access | null = null;
  private mfaToken: string | null = null;
  private enrollmentToken: string | null = null;
  private linkToken: string | null = null;
  private relyingPartyCall: Promise<RelyingParty> | null = null;
  private inflight: Promise<void> | null = null;
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(options: LatchkeyClientOptions) {
    const baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.storage = options.storage ?? memoryStorage();
    this.lock = options.lock ?? defaultLock();
    this.channel = options.channel === undefined ? defaultChannel() : options.channel;
    this.marginMs = (options.refreshMarginSeconds ?? 60) * 1000;
    this.autoRefresh = options.autoRefresh ?? true;
    const f = options.fetch ?? ((r: Request) => globalThis.fetch(r));
    this.fetchImpl = async (r) => {
      try {
        return await f(r);
      } catch (e) {
        throw LatchkeyError.network(e);
      }
    };
    this.now = options.now ?? (() => Date.now());
    this.lockName = `latchkey-refresh ${baseUrl}`;
    this.baseUrl = baseUrl;
    this.ssoState = options.ssoStateStorage
      ?? (typeof sessionStorage === "undefined" ? memoryStorage() : webStorage(sessionStorage, "latchkey.sso"));
    this.anon = createClient<paths>({ baseUrl, fetch: this.fetchImpl });
    this.api = createClient<paths>({ baseUrl, fetch: (r) => this.authorizedFetch(r) });
    this.unsubscribeChannel = this.channel?.subscribe((m) => this.onTabMessage(m)) ?? (() => {});
  }

  /** The current sign-in state. */
  get state(): AuthState {
    return this.current;
  }

  /** Calls `listener` on every state change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Picks up a session kept in storage (after a reload). Resolves with the resulting state. */
  async restore(): Promise<AuthState> {
    if (this.current.status === "authenticated") return this.current;
    const stored = await this.readStored();
    if (!stored) return this.current;
    try {
      await this.refresh();
    } catch (e) {
      if (!(e instanceof LatchkeyError) || e.status !== 0) return this.current;
      throw e;
    }
    return this.current;
  }

  /**
   * Creates an account with its first administrator. Does not sign in.
   * Resolves with `{status: "created", account, user}`, or, when the server
   * verifies addresses first (`LATCHKEY_SIGNUP=verify`), with
   * `{status: "verification_sent"}` (the same answer whatever the email):
   * the mailed link then goes to `verifySignup`.
   */
  async signUp(body: SignupRequest): Promise<SignupResult> {
    const { data, error, response } = await this.anon.POST("/api/v1/accounts", { body });
    if (!response.ok || error !== undefined || !data) throw LatchkeyError.fromResponse(response, error);
    if (response.status === 202 || ("status" in data && data.status === "verification_sent")) return { status: "verification_sent" };
    const created = data as SignupResponse;
    return { status: "created", account: created.account, user: created.user };
  }

  /**
   * Verified sign-up: the token of the mailed link (`/verify-signup#token=...`,
   * see `linkToken`) creates the account and its administrator. Does not
   * sign in. Throws `link_invalid` (no such link), `link_expired` (used or
   * expired) or `conflict` (the email has an account meanwhile).
   */
  verifySignup(token: string): Promise<SignupResponse> {
    return unwrap(this.anon.POST("/api/v1/accounts/verify", { body: { token } }));
  }

  // ---- forgotten password --------------------------------------------------

  /**
   * Asks for a password-reset link for `email`. Resolves the same way
   * whether or not the address has an account (so should the UI); the
   * server sends at most 3 mails an hour per address.
   */
  async requestPasswordReset(email: string): Promise<void> {
    await unwrap(this.anon.POST("/api/v1/password-resets", { body: { email } }));
  }

  /**
   * Sets a new password with the token of the mailed link
   * (`/reset-password#token=...`). Every session of that user ends; MFA
   * stays on, so the next sign-in still asks for the code. Does not sign in.
   * Throws `link_invalid`, `link_expired` (used or expired) or
   * `validation_failed` (on `password`).
   */
  async confirmPasswordReset(token: string, password: string): Promise<void> {
    await unwrap(this.anon.POST("/api/v1/password-resets/confirm", { body: { token, password } }));
  }

  // ---- invitations -----------------------------------------------------------

  /** The account's invitations, newest first, any status (permission `users.manage`). */
  listInvitations(page?: number | { page?: number; per_page?: number }): Promise<Page<Invitation>> {
    const query = typeof page === "number" ? { page } : page ?? {};
    return unwrap(this.api.GET("/api/v1/invitations", { params: { query } }));
  }

  /**
   * Invites someone by email (`users.manage`; the role rules of creating a
   * user). The answer is the same whether or not the address has an account
   * elsewhere; the link goes by mail.
   */
  invite(body: CreateInvitation): Promise<Invitation> {
    return unwrap(this.api.POST("/api/v1/invitations", { body }));
  }

  /** Mails a new link (7 days from now); the previous link stops working. `conflict` once accepted or revoked. */
  resendInvitation(id: string): Promise<Invitation> {
    return unwrap(this.api.POST("/api/v1/invitations/{id}/resend", { params: { path: { id } } }));
  }

  /** Revokes an open invitation: its link stops working. `conflict` once accepted or revoked. */
  async revokeInvitation(id: string): Promise<void> {
    await unwrap(this.api.DELETE("/api/v1/invitations/{id}", { params: { path: { id } } }));
  }

  /**
   * Accepts an invitation with the token of the mailed link
   * (`/accept-invitation#token=...`) and the invitee's new password: the
   * user is created and signed in as the account's policy says, with the
   * same outcomes as `signIn` (`authenticated`, or `mfa_enrollment_required`
   * for an MFA-required invitee: then `startEnrollment`/`verifyEnrollment`).
   * Throws `link_invalid`, `link_expired` (used, replaced by a resend,
   * revoked or expired) or `conflict` (the email has an account meanwhile).
   */
  async acceptInvitation(body: AcceptInvitation): Promise<AuthState> {
    return this.enter(await unwrap(this.anon.POST("/api/v1/invitations/accept", { body })));
  }

  /**
   * Password step. Resolves with `authenticated`, `mfa_required` (then call
   * `submitMfaCode`) or `mfa_enrollment_required` (then `startEnrollment` and
   * `verifyEnrollment`, which use the enrollment token).
   */
  async signIn(email: string, password: string): Promise<AuthState> {
    return this.enter(await unwrap(this.anon.POST("/api/v1/sessions", { body: { email, password } })));
  }

  // ---- single sign-on ----------------------------------------------------

  /** The identity providers an account offers on its sign-in page (public: no session needed). */
  async ssoProviders(accountId: string): Promise<SsoProvider[]> {
    const res = await unwrap(this.anon.GET("/api/v1/sso/providers", { params: { query: { account_id: accountId } } }));
    return res.items;
  }

  /**
   * Starts a sign-in at an identity provider: makes a random `state`, keeps
   * it in `ssoStateStorage` (this tab's sessionStorage by default) and
   * resolves with the URL of `GET /api/v1/sso/{id}/authorize` to send the
   * browser to. `redirectUri` (your callback page) must be one of the
   * provider's `allowed_redirect_uris`; Latchkey comes back to it with
   * `?login_code=` or `?error=`, and the same `state`: hand those to
   * `completeSso`.
   */
  async beginSso(providerId: string, redirectUri: string): Promise<string> {
    const pending: PendingSso = { state: randomState(), providerId, redirectUri, createdAt: this.now() };
    await this.ssoState.set(JSON.stringify(pending));
    const q = new URLSearchParams({ redirect_uri: redirectUri, state: pending.state });
    return `${this.baseUrl}/api/v1/sso/${encodeURIComponent(providerId)}/authorize?${q}`;
  }

  /**
   * Finishes a sign-in started with `beginSso`, from the query of the
   * callback page (`location.search` or its `URLSearchParams`). Refuses
   * (`sso_state_mismatch`, without calling the server) a callback whose
   * `state` is not the one this tab made: someone else's login code must
   * not sign this browser in. The kept state is spent either way. An
   * `?error=` from Latchkey is thrown as a `LatchkeyError` with that code
   * (`access_denied`, `identity_provider_unavailable`, `invalid_id_token`,
   * `email_not_verified`, `user_not_found`, `user_disabled`, `flow_expired`).
   * Otherwise the login code is exchanged (`signInWithLoginCode`).
   */
  async completeSso(query: string | URLSearchParams): Promise<AuthState> {
    const params = typeof query === "string" ? new URLSearchParams(query) : query;
    const raw = await this.ssoState.get();
    await this.ssoState.remove();
    let pending: Partial<PendingSso> | null = null;
    try {
      pending = raw ? (JSON.parse(raw) as Partial<PendingSso>) : null;
    } catch {
      pending = null;
    }
    const state = params.get("state");
    if (!pending || typeof pending.state !== "string" || !state || state !== pending.state) {
      throw ssoError("sso_state_mismatch", "This sign-in was not started in this browser tab. Start again from the sign-in page.");
    }
    if (typeof pending.createdAt !== "number" || this.now() - pending.createdAt > SSO_STATE_TTL_MS) {
      throw ssoError("flow_expired", "This sign-in took too long. Start again.");
    }
    const error = params.get("error");
    if (error) throw ssoError(error, params.get("error_description") ?? `The single sign-on failed: ${error}.`);
    const code = params.get("login_code");
    if (!code) throw ssoError("bad_request", "The callback carries neither a login code nor an error.");
    return this.signInWithLoginCode(code);
  }

  /**
   * Exchanges a single-use SSO login code (`POST /api/v1/sessions/sso`):
   * the same three outcomes as `signIn`, so `submitMfaCode` and the
   * enrollment calls follow as after a password. A used or expired code
   * throws `invalid_credentials`. Prefer `completeSso`, which checks `state`.
   */
  async signInWithLoginCode(loginCode: string): Promise<AuthState> {
    const res = await unwrap(this.anon.POST("/api/v1/sessions/sso", { body: { login_code: loginCode } }));
    if (res.status === "link_required") {
      await this.dropLocal();
      this.mfaToken = null;
      this.enrollmentToken = null;
      this.linkToken = res.link_token;
      this.setState({ status: "link_required", email: res.email, expiresAt: this.now() + res.expires_in * 1000 });
      return this.current;
    }
    return this.enter(res);
  }

  /**
   * After `link_required`: the user's Latchkey password, proven once
   * (`POST /api/v1/sessions/sso/link`), links the identity provider's
   * account to them; then the same outcomes as `signIn`. A wrong password
   * throws `invalid_credentials` (it counts toward the login lockout) and
   * the state stays `link_required`.
   */
  async linkIdentity(password: string): Promise<AuthState> {
    if (this.current.status !== "link_required" || !this.linkToken) {
      throw new LatchkeyError({ status: 0, code: "no_link", detail: "Sign in with your identity provider first." });
    }
    const res = await unwrap(this.anon.POST("/api/v1/sessions/sso/link", { body: { link_token: this.linkToken, password } }));
    this.linkToken = null;
    return this.enter(res);
  }

  // ---- identity providers (administration, permission sso.manage) -------

  /** The account's identity providers, one page. */
  listIdentityProviders(query: { page?: number; per_page?: number } = {}): Promise<Page<IdentityProvider>> {
    return unwrap(this.api.GET("/api/v1/identity-providers", { params: { query } }));
  }

  getIdentityProvider(id: string): Promise<IdentityProvider> {
    return unwrap(this.api.GET("/api/v1/identity-providers/{id}", { params: { path: { id } } }));
  }

  /** Connects a provider; the answer's `callback_url` is what to register at the provider. */
  createIdentityProvider(body: CreateIdentityProvider): Promise<IdentityProvider> {
    return unwrap(this.api.POST("/api/v1/identity-providers", { body }));
  }

  /** Changes any subset of the fields; leave `client_secret` out to keep it. */
  updateIdentityProvider(id: string, body: UpdateIdentityProvider): Promise<IdentityProvider> {
    return unwrap(this.api.PATCH("/api/v1/identity-providers/{id}", { params: { path: { id } }, body }));
  }

  async deleteIdentityProvider(id: string): Promise<void> {
    await unwrap(this.api.DELETE("/api/v1/identity-providers/{id}", { params: { path: { id } } }));
  }

  /**
   * Second step: the 6-digit code or the recovery token. A wrong code throws
   * `mfa_code_invalid` with `attemptsRemaining`; a dead challenge throws
   * `challenge_expired` (and the state returns to `signed_out`).
   */
  async submitMfaCode(code: string): Promise<{ state: AuthState; recoveryTokenUsed: boolean }> {
    if (this.current.status !== "mfa_required" || !this.mfaToken) {
      throw new LatchkeyError({ status: 0, code: "no_challenge", detail: "Sign in with your password first." });
    }
    try {
      const res = await unwrap(this.anon.POST("/api/v1/sessions/mfa", { body: { mfa_token: this.mfaToken, code } }));
      this.mfaToken = null;
      await this.adopt(res);
      return { state: this.current, recoveryTokenUsed: res.recovery_token_used === true };
    } catch (e) {
      if (e instanceof LatchkeyError && (e.code === "challenge_expired" || (e.code === "mfa_code_invalid" && e.attemptsRemaining === 0))) {
        this.mfaToken = null;
        this.setState({ status: "signed_out" });
      }
      throw e;
    }
  }

  /**
   * Second step with a passkey: the assertion of `getPasskey(state.passkeyOptions)`.
   * A refused assertion throws `mfa_code_invalid` (with `attemptsRemaining`);
   * the server spends the challenge's passkey ceremony with it, so the state
   * stays `mfa_required` without `passkey` (a code may still follow), or
   * returns to `signed_out` when nothing else is left. Under a policy that
   * counts only passkeys, this is the only way through.
   */
  async submitMfaPasskey(assertion: AuthenticationCredentialJSON): Promise<{ state: AuthState }> {
    const current = this.current;
    if (current.status !== "mfa_required" || !this.mfaToken) {
      throw new LatchkeyError({ status: 0, code: "no_challenge", detail: "Sign in with your password first." });
    }
    try {
      const res = await unwrap(this.anon.POST("/api/v1/sessions/mfa", {
        body: { mfa_token: this.mfaToken, passkey: assertion as unknown as Record<string, never> },
      }));
      this.mfaToken = null;
      await this.adopt(res);
      return { state: this.current };
    } catch (e) {
      if (e instanceof LatchkeyError && (e.code === "challenge_expired" || (e.code === "mfa_code_invalid" && e.attemptsRemaining === 0))) {
        this.mfaToken = null;
        this.setState({ status: "signed_out" });
      } else if (e instanceof LatchkeyError && e.code === "mfa_code_invalid" && this.current === current) {
        // The challenge's passkey ceremony is spent: a second assertion would be refused.
        const methods = current.methods.filter((m) => m !== "passkey");
        if (methods.length === 0) {
          this.mfaToken = null;
          this.setState({ status: "signed_out" });
        } else {
          this.setState({ ...current, methods, passkeyOptions: null });
        }
      }
      throw e;
    }
  }

  /** Leaves a pending second step, forced enrollment or link without signing in. */
  cancelSignIn(): void {
    const status = this.current.status;
    if (status === "mfa_required" || status === "mfa_enrollment_required" || status === "link_required") {
      this.mfaToken = null;
      this.enrollmentToken = null;
      this.linkToken = null;
      this.setState({ status: "signed_out" });
    }
  }

  /**
   * Starts TOTP enrollment: a secret, its otpauth URI and QR codes. Works in a
   * session or with the enrollment token of `mfa_enrollment_required`. When
   * MFA is already on, the password is needed (and an aal2 session).
   */
  async startEnrollment(password?: string): Promise<Enrollment> {
    const body = password === undefined ? {} : { password };
    return unwrap(this.api.POST("/api/v1/me/mfa/totp", { body }));
  }

  /**
   * Confirms the pending enrollment with a code. Switches to the tokens the
   * server returns (the same session, now aal2, or a new session after a
   * forced enrollment). Resolves with the one-time recovery token.
   */
  async verifyEnrollment(code: string): Promise<{ mfa: MfaStatus; recoveryToken: string; sessionRenewed: boolean }> {
    const verify = async (headers?: { authorization: string }) => {
      const res = await unwrap(this.api.POST("/api/v1/me/mfa/totp/verify", { body: { code }, ...(headers ? { headers } : {}) }));
      if (res.session) {
        this.enrollmentToken = null;
        await this.adopt(res.session);
      }
      return { mfa: res.mfa, recoveryToken: res.recovery_token, sessionRenewed: !!res.session };
    };
    if (this.current.status !== "authenticated") return verify();
    // Verifying hands this session new tokens: no refresh (here or in another
    // tab) may run meanwhile with the refresh token it replaces.
    const token = await this.accessToken();
    return this.lock.run(this.lockName, () => verify({ authorization: `Bearer ${token}` }));
  }

  // ---- passkeys -------------------------------------------------------------

  /**
   * Creation options for a new passkey (`POST /api/v1/me/mfa/passkeys/options`),
   * for `createPasskey`. In a session, or with the enrollment token of a
   * forced enrollment. Once MFA is on: the password, and an aal2 session
   * (else `reauthentication_required` / `mfa_required_for_action`). The
   * ceremony lives 5 minutes.
   */
  async passkeyOptions(password?: string): Promise<PasskeyCreationOptions> {
    const body = password === undefined ? {} : { password };
    const res = await unwrap(this.api.POST("/api/v1/me/mfa/passkeys/options", { body }));
    return res as unknown as PasskeyCreationOptions;
  }

  /**
   * Registers the passkey `createPasskey` made, under `name` ("MacBook
   * Touch ID"). When it turned MFA on, resolves with the first recovery
   * token (show it once; `null` where only passkeys count, which issues none)
   * and switches to the tokens the server returns (this session, now aal2;
   * other sessions ended), as `verifyEnrollment` does; with the enrollment
   * token of a forced enrollment, it signs in.
   */
  async registerPasskey(name: string, credential: RegistrationCredentialJSON): Promise<RegisteredPasskey> {
    const register = async (headers?: { authorization: string }) => {
      const res = await unwrap(this.api.POST("/api/v1/me/mfa/passkeys", {
        body: { name, credential: credential as unknown as Record<string, never> },
        ...(headers ? { headers } : {}),
      }));
      const { recovery_token, session, ...passkey } = res;
      if (session) {
        this.enrollmentToken = null;
        await this.adopt(session);
      }
      return { passkey: passkey as Passkey, recoveryToken: recovery_token ?? null, sessionRenewed: !!session };
    };
    if (this.current.status !== "authenticated") return register();
    // The answer may replace this session's refresh token: no refresh meanwhile.
    const token = await this.accessToken();
    return this.lock.run(this.lockName, () => register({ authorization: `Bearer ${token}` }));
  }

  /** The signed-in user's second factors: `{totp: {activated_at} | null, passkeys: [...]}`. */
  factors(): Promise<Factors> {
    return unwrap(this.api.GET("/api/v1/me/mfa/factors"));
  }

  /** Renames one of the user's passkeys (aal2 once MFA is on). */
  renamePasskey(id: string, name: string): Promise<Passkey> {
    return unwrap(this.api.PATCH("/api/v1/me/mfa/passkeys/{id}", { params: { path: { id } }, body: { name } }));
  }

  /**
   * Deletes one of the user's passkeys: aal2 and the password
   * (`reauthentication_required` otherwise). Every other session of the user
   * ends. Deleting the last factor turns MFA off: this session goes on at
   * `aal1` (a passwordless one as a password session, `amr ["pwd"]`), so the
   * client then refreshes its tokens and `state.claims` say what the session
   * is now. Refused with `mfa_enforced` while MFA is required and no factor
   * that counts would remain (under `phishing_resistant`, a TOTP secret does
   * not count).
   */
  async deletePasskey(id: string, password: string): Promise<void> {
    await unwrap(this.api.DELETE("/api/v1/me/mfa/passkeys/{id}", { params: { path: { id } }, body: { password } }));
    if (this.current.status !== "authenticated") return;
    // The session's factors may have changed (MFA off): new claims. A refresh
    // that fails leaves the state as refresh() sets it (signed out on a 401).
    try {
      await this.refresh();
    } catch (e) {
      if (!(e instanceof LatchkeyError)) throw e;
    }
  }

  /**
   * Where passkeys work (`GET /api/v1/passkeys/relying-party`, public): the
   * relying party id and the origins whose pages may create and use
   * passkeys. Asked once per client: the answer is kept (a failure is not,
   * so a later call asks again). A page whose origin is not among `origins`
   * (say `http://127.0.0.1:8080` while the relying party is `localhost`)
   * cannot use passkeys and should not offer them: `passkeyAvailability(rp)`.
   */
  getRelyingParty(): Promise<RelyingParty> {
    if (!this.relyingPartyCall) {
      const call = unwrap(this.anon.GET("/api/v1/passkeys/relying-party"));
      this.relyingPartyCall = call;
      call.catch(() => {
        if (this.relyingPartyCall === call) this.relyingPartyCall = null;
      });
    }
    return this.relyingPartyCall;
  }

  /**
   * Passwordless sign-in, first half: request options for a discoverable
   * passkey and the `ceremony_id` to send back (5 minutes, single use).
   * Hand them to `getPasskey`, then `signInWithPasskey`.
   */
  async passwordlessOptions(): Promise<PasswordlessOptions> {
    const res = await unwrap(this.anon.POST("/api/v1/sessions/passkey/options"));
    return { ceremony_id: res.ceremony_id, publicKey: res.publicKey as unknown as RequestOptionsJSON };
  }

  /**
   * Passwordless sign-in: the assertion of `getPasskey(passwordlessOptions())`
   * signs its owner in at aal2 (`amr ["hwk","user"]`), no password and no
   * second step. Anything else (an unknown or removed passkey, a spent
   * ceremony, no user verification) throws `invalid_credentials`.
   */
  async signInWithPasskey(ceremonyId: string, credential: AuthenticationCredentialJSON): Promise<AuthState> {
    const res = await unwrap(this.anon.POST("/api/v1/sessions/passkey", {
      body: { ceremony_id: ceremonyId, credential: credential as unknown as Record<string, never> },
    }));
    this.mfaToken = null;
    this.enrollmentToken = null;
    this.linkToken = null;
    await this.adopt(res);
    return this.current;
  }

  /** Ends the session on the server (best effort) and everywhere in this origin. */
  async signOut(): Promise<void> {
    const sessionId = this.access?.sessionId ?? (await this.readStored())?.sessionId ?? null;
    if (this.access && this.access.expiresAt > this.now()) {
      try {
        await this.anon.DELETE("/api/v1/sessions/current", { headers: { authorization: `Bearer ${this.access.token}` } });
      } catch {
        // Offline: the tokens are dropped anyway; the session ends when idle.
      }
    }
    await this.storage.remove();
    this.channel?.post({ type: "signed_out", sessionId });
    this.clearLocal();
    this.setState({ status: "signed_out", reason: "signed_out" });
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string> {
    if (!this.fresh()) await this.refresh();
    if (!this.access) throw unauthorized();
    return this.access.token;
  }

  /**
   * Exchanges the refresh token, single-flight: one refresh per page at a
   * time, and under `lock` across tabs; the refresh token is re-read from
   * storage inside the lock, so a tab never presents one another tab spent.
   */
  refresh(): Promise<void> {
    if (!this.inflight) {
      const seen = this.generation;
      this.inflight = this.lock
        .run(this.lockName, async () => {
          // Another tab refreshed while we waited and told us: nothing to do.
          if (this.generation !== seen && this.fresh()) return;
          const stored = await this.readStored();
          if (!stored) {
            this.clearLocal();
            this.setState({ status: "signed_out", reason: "session_ended" });
            throw unauthorized();
          }
          const { data, error, response } = await this.anon.POST("/api/v1/sessions/refresh", {
            body: { refresh_token: stored.refreshToken },
          });
          if (error !== undefined || !data) {
            const err = LatchkeyError.fromResponse(response, error);
            if (err.status === 401) {
              await this.storage.remove();
              this.clearLocal();
              this.setState({ status: "signed_out", reason: "session_ended" });
            }
            throw err;
          }
          await this.adopt(data);
        })
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }

  /** Stops timers and the tab channel (tests, hot reload). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribeChannel();
    this.channel?.close();
    this.listeners.clear();
  }

  // ---- internals -------------------------------------------------------

  /** The three-way answer of a first step (password, SSO login code, accepted invitation). */
  private async enter(res: LoginResponse): Promise<AuthState> {
    this.mfaToken = null;
    this.enrollmentToken = null;
    this.linkToken = null;
    switch (res.status) {
      case "authenticated":
        await this.adopt(res);
        break;
      case "mfa_required":
        await this.dropLocal();
        this.mfaToken = res.mfa_token;
        this.setState({
          status: "mfa_required",
          methods: res.methods,
          passkeyOptions: (res.passkey_options as unknown as PasskeyRequestOptions | null | undefined) ?? null,
          expiresAt: this.now() + res.expires_in * 1000,
        });
        break;
      case "mfa_enrollment_required":
        await this.dropLocal();
        this.enrollmentToken = res.enrollment_token;
        this.setState({ status: "mfa_enrollment_required", expiresAt: this.now() + res.expires_in * 1000 });
        break;
    }
    return this.current;
  }

  private async authorizedFetch(request: Request): Promise<Response> {
    if (request.headers.has("authorization")) return this.fetchImpl(request);
    const path = new URL(request.url).pathname;
    // The enrollment token opens TOTP enrollment and passkey registration, nothing else.
    if (this.enrollmentToken && this.current.status === "mfa_enrollment_required"
      && (path.startsWith("/api/v1/me/mfa/totp") || path === "/api/v1/me/mfa/passkeys/options" || path === "/api/v1/me/mfa/passkeys")) {
      request.headers.set("authorization", `Bearer ${this.enrollmentToken}`);
      return this.fetchImpl(request);
    }
    if (this.current.status !== "authenticated" && !(await this.readStored())) return this.fetchImpl(request);
    const retry = request.clone();
    const token = await this.accessToken();
    request.headers.set("authorization", `Bearer ${token}`);
    const response = await this.fetchImpl(request);
    if (response.status !== 401 || this.access?.token !== token) return response;
    // The token was refused (clock skew, key rotation): one refresh, one retry.
    try {
      await this.refresh();
    } catch {
      return response;
    }
    retry.headers.set("authorization", `Bearer ${this.access!.token}`);
    return this.fetchImpl(retry);
  }

  private async adopt(res: Authenticated, fromTab = false): Promise<void> {
    const expiresAt = this.now() + res.expires_in * 1000;
    this.access = { token: res.access_token, expiresAt, sessionId: res.session_id };
    this.generation++;
    if (!fromTab) {
      await this.storage.set(JSON.stringify({ refreshToken: res.refresh_token, sessionId: res.session_id } satisfies Stored));
      this.channel?.post({
        type: "tokens",
        sessionId: res.session_id,
        accessToken: res.access_token,
        expiresAt,
        refreshToken: res.refresh_token,
        user: res.user,
      });
    }
    this.mfaToken = null;
    this.enrollmentToken = null;
    this.setState({ status: "authenticated", user: res.user, sessionId: res.session_id, claims: decodeClaims(res.access_token) });
    this.schedule();
  }

  private onTabMessage(m: TabMessage): void {
    if (m.type === "tokens") {
      void (async () => {
        // The sender already stored the refresh token when storage is shared;
        // writing it again keeps a per-tab storage (sessionStorage) in step.
        await this.storage.set(JSON.stringify({ refreshToken: m.refreshToken, sessionId: m.sessionId } satisfies Stored));
        await this.adopt(
          {
            status: "authenticated",
            access_token: m.accessToken,
            token_type: "Bearer",
            expires_in: Math.max(0, Math.floor((m.expiresAt - this.now()) / 1000)),
            refresh_token: m.refreshToken,
            session_id: m.sessionId,
            user: m.user as User,
          },
          true,
        );
      })();
    } else if (m.type === "signed_out") {
      const mine = this.access?.sessionId ?? null;
      if (this.current.status !== "authenticated" || (m.sessionId !== null && mine !== null && m.sessionId !== mine)) return;
      void Promise.resolve(this.storage.remove()).then(() => {
        this.clearLocal();
        this.setState({ status: "signed_out", reason: "signed_out" });
      });
    }
  }

  private fresh(): boolean {
    return !!this.access && this.access.expiresAt - this.now() > this.marginMs;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.autoRefresh || !this.access) return;
    // A little jitter so that tabs do not all wake at the same instant.
    const due = this.access.expiresAt - this.marginMs - this.now() + Math.random() * 5000;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.fresh() || this.current.status !== "authenticated") return this.schedule();
      this.refresh().catch((e: unknown) => {
        // Offline: try again soon while the token may still be valid.
        if (e instanceof LatchkeyError && e.status === 0 && this.access) {
          this.timer = setTimeout(() => this.schedule(), 10_000);
        }
      });
    }, Math.max(0, due));
  }

  private async readStored(): Promise<Stored | null> {
    const raw = await this.storage.get();
    if (!raw) return null;
    try {
      const v = JSON.parse(raw) as Partial<Stored>;
      return typeof v.refreshToken === "string" && typeof v.sessionId === "string"
        ? { refreshToken: v.refreshToken, sessionId: v.sessionId }
        : null;
    } catch {
      return null;
    }
  }

  private async dropLocal(): Promise<void> {
    if (this.access) await this.storage.remove();
    this.clearLocal();
  }

  private clearLocal(): void {
    this.access = null;
    this.mfaToken = null;
    this.enrollmentToken = null;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private setState(state: AuthState): void {
    this.current = state;
    for (const l of [...this.listeners]) l(state);
  }
}

/** Unwraps an openapi-fetch result: the data, or a thrown `LatchkeyError`. */
export async function unwrap<D>(call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined) throw LatchkeyError.fromResponse(response, error);
  return data as D;
}

/**
 * The token of a link Latchkey mails (`<app>/<screen>#token=...`): from the
 * URL's fragment (`location.hash`), a whole URL, or `null` when there is
 * none. The token rides in the fragment so that it never reaches a server's
 * logs; once read, take it out of the address bar (`history.replaceState`).
 */
export function linkToken(hashOrUrl: string): string | null {
  const at = hashOrUrl.indexOf("#");
  const fragment = at >= 0 ? hashOrUrl.slice(at + 1) : hashOrUrl;
  const token = new URLSearchParams(fragment).get("token");
  return token ? token.trim() || null : null;
}

/** Reads the claims of an access token (no signature check: display only). */
export function decodeClaims(jwt: string): AccessClaims {
  const part = jwt.split(".")[1] ?? "";
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as AccessClaims;
}

/** 32 random bytes, base64url: the CSRF `state` of an SSO sign-in. */
function randomState(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An SSO failure delivered in the callback's query (no HTTP status of its own: 400). */
function ssoError(code: string, detail: string): LatchkeyError {
  // What the callback's `error` says, when it is one of Latchkey's codes.
  const known: ErrorCode | ClientErrorCode = isErrorCode(code) || code === "sso_state_mismatch" ? code : "access_denied";
  return new LatchkeyError({ status: 400, code: known, title: "Single sign-on failed", detail });
}

function unauthorized(): LatchkeyError {
  return new LatchkeyError({ status: 401, code: "unauthorized", title: "Unauthorized", detail: "You are signed out. Sign in again." });
}
