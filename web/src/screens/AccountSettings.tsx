import { useEffect, useState, type FormEvent } from "react";
import { unwrap, type UpdateAccount, type User } from "@latchkey/client";
import { client } from "../api";
import { Link } from "../router";
import { DeadlineField, ErrorMessage, Field, Loading, fromLocalInput, toLocalInput, useAsync, whenShort } from "../ui";
import { useCan } from "../permissions";

/** The account's own users (not MyGlue users) who have not set up MFA. */
async function accountUsersWithoutMfa(): Promise<User[]> {
  const out: User[] = [];
  for (let page = 1; ; page++) {
    const r = await unwrap(client.api.GET("/api/v1/users", { params: { query: { mfa_enabled: false, per_page: 100, page } } }));
    out.push(...r.items.filter((u) => !u.sub_account_id && !u.disabled));
    if (page * r.per_page >= r.total) return out;
  }
}

/**
 * Account → Settings → Authentication: the name with `account.manage`, the
 * policy with `account.policy` (either opens the screen; the other part is
 * shown read-only and not sent).
 */
export function AccountSettings() {
  const can = useCan();
  const mayRename = can("account.manage");
  const mayPolicy = can("account.policy");
  // The list of users needs users.view; without it the count is not shown.
  const mayCount = can("users.view");
  const account = useAsync(() => unwrap(client.api.GET("/api/v1/account")), []);
  const without = useAsync(() => (mayCount ? accountUsersWithoutMfa() : Promise.resolve(undefined)), [mayCount]);
  const [name, setName] = useState("");
  const [require, setRequire] = useState(false);
  const [passkeysOnly, setPasskeysOnly] = useState(false);
  // The deadline as the datetime-local input holds it (local time); "" for at once.
  const [deadline, setDeadline] = useState("");
  const [rememberDays, setRememberDays] = useState("0");
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (account.data) {
      setName(account.data.name); setRequire(account.data.require_mfa); setPasskeysOnly(account.data.mfa_methods === "phishing_resistant");
      setDeadline(toLocalInput(account.data.require_mfa_from)); setRememberDays(String(account.data.remember_device_days));
    }
  }, [account.data]);

  async function save(e: FormEvent) {
    e.preventDefault();
    const a = account.data;
    if (!a) return;
    setBusy(true); setError(null); setSaved(false);
    try {
      // Only what changed: any policy field in the request asks for a step-up, even unchanged.
      const body: UpdateAccount = {};
      if (mayRename && name !== a.name) body.name = name;
      if (mayPolicy) {
        if (require !== a.require_mfa) body.require_mfa = require;
        if (require && deadline !== toLocalInput(a.require_mfa_from)) {
          body.require_mfa_from = fromLocalInput(deadline);
        }
        const methods = passkeysOnly ? "phishing_resistant" : "any";
        if (methods !== a.mfa_methods) body.mfa_methods = methods;
        const days = Number(rememberDays);
        if (days !== a.remember_device_days) body.remember_device_days = days;
      }
      if (Object.keys(body).length > 0) await client.updateAccount(body);
      setSaved(true);
      account.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main>
      <h1>Account Settings</h1>
      <div role="tablist" className="tabs"><span role="tab" aria-selected="true" className="tab">Authentication</span></div>
      {account.loading && !account.data ? <Loading /> : account.error ? <ErrorMessage error={account.error} /> : (
        <form className="card" onSubmit={save}>
          <Field label="Account name" required value={name} onChange={(e) => setName(e.target.value)} error={error} field="name" readOnly={!mayRename} />
          <h2>Multi-factor authentication</h2>
          {without.loading ? <Loading what="Counting users without MFA" /> : without.data && (
            <p data-testid="without-mfa" className={without.data.length ? "notice" : "ok"}>
              {without.data.length === 0
                ? "Every user of this account has set up MFA."
                : `${without.data.length} ${without.data.length === 1 ? "user of this account has" : "users of this account have"} not set up MFA yet`
                  + ` (${without.data.slice(0, 5).map((u) => u.display_name).join(", ")}${without.data.length > 5 ? ", …" : ""}).`
                  + " With MFA required they will be asked to set it up at their next sign-in."}
            </p>
          )}
          <div className="field checkbox">
            <input id="require-mfa" type="checkbox" checked={require} disabled={!mayPolicy} onChange={(e) => setRequire(e.target.checked)} />
            <label htmlFor="require-mfa">Require MFA for access to this account</label>
          </div>
          <p className="hint">
            Covers the users of this account (MyGlue accounts have their own setting). Signed-in users keep their
            session until it ends. Turning this off later does not disable anyone's MFA.
          </p>
          <DeadlineField value={deadline} onChange={setDeadline} disabled={!mayPolicy || !require} error={error} />
          {account.data?.require_mfa && account.data.require_mfa_from && (
            <p className="notice" data-testid="deadline-status">
              {Date.parse(account.data.require_mfa_from) > Date.now()
                ? `Users without MFA must set it up by ${whenShort(account.data.require_mfa_from)}.`
                : `MFA has been required since ${whenShort(account.data.require_mfa_from)}.`}
              {mayCount && <> See who is due on <Link to="/account/mfa-coverage">MFA coverage</Link>.</>}
            </p>
          )}
          <div className="field checkbox">
            <input id="phishing-resistant" type="checkbox" checked={passkeysOnly} disabled={!mayPolicy}
              aria-describedby="phishing-resistant-hint" onChange={(e) => setPasskeysOnly(e.target.checked)} />
            <label htmlFor="phishing-resistant">Only phishing-resistant methods (passkeys)</label>
          </div>
          <p className="hint" id="phishing-resistant-hint">
            Codes from an authenticator application and recovery tokens stop counting as the second factor: users who
            have only an authenticator application are asked to add a passkey at their next sign-in. Unlike Require
            MFA, this covers the users of the MyGlue accounts too. A passkey only works on this site, so a look-alike
            site cannot capture it.
          </p>
          <h2>Remember devices</h2>
          <Field label="Remember devices for (days)" type="number" min={0} max={90} step={1} required inputMode="numeric"
            value={rememberDays} readOnly={!mayPolicy} onChange={(e) => setRememberDays(e.target.value)} error={error}
            field="remember_device_days"
            hint={"0 turns it off. Above 0, the MFA step at sign-in offers \"Remember this device\": on that browser the password then"
              + " signs in without the code for this many days (at most 90). A password change, or any change to the user's MFA,"
              + " forgets their devices; each user can forget theirs in Edit Profile."} />
          <ErrorMessage error={error} />
          {saved && <p role="status" className="ok">Settings saved.</p>}
          <div className="actions left"><button className="primary" disabled={busy}>Save</button></div>
        </form>
      )}
    </main>
  );
}
