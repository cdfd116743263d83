import { useEffect, useState, type FormEvent } from "react";
import { unwrap, type User } from "@latchkey/client";
import { client } from "../api";
import { ErrorMessage, Field, Loading, useAsync } from "../ui";
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
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (account.data) {
      setName(account.data.name); setRequire(account.data.require_mfa); setPasskeysOnly(account.data.mfa_methods === "phishing_resistant");
    }
  }, [account.data]);

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null); setSaved(false);
    try {
      await unwrap(client.api.PATCH("/api/v1/account", {
        body: {
          ...(mayRename ? { name } : {}),
          ...(mayPolicy ? { require_mfa: require, mfa_methods: passkeysOnly ? "phishing_resistant" : "any" } : {}),
        },
      }));
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
          <ErrorMessage error={error} />
          {saved && <p role="status" className="ok">Settings saved.</p>}
          <div className="actions left"><button className="primary" disabled={busy}>Save</button></div>
        </form>
      )}
    </main>
  );
}
