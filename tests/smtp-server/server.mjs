// A real SMTP server (nodemailer's `smtp-server` package) that saves every
// message it receives, for Latchkey's outbox tests. See README.md.
//
//   node tests/smtp-server/server.mjs --port 0 --dir DIR [--mode normal|hold]
//
// (or SMTP_PORT, SMTP_DIR, SMTP_MODE in the environment). Prints one line
// `{"port":<port>}` when it accepts connections; exits when stdin closes, on
// SIGTERM or on SIGINT.
import { readdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: process.env.SMTP_PORT ?? "0" },
    dir: { type: "string", default: process.env.SMTP_DIR },
    mode: { type: "string", default: process.env.SMTP_MODE ?? "normal" },
  },
});
const MODES = ["normal", "hold"];
const port = Number(args.port);
if (!args.dir || !MODES.includes(args.mode) || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: server.mjs --port N --dir DIR [--mode normal|hold]");
  process.exit(2);
}
const dir = args.dir;

// Numbering goes on after the messages already in the directory: a server
// restarted on the same directory appends.
let last = 0;
for (const name of readdirSync(dir)) {
  const m = name.match(/^(\d+)\.eml$/);
  if (m) last = Math.max(last, Number(m[1]));
}

// Written under a temporary name, then renamed: a reader never sees half a file.
function writeAtomically(name, data) {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, data);
  renameSync(tmp, join(dir, name));
}

function addresses(header) {
  // mailparser gives an AddressObject, an array of them (repeated header), or nothing.
  return [header ?? []].flat().flatMap((h) => h.value ?? []).map(({ name, address }) => ({ name, address }));
}

// Saves `<n>.eml` (the message data as received) and then `<n>.json` (the
// envelope and the decoded message): once the .json is there, both are complete.
async function save(raw, session) {
  // skipHtmlToText: `text` is the text/plain part only, never made up from the HTML.
  const mail = await simpleParser(raw, {
    skipHtmlToText: true,
    skipImageLinks: true,
    skipTextToHtml: true,
    skipTextLinks: true,
  });
  const sidecar = {
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
    to: session.envelope.rcptTo.map((r) => r.address),
    user: session.user ?? null,
    subject: mail.subject ?? "",
    text: mail.text ?? "",
    html: typeof mail.html === "string" ? mail.html : null,
    headerFrom: addresses(mail.from),
    headerTo: addresses(mail.to),
    messageId: mail.messageId ?? null,
  };
  // From here on synchronous: numbers are given in the order messages are saved.
  const n = ++last;
  writeAtomically(`${n}.eml`, raw);
  writeAtomically(`${n}.json`, JSON.stringify(sidecar, null, 2) + "\n");
  return n;
}

let listening = false;
const server = new SMTPServer({
  name: "smtp.test",
  banner: "Latchkey test SMTP server",
  secure: false,
  disabledCommands: ["STARTTLS"],
  // Any credentials are accepted, and none are needed.
  authOptional: true,
  allowInsecureAuth: true,
  onAuth(auth, _session, callback) {
    callback(null, { user: auth.username ?? "anonymous" });
  },
  size: 50 * 1024 * 1024,
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on("data", (chunk) => chunks.push(chunk));
    stream.on("end", () => {
      // Over the size limit smtp-server answers 552 itself.
      if (stream.sizeExceeded) return callback(null);
      save(Buffer.concat(chunks), session).then(
        (n) => {
          // hold: the message is saved, the final reply to DATA never comes.
          if (args.mode === "hold") return;
          callback(null, `OK: saved as ${n}.eml`);
        },
        (err) => {
          console.error("smtp-server: could not save a message:", err);
          const error = new Error("Could not save the message, try again later");
          error.responseCode = 451;
          callback(error);
        },
      );
    });
  },
});

server.on("error", (err) => {
  if (!listening) {
    console.error(`smtp-server: cannot listen on 127.0.0.1:${port}:`, err.message);
    process.exit(1);
  }
  // A client that goes away mid-conversation (the point of `hold`) is not an error here.
  if (err.code !== "ECONNRESET" && err.code !== "EPIPE") console.error("smtp-server:", err.message);
});

server.listen(port, "127.0.0.1", () => {
  listening = true;
  process.stdout.write(JSON.stringify({ port: server.server.address().port }) + "\n");
});

function stop() {
  server.server.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
