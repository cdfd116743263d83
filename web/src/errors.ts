import { LatchkeyError } from "@latchkey/client";

/** Seconds as "m:ss" or "h:mm:ss". */
export function formatWait(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

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
      return e.retryAfter !== null
        ? `Too many attempts. Try again in ${formatWait(e.retryAfter)}.`
        : "Too many attempts. Wait a while and try again.";
    case "reauthentication_required":
      return "Your password is not correct.";
    case "mfa_enforced":
      return "MFA is required by your administrator's policy, so it cannot be disabled.";
    case "mfa_required_for_action":
      return "This needs a sign-in with your MFA code. Sign out, sign in again with your MFA code, and retry.";
    case "step_up_required":
      return "This needs your MFA code again. Sign out, sign in again with your MFA code, and retry within 10 minutes.";
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
    default:
      return e.detail || e.title;
  }
}
