import { useState } from "react";
import { unwrap, type Schemas } from "@latchkey/client";
import { client } from "../api";
import { Empty, ErrorMessage, Loading, Pager, useAsync, when } from "../ui";
import { useCan } from "../permissions";

type EventType = NonNullable<Schemas["EventType"]>;
const TYPES: EventType[] = [
  "login.succeeded", "login.failed", "login.locked", "mfa.challenge_failed", "mfa.replay_refused", "mfa.enabled",
  "mfa.disabled", "mfa.reset", "recovery_token.generated", "recovery_token.used", "account.policy_changed",
  "sub_account.created", "sub_account.policy_changed", "sub_account.deleted", "user.created", "user.updated",
  "user.deleted", "session.revoked", "password.changed", "reauthentication.failed",
  "passkey.added", "passkey.renamed", "passkey.removed", "passkey.counter_regressed",
];

export function AuditLog() {
  const [type, setType] = useState("");
  const [userId, setUserId] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [page, setPage] = useState(1);
  // Emails for the user ids, and the User filter, need users.view.
  const mayListUsers = useCan()("users.view");
  const users = useAsync(
    () => (mayListUsers ? unwrap(client.api.GET("/api/v1/users", { params: { query: { per_page: 100 } } })) : Promise.resolve(undefined)),
    [mayListUsers],
  );
  const events = useAsync(() => unwrap(client.api.GET("/api/v1/audit-events", {
    params: {
      query: {
        page, per_page: 25,
        ...(type ? { type: type as EventType } : {}),
        ...(userId ? { user_id: userId } : {}),
        ...(since ? { since: new Date(since).toISOString() } : {}),
        ...(until ? { until: new Date(until).toISOString() } : {}),
      },
    },
  })), [page, type, userId, since, until]);
  const email = (id: string | null | undefined) => (id ? users.data?.items.find((u) => u.id === id)?.email ?? id.slice(0, 8) : "—");
  const reset = (f: (v: string) => void) => (e: { target: { value: string } }) => { f(e.target.value); setPage(1); };

  return (
    <main>
      <h1>Audit log</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="a-type">Event</label>
          <select id="a-type" value={type} onChange={reset(setType)}>
            <option value="">All events</option>
            {TYPES.map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        {users.data && (
          <div className="field">
            <label htmlFor="a-user">User</label>
            <select id="a-user" value={userId} onChange={reset(setUserId)}>
              <option value="">All users</option>
              {users.data.items.map((u) => <option key={u.id} value={u.id}>{u.email}</option>)}
            </select>
          </div>
        )}
        <div className="field"><label htmlFor="a-since">From</label><input id="a-since" type="datetime-local" value={since} onChange={reset(setSince)} /></div>
        <div className="field"><label htmlFor="a-until">Until</label><input id="a-until" type="datetime-local" value={until} onChange={reset(setUntil)} /></div>
      </form>
      <ErrorMessage error={events.error} />
      {events.loading && !events.data ? <Loading what="Loading events" /> : events.data && (events.data.items.length === 0 ? (
        <Empty>No events match these filters.</Empty>
      ) : (
        <>
          <table aria-busy={events.loading}>
            <thead><tr><th>When</th><th>Event</th><th>By</th><th>Affecting</th><th>From</th><th>Details</th></tr></thead>
            <tbody>
              {events.data.items.map((ev) => (
                <tr key={ev.id} data-testid="audit-row">
                  <td>{when(ev.occurred_at)}</td>
                  <td><code>{ev.type}</code></td>
                  <td>{email(ev.actor_user_id)}</td>
                  <td>{email(ev.target_user_id)}</td>
                  <td>{ev.ip ?? "—"}</td>
                  <td><small>{Object.keys(ev.details).length ? JSON.stringify(ev.details) : ""}</small></td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager page={events.data.page} perPage={events.data.per_page} total={events.data.total} onPage={setPage} />
        </>
      ))}
    </main>
  );
}
