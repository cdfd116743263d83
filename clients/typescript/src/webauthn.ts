// Passkeys in the browser: Latchkey sends WebAuthn options as JSON with
// base64url binary fields and takes the browser's credential back as JSON
// (the shape of `PublicKeyCredential.toJSON()`). `navigator.credentials`
// wants ArrayBuffers and gives ArrayBuffers; these functions convert both
// ways, using the browser's own converters where it has them and doing it
// by hand where it has not (older browsers, password-manager extensions
// that wrap `navigator.credentials`).
import { LatchkeyError } from "./errors.js";

/** base64url without padding, as WebAuthn's JSON forms use it. */
export type Base64Url = string;

/** One credential named in `excludeCredentials` / `allowCredentials`. */
export interface CredentialDescriptorJSON {
  id: Base64Url;
  type: string;
  transports?: string[];
}

/** `publicKey` of the creation options (`navigator.credentials.create`), as JSON. */
export interface CreationOptionsJSON {
  rp: { id?: string; name: string };
  user: { id: Base64Url; name: string; displayName: string };
  challenge: Base64Url;
  pubKeyCredParams: { type: string; alg: number }[];
  timeout?: number;
  excludeCredentials?: CredentialDescriptorJSON[];
  authenticatorSelection?: {
    authenticatorAttachment?: string;
    residentKey?: string;
    requireResidentKey?: boolean;
    userVerification?: string;
  };
  attestation?: string;
  hints?: string[];
  extensions?: Record<string, unknown>;
}

/** `publicKey` of the request options (`navigator.credentials.get`), as JSON. */
export interface RequestOptionsJSON {
  challenge: Base64Url;
  timeout?: number;
  rpId?: string;
  allowCredentials?: CredentialDescriptorJSON[];
  userVerification?: string;
  hints?: string[];
  extensions?: Record<string, unknown>;
}

/** What `POST /api/v1/me/mfa/passkeys/options` answers. */
export interface PasskeyCreationOptions { publicKey: CreationOptionsJSON }
/** What `mfa_required` carries as `passkey_options` (and, with a `ceremony_id`, the passwordless options). */
export interface PasskeyRequestOptions { publicKey: RequestOptionsJSON }

/** A new passkey (`navigator.credentials.create`) as Latchkey takes it. */
export interface RegistrationCredentialJSON {
  id: Base64Url;
  rawId: Base64Url;
  type: string;
  response: {
    clientDataJSON: Base64Url;
    attestationObject: Base64Url;
    transports?: string[];
    [more: string]: unknown;
  };
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment?: string;
}

/** An assertion (`navigator.credentials.get`) as Latchkey takes it. */
export interface AuthenticationCredentialJSON {
  id: Base64Url;
  rawId: Base64Url;
  type: string;
  response: {
    clientDataJSON: Base64Url;
    authenticatorData: Base64Url;
    signature: Base64Url;
    userHandle?: Base64Url;
    [more: string]: unknown;
  };
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment?: string;
}

// ---- base64url -------------------------------------------------------------

/** Bytes as base64url without padding. */
export function bytesToBase64url(data: ArrayBuffer | ArrayBufferView): Base64Url {
  const bytes = data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url (or base64; padding optional) as an ArrayBuffer. Throws a `TypeError` on anything else. */
export function base64urlToBytes(text: string): ArrayBuffer {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(b64) || b64.length % 4 === 1) throw new TypeError(`not base64url: ${text.slice(0, 20)}`);
  const binary = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "="));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

// ---- options: JSON -> what navigator.credentials wants ----------------------

type WithParse = {
  parseCreationOptionsFromJSON?: (o: unknown) => PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?: (o: unknown) => PublicKeyCredentialRequestOptions;
};

function nativeParser(): WithParse | null {
  const pkc = (globalThis as { PublicKeyCredential?: unknown }).PublicKeyCredential;
  return typeof pkc === "function" || (typeof pkc === "object" && pkc !== null) ? (pkc as WithParse) : null;
}

