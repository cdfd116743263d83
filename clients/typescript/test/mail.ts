// Reads the mail a test server wrote: without LATCHKEY_SMTP_URL, Latchkey
// writes each message as `<uuid>.eml` under `<data dir>/mail/` (RFC 5322,
// multipart/alternative text + HTML, quoted-printable or base64), within
// about a second of the request. A small decoder, no dependency.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export interface Mail {
  file: string;
  mtimeMs: number;
  to: string;
  subject: string;
  /** The text/plain part, decoded. */
  text: string;
  /** The text/html part, decoded. */
  html: string;
}

/** A link of a mail: `<app>/<screen>#token=<token>`. */
export interface MailLink {
  url: string;
  screen: string;
  token: string;
  mail: Mail;
}

function headers(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | null = null;
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) {
      out[last] += ` ${line.trim()}`;
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    last = line.slice(0, i).trim().toLowerCase();
    out[last] = line.slice(i + 1).trim();
  }
  return out;
}

function param(value: string | undefined, name: string): string | undefined {
  const m = new RegExp(`;\\s*${name}="?([^";]+)"?`, "i").exec(value ?? "");
  return m?.[1];
}

function quotedPrintable(body: string): Buffer {
  const src = Buffer.from(body.replace(/=\r?\n/g, ""), "latin1");
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const hex = src.toString("latin1", i + 1, i + 3);
    if (src[i] === 0x3d && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(src[i]!);
    }
  }
  return Buffer.from(out);
}

function decodeBody(body: string, encoding: string | undefined, charset = "utf-8"): string {
  const cte = (encoding ?? "").toLowerCase();
  const bytes = cte === "quoted-printable" ? quotedPrintable(body)
    : cte === "base64" ? Buffer.from(body.replace(/\s+/g, ""), "base64")
    : Buffer.from(body, "latin1");
  return new TextDecoder(charset).decode(bytes);
}

/** RFC 2047 encoded words (`=?utf-8?q?...?=`, `=?utf-8?b?...?=`) of a header. */
function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, "$1$2")
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, charset: string, kind: string, text: string) =>
      kind.toUpperCase() === "B"
        ? new TextDecoder(charset).decode(Buffer.from(text, "base64"))
        : new TextDecoder(charset).decode(quotedPrintable(text.replace(/_/g, " "))));
}

/** Decodes an .eml; `null` while it is incomplete (the sender may still be writing it). */
export function parseMail(raw: string, file = ""): Omit<Mail, "mtimeMs"> | null {
  const split = /\r?\n\r?\n/.exec(raw);
  if (!split) return null;
  const head = headers(raw.slice(0, split.index));
  const body = raw.slice(split.index + split[0].length);
  const parts: { type: string; text: string }[] = [];
  const walk = (h: Record<string, string>, b: string): boolean => {
    const type = (h["content-type"] ?? "text/plain").split(";")[0]!.trim().toLowerCase();
    if (type.startsWith("multipart/")) {
      const boundary = param(h["content-type"], "boundary");
      if (!boundary || !b.includes(`--${boundary}--`)) return false;
      const inner = b.split(`--${boundary}--`)[0]!.split(`--${boundary}`).slice(1);
      for (const part of inner) {
        const p = part.replace(/^\r?\n/, "");
        const s = /\r?\n\r?\n/.exec(p);
        if (!s) return false;
        if (!walk(headers(p.slice(0, s.index)), p.slice(s.index + s[0].length).replace(/\r?\n$/, ""))) return false;
      }
      return true;
    }
    parts.push({ type, text: decodeBody(b, h["content-transfer-encoding"], param(h["content-type"], "charset")) });
    return true;
  };
  if (!walk(head, body)) return null;
  return {
    file,
    to: decodeWords(head.to ?? ""),
    subject: decodeWords(head.subject ?? ""),
    text: parts.find((p) => p.type === "text/plain")?.text ?? "",
    html: parts.find((p) => p.type === "text/html")?.text ?? "",
  };
}

/** Every complete mail under `mailDir` addressed to `to`, newest first. */
export function mailTo(mailDir: string, to: string): Mail[] {
  let names: string[];
  try {
    names = readdirSync(mailDir).filter((n) => n.endsWith(".eml"));
  } catch {
    return [];
  }
  const want = to.toLowerCase();
  const found: Mail[] = [];
  for (const name of names) {
    const file = join(mailDir, name);
    const parsed = parseMail(readFileSync(file, "latin1"), file);
    const addresses = parsed?.to.toLowerCase().match(/[^\s<>,"]+@[^\s<>,"]+/g) ?? ([] as string[]);
    if (parsed && addresses.includes(want)) found.push({ ...parsed, mtimeMs: statSync(file).mtimeMs });
  }
  return found.sort((a, b) => b.mtimeMs - a.mtimeMs || b.file.localeCompare(a.file));
}

const LINK = /(https?:\/\/[^\s<>"]+?\/([a-z-]+)#token=([^\s<>"&]+))/;

/**
 * Waits (up to `timeoutMs`) for the newest mail to `to` holding a link to
 * `screen` whose token is not one of `not` (e.g. the link a resend replaced).
 */
export async function waitForLink(mailDir: string, to: string, screen: string, opts: { not?: string[]; timeoutMs?: number } = {}): Promise<MailLink> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    for (const mail of mailTo(mailDir, to)) {
      const m = LINK.exec(mail.text);
      if (m && m[2] === screen && !(opts.not ?? []).includes(m[3]!)) return { url: m[1]!, screen, token: m[3]!, mail };
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} with a /${screen}#token= link in ${mailDir} within ${opts.timeoutMs ?? 10_000} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits for the newest mail to `to` whose subject matches. */
export async function waitForMail(mailDir: string, to: string, subject: RegExp, timeoutMs = 10_000): Promise<Mail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mail = mailTo(mailDir, to).find((m) => subject.test(m.subject));
    if (mail) return mail;
    if (Date.now() > deadline) throw new Error(`no mail to ${to} with subject ${subject} in ${mailDir} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
