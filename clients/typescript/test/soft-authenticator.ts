// A software WebAuthn authenticator for tests in Node: a stand-in for
// `navigator.credentials` (create/get with ArrayBuffer options, answering
// objects shaped like PublicKeyCredential) that makes ES256 passkeys with
// "none" attestation, as a platform authenticator that verified its user.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";

// ---- a minimal CBOR encoder (what attestation objects and COSE keys need) ----
type Cbor = number | string | Uint8Array | Cbor[] | Map<Cbor, Cbor>;

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) { const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b; }
  const b = Buffer.alloc(5); b[0] = (major << 5) | 26; b.writeUInt32BE(n, 1); return b;
}

export function cbor(v: Cbor): Buffer {
  if (typeof v === "number") return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === "string") { const s = Buffer.from(v, "utf8"); return Buffer.concat([head(3, s.length), s]); }
  if (v instanceof Uint8Array) return Buffer.concat([head(2, v.length), Buffer.from(v)]);
  if (Array.isArray(v)) return Buffer.concat([head(4, v.length), ...v.map(cbor)]);
  return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest();
const bytes = (s: BufferSource): Buffer =>
  s instanceof ArrayBuffer ? Buffer.from(s) : Buffer.from(s.buffer, s.byteOffset, s.byteLength);
const buffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

interface Stored {
  id: Buffer;
  rpId: string;
  userHandle: Buffer;
  key: KeyObject;
  counter: number;
}

/** What `create`/`get` resolve with: the parts of a PublicKeyCredential the client reads. */
export interface FakeCredential {
  id: string;
  rawId: ArrayBuffer;
  type: "public-key";
  authenticatorAttachment: "platform";
  response: {
    clientDataJSON: ArrayBuffer;
    attestationObject?: ArrayBuffer;
    getTransports?: () => string[];
    authenticatorData?: ArrayBuffer;
    signature?: ArrayBuffer;
    userHandle?: ArrayBuffer | null;
  };
  getClientExtensionResults: () => Record<string, unknown>;
}

/**
 * `new SoftAuthenticator(origin)`: the origin is the page's (for Latchkey at
 * 127.0.0.1:PORT, whose relying party id is `localhost`, that is
 * `http://localhost:PORT`). `userVerified: false` answers without the UV flag.
 */
export class SoftAuthenticator {
  readonly credentials: Stored[] = [];
  userVerified = true;
  constructor(readonly origin: string) {}

  private clientData(type: string, challenge: BufferSource): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge: b64url(bytes(challenge)), origin: this.origin, crossOrigin: false }));
  }

  private flags(extra: number): number {
    return 0x01 | (this.userVerified ? 0x04 : 0) | extra;
  }

  async create(init?: CredentialCreationOptions): Promise<FakeCredential> {
    const o = init?.publicKey;
    if (!o) throw new DOMException("publicKey options needed", "NotSupportedError");
    const rpId = o.rp.id ?? new URL(this.origin).hostname;
    const excluded = (o.excludeCredentials ?? []).map((d) => bytes(d.id));
    if (this.credentials.some((c) => c.rpId === rpId && excluded.some((e) => e.equals(c.id)))) {
      throw new DOMException("The authenticator holds an excluded credential.", "InvalidStateError");
    }
    if (!o.pubKeyCredParams.some((p) => p.alg === -7)) throw new DOMException("ES256 not offered", "NotSupportedError");
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    const cose = cbor(new Map<Cbor, Cbor>([
      [1, 2], [3, -7], [-1, 1],
      [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")],
    ]));
    const id = randomBytes(32);
    const stored: Stored = { id, rpId, userHandle: bytes(o.user.id), key: privateKey, counter: 0 };
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.flags(0x40)]), Buffer.alloc(4), Buffer.alloc(16), idLength, id, cose]);
    const attestationObject = cbor(new Map<Cbor, Cbor>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    this.credentials.push(stored);
    return {
      id: b64url(id),
      rawId: buffer(id),
      type: "public-key",
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: buffer(this.clientData("webauthn.create", o.challenge)),
        attestationObject: buffer(attestationObject),
        getTransports: () => ["internal"],
      },
      getClientExtensionResults: () => ({ credProps: { rk: true } }),
    };
  }

  async get(init?: CredentialRequestOptions): Promise<FakeCredential> {
    const o = init?.publicKey;
    if (!o) throw new DOMException("publicKey options needed", "NotSupportedError");
    const rpId = o.rpId ?? new URL(this.origin).hostname;
    const allowed = (o.allowCredentials ?? []).map((d) => bytes(d.id));
    const cred = this.credentials.find((c) => c.rpId === rpId && (allowed.length === 0 || allowed.some((a) => a.equals(c.id))));
    if (!cred) throw new DOMException("No passkey for this site.", "NotAllowedError");
    cred.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(cred.counter);
    const authData = Buffer.concat([sha256(rpId), Buffer.from([this.flags(0)]), counter]);
    const clientData = this.clientData("webauthn.get", o.challenge);
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientData)]), cred.key);
    return {
      id: b64url(cred.id),
      rawId: buffer(cred.id),
      type: "public-key",
      authenticatorAttachment: "platform",
      response: {
        clientDataJSON: buffer(clientData),
        authenticatorData: buffer(authData),
        signature: buffer(signature),
        userHandle: buffer(cred.userHandle),
      },
      getClientExtensionResults: () => ({}),
    };
  }
}
