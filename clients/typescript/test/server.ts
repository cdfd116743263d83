// Starts a real `latchkey serve` on a fresh SQLite directory for the test run,
// unless LATCHKEY_URL points at one already running.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TestProject } from "vitest/node";

let child: ChildProcess | null = null;
let dataDir: string | null = null;

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

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.LATCHKEY_URL;
  if (!url) {
    const bin = process.env.LATCHKEY_BIN ?? resolve(import.meta.dirname, "../../../target/debug/latchkey");
    if (!existsSync(bin)) throw new Error(`latchkey binary not found at ${bin}: build it (cargo build --bin latchkey) or set LATCHKEY_BIN / LATCHKEY_URL`);
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), "latchkey-vitest-"));
    url = `http://127.0.0.1:${port}`;
    child = spawn(bin, ["serve"], {
      env: {
        ...process.env, LATCHKEY_DATA_DIR: dataDir, LATCHKEY_BIND: `127.0.0.1:${port}`, LATCHKEY_IP_RATE_LIMIT: "0", RUST_LOG: "warn",
        // The base of the SSO callback URL that the test OpenID provider redirects to.
        LATCHKEY_PUBLIC_URL: url,
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/readyz`)).ok) break;
      } catch { /* not yet */ }
      if (Date.now() > deadline || child.exitCode !== null) throw new Error("latchkey serve did not become ready");
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  project.provide("latchkeyUrl", url);
}

export async function teardown(): Promise<void> {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((r) => child!.once("exit", r));
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

declare module "vitest" {
  export interface ProvidedContext {
    latchkeyUrl: string;
  }
}
