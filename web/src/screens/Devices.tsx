import type { Device } from "@latchkey/client";
import { when } from "../ui";

/** How a device was remembered: the factor proven then. */
export function deviceMethod(method: string): string {
  return method === "hwk" ? "Passkey" : method === "otp" ? "Authenticator code" : method;
}

/** A browser's user agent, shortened to what people recognize ("Chrome on Linux"); the whole string as its title. */
export function browserName(ua: string | null | undefined): string {
  if (!ua) return "Unknown browser";
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom(e|ium)\//.test(ua) ? "Chrome"
    : /Safari\//.test(ua) ? "Safari" : null;
  const system = /iPhone|iPad/.test(ua) ? "iOS" : /Android/.test(ua) ? "Android" : /Mac OS X|Macintosh/.test(ua) ? "macOS"
    : /Windows/.test(ua) ? "Windows" : /CrOS/.test(ua) ? "ChromeOS" : /Linux/.test(ua) ? "Linux" : null;
  if (!browser) return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
  return system ? `${browser} on ${system}` : browser;
}

/**
 * Remembered devices as a table: when and from where each was remembered,
 * with what, when it was last used and until when it skips the second
 * step; "Forget" when `onForget` is given.
 */
export function DeviceTable({ devices, onForget, busy }: {
  devices: Device[]; onForget?: (d: Device) => void; busy?: boolean;
}) {
  return (
    <table className="devices">
      <thead>
        <tr>
          <th>Browser</th><th>Remembered</th><th>Last used</th><th>Until</th><th>With</th>
          {onForget && <th><span className="sr-only">Actions</span></th>}
        </tr>
      </thead>
      <tbody>
        {devices.map((d) => {
          const name = browserName(d.user_agent);
          return (
            <tr key={d.id} data-testid="device-row">
              <td title={d.user_agent ?? undefined}>{name}<br /><small className="muted">{d.ip ?? ""}</small></td>
              <td>{when(d.created_at)}</td>
              <td>{when(d.last_used_at)}</td>
              <td>{when(d.expires_at)}</td>
              <td>{deviceMethod(d.method)}</td>
              {onForget && (
                <td>
                  <button type="button" disabled={busy} aria-label={`Forget ${name}, remembered ${when(d.created_at)}`}
                    onClick={() => onForget(d)}>Forget</button>
                </td>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
