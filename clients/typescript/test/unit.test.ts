// Pieces that need no server: the error shape and the fallback lock.
import { describe, expect, it } from "vitest";
import { LatchkeyClient, LatchkeyError, decodeClaims, inProcessLock, storageLock } from "../src/index.js";

function problemResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

describe("LatchkeyError", () => {
  it("reads code, attempts_remaining, retry_after and the field list", () => {
    const e = LatchkeyError.fromResponse(problemResponse(401, {
      type: "t", title: "Invalid MFA code", status: 401, detail: "The code is not valid.", code: "mfa_code_invalid", attempts_remaining: 2,
    }), { type: "t", title: "Invalid MFA code", status: 401, detail: "The code is not valid.", code: "mfa_code_invalid", attempts_remaining: 2 });
    expect(e).toMatchObject({ status: 401, code: "mfa_code_invalid", attemptsRemaining: 2, retryAfter: null, errors: [] });
    const v = LatchkeyError.fromResponse(problemResponse(422, {}), {
      code: "validation_failed", title: "t", detail: "d", status: 422, errors: [{ field: "email", message: "is not an email" }],
    });
    expect(v.fieldError("email")).toBe("is not an email");
  });

  it("falls back to Retry-After and to a code from the status", () => {
    const res = problemResponse(429, "", { "retry-after": "42" });
    const e = LatchkeyError.fromResponse(res, "");
    expect(e.code).toBe("too_many_attempts");
    expect(e.retryAfter).toBe(42);
  });

  it("reaches the caller of a call that needs aal2 with its stable code", async () => {
    const fetch = async () => problemResponse(403, {
      type: "t", title: "MFA required", status: 403, detail: "Sign in with MFA.", code: "mfa_required_for_action",
    });
    const c = new LatchkeyClient({ baseUrl: "http://example.invalid", fetch, channel: null, autoRefresh: false });
    await expect(c.signIn("a@example.com", "x".repeat(12))).rejects.toMatchObject({ code: "mfa_required_for_action", status: 403 });
    c.dispose();
  });
});

describe("locks", () => {
  it("inProcessLock runs one holder at a time, in order", async () => {
    const lock = inProcessLock();
    const log: string[] = [];
    const job = (n: string) => lock.run("x", async () => {
      log.push(`${n}+`);
      await new Promise((r) => setTimeout(r, 10));
      log.push(`${n}-`);
      return n;
    });
    expect(await Promise.all([job("a"), job("b"), job("c")])).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a+", "a-", "b+", "b-", "c+", "c-"]);
  });

  it("storageLock (the no-Web-Locks fallback) excludes two holders sharing one Storage", async () => {
    const map = new Map<string, string>();
    const storage = {
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, v),
      removeItem: (k: string) => void map.delete(k),
      clear: () => map.clear(),
      key: () => null,
      get length() { return map.size; },
    } as Storage;
    // Two "tabs": separate lock objects over the same storage.
    const tabs = [storageLock(storage, { settleMs: 5 }), storageLock(storage, { settleMs: 5 })];
    let inside = 0, max = 0;
    await Promise.all(Array.from({ length: 6 }, (_, i) => tabs[i % 2]!.run("refresh", async () => {
      inside++; max = Math.max(max, inside);
      await new Promise((r) => setTimeout(r, 15));
      inside--;
    })));
    expect(max).toBe(1);
  });
});

it("decodeClaims reads a JWT payload (base64url, UTF-8)", () => {
  const payload = Buffer.from(JSON.stringify({ sub: "u", aal: "aal2", amr: ["pwd", "otp"], role: "administrator", name: "Zoë" })).toString("base64url");
  expect(decodeClaims(`x.${payload}.y`)).toMatchObject({ aal: "aal2", amr: ["pwd", "otp"], name: "Zoë" });
});
