import { useState, type FormEvent } from "react";
import { client } from "../api";
import { Link, navigate } from "../router";
import { ErrorMessage, Field } from "../ui";

export function SignUp() {
  const [form, setForm] = useState({ account_name: "", display_name: "", email: "", password: "" });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Verified sign-up (LATCHKEY_SIGNUP=verify): the address a link went to.
  const [sentTo, setSentTo] = useState<string | null>(null);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const r = await client.signUp({ ...form, display_name: form.display_name.trim() || null });
      if (r.status === "verification_sent") {
        setSentTo(form.email.trim());
        setForm({ ...form, password: "" });
        return;
      }
      await client.signIn(form.email.trim(), form.password);
      navigate("/profile", true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (sentTo) {
    return (
      <main className="auth-page">
        <h1>Check your email</h1>
        <div className="card">
          <p role="status" className="ok" data-testid="verification-sent">
            We've sent a link to {sentTo} to confirm your address.
          </p>
          <p>Open it within 24 hours to create your account, then sign in. If that address already has an account, the email says so instead.</p>
          <p className="muted">Nothing arrived? Check your spam folder, or <button type="button" className="link" onClick={() => setSentTo(null)}>sign up again</button>.</p>
          <p><Link to="/">Back to sign in</Link></p>
        </div>
      </main>
    );
  }

  return (
    <main className="auth-page">
      <h1>Create your account</h1>
      <form onSubmit={submit} className="card">
        <Field label="Company name" name="account_name" required value={form.account_name} onChange={set("account_name")} error={error} field="account_name" />
        <Field label="Your name" name="display_name" autoComplete="name" value={form.display_name} onChange={set("display_name")} error={error} field="display_name" />
        <Field label="Email" type="email" name="email" autoComplete="username" required value={form.email} onChange={set("email")} error={error} field="email" />
        <Field label="Password" type="password" name="password" autoComplete="new-password" required minLength={12} value={form.password}
          onChange={set("password")} error={error} field="password" hint="At least 12 characters." />
        <ErrorMessage error={error} />
        <div className="actions"><button className="primary" disabled={busy}>Create account</button></div>
        <p className="muted">Already have an account? <Link to="/">Sign in</Link></p>
      </form>
    </main>
  );
}
