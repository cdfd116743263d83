import { useState } from "react";
import type { Me } from "@latchkey/client";
import { whenShort } from "../ui";
import { EnableMfaDialog } from "./EnableMfa";

/** Who requires MFA of the user, for the sentence of the notice. */
function requiredBy(me: Me): string {
  switch (me.mfa.required_by) {
    case "user": return "Your administrator requires MFA for your profile";
    case "sub_account": return "Your administrator requires MFA for your MyGlue account";
    default: return "Your administrator requires MFA for this account";
  }
}

/**
 * A required user without MFA, before the deadline (`/me` `mfa.setup_due_at`):
 * "Set up MFA by <date>" and Enable MFA (the Edit Profile dialog). From the
 * deadline on, the sign-in itself asks for the set-up. "Not now" hides it for
 * this browser tab's session; Edit Profile says it again in MFA Settings.
 */
export function SetupDueNotice({ me, onEnabled }: { me: Me; onEnabled: () => void }) {
  const due = me.mfa.setup_due_at ?? null;
  const key = `latchkey.setupDueNotice.${me.id}.${due ?? ""}`;
  const [hidden, setHidden] = useState(() => sessionStorage.getItem(key) === "1");
  const [open, setOpen] = useState(false);
  const [enabled, setEnabled] = useState(false);
  if (!due || me.mfa.enabled) return null;
  return (
    <>
      {!hidden && (
        <section className="notice mfa-reset" aria-label="Set up MFA" data-testid="setup-due-notice">
          <p>
            <strong>Set up MFA by {whenShort(due)}.</strong> {requiredBy(me)}. Until then you can sign in with your password
            alone; from then on you will have to set it up before you can sign in.
          </p>
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
