import { useCallback, useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type ReactNode, type InputHTMLAttributes, type SelectHTMLAttributes } from "react";
import { LatchkeyError } from "@latchkey/client";
import { describeError, lockEnd, lockoutText, type LockKind } from "./errors";

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

/**
 * An error as an alert. A lockout (429) says what is locked (`lock`) and the
 * local time it ends, once, when it starts: a time of day, not a countdown
 * (which would read like a clock and be announced every second); when that
 * time has come, it says so. `hints` follow the message, inside the alert.
 */
export function ErrorMessage({ error, lock, hints }: { error: unknown; lock?: LockKind; hints?: string[] }) {
  const retry = error instanceof LatchkeyError && error.code === "too_many_attempts" ? error.retryAfter : null;
  const locked = error instanceof LatchkeyError && error.code === "too_many_attempts";
  // Fixed when the answer arrives (a new error object is a new answer).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const end = useMemo(() => (retry !== null ? lockEnd(retry) : null), [error, retry]);
  const [over, setOver] = useState(false);
  useEffect(() => {
    setOver(false);
    if (!end) return;
    const t = setTimeout(() => setOver(true), Math.max(0, end.getTime() - Date.now()));
    return () => clearTimeout(t);
  }, [end]);
  if (!error) return null;
  const text = locked ? (over ? "You can try again now." : lockoutText(lock, end)) : describeError(error);
  return (
    <div role="alert" className="error">
      {text}
      {hints && hints.length > 0 && <ul className="error-hints">{hints.map((h) => <li key={h}>{h}</li>)}</ul>}
    </div>
  );
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

/**
 * Props for an input whose browser validation message (the generic "Please
 * fill out this field." or "Please match the requested format.") should say
 * what the field accepts instead.
 */
export function validationMessage(message: string): Pick<InputHTMLAttributes<HTMLInputElement>, "onInvalid" | "onInput"> {
  return {
    onInvalid: (e) => e.currentTarget.setCustomValidity(message),
    onInput: (e) => e.currentTarget.setCustomValidity(""),
  };
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

export type MenuItem = { label: string; onSelect: () => void; danger?: boolean };

/**
 * A row's "Action ▾" menu button (as in IT Glue: Action → Edit). `label`
 * names the button for assistive technology ("Action for Globex": the
 * visible word first). The menu takes focus on open; arrows, Home and End
 * move in it; Escape closes it and returns focus to the button; choosing an
 * item closes it with focus on the button, so a dialog the item opens gives
 * focus back there.
 */
export function ActionMenu({ label, items }: { label: string; items: MenuItem[] }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menuId = useId();
  useEffect(() => {
    if (!open) return;
    ref.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
    const close = (e: MouseEvent) => { if (!ref.current?.contains(e.target as Node)) setOpen(false); };
    document.addEventListener("click", close);
    return () => document.removeEventListener("click", close);
  }, [open]);
  function onKeyDown(e: KeyboardEvent<HTMLDivElement>) {
    const entries = Array.from(ref.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? []);
    const at = entries.indexOf(document.activeElement as HTMLElement);
    const focus = (i: number) => entries[(i + entries.length) % entries.length]?.focus();
    if (!open) {
      if (e.key === "ArrowDown" && e.target === button.current) { e.preventDefault(); setOpen(true); }
      return;
    }
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); setOpen(false); button.current?.focus(); }
    else if (e.key === "ArrowDown") { e.preventDefault(); focus(at + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); focus(at < 0 ? -1 : at - 1); }
    else if (e.key === "Home") { e.preventDefault(); focus(0); }
    else if (e.key === "End") { e.preventDefault(); focus(-1); }
    else if (e.key === "Tab") setOpen(false);
  }
  return (
    <div className="row-menu" ref={ref} onKeyDown={onKeyDown}>
      <button ref={button} type="button" aria-label={label} aria-haspopup="menu" aria-expanded={open}
        aria-controls={open ? menuId : undefined} onClick={() => setOpen((o) => !o)}>
        Action <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div role="menu" id={menuId} aria-label={label} className="menu">
          {items.map((item) => (
            <button key={item.label} role="menuitem" type="button" tabIndex={-1} className={item.danger ? "danger" : undefined}
              onClick={() => { setOpen(false); button.current?.focus(); item.onSelect(); }}>
              {item.label}
            </button>
          ))}
        </div>
      )}
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

/** A date and time as people read it ("20 Dec 2026, 09:00" in the browser's language and time zone). */
export function whenShort(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

/** An RFC 3339 time as the value of a `datetime-local` input (local time, to the minute); "" for none. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A `datetime-local` value (local time) as RFC 3339 UTC; `null` for an empty one. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * The deadline of Require MFA: a date and time (the browser's time zone),
 * empty for "at once". Enabled only while Require MFA is checked.
 */
export function DeadlineField({ value, onChange, disabled, error }: {
  value: string; onChange: (value: string) => void; disabled?: boolean; error?: unknown;
}) {
  return (
    <Field label="MFA required from (deadline)" type="datetime-local" value={value} disabled={disabled}
      onChange={(e) => onChange(e.target.value)} error={error} field="require_mfa_from"
      hint={"Empty: required at once. Before the deadline, users without MFA still sign in, are told when setup is due and get"
        + " reminder mails 7, 3 and 1 days before; from it, they must set up MFA at sign-in."} />
  );
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
