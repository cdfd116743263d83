import { CopyButton } from "../ui";

/** The recovery token, shown once, with copy. */
export function RecoveryToken({ token }: { token: string }) {
  return (
    <div className="recovery" aria-live="polite">
      <p><strong>Your one-time MFA recovery token</strong></p>
      <p className="token-row">
        <code data-testid="recovery-token">{token}</code> <CopyButton text={token} label="Copy token" />
      </p>
      <p className="hint">
        Store it in a safe place such as an encrypted notes app. If you lose your phone or your passkey, enter it in the
        MFA Code field when you sign in. It works once, and it is shown only now.
      </p>
    </div>
  );
}
