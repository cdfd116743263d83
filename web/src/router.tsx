import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from "react";

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => listeners.forEach((l) => l()));

/** Goes to `to`; `state` rides along in the history entry (and survives a reload of it). */
export function navigate(to: string, replace = false, state: unknown = null): void {
  if (replace) history.replaceState(state, "", to);
  else history.pushState(state, "", to);
  listeners.forEach((l) => l());
}

/** The current path (and query). */
export function useLocation(): { path: string; query: URLSearchParams } {
  const href = useSyncExternalStore(
    (l) => { listeners.add(l); return () => listeners.delete(l); },
    () => location.pathname + location.search,
  );
  const u = new URL(href, location.origin);
  return { path: u.pathname, query: u.searchParams };
}

export function Link({ to, state, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; state?: unknown }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(to, false, state ?? null);
  };
  return <a href={to} onClick={onClick} {...rest} />;
}
