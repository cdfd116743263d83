import { useEffect, useRef, useState, type FormEvent } from "react";
import { LatchkeyError, getPasskey } from "@latchkey/client";
import { client } from "./api";
import { usePasskeysHere } from "./passkeys";
import { Dialog, ErrorMessage, Field, Loading, useAsync, validationMessage } from "./ui";
import { PHONE_TIME_HINT, compactCode } from "./errors";
import { PasskeysElsewhere } from "./screens/Passkeys";

/**
 * Step-up in place. Changes to others' MFA, roles, identity providers and
 * MFA policies need a factor proven in this session within 10 minutes;
 * when a call answers 403 `step_up_required`, the client asks this host
 * (its step-up handler), which shows the Step-up dialog over the screen
 * where the action was made. Once the code or passkey is accepted the
 * client retries the action by itself; Cancel leaves everything as it was
 * (the action then reports that nothing was changed).
 *
 * Mounted once by the app shell while signed in.
 */
export function StepUpHost() {
  const [pending, setPending] = useState<((ok: boolean) => void) | null>(null);
  const pendingRef = useRef<((ok: boolean) => void) | null>(null);
  useEffect(() => {
    const restore = client.setStepUpHandler(() => new Promise<boolean>((resolve) => {
      pendingRef.current = resolve;
      setPending(() => resolve);
    }));
    return () => {
      restore();
      // Unmounted (signed out) while asking: the action is not retried.
      pendingRef.current?.(false);
      pendingRef.current = null;
    };
  }, []);
  if (!pending) return null;
  const finish = (ok: boolean) => {
    pendingRef.current = null;
    setPending(null);
    pending(ok);
  };
  return <StepUpDialog onDone={finish} />;
}

/**
 * "Confirm it's you": the MFA Code (TOTP; the recovery token does not
 * count here) and/or "Use your passkey", as `step-up/options` says. A
 * passkey is offered only where this page may use it.
 */
export function StepUpDialog({ onDone }: { onDone: (ok: boolean) => void }) {
  // Asked again after a passkey attempt: its ceremony is single use.
  const [round, setRound] = useState(0);
  const options = useAsync(() => client.stepUpOptions(), [round]);
  const here = usePasskeysHere();
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const methods = options.data?.methods ?? [];
  const totp = methods.includes("totp");
  const hasPasskey = methods.includes("passkey") && !!options.data?.passkeyOptions;
  const passkey = hasPasskey && here.status === "available";
  const passkeyElsewhere = hasPasskey && here.status === "elsewhere" ? here.useAt : null;

  async function submitCode(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await client.stepUp({ code: compactCode(code) });
      onDone(true);
    } catch (err) {
      setError(err);
      setCode("");
      setBusy(false);
    }
  }

  async function usePasskey() {
    const passkeyOptions = options.data?.passkeyOptions;
    if (!passkeyOptions) return;
    setBusy(true); setError(null);
    try {
      await client.stepUp({ passkey: await getPasskey(passkeyOptions) });
      onDone(true);
    } catch (err) {
      setError(err instanceof LatchkeyError && err.code === "mfa_code_invalid"
        ? new Error("Your passkey was not accepted. Try again, or use another passkey.")
        : err);
      setRound((r) => r + 1);
      setBusy(false);
    }
  }

  // (A refused passkey is said in words of its own, not as a LatchkeyError.)
  const wrongCode = error instanceof LatchkeyError && error.code === "mfa_code_invalid";
  return (
    <Dialog title="Confirm it's you" onClose={() => onDone(false)}>
      <p data-testid="step-up-why">
        This change needs your second factor again: you have not confirmed it in this session in the last 10 minutes
        (or you signed in on a remembered device). It will be made as soon as you confirm.
      </p>
      {options.loading && !options.data ? <Loading what="Checking how you can confirm" /> : options.error ? (
        <ErrorMessage error={options.error instanceof LatchkeyError && options.error.code === "mfa_required_for_action"
          ? new Error("This change needs MFA on your own profile. Enable MFA in Edit Profile first.")
          : options.error} />
      ) : (
        <>
          {totp && (
            <form onSubmit={submitCode}>
              <Field label="MFA Code" name="mfa_code" autoComplete="one-time-code" autoFocus required spellCheck={false}
                inputMode="numeric" value={code} onChange={(e) => setCode(e.target.value)}
                hint="The 6-digit code from your authenticator application."
                {...validationMessage("Enter the 6-digit code from your authenticator application.")} />
              <ErrorMessage error={error} lock="code" hints={wrongCode ? [PHONE_TIME_HINT] : undefined} />
              <div className="actions">
                <button type="button" onClick={() => onDone(false)}>Cancel</button>
                <button className="primary" disabled={busy}>Verify</button>
              </div>
            </form>
          )}
          {passkey && (
            <p className={totp ? "alternative" : undefined}>
              {totp ? "Or confirm with your passkey: " : "Confirm with your passkey: your browser asks for this device's fingerprint, face or screen lock, or your security key. "}
              <button type="button" className={totp ? undefined : "primary"} disabled={busy} onClick={() => void usePasskey()}>
                {busy && !totp ? "Waiting for your passkey…" : "Use your passkey"}
              </button>
            </p>
          )}
          {passkeyElsewhere && (
            <PasskeysElsewhere useAt={passkeyElsewhere} className={totp ? "alternative hint" : "notice"}>
              {totp ? ", not at this address: enter a code instead." : ", not at this address: open Latchkey there to confirm with it."}
            </PasskeysElsewhere>
          )}
          {!totp && !passkey && !passkeyElsewhere && hasPasskey && (
            <p className="notice">This browser cannot use your passkey here. Use a browser that can.</p>
          )}
          {!totp && (
            <>
              <ErrorMessage error={error} lock="code" />
              <div className="actions"><button type="button" onClick={() => onDone(false)}>Cancel</button></div>
            </>
          )}
        </>
      )}
      {options.data && methods.length === 0 && (
        <p className="notice">You have no second factor that counts here to confirm with. Set one up in Edit Profile.</p>
      )}
      {!!options.error && (
        <div className="actions"><button type="button" onClick={() => onDone(false)}>Cancel</button></div>
      )}
    </Dialog>
  );
}