function descriptors(list: CredentialDescriptorJSON[] | undefined): PublicKeyCredentialDescriptor[] | undefined {
  return list?.map(({ id, type, transports }) => ({
    id: base64urlToBytes(id),
    type: type as PublicKeyCredentialType,
    ...(transports ? { transports: transports as AuthenticatorTransport[] } : {}),
  }));
}

/**
 * Creation options as `navigator.credentials.create({publicKey})` wants them:
 * `challenge`, `user.id` and `excludeCredentials[].id` as ArrayBuffers. The
 * browser's `PublicKeyCredential.parseCreationOptionsFromJSON` when it has
 * one (and it accepts the options), else by hand.
 */
export function creationOptionsFromJSON(json: CreationOptionsJSON): PublicKeyCredentialCreationOptions {
  const parse = nativeParser()?.parseCreationOptionsFromJSON;
  if (typeof parse === "function") {
    try {
      return parse.call(nativeParser(), json);
    } catch {
      // A member this browser's parser refuses: the hand conversion passes it on as it is.
    }
  }
  const { excludeCredentials, ...rest } = json;
  const exclude = descriptors(excludeCredentials);
  return {
    ...(rest as unknown as PublicKeyCredentialCreationOptions),
    challenge: base64urlToBytes(json.challenge),
    user: { ...json.user, id: base64urlToBytes(json.user.id) },
    ...(exclude ? { excludeCredentials: exclude } : {}),
  };
}

/**
 * Request options as `navigator.credentials.get({publicKey})` wants them:
 * `challenge` and `allowCredentials[].id` as ArrayBuffers (native
 * `parseRequestOptionsFromJSON` when present, else by hand).
 */
export function requestOptionsFromJSON(json: RequestOptionsJSON): PublicKeyCredentialRequestOptions {
  const parse = nativeParser()?.parseRequestOptionsFromJSON;
  if (typeof parse === "function") {
    try {
      return parse.call(nativeParser(), json);
    } catch {
      // As above: fall back to the hand conversion.
    }
  }
  const { allowCredentials, ...rest } = json;
  const allow = descriptors(allowCredentials);
  return {
    ...(rest as unknown as PublicKeyCredentialRequestOptions),
    challenge: base64urlToBytes(json.challenge),
    ...(allow ? { allowCredentials: allow } : {}),
  };
}

// ---- credentials: what navigator.credentials gives -> JSON -------------------

/** Extension outputs with their binary members (e.g. `prf` results) as base64url. */
function jsonValue(value: unknown): unknown {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return bytesToBase64url(value as ArrayBuffer | ArrayBufferView);
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonValue(v)]));
  }
  return value;
}

interface CredentialLike {
  id: string;
  rawId: ArrayBuffer;
  type: string;
  authenticatorAttachment?: string | null;
  response: {
    clientDataJSON: ArrayBuffer;
    attestationObject?: ArrayBuffer;
    getTransports?: () => string[];
    authenticatorData?: ArrayBuffer;
    signature?: ArrayBuffer;
    userHandle?: ArrayBuffer | null;
  };
  getClientExtensionResults?: () => unknown;
  toJSON?: () => unknown;
}

/** Whether `json` looks like a credential's JSON (binary members as strings). */
function isCredentialJSON(json: unknown): json is RegistrationCredentialJSON | AuthenticationCredentialJSON {
  if (typeof json !== "object" || json === null) return false;
  const j = json as { id?: unknown; rawId?: unknown; response?: { clientDataJSON?: unknown } };
  return typeof j.id === "string" && typeof j.rawId === "string" && typeof j.response?.clientDataJSON === "string";
}

/**
 * A `PublicKeyCredential` (from `create` or `get`) as the JSON Latchkey
 * takes: `PublicKeyCredential.toJSON()` where the browser has it, else by
 * hand (every binary member base64url without padding).
 */
