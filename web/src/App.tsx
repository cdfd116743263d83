import { Fragment, useEffect, useMemo, useRef, useState } from "react";
import { client } from "./api";
import { useAuth } from "./auth";
import { Link, navigate, useLocation } from "./router";
import { unwrap, type Permission } from "@latchkey/client";
import { ErrorMessage, Loading, useAsync } from "./ui";
import { SignIn } from "./screens/SignIn";
import { SignUp } from "./screens/SignUp";
import { Profile } from "./screens/Profile";
import { EditUser, Users, mayOpenUser } from "./screens/Users";
import { AccountSettings } from "./screens/AccountSettings";
import { MyGlue } from "./screens/MyGlue";
import { AuditLog } from "./screens/AuditLog";
import { Roles } from "./screens/Roles";
import { SingleSignOn } from "./screens/SingleSignOn";
import { SsoCallback } from "./screens/SsoCallback";
import { ForgotPassword, ResetPassword } from "./screens/ForgotPassword";
import { AcceptInvitation } from "./screens/AcceptInvitation";
import { VerifySignup } from "./screens/VerifySignup";
import { MfaResetNotice } from "./screens/MfaResetNotice";
import { SetupDueNotice } from "./screens/SetupDue";
import { MfaCoverage } from "./screens/MfaCoverage";
import { StepUpHost } from "./stepup";
import { rememberAccount } from "./sso";
import { PermissionsContext } from "./permissions";
import { ReloadMeContext } from "./me";

export function App() {
  const auth = useAuth();
  const { path } = useLocation();
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Keeps the sign-in screen (and its Enable MFA dialog) up after a forced
  // enrollment signed in, until the recovery token has been seen.
  const [hold, setHold] = useState(false);

  useEffect(() => {
    client.restore().catch(setError).finally(() => setReady(true));
  }, []);

  if (!ready) return <main className="auth-page"><Loading what="Starting" /></main>;
  if (path === "/sso/callback") return <SsoCallback setHold={setHold} />;
  // The screens of mailed links (#token=…), whoever is signed in.
  if (path === "/reset-password") return <ResetPassword />;
  if (path === "/accept-invitation") return <AcceptInvitation setHold={setHold} />;
  if (path === "/verify-signup") return <VerifySignup />;
  if (auth.status !== "authenticated" || hold) {
    if (path === "/signup" && auth.status === "signed_out") return <SignUp />;
    if (path === "/forgot-password" && auth.status === "signed_out") return <ForgotPassword />;
    return <>{error ? <ErrorMessage error={error} /> : null}<SignIn setHold={setHold} /></>;
  }
  return <Shell path={path} />;
}

function Shell({ path }: { path: string }) {
  const auth = useAuth();
  // The users list takes its filters from the query (links from MFA coverage): a new query, a fresh list.
  const { query } = useLocation();
  const sessionId = auth.status === "authenticated" ? auth.sessionId : null;
  // The caller's permissions decide the Account menu (custom roles included).
  const me = useAsync(() => unwrap(client.api.GET("/api/v1/me")), [sessionId]);
  const accountId = auth.status === "authenticated" ? auth.claims.acc : null;
  // The next sign-in page in this browser offers this account's SSO buttons.
  useEffect(() => { if (accountId) rememberAccount(accountId); }, [accountId]);
  const perms = useMemo(() => new Set(me.data?.permissions ?? []), [me.data]);
  // Bumped when MFA was set up from the Reset-MFA notice: the screen below reads its data again.
  const [version, setVersion] = useState(0);
  if (auth.status !== "authenticated") return null;
  if (!me.data && !me.error) return <main className="content"><Loading /></main>;
  // What the server says the caller holds decides every screen, menu item and
  // button; without an answer (an error) only the profile is offered.
  const can = (p: Permission) => perms.has(p);
  const userMatch = /^\/account\/users\/([^/]+)$/.exec(path);
  const settings = can("account.manage") || can("account.policy");
  const manages = can("users.view") || settings || can("sub_accounts.manage") || can("audit.view") || can("roles.manage") || can("sso.manage");

  let screen;
  if (path === "/profile") screen = <Profile />;
  else if (can("users.view") && path === "/account/users") screen = <Users key={query.toString()} />;
  else if (can("users.view") && path === "/account/mfa-coverage") screen = <MfaCoverage />;
  else if (mayOpenUser(can) && userMatch?.[1]) screen = <EditUser id={userMatch[1]} />;
  else if (settings && path === "/account/settings") screen = <AccountSettings />;
  else if (can("sub_accounts.manage") && path === "/account/myglue") screen = <MyGlue />;
  else if (can("audit.view") && path === "/account/audit") screen = <AuditLog />;
  else if (can("roles.manage") && path === "/account/roles") screen = <Roles />;
  else if (can("sso.manage") && path === "/account/sso") screen = <SingleSignOn />;
  else screen = <Redirect to="/profile" />;
  const current = (to: string) => (path === to || path.startsWith(`${to}/`) ? "page" : undefined);

  return (
    <>
      <a className="skip" href="#content">Skip to content</a>
      <header className="top">
        <Link to="/profile" className="brand">Latchkey</Link>
        {manages && (
          <nav aria-label="Account">
            <span className="nav-label">Account</span>
            {can("users.view") && <Link to="/account/users" aria-current={current("/account/users")}>Users</Link>}
            {can("users.view") && <Link to="/account/mfa-coverage" aria-current={current("/account/mfa-coverage")}>MFA coverage</Link>}
            {can("roles.manage") && <Link to="/account/roles" aria-current={current("/account/roles")}>Roles</Link>}
            {settings && <Link to="/account/settings" aria-current={current("/account/settings")}>Settings</Link>}
            {can("sso.manage") && <Link to="/account/sso" aria-current={current("/account/sso")}>Single sign-on</Link>}
            {can("sub_accounts.manage") && <Link to="/account/myglue" aria-current={current("/account/myglue")}>MyGlue</Link>}
            {can("audit.view") && <Link to="/account/audit" aria-current={current("/account/audit")}>Audit log</Link>}
          </nav>
        )}
        <UserMenu name={auth.user.display_name} />
      </header>
      <div id="content" className="content">
        {me.error ? <ErrorMessage error={me.error} /> : null}
        {me.data && <MfaResetNotice me={me.data} onEnabled={() => { me.reload(); setVersion((v) => v + 1); }} />}
        {me.data && <SetupDueNotice me={me.data} onEnabled={() => { me.reload(); setVersion((v) => v + 1); }} />}
        <ReloadMeContext.Provider value={me.reload}>
          <PermissionsContext.Provider value={perms}><Fragment key={version}>{screen}</Fragment></PermissionsContext.Provider>
        </ReloadMeContext.Provider>
      </div>
      <StepUpHost />
    </>
  );
}

function UserMenu({ name }: { name: string }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => { if (!ref.current?.contains(e.target as Node)) setOpen(false); };
    document.addEventListener("click", close);
    return () => document.removeEventListener("click", close);
  }, [open]);
  return (
    <div className="user-menu" ref={ref} onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
      <button type="button" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)}>{name} ▾</button>
      {open && (
        <div role="menu" className="menu">
          <button role="menuitem" type="button" autoFocus onClick={() => { setOpen(false); navigate("/profile"); }}>Edit Profile</button>
          <button role="menuitem" type="button" onClick={() => { setOpen(false); void client.signOut().then(() => navigate("/", true)); }}>Sign out</button>
        </div>
      )}
    </div>
  );
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}
