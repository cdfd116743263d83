// Starts a real `latchkey serve` on a fresh SQLite directory for the test run,
// unless LATCHKEY_URL points at one already running.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

/** A `latchkey serve` started by a test run. */
export interface RunningServer {
  url: string;
  /** Its LATCHKEY_DATA_DIR; without LATCHKEY_SMTP_URL mail lands in `<dataDir>/mail/` as .eml files. */
  dataDir: string;
  stop: () => Promise<void>;
}

let server: RunningServer | null = null;

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/** The binary the tests run: LATCHKEY_BIN, else target/debug/latchkey. */
export function latchkeyBin(): string {
  return process.env.LATCHKEY_BIN ?? resolve(import.meta.dirname, "../../../target/debug/latchkey");
}

/** Starts `latchkey serve` on a free port and a fresh data directory, with `env` on top; waits until ready. */
export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const bin = latchkeyBin();
  if (!existsSync(bin)) throw new Error(`latchkey binary not found at ${bin}: build it (cargo build --bin latchkey) or set LATCHKEY_BIN / LATCHKEY_URL`);
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "latchkey-vitest-"));
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(bin, ["serve"], {
    env: {
      ...process.env, LATCHKEY_DATA_DIR: dataDir, LATCHKEY_BIND: `127.0.0.1:${port}`, LATCHKEY_IP_RATE_LIMIT: "0", RUST_LOG: "warn",
      // The base of the SSO callback URL that the test OpenID provider redirects to (and of mailed links).
      LATCHKEY_PUBLIC_URL: url,
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error("latchkey serve did not become ready");
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, dataDir, stop };
}

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.LATCHKEY_URL;
  // A server of our own: its mail is readable (test/mail.ts); one given by URL: not.
  let dataDir = "";
  if (!url) {
    server = await startServer();
    url = server.url;
    dataDir = server.dataDir;
  }
  project.provide("latchkeyUrl", url);
  project.provide("latchkeyDataDir", dataDir);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  server = null;
}

declare module "vitest" {
  export interface ProvidedContext {
    latchkeyUrl: string;
    /** The data directory of the server the run started ("" for one given by LATCHKEY_URL). */
    latchkeyDataDir: string;
  }
}