export function credentialToJSON(credential: PublicKeyCredential): RegistrationCredentialJSON | AuthenticationCredentialJSON {
  const c = credential as unknown as CredentialLike;
  if (typeof c.toJSON === "function") {
    try {
      const json = c.toJSON();
      if (isCredentialJSON(json)) return json;
    } catch {
      // A wrapper (password manager) whose toJSON fails: convert by hand.
    }
  }
  const r = c.response;
  const response: Record<string, unknown> = { clientDataJSON: bytesToBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToBase64url(r.attestationObject);
    const transports = typeof r.getTransports === "function" ? r.getTransports() : undefined;
    if (transports) response.transports = transports;
  } else {
    if (r.authenticatorData) response.authenticatorData = bytesToBase64url(r.authenticatorData);
    if (r.signature) response.signature = bytesToBase64url(r.signature);
    if (r.userHandle) response.userHandle = bytesToBase64url(r.userHandle);
  }
  const extensions = typeof c.getClientExtensionResults === "function" ? c.getClientExtensionResults() : {};
  return {
    id: c.id,
    rawId: bytesToBase64url(c.rawId),
    type: c.type,
    response,
    clientExtensionResults: (jsonValue(extensions ?? {}) ?? {}) as Record<string, unknown>,
    ...(c.authenticatorAttachment ? { authenticatorAttachment: c.authenticatorAttachment } : {}),
  } as RegistrationCredentialJSON | AuthenticationCredentialJSON;
}

// ---- the ceremonies ----------------------------------------------------------

export interface PasskeyPromptOptions {
  /** Cancels the browser's prompt. */
  signal?: AbortSignal;
  /** Where `create`/`get` live; default `navigator.credentials` (tests pass their own). */
  credentials?: Pick<CredentialsContainer, "create" | "get">;
  /** For `getPasskey`: `"conditional"` for passkey autofill on a username field. */
  mediation?: CredentialMediationRequirement;
}

/** Whether this browser can make and use passkeys at all (WebAuthn present). */
export function passkeysSupported(): boolean {
  const nav = (globalThis as { navigator?: { credentials?: { create?: unknown } } }).navigator;
  return nativeParser() !== null && typeof nav?.credentials?.create === "function";
}

/**
 * Whether this page can offer passkeys, from the relying party
 * (`client.getRelyingParty()`):
 * - `available`: its origin is one of `rp.origins` and the browser has WebAuthn;
 * - `elsewhere`: its origin is not one of them (the browser would refuse
 *   every ceremony): offer none, and say that passkeys work at `useAt`
 *   (the first of `rp.origins`);
 * - `unsupported`: the right origin, but this browser has no WebAuthn.
 */
export type PasskeyAvailability =
  | { status: "available" }
  | { status: "elsewhere"; useAt: string; origins: string[] }
  | { status: "unsupported" };

