// Smoke test of server.mjs without a browser: the code flow with PKCE for
// bob, by hand (no redirects followed, cookies kept by hand), as a Rust test
// would drive it. Exits non-zero on any mismatch.
//
//   node tests/oidc-provider/smoke.mjs
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REDIRECT_URI = "http://127.0.0.1:9/callback";
const b64url = (buf) => Buffer.from(buf).toString("base64url");

function check(cond, what) {
  if (!cond) throw new Error(`smoke: ${what}`);
  console.log(`ok - ${what}`);
}

const child = spawn(process.execPath, [fileURLToPath(new URL("server.mjs", import.meta.url)), "--port", "0", "--redirect-uri", REDIRECT_URI], {
  stdio: ["pipe", "pipe", "inherit"],
});
const [line] = await once(createInterface({ input: child.stdout }), "line");
const issuer = line.replace(/^ready /, "");
check(/^ready http:\/\/127\.0\.0\.1:\d+$/.test(line), `server printed "${line}"`);

try {
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  check(discovery.issuer === issuer, "discovery issuer has no trailing slash");

  // Cookies kept by hand: name=value of every Set-Cookie, by name.
  const jar = new Map();
  const keep = (res) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const get = async (url) => {
    const res = await fetch(new URL(url, issuer), { redirect: "manual", headers: { cookie: cookie() } });
    keep(res);
    return res;
  };

  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const authorize = new URL(discovery.authorization_endpoint);
  Object.entries({
    client_id: "latchkey",
    response_type: "code",
    scope: "openid email profile",
    redirect_uri: REDIRECT_URI,
    state,
    nonce,
    code_challenge: b64url(createHash("sha256").update(verifier).digest()),
    code_challenge_method: "S256",
  }).forEach(([k, v]) => authorize.searchParams.set(k, v));

  let res = await get(authorize);
  check(res.status === 303 || res.status === 302, `authorize redirects (${res.status})`);
  const interaction = res.headers.get("location");
  check(/^\/interaction\/[^/]+$/.test(interaction), `to the interaction page ${interaction}`);
  res = await get(interaction);
  const html = await res.text();
  const action = html.match(/<form method="post" action="([^"]+)"/)?.[1];
  check(res.status === 200 && action === `${interaction}/login`, `login page with form action ${action}`);
  check(html.includes('name="login"') && html.includes('name="password"') && html.includes(">Sign in<"), "fields login, password and a Sign in button");

  res = await fetch(new URL(action, issuer), {
    method: "POST",
    redirect: "manual",
    headers: { cookie: cookie(), "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ login: "bob@example.com", password: "password" }),
  });
  keep(res);
  let location = res.headers.get("location");
  for (let hops = 0; location && !location.startsWith(REDIRECT_URI) && hops < 10; hops++) {
    check(res.status >= 300 && res.status < 400, `redirect ${res.status} to ${new URL(location, issuer).pathname}`);
    res = await get(location);
    location = res.headers.get("location");
  }
  check(location?.startsWith(REDIRECT_URI), `back at the redirect_uri: ${location}`);
  const back = new URL(location).searchParams;
  check(back.get("state") === state, "state echoed");
  check(back.get("iss") === issuer, "iss given");
  const code = back.get("code");
  check(!!code, "a code");

  const token = await fetch(discovery.token_endpoint, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from("latchkey:latchkey-test-secret").toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier }),
  });
  const tokens = await token.json();
  check(token.status === 200 && !!tokens.id_token, `token endpoint answered ${token.status} with an id_token`);
  const [header, payload] = tokens.id_token.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p, "base64url")));
  console.log("id_token header", JSON.stringify(header), "claims", JSON.stringify(payload));
  check(header.alg === "RS256" && !!header.kid, "RS256 with a kid");
  const jwks = await (await fetch(discovery.jwks_uri)).json();
  check(jwks.keys.some((k) => k.kid === header.kid && k.kty === "RSA" && !k.d), "its key is in the JWKS (public part only)");
  check(payload.iss === issuer && payload.aud === "latchkey", "iss and aud");
  check(payload.sub === "sub-bob", "sub");
  check(payload.nonce === nonce, "nonce");
  check(payload.email === "bob@example.com" && payload.email_verified === true, "email, email_verified");
  check(payload.name === "Bob Example", "name");
  check(Array.isArray(payload.amr) && payload.amr.includes("mfa"), `amr ${JSON.stringify(payload.amr)}`);

  // The code is single use; a code without its verifier is refused.
  const again = await fetch(discovery.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier, client_id: "latchkey", client_secret: "latchkey-test-secret" }),
  });
  check(again.status === 400, `a used code is refused (client_secret_post, ${again.status})`);

  const noPkce = new URL(authorize);
  noPkce.searchParams.delete("code_challenge");
  noPkce.searchParams.delete("code_challenge_method");
  res = await fetch(noPkce, { redirect: "manual" });
  const err = new URL(res.headers.get("location") ?? "http://x/").searchParams.get("error");
  check(err === "invalid_request", `authorize without PKCE is refused (${err})`);
  console.log("smoke: all passed");
} finally {
  child.stdin.end();
  await once(child, "exit");
}
