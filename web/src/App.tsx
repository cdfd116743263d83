import { useEffect, useRef, useState } from "react";
import { client } from "./api";
import { useAuth } from "./auth";
import { Link, navigate, useLocation } from "./router";
import { ErrorMessage, Loading } from "./ui";
import { SignIn } from "./screens/SignIn";
import { SignUp } from "./screens/SignUp";
import { Profile } from "./screens/Profile";
import { EditUser, Users } from "./screens/Users";
import { AccountSettings } from "./screens/AccountSettings";
import { MyGlue } from "./screens/MyGlue";
import { AuditLog } from "./screens/AuditLog";
import { Roles } from "./screens/Roles";

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
  if (auth.status !== "authenticated" || hold) {
    if (path === "/signup" && auth.status === "signed_out") return <SignUp />;
    return <>{error ? <ErrorMessage error={error} /> : null}<SignIn setHold={setHold} /></>;
  }
  return <Shell path={path} />;
}

function Shell({ path }: { path: string }) {
  const auth = useAuth();
  if (auth.status !== "authenticated") return null;
  const role = auth.claims.role;
  const manages = role === "administrator" || role === "manager";
  const userMatch = /^\/account\/users\/([^/]+)$/.exec(path);

  let screen;
  if (path === "/profile") screen = <Profile />;
  else if (manages && path === "/account/users") screen = <Users />;
  else if (role === "administrator" && userMatch?.[1]) screen = <EditUser id={userMatch[1]} />;
  else if (manages && path === "/account/settings") screen = <AccountSettings />;
  else if (manages && path === "/account/myglue") screen = <MyGlue />;
  else if (role === "administrator" && path === "/account/audit") screen = <AuditLog />;
  else if (role === "administrator" && path === "/account/roles") screen = <Roles />;
  else screen = <Redirect to="/profile" />;

  return (
    <>
      <a className="skip" href="#content">Skip to content</a>
      <header className="top">
        <Link to="/profile" className="brand">Latchkey</Link>
        {manages && (
          <nav aria-label="Account">
            <span className="nav-label">Account</span>
            <Link to="/account/users" aria-current={path.startsWith("/account/users") ? "page" : undefined}>Users</Link>
            {role === "administrator" && <Link to="/account/roles" aria-current={path === "/account/roles" ? "page" : undefined}>Roles</Link>}
            <Link to="/account/settings" aria-current={path === "/account/settings" ? "page" : undefined}>Settings</Link>
            <Link to="/account/myglue" aria-current={path === "/account/myglue" ? "page" : undefined}>MyGlue</Link>
            {role === "administrator" && <Link to="/account/audit" aria-current={path === "/account/audit" ? "page" : undefined}>Audit log</Link>}
          </nav>
        )}
        <UserMenu name={auth.user.display_name} />
      </header>
      <div id="content" className="content">{screen}</div>
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
