import { LatchkeyError } from "@latchkey/client";

/**
 * What a lockout (429 `too_many_attempts`) stops: second-factor codes or
 * passwords. Left out where a 429 may be either (or a rate limit).
 */
export type LockKind = "code" | "password";

/**
 * When a lock of `retryAfter` seconds, answered at `now`, ends: rounded up
 * to the whole minute, so "after 14:32" is never too early.
 */
export function lockEnd(retryAfter: number, now: number = Date.now()): Date {
  const end = now + Math.max(0, retryAfter) * 1000;
  return new Date(Math.ceil(end / 60_000) * 60_000);
}

/**
 * A local time as "HH:MM" (24-hour, the browser's time zone), with
 * "tomorrow" or the date when it is not today: a time of day to come back,
 * not a countdown.
 */
export function formatClock(at: Date, now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  const day = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((day(at) - day(now)) / 86_400_000);
  if (days <= 0) return time;
  if (days === 1) return `${time} tomorrow`;
  return `${time} on ${at.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })}`;
}

/** The sentence for a lock: what happened, and the local time to try again. */
export function lockoutText(kind: LockKind | undefined, end: Date | null, now: Date = new Date()): string {
  const what = kind === "code" ? "Too many wrong codes." : kind === "password" ? "Too many wrong passwords." : "Too many attempts.";
  return end ? `${what} Try again after ${formatClock(end, now)}.` : `${what} Wait a while and try again.`;
}

/**
 * Normalizes what was typed in an MFA Code field: a 6-digit code typed with
 * spaces or dashes ("123 456", "123-456") is sent as its digits; anything
 * else (a recovery token) as typed, trimmed (the server ignores its case,
 * spaces and dashes).
 */
export function compactCode(input: string): string {
  const digits = input.replace(/[\s-]/g, "");
  return /^\d{6}$/.test(digits) ? digits : input.trim();
}

/** The seeds' hints for a code that did not work (the Enable MFA dialog gives the same). */
export const PHONE_TIME_HINT =
  "Make sure your phone's time is set automatically: if it is set by hand, the authenticator application and Latchkey get out of step and its codes are refused.";
export const RECOVERY_TOKEN_HINT =
  "Without your phone, type your one-time recovery token in the MFA Code field instead. A recovery token works once.";

/** What to tell a person about an error, in words they can act on. */
export function describeError(e: unknown): string {
  if (!(e instanceof LatchkeyError)) return e instanceof Error ? e.message : "Something went wrong.";
  switch (e.code) {
    case "network_error":
      return "The server could not be reached. Check your connection and try again.";
    case "invalid_credentials":
      return "The email or password is not correct.";
    case "mfa_code_invalid":
      return e.attemptsRemaining === null
        ? "That MFA code is not valid. Check the time on your phone and try the newest code."
        : e.attemptsRemaining === 0
          ? "That MFA code is not valid, and no attempts are left. Sign in again."
          : `That MFA code is not valid. ${e.attemptsRemaining} ${e.attemptsRemaining === 1 ? "attempt" : "attempts"} left.`;
    case "challenge_expired":
      return "This sign-in has expired or had too many wrong codes. Sign in again.";
    case "too_many_attempts":
      return lockoutText(undefined, e.retryAfter !== null ? lockEnd(e.retryAfter) : null);
    case "reauthentication_required":
      return "Your password is not correct.";
    case "mfa_enforced":
      return "MFA is required by your administrator's policy, so it cannot be disabled.";
    case "mfa_required_for_action":
      return "This needs a sign-in with your MFA code. Sign out, sign in again with your MFA code, and retry.";
    case "step_up_required":
      return "This change needs you to confirm it is you with your MFA code or passkey. Nothing was changed.";
    case "mfa_enrollment_required":
      return "Your administrator requires MFA. Set it up to continue.";
    case "mfa_not_enabled":
      return "MFA is not enabled on your profile.";
    case "no_pending_enrollment":
      return "The set-up expired. Close this dialog and click Enable MFA again.";
    case "unauthorized":
      return "Your session has ended. Sign in again.";
    case "forbidden":
      return "You do not have permission to do this.";
    case "not_found":
      return "It does not exist (any more).";
    case "validation_failed":
      return e.errors.length ? `Please correct: ${e.errors.map((f) => `${f.field} ${f.message}`).join("; ")}.` : e.detail;
    // Mail links (reset password, invitation, sign-up): the screens add where to get a new one.
    case "link_expired":
      return "This link has expired or was already used — ask for a new one.";
    case "link_invalid":
      return "This link is not valid. Open it from the email again, or copy the whole address into your browser.";
    // Single sign-on: codes of the callback's ?error= (and the state check).
    case "sso_state_mismatch":
      return "This sign-in was not started in this browser tab, so it was refused. Start again from the sign-in page.";
    case "access_denied":
      return "The sign-in at the identity provider was cancelled or refused.";
    case "identity_provider_unavailable":
      return "The identity provider could not be reached. Try again later, or sign in with your password.";
    case "invalid_id_token":
      return "The identity provider's answer could not be verified. Ask your administrator to check the single sign-on settings.";
    case "email_not_verified":
      return "Your email address is not verified at the identity provider, so it cannot sign you in here.";
    case "user_not_found":
      return "There is no user for you in this account yet. Ask your administrator to add you (with the email you use at the identity provider).";
    case "flow_expired":
      return "This sign-in took too long or was already used. Start again from the sign-in page.";
    // Passkeys: the browser's prompt (client-side codes) and the policy.
    case "passkey_cancelled":
      return "The passkey prompt was closed or timed out. Try again when you are ready.";
    case "passkey_exists":
      return "This device or security key already holds a passkey for your profile. Use another one, or rename the passkey you have.";
    case "passkey_unsupported":
      return "This browser cannot use passkeys. Use another browser, or an authenticator application.";
    case "passkey_failed":
      return "The passkey did not work in this browser. Try again, or use another device or security key.";
    case "phishing_resistant_required":
      return "Your administrator accepts only passkeys for this account: codes from an authenticator application and recovery tokens do not count. Use your passkey.";
    default:
      return e.detail || e.title;
  }
}