/** An origin as browsers compare them (`https://Auth.Example.com:443/` → `https://auth.example.com`); `null` if none. */
function originOf(text: string): string | null {
  try {
    const origin = new URL(text.trim()).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}

/**
 * Where this page stands with passkeys: see `PasskeyAvailability`. `origin`:
 * the page's, default `location.origin`; `supported`: default
 * `passkeysSupported()`. With no origin at all (no page), `elsewhere`.
 */
export function passkeyAvailability(
  rp: { origins: string[] },
  init: { origin?: string; supported?: boolean } = {},
): PasskeyAvailability {
  const here = originOf(init.origin ?? (globalThis as { location?: { origin?: string } }).location?.origin ?? "");
  const origins = rp.origins.map((o) => originOf(o) ?? o);
  if (here === null || !origins.includes(here)) {
    return { status: "elsewhere", useAt: origins[0] ?? "", origins };
  }
  return (init.supported ?? passkeysSupported()) ? { status: "available" } : { status: "unsupported" };
}

function container(init: PasskeyPromptOptions): Pick<CredentialsContainer, "create" | "get"> {
  const c = init.credentials ?? (globalThis as { navigator?: { credentials?: CredentialsContainer } }).navigator?.credentials;
  if (!c || typeof c.create !== "function" || (!init.credentials && !nativeParser())) {
    throw new LatchkeyError({
      status: 0, code: "passkey_unsupported", title: "Passkeys not supported",
      detail: "This browser cannot use passkeys. Use another browser, or your authenticator application.",
    });
  }
  return c;
}

/**
 * The browser's WebAuthn errors as a `LatchkeyError`: `passkey_cancelled`
 * (the person closed the prompt, it timed out, or `signal` aborted it),
 * `passkey_exists` (creating a passkey on an authenticator that already
 * holds one for this user), `passkey_unsupported`, else `passkey_failed`
 * (e.g. a page on another domain than the relying party's).
 */
export function passkeyError(e: unknown, creating: boolean): LatchkeyError {
  if (e instanceof LatchkeyError) return e;
  const name = typeof e === "object" && e !== null && "name" in e ? String((e as { name: unknown }).name) : "";
  const message = e instanceof Error ? e.message : String(e);
  const make = (code: "passkey_cancelled" | "passkey_exists" | "passkey_unsupported" | "passkey_failed", title: string, detail: string) =>
    new LatchkeyError({ status: 0, code, title, detail, cause: e });
  if (name === "NotAllowedError" || name === "AbortError") {
    return make("passkey_cancelled", "Passkey cancelled", "The passkey prompt was closed or timed out.");
  }
  if (creating && name === "InvalidStateError") {
    return make("passkey_exists", "Passkey exists", "This authenticator already holds a passkey for your profile.");
  }
  if (name === "NotSupportedError") {
    return make("passkey_unsupported", "Passkeys not supported", "This browser or authenticator cannot make this kind of passkey.");
  }
  return make("passkey_failed", "Passkey failed", message || "The passkey did not work.");
}

/**
 * Creates a passkey with the options of `passkeyOptions()` (shows the
 * browser's prompt) and resolves with the credential as JSON, for
 * `registerPasskey(name, credential)`. Browser errors become a
 * `LatchkeyError` (see `passkeyError`).
 */
export async function createPasskey(options: PasskeyCreationOptions, init: PasskeyPromptOptions = {}): Promise<RegistrationCredentialJSON> {
  const credentials = container(init);
  try {
    const publicKey = creationOptionsFromJSON(options.publicKey);
    const cred = await credentials.create({ publicKey, ...(init.signal ? { signal: init.signal } : {}) });
    if (!cred) throw new DOMException("No credential was created.", "NotAllowedError");
    return credentialToJSON(cred as PublicKeyCredential) as RegistrationCredentialJSON;
  } catch (e) {
    throw passkeyError(e, true);
  }
}

/**
 * Asks for a passkey with request options (an `mfa_required` state's
 * `passkeyOptions`, or `passwordlessOptions()`) and resolves with the
 * assertion as JSON, for `submitMfaPasskey` or `signInWithPasskey`.
 */
export async function getPasskey(options: PasskeyRequestOptions, init: PasskeyPromptOptions = {}): Promise<AuthenticationCredentialJSON> {
  const credentials = container(init);
  try {
    const publicKey = requestOptionsFromJSON(options.publicKey);
    const cred = await credentials.get({
      publicKey,
      ...(init.signal ? { signal: init.signal } : {}),
      ...(init.mediation ? { mediation: init.mediation } : {}),
    });
    if (!cred) throw new DOMException("No passkey was chosen.", "NotAllowedError");
    return credentialToJSON(cred as PublicKeyCredential) as AuthenticationCredentialJSON;
  } catch (e) {
    throw passkeyError(e, false);
  }
}
