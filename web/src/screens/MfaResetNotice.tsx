import { useState } from "react";
import type { Me } from "@latchkey/client";
import { when } from "../ui";
import { EnableMfaDialog } from "./EnableMfa";

/**
 * After an administrator's Reset MFA, until the user sets MFA up again
 * (`/me` `mfa.reset_at`, `mfa.reset_by`): who reset it and when (local
 * time), and Enable MFA (the Edit Profile dialog). As seed 001 says, the
 * user is prompted to re-enable MFA at their next sign-in. "Not now" hides
 * it for this browser tab's session.
 */
export function MfaResetNotice({ me, onEnabled }: { me: Me; onEnabled: () => void }) {
  const resetAt = me.mfa.reset_at ?? null;
  const key = `latchkey.mfaResetNotice.${me.id}.${resetAt ?? ""}`;
  const [hidden, setHidden] = useState(() => sessionStorage.getItem(key) === "1");
  const [open, setOpen] = useState(false);
  const [enabled, setEnabled] = useState(false);
  if (!resetAt || me.mfa.enabled) return null;
  const by = me.mfa.reset_by ? ` (${me.mfa.reset_by})` : "";
  return (
    <>
      {!hidden && (
        <section className="notice mfa-reset" aria-label="Your MFA was reset" data-testid="mfa-reset-notice">
          <p>An administrator{by} reset your multi-factor authentication on {when(resetAt)}. Set it up again:</p>
          <div className="actions left">
            <button type="button" className="primary" onClick={() => setOpen(true)}>Enable MFA</button>
            <button type="button" onClick={() => { sessionStorage.setItem(key, "1"); setHidden(true); }}>Not now</button>
          </div>
        </section>
      )}
      {open && <EnableMfaDialog onEnabled={() => setEnabled(true)} onClose={() => { setOpen(false); if (enabled) onEnabled(); }} />}
    </>
  );
}
