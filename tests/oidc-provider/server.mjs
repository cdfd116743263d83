// A real OpenID provider (the certified `oidc-provider` package) with fixed
// users, for Latchkey's SSO tests. See README.md for the request sequence.
//
//   node tests/oidc-provider/server.mjs --port 0 --redirect-uri URI [--redirect-uri URI2 ...]
//
// Prints one line `ready http://127.0.0.1:<port>` when it accepts requests;
// exits when stdin closes, on SIGTERM or on SIGINT.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import Provider, { interactionPolicy } from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "redirect-uri": { type: "string", multiple: true, default: [] },
  },
});
if (args["redirect-uri"].length === 0) {
  console.error("usage: server.mjs --port N --redirect-uri URI [--redirect-uri URI ...]");
  process.exit(2);
}

const CLIENT_ID = "latchkey";
const CLIENT_SECRET = "latchkey-test-secret";

// Any password is accepted; `amr` is what the provider says it checked.
const USERS = {
  "alice@example.com": { sub: "sub-alice", name: "Alice Example", email_verified: true, amr: ["pwd"] },
  "bob@example.com": { sub: "sub-bob", name: "Bob Example", email_verified: true, amr: ["pwd", "mfa"] },
  "carol@example.com": { sub: "sub-carol", name: "Carol Example", email_verified: false, amr: ["pwd"] },
  "dave@example.com": { sub: "sub-dave", name: "Dave Example", email_verified: true, amr: ["pwd"] },
};
const BY_SUB = new Map(Object.entries(USERS).map(([email, u]) => [u.sub, { email, ...u }]));

// Every authorization request shows the login page, even when the browser
// still has a provider session: tests sign in as several people in a row.
const policy = interactionPolicy.base();
policy.get("login").checks.add(
  new interactionPolicy.Check("always_login", "tests always sign in", (ctx) =>
    ctx.oidc.result?.login
      ? interactionPolicy.Check.NO_NEED_TO_PROMPT
      : interactionPolicy.Check.REQUEST_PROMPT,
  ),
);

function configuration() {
  return {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: args["redirect-uri"],
        id_token_signed_response_alg: "RS256",
      },
    ],
    clientAuthMethods: ["client_secret_basic", "client_secret_post"],
    // No `jwks`: the package's development key set (one RS256 key, the same
    // in every run). Not generateKeyPairSync: on Node 20 it can deadlock the
    // process at start (KeyGenJob's destructor in a GC weak callback).
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    pkce: { required: () => true },
    // email, email_verified and name go into the ID token itself (not only
    // the userinfo endpoint): Latchkey reads them from there.
    conformIdTokenClaims: false,
    // amr is listed so it is a supported claim and reaches the ID token.
    claims: {
      openid: ["sub", "amr"],
      email: ["email", "email_verified"],
      profile: ["name"],
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    interactions: {
      policy,
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // Consent is granted without asking: the client is first-party.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (!grant) grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope(oidc.params.scope ?? "openid");
      await grant.save();
      return grant;
    },
    async findAccount(_ctx, sub) {
      const user = BY_SUB.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: async () => ({ sub, email: user.email, email_verified: user.email_verified, name: user.name }),
      };
    },
    renderError(ctx, out) {
      ctx.type = "html";
      ctx.body = page("Error", `<pre id="error">${escape(JSON.stringify(out, null, 2))}</pre>`);
    },
  };
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)} · Test IdP</title></head>
<body style="font-family:sans-serif;max-width:24rem;margin:3rem auto">
<h1>Test IdP</h1>${body}</body></html>`;
}

function loginPage(uid, clientId, error) {
  return page(
    "Sign in",
    `<p>Sign in to continue to <b>${escape(clientId)}</b>.</p>
${error ? `<p id="error" style="color:#b00">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
  <p><label>Email <input type="email" name="login" autocomplete="username" required autofocus></label></p>
  <p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
  <p><button type="submit">Sign in</button></p>
</form>`,
  );
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function send(res, status, html) {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(html);
}

const server = createServer();
server.listen(Number(args.port), "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  provider.on("server_error", (_ctx, err) => console.error("server_error", err));
  const oidc = provider.callback();

  server.on("request", async (req, res) => {
    const url = new URL(req.url, issuer);
    const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (!m) return oidc(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.uid !== m[1]) return send(res, 400, page("Error", "<p>interaction mismatch</p>"));
      if (req.method === "GET" && !m[2]) {
        return send(res, 200, loginPage(details.uid, details.params.client_id));
      }
      if (req.method === "POST" && m[2]) {
        const form = await readForm(req);
        const email = (form.get("login") ?? "").trim().toLowerCase();
        const user = USERS[email];
        if (!user || !form.get("password")) {
          return send(res, 200, loginPage(details.uid, details.params.client_id, "Unknown user"));
        }
        return await provider.interactionFinished(
          req,
          res,
          { login: { accountId: user.sub, amr: user.amr, remember: false } },
          { mergeWithLastSubmission: false },
        );
      }
      send(res, 405, page("Error", "<p>method not allowed</p>"));
    } catch (err) {
      send(res, 400, page("Error", `<pre id="error">${escape(err.message)}</pre>`));
    }
  });

  process.stdout.write(`ready ${issuer}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
