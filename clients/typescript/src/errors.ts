import type { components } from "./schema.js";

/** One invalid field of a 422 `validation_failed` answer. */
export type FieldError = components["schemas"]["FieldError"];
/** The RFC 9457 problem document every Latchkey error carries. */
export type Problem = components["schemas"]["Problem"];
/** Latchkey's stable problem codes, as the OpenAPI document lists them. */
export type ErrorCode = components["schemas"]["ErrorCode"];
/**
 * Codes this package raises itself, without an answer from the API:
 * `network_error` (no answer at all), `no_challenge` / `no_link` (a call
 * out of order), `sso_state_mismatch` (a callback this tab did not start),
 * `http_<status>` (a non-Latchkey error answer); and the browser's passkey
 * prompt (`createPasskey`, `getPasskey`): `passkey_cancelled` (closed, timed
 * out or aborted), `passkey_exists` (the authenticator holds one for this
 * user already), `passkey_unsupported`, `passkey_failed` (anything else).
 */
export type ClientErrorCode =
  | "network_error" | "no_challenge" | "no_link" | "sso_state_mismatch" | `http_${number}`
  | "passkey_cancelled" | "passkey_exists" | "passkey_unsupported" | "passkey_failed";

// Every code once: the type checker refuses a missing or unknown one.
const ERROR_CODES: Readonly<Record<ErrorCode, true>> = {
  bad_request: true, invalid_credentials: true, unauthorized: true, mfa_code_invalid: true, challenge_expired: true,
  reauthentication_required: true, forbidden: true, mfa_enforced: true, mfa_required_for_action: true,
  mfa_enrollment_required: true, step_up_required: true, not_found: true, method_not_allowed: true, conflict: true,
  mfa_not_enabled: true, no_pending_enrollment: true, payload_too_large: true, unsupported_media_type: true,
  validation_failed: true, too_many_attempts: true, service_unavailable: true, identity_provider_unavailable: true,
  internal_error: true, access_denied: true, invalid_id_token: true, email_not_verified: true, user_not_found: true,
  flow_expired: true, link_invalid: true, link_expired: true, phishing_resistant_required: true,
};

/** Whether `code` is one of Latchkey's stable codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/**
 * The one error this package throws for anything the API (or the network)
 * refused. `code` is Latchkey's stable code (`invalid_credentials`,
 * `mfa_code_invalid`, `too_many_attempts`, ...), or `network_error` when no
 * answer came back at all.
 */
export class LatchkeyError extends Error {
  override readonly name = "LatchkeyError";
  /** HTTP status; 0 for a network failure. */
  readonly status: number;
  /** Stable machine-readable code from the problem document. */
  readonly code: ErrorCode | ClientErrorCode;
  readonly title: string;
  readonly detail: string;
  /** On 401 `mfa_code_invalid` at the second step: wrong codes left on this challenge. */
  readonly attemptsRemaining: number | null;
  /** On 429: seconds until a retry can succeed (body `retry_after`, else `Retry-After`). */
  readonly retryAfter: number | null;
  /** On 422: the invalid fields. Empty otherwise. */
  readonly errors: FieldError[];
  /** The raw problem document, when there was one. */
  readonly problem: Partial<Problem> | null;

  constructor(init: {
    status: number;
    code: ErrorCode | ClientErrorCode;
    title?: string;
    detail?: string;
    attemptsRemaining?: number | null;
    retryAfter?: number | null;
    errors?: FieldError[];
    problem?: Partial<Problem> | null;
    cause?: unknown;
  }) {
    super(init.detail || init.title || init.code, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.title = init.title ?? init.code;
    this.detail = init.detail ?? this.title;
    this.attemptsRemaining = init.attemptsRemaining ?? null;
    this.retryAfter = init.retryAfter ?? null;
    this.errors = init.errors ?? [];
    this.problem = init.problem ?? null;
  }

  /** Builds the error from a non-2xx response and its (already parsed) body. */
  static fromResponse(response: Response, body: unknown): LatchkeyError {
    const problem = isObject(body) ? (body as Partial<Problem>) : null;
    const header = response.headers.get("retry-after");
    const headerSeconds = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
    return new LatchkeyError({
      status: response.status,
      code: typeof problem?.code === "string" && isErrorCode(problem.code) ? problem.code : fallbackCode(response.status),
      title: typeof problem?.title === "string" ? problem.title : response.statusText || `HTTP ${response.status}`,
      detail: typeof problem?.detail === "string" ? problem.detail : typeof body === "string" && body ? body : undefined,
      attemptsRemaining: typeof problem?.attempts_remaining === "number" ? problem.attempts_remaining : null,
      retryAfter: typeof problem?.retry_after === "number" ? problem.retry_after : headerSeconds,
      errors: Array.isArray(problem?.errors) ? problem.errors : [],
      problem,
    });
  }

  /** A request that got no answer (offline, DNS, CORS refusal, aborted). */
  static network(cause: unknown): LatchkeyError {
    return new LatchkeyError({
      status: 0,
      code: "network_error",
      title: "Network error",
      detail: "The server could not be reached. Check your connection and try again.",
      cause,
    });
  }

  /** The message for one field of a 422, if the server named it. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

export function isLatchkeyError(e: unknown): e is LatchkeyError {
  return e instanceof LatchkeyError;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function fallbackCode(status: number): ErrorCode | ClientErrorCode {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 409: return "conflict";
    case 413: return "payload_too_large";
    case 415: return "unsupported_media_type";
    case 422: return "validation_failed";
    case 429: return "too_many_attempts";
    default: return `http_${status}`;
  }
}
