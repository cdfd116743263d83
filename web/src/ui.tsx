import { useCallback, useEffect, useId, useRef, useState, type ReactNode, type InputHTMLAttributes, type SelectHTMLAttributes } from "react";
import { LatchkeyError } from "@latchkey/client";
import { describeError, formatWait } from "./errors";

/** Loads data; `reload()` fetches again. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** An error as an alert; a lockout counts down. */
export function ErrorMessage({ error }: { error: unknown }) {
  const retry = error instanceof LatchkeyError && error.code === "too_many_attempts" ? error.retryAfter : null;
  const [left, setLeft] = useState(retry);
  useEffect(() => {
    setLeft(retry);
    if (retry === null) return;
    const started = Date.now();
    const t = setInterval(() => setLeft(Math.max(0, retry - (Date.now() - started) / 1000)), 1000);
    return () => clearInterval(t);
  }, [error, retry]);
  if (!error) return null;
  const text = retry !== null && left !== null
    ? left > 0 ? `Too many attempts. Try again in ${formatWait(left)}.` : "You can try again now."
    : describeError(error);
  return <div role="alert" className="error">{text}</div>;
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return <p className="muted" role="status" aria-live="polite">{what}…</p>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** A labelled input; shows the 422 message of its field. */
export function Field({ label, error, hint, field, ...input }: InputHTMLAttributes<HTMLInputElement> & {
  label: string; error?: unknown; hint?: ReactNode; field?: string;
}) {
  const id = useId();
  const msg = field && error instanceof LatchkeyError ? error.fieldError(field) : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={msg ? true : undefined} aria-describedby={msg || hint ? `${id}-d` : undefined} {...input} />
      {(msg || hint) && <small id={`${id}-d`} className={msg ? "field-error" : "hint"}>{msg ?? hint}</small>}
    </div>
  );
}

/** A labelled select; shows the 422 message of its field (e.g. a role the user may not hold). */
export function SelectField({ label, error, hint, field, children, ...select }: SelectHTMLAttributes<HTMLSelectElement> & {
  label: string; error?: unknown; hint?: ReactNode; field?: string; children: ReactNode;
}) {
  const id = useId();
  const msg = field && error instanceof LatchkeyError ? error.fieldError(field) : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} aria-invalid={msg ? true : undefined} aria-describedby={msg || hint ? `${id}-d` : undefined} {...select}>{children}</select>
      {(msg || hint) && <small id={`${id}-d`} className={msg ? "field-error" : "hint"}>{msg ?? hint}</small>}
    </div>
  );
}

/** A modal dialog: focus moves into it on open, Escape closes, focus returns on close. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input, select, textarea, button:not([data-close])");
    (first ?? ref.current)?.focus();
    return () => before?.focus?.();
  }, []);
  return (
    <div className="backdrop" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="dialog" role="dialog" aria-modal="true" aria-labelledby={titleId} ref={ref} tabIndex={-1}>
        <div className="dialog-head">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="link" data-close aria-label="Close" onClick={onClose}>×</button>
        </div>
        {children}
      </div>
    </div>
  );
}

/** Copies text; says so for screen readers. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button type="button" onClick={async () => {
      try { await navigator.clipboard.writeText(text); setDone(true); } catch { setDone(false); }
    }}>
      {done ? "Copied" : label}
      <span className="sr-only" aria-live="polite">{done ? " to the clipboard" : ""}</span>
    </button>
  );
}

export function Pager({ page, perPage, total, onPage }: { page: number; perPage: number; total: number; onPage: (p: number) => void }) {
  const last = Math.max(1, Math.ceil(total / perPage));
  const from = total === 0 ? 0 : (page - 1) * perPage + 1;
  const to = Math.min(total, page * perPage);
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>Previous</button>
      <span>{from}–{to} of {total}</span>
      <button type="button" disabled={page >= last} onClick={() => onPage(page + 1)}>Next</button>
    </nav>
  );
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** A padlock drawn in SVG (closed = MFA set up, open = not). Decorative unless labelled by its container. */
export function PadlockIcon({ open }: { open: boolean }) {
  return (
    <svg width="16" height="18" viewBox="0 0 16 18" aria-hidden="true" focusable="false" className={open ? "lock-open" : "lock-closed"}>
      <path d={open ? "M4 8V5a4 4 0 0 1 7.6-1.7" : "M4 8V5a4 4 0 0 1 8 0v3"} fill="none" stroke="currentColor" strokeWidth="2" />
      <rect x="1" y="8" width="14" height="10" rx="2" fill="currentColor" />
    </svg>
  );
}
