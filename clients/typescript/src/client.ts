import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";
import { LatchkeyError, isErrorCode, type ClientErrorCode, type ErrorCode } from "./errors.js";
import { memoryDeviceTokens, memoryStorage, normalizeEmail, webStorage, type DeviceTokenStore, type TokenStorage } from "./storage.js";
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
/** The account (`GET/PATCH /api/v1/account`): its name and MFA policy. */
export type Account = Schemas["AccountResponse"];
export type UpdateAccount = Schemas["UpdateAccountRequest"];
/** A sub-account (a client organization's portal) with its own MFA policy. */
export type SubAccount = Schemas["SubAccountResponse"];
export type CreateSubAccount = Schemas["CreateSubAccountRequest"];
export type UpdateSubAccount = Schemas["UpdateSubAccountRequest"];
/** What `PATCH /api/v1/users/{id}` takes: name, role, disabled, `require_mfa`. */
export type UpdateUser = Schemas["UpdateUserRequest"];
/** A remembered device: where and when it was remembered (never its token). */
export type Device = Schemas["DeviceResponse"];
/** MFA coverage (`GET /api/v1/mfa-coverage`): one row per scope, the account's own users first. */
export type Coverage = Schemas["CoverageResponse"];
export type CoverageRow = Schemas["CoverageRow"];
/** The CSV of `mfaCoverageCsv`: the file and the name the server gives it. */
export interface CoverageCsv { blob: Blob; filename: string }
/**
 * What the current session can prove to step up: `totp` and/or `passkey`;
 * with `passkey`, request options for `getPasskey` (bound to this
 * session, 5 minutes, single use).
 */
export interface StepUpOptions { methods: string[]; passkeyOptions: PasskeyRequestOptions | null }
/** A step-up proof: a TOTP code (never the recovery token), or a passkey assertion. */
export type StepUpProof = { code: string } | { passkey: AuthenticationCredentialJSON };
/** The call that was refused with 403 `step_up_required`. */
export interface StepUpRequest { method: string; url: string }
/**
 * Runs a step-up when a call answers 403 `step_up_required`: typically
 * shows a dialog that asks for a code or the passkey (`stepUpOptions`,
 * then `stepUp`). Resolves `true` once the session stepped up (the call is
 * then retried once, with the fresh tokens), `false` when the person
 * cancelled (the call's 403 reaches its caller: nothing was changed).
 */
export type StepUpHandler = (request: StepUpRequest) => Promise<boolean> | boolean;
/** Options of `signIn`. */
export interface SignInOptions {
  /**
   * A remembered device's token to skip the second step. Default: the one
   * `deviceTokens` holds for this email. `null`: send none.
   */
  deviceToken?: string | null;
}
/** Options of the second step (`submitMfaCode`, `submitMfaPasskey`). */
export interface SecondStepOptions {
  /**
   * "Remember this device" (offer it while `state.rememberDeviceDays > 0`):
   * the answer's device token is kept in `deviceTokens` under the user's
   * email, and the next `signIn` of that email skips the second step.
   * The server issues none for a recovery token.
   */
  rememberDevice?: boolean;
}

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
  /**
   * `rememberDeviceDays`: the account remembers devices this many days;
   * offer "Remember this device" when above 0 (`rememberDevice` on the
   * second step).
   */
  | { status: "mfa_required"; methods: string[]; passkeyOptions: PasskeyRequestOptions | null; rememberDeviceDays: number; expiresAt: number }
  | { status: "mfa_enrollment_required"; expiresAt: number }
  /** A single sign-on reached an existing user with a password: `linkIdentity(password)` proves it once. */
  | { status: "link_required"; email: string; expiresAt: number }
  /**
   * `setupDueAt`: a user whom a rule requires to have MFA, without it yet,
   * before the deadline: until when they may still sign in without it (the
   * answer's `mfa.setup_due_at`; kept across refreshes of the session).
   * `GET /api/v1/me` says the same in `mfa.setup_due_at`.
   */
  | { status: "authenticated"; user: User; sessionId: string; claims: AccessClaims; setupDueAt: string | null };

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
  /**
   * Where "Remember this device" tokens are kept, per email; default in
   * memory. `webDeviceTokens(localStorage)` keeps them across restarts.
   * `null`: none are kept (a token can still be passed to `signIn`).
   */
  deviceTokens?: DeviceTokenStore | null;
  /**
   * Called when a call of `api` answers 403 `step_up_required`; see
   * `StepUpHandler` and `setStepUpHandler`. Without one, the 403 reaches
   * the caller.
   */
  onStepUpRequired?: StepUpHandler;
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
  private readonly deviceTokens: DeviceTokenStore | null;
  private stepUpHandler: StepUpHandler | null;
  private stepUpPrompt: Promise<boolean> | null = null;

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
    this.deviceTokens = options.deviceTokens === undefined ? memoryDeviceTokens() : options.deviceTokens;
    this.stepUpHandler = options.onStepUpRequired ?? null;
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
   *
   * Sends the remembered device token of this email (`deviceTokens`, or
   * `options.deviceToken`): while it is valid the second step is skipped
   * (`authenticated`, `amr ["pwd","dev"]`). A token the server did not take
   * (the answer is `mfa_required` all the same: expired, forgotten, or every
   * device ended by a password or factor change) is dropped from
   * `deviceTokens`.
   */
  async signIn(email: string, password: string, options: SignInOptions = {}): Promise<AuthState> {
    const stored = options.deviceToken === undefined ? await this.deviceToken(email) : null;
    const deviceToken = options.deviceToken === undefined ? stored : options.deviceToken;
    const body = deviceToken ? { email, password, device_token: deviceToken } : { email, password };
    const res = await unwrap(this.anon.POST("/api/v1/sessions", { body }));
    if (stored && res.status === "mfa_required") await this.forgetDeviceToken(email);
    return this.enter(res);
  }

  /** The remembered device token kept for `email` (`deviceTokens`), if any. */
  async deviceToken(email: string): Promise<string | null> {
    if (!this.deviceTokens) return null;
    try {
      return (await this.deviceTokens.get(normalizeEmail(email))) || null;
    } catch {
      return null;
    }
  }

  /** Drops the device token kept for `email`: its next sign-in asks for the second step. */
  async forgetDeviceToken(email: string): Promise<void> {
    await this.deviceTokens?.remove(normalizeEmail(email));
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
   * `rememberDevice` (see `SecondStepOptions`): `deviceRemembered` says
   * whether a device token was issued and kept.
   */
  async submitMfaCode(code: string, options: SecondStepOptions = {}): Promise<{ state: AuthState; recoveryTokenUsed: boolean; deviceRemembered: boolean }> {
    if (this.current.status !== "mfa_required" || !this.mfaToken) {
      throw new LatchkeyError({ status: 0, code: "no_challenge", detail: "Sign in with your password first." });
    }
    try {
      const res = await unwrap(this.anon.POST("/api/v1/sessions/mfa", {
        body: { mfa_token: this.mfaToken, code, ...(options.rememberDevice ? { remember_device: true } : {}) },
      }));
      this.mfaToken = null;
      const deviceRemembered = await this.keepDeviceToken(res);
      await this.adopt(res);
      return { state: this.current, recoveryTokenUsed: res.recovery_token_used === true, deviceRemembered };
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
  async submitMfaPasskey(assertion: AuthenticationCredentialJSON, options: SecondStepOptions = {}): Promise<{ state: AuthState; deviceRemembered: boolean }> {
    const current = this.current;
    if (current.status !== "mfa_required" || !this.mfaToken) {
      throw new LatchkeyError({ status: 0, code: "no_challenge", detail: "Sign in with your password first." });
    }
    try {
      const res = await unwrap(this.anon.POST("/api/v1/sessions/mfa", {
        body: {
          mfa_token: this.mfaToken, passkey: assertion as unknown as Record<string, never>,
          ...(options.rememberDevice ? { remember_device: true } : {}),
        },
      }));
      this.mfaToken = null;
      const deviceRemembered = await this.keepDeviceToken(res);
      await this.adopt(res);
      return { state: this.current, deviceRemembered };
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

  // ---- step-up -------------------------------------------------------------

  /**
   * Sets (or, with `null`, removes) the handler of 403 `step_up_required`
   * answers of `api` calls: see `StepUpHandler`. Returns a function that
   * puts the previous handler back.
   */
  setStepUpHandler(handler: StepUpHandler | null): () => void {
    const previous = this.stepUpHandler;
    this.stepUpHandler = handler;
    return () => {
      if (this.stepUpHandler === handler) this.stepUpHandler = previous;
    };
  }

  /**
   * What this session can prove to step up (`POST /api/v1/sessions/current/step-up/options`):
   * `totp` and/or `passkey`, with request options for `getPasskey`. Throws
   * `mfa_required_for_action` for a user without MFA (nothing to prove).
   */
  async stepUpOptions(): Promise<StepUpOptions> {
    const res = await unwrap(this.api.POST("/api/v1/sessions/current/step-up/options"));
    return {
      methods: res.methods,
      passkeyOptions: (res.passkey_options as unknown as PasskeyRequestOptions | null | undefined) ?? null,
    };
  }

  /**
   * Step-up: proves a factor now (`{code}`, a TOTP code, not the recovery
   * token; or `{passkey}`, the assertion of `getPasskey(options.passkeyOptions)`),
   * so that the changes needing one (others' MFA, roles, identity
   * providers, MFA policies) work for 10 minutes. The client switches to
   * the fresh tokens for the same session (its earlier refresh token stops
   * working). A wrong code or assertion throws `mfa_code_invalid` (counted
   * on the second-factor lockout; the session is untouched); a lock throws
   * `too_many_attempts`; a code where only passkeys count,
   * `phishing_resistant_required`.
   */
  async stepUp(proof: StepUpProof): Promise<AuthState> {
    if (this.current.status !== "authenticated" && !(await this.readStored())) throw unauthorized();
    const body = "code" in proof
      ? { code: proof.code }
      : { passkey: proof.passkey as unknown as Record<string, never> };
    // The answer replaces this session's refresh token: no refresh (here or in another tab) meanwhile.
    const token = await this.accessToken();
    return this.lock.run(this.lockName, async () => {
      const res = await unwrap(this.api.POST("/api/v1/sessions/current/step-up", {
        body, headers: { authorization: `Bearer ${token}` },
      }));
      await this.adopt(res);
      return this.current;
    });
  }

  // ---- remembered devices ------------------------------------------------------

  /** The signed-in user's remembered devices, newest first. */
  listMyDevices(query: { page?: number; per_page?: number } = {}): Promise<Page<Device>> {
    return unwrap(this.api.GET("/api/v1/me/devices", { params: { query } }));
  }

  /** Forgets one of the user's devices: its token no longer skips the second step. */
  async forgetMyDevice(id: string): Promise<void> {
    await unwrap(this.api.DELETE("/api/v1/me/devices/{id}", { params: { path: { id } } }));
  }

  /** Another user's remembered devices (administration). */
  listUserDevices(userId: string, query: { page?: number; per_page?: number } = {}): Promise<Page<Device>> {
    return unwrap(this.api.GET("/api/v1/users/{id}/devices", { params: { path: { id: userId }, query } }));
  }

  /** Forgets another user's device (a change to their MFA: may need a step-up). */
  async forgetUserDevice(userId: string, deviceId: string): Promise<void> {
    await unwrap(this.api.DELETE("/api/v1/users/{id}/devices/{device_id}", {
      params: { path: { id: userId, device_id: deviceId } },
    }));
  }

  // ---- MFA coverage and policies ---------------------------------------------

  /** MFA coverage per scope (`users.view`): users, enrolled, by method, due and overdue. */
  async mfaCoverage(): Promise<Coverage> {
    const res = await unwrap(this.api.GET("/api/v1/mfa-coverage", { headers: { accept: "application/json" } }));
    // The operation also answers CSV (`mfaCoverageCsv`); asked for JSON, it is JSON.
    if (typeof res === "string") throw new LatchkeyError({ status: 0, code: "http_200", detail: "The coverage came back as text, not JSON." });
    return res;
  }

  /**
   * The same rows as CSV (`Accept: text/csv`): the file, and its name from
   * the answer's `Content-Disposition` (else `mfa-coverage.csv`).
   */
  async mfaCoverageCsv(): Promise<CoverageCsv> {
    const { data, error, response } = await this.api.GET("/api/v1/mfa-coverage", {
      headers: { accept: "text/csv" },
      parseAs: "blob",
    });
    if (!response.ok || error !== undefined || !(data instanceof Blob)) throw LatchkeyError.fromResponse(response, error);
    const disposition = response.headers.get("content-disposition") ?? "";
    const filename = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1] ?? "mfa-coverage.csv";
    return { blob: data, filename: decodeURIComponent(filename) };
  }

  /** The signed-in user with their MFA state (`mfa.setup_due_at`, `mfa.required_by`, ...) and permissions. */
  me(): Promise<Me> {
    return unwrap(this.api.GET("/api/v1/me"));
  }

  getAccount(): Promise<Account> {
    return unwrap(this.api.GET("/api/v1/account"));
  }

  /**
   * Changes the account. Any policy field (`require_mfa`, `require_mfa_from`,
   * `mfa_methods`, `remember_device_days`) needs a step-up, even when its
   * value is unchanged: send only what changed.
   */
  updateAccount(body: UpdateAccount): Promise<Account> {
    return unwrap(this.api.PATCH("/api/v1/account", { body }));
  }

  /** A sub-account with a policy other than the default needs a step-up. */
  createSubAccount(body: CreateSubAccount): Promise<SubAccount> {
    return unwrap(this.api.POST("/api/v1/sub-accounts", { body }));
  }

  /** As `updateAccount`: policy fields need a step-up, so send only what changed. */
  updateSubAccount(id: string, body: UpdateSubAccount): Promise<SubAccount> {
    return unwrap(this.api.PATCH("/api/v1/sub-accounts/{id}", { params: { path: { id } }, body }));
  }

  /** Changes a user; `role` and `require_mfa` need a step-up (even unchanged: send only what changed). */
  updateUser(id: string, body: UpdateUser): Promise<User> {
    return unwrap(this.api.PATCH("/api/v1/users/{id}", { params: { path: { id } }, body }));
  }

  /** Requires MFA of one user whatever their scope's policy (at once), or stops requiring it. */
  setUserRequireMfa(id: string, required: boolean): Promise<User> {
    return this.updateUser(id, { require_mfa: required });
  }

  /** Reset MFA of another user: their factors, recovery token, devices and sessions end. */
  async resetUserMfa(id: string): Promise<void> {
    await unwrap(this.api.POST("/api/v1/users/{id}/mfa/reset", { params: { path: { id } } }));
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
          rememberDeviceDays: res.remember_device_days ?? 0,
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
    // Kept unsent: a retry needs the body again.
    const original = request.clone();
    const again = () => {
      const r = original.clone();
      r.headers.set("authorization", `Bearer ${this.access!.token}`);
      return r;
    };
    const token = await this.accessToken();
    request.headers.set("authorization", `Bearer ${token}`);
    let response = await this.fetchImpl(request);
    // The token was refused (clock skew, key rotation): one refresh, one
    // retry. Not for a 401 with another code (a wrong MFA code): a retry
    // would count it twice.
    if (response.status === 401 && this.access?.token === token && (await problemCode(response)) === "unauthorized") {
      try {
        await this.refresh();
      } catch {
        return response;
      }
      if (!this.access) return response;
      response = await this.fetchImpl(again());
    }
    // A change that needs a factor proven within 10 minutes: the app's
    // step-up (a dialog), then this call once more with the fresh tokens.
    if (response.status === 403 && this.stepUpHandler && (await problemCode(response)) === "step_up_required") {
      const steppedUp = await this.promptStepUp({ method: request.method, url: request.url });
      if (steppedUp && this.access) response = await this.fetchImpl(again());
    }
    return response;
  }

  /** One step-up prompt at a time: calls refused together wait for the same one. */
  private promptStepUp(request: StepUpRequest): Promise<boolean> {
    const handler = this.stepUpHandler;
    if (!handler) return Promise.resolve(false);
    if (!this.stepUpPrompt) {
      const prompt = (async () => {
        try {
          return (await handler(request)) === true;
        } catch {
          return false;
        }
      })();
      this.stepUpPrompt = prompt;
      void prompt.finally(() => {
        if (this.stepUpPrompt === prompt) this.stepUpPrompt = null;
      });
    }
    return this.stepUpPrompt;
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
    // An answer without `mfa` (a refresh, another tab) keeps what this session was told.
    const before = this.current;
    const setupDueAt = res.mfa !== undefined
      ? res.mfa?.setup_due_at ?? null
      : before.status === "authenticated" && before.sessionId === res.session_id ? before.setupDueAt : null;
    this.setState({
      status: "authenticated", user: res.user, sessionId: res.session_id, claims: decodeClaims(res.access_token), setupDueAt,
    });
    this.schedule();
  }

  /** Keeps the device token of a second step's answer under the user's email; whether there was one. */
  private async keepDeviceToken(res: Authenticated): Promise<boolean> {
    if (!res.device_token || !this.deviceTokens) return false;
    try {
      await this.deviceTokens.set(normalizeEmail(res.user.email), res.device_token);
      return true;
    } catch {
      return false;
    }
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

/**
 * The problem `code` of an error answer, read from a copy (the answer stays
 * readable); `unauthorized` when it has none (a 401 from a proxy).
 */
async function problemCode(response: Response): Promise<string> {
  try {
    const body: unknown = await response.clone().json();
    const code = typeof body === "object" && body !== null ? (body as { code?: unknown }).code : undefined;
    return typeof code === "string" ? code : "unauthorized";
  } catch {
    return "unauthorized";
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
