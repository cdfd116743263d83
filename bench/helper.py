#!/usr/bin/env python3
"""Helpers for bench/run that the shell cannot do on its own.

  helper.py secret                         a random 20-byte TOTP secret, base32
  helper.py codes SECRET_B32 STEP COUNT    TOTP codes (RFC 6238, SHA1, 6 digits,
                                           30 s) for steps STEP..STEP+COUNT-1
  helper.py mfa-sql DIALECT COUNT ACCOUNT_ID PASSWORD_HASH SECRET_B32 [PREFIX [GROUP]]
                                           INSERTs (stdin: master key, base64)
                                           for COUNT users PREFIX{i}@bench.example
                                           (PREFIX m, ids 00000000-0000-4000-GROUP-...,
                                           GROUP 9000 unless given)
                                           with MFA on: an active TOTP
                                           credential each, the same secret
                                           sealed per credential id
  helper.py register-passkeys BASE_URL PASSWORD PREFIX COUNT ORIGIN KEYS_OUT
                                           one passkey each for the users
                                           PREFIX1..PREFIXCOUNT@bench.example
                                           (no MFA yet) through the API; the
                                           private keys go to KEYS_OUT
  helper.py step-pool BASE_URL PASSWORD totp PREFIX USERS COUNT OUT
  helper.py step-pool BASE_URL PASSWORD passkey KEYS COUNT ORIGIN OUT
                                           COUNT password logins (mfa_required)
                                           of users PREFIX1..PREFIXUSERS, or of
                                           the users in KEYS, round robin; one
                                           second-step body per line to OUT:
                                           {"mfa_token":..,"code":"@CODE@"}
                                           (the code is put in when fired), or
                                           {"mfa_token":..,"passkey":<assertion>}
                                           signed now

Sealing follows src/crypto/seal.rs: base64(nonce || AES-256-GCM ciphertext
and tag) under the master key, associated data "totp:{credential_id}"
(src/domain/mfa.rs, secret_aad). Needs the `cryptography` package.

Passkeys are a software authenticator in the shape of a platform passkey:
P-256 (ES256) keys, attestation "none", flags UP UV BE BS, signature
counter 0 (so concurrent assertions of one user cannot race a counter).
Credentials are the JSON of a browser's PublicKeyCredential.toJSON()
(base64url without padding), as webauthn-rs-proto's
RegisterPublicKeyCredential and PublicKeyCredential read it.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import struct
import sys
import threading
import time
import urllib.parse


def b32decode(text):
    text = text.strip().upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def code_for_step(secret, step):
    digest = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (value % 1_000_000)


def self_test():
    # RFC 6238 appendix B, SHA1 (8 digits there; the last 6 digits here).
    key = b"12345678901234567890"
    for t, want in [(59, "94287082"), (1111111109, "07081804"), (2000000000, "69279037")]:
        assert code_for_step(key, t // 30) == want[-6:], (t, want)
    # RFC 8949 appendix A, the kinds cbor() writes.
    for value, want in [(0, "00"), (23, "17"), (24, "1818"), (1000, "1903e8"),
                        (1000000, "1a000f4240"), (-1, "20"), (-1000, "3903e7"),
                        (b"\x01\x02\x03\x04", "4401020304"), ("IETF", "6449455446"),
                        ({1: 2, 3: 4}, "a201020304"), ({"a": 1, "b": {}}, "a26161016162a0")]:
        assert cbor(value).hex() == want, (value, want)


def mfa_sql(dialect, count, account_id, password_hash, secret_b32, prefix="m", group="9000"):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = base64.b64decode(sys.stdin.read().strip())
    assert len(key) == 32, "master key must be 32 bytes"
    aead = AESGCM(key)
    secret = b32decode(secret_b32)
    if dialect == "sqlite":
        now, false = "strftime('%Y-%m-%d %H:%M:%f','now')", "0"
    else:
        now, false = "(now() AT TIME ZONE 'utc')", "FALSE"
    q = lambda s: "'" + s.replace("'", "''") + "'"
    out = ["BEGIN;"]
    for i in range(1, count + 1):
        user_id = "00000000-0000-4000-%s-%012d" % (group, i)
        cred_id = "20000000-0000-4000-%s-%012d" % (group, i)
        nonce = os.urandom(12)
        sealed = base64.b64encode(nonce + aead.encrypt(nonce, secret, ("totp:" + cred_id).encode())).decode()
        out.append(
            "INSERT INTO users (id, account_id, sub_account_id, email, display_name, role, password_hash,"
            " disabled, mfa_enabled_at, mfa_failures, mfa_locked_until, last_login_at, created_at, updated_at)"
            f" VALUES ({q(user_id)}, {q(account_id)}, NULL, {q('%s%d@bench.example' % (prefix, i))}, {q('MFA user %d' % i)},"
            f" 'read_only', {q(password_hash)}, {false}, {now}, 0, NULL, NULL, {now}, {now});"
        )
        out.append(
            "INSERT INTO totp_credentials (id, user_id, status, secret_sealed, last_used_step, created_at,"
            " expires_at, activated_at)"
            f" VALUES ({q(cred_id)}, {q(user_id)}, 'active', {q(sealed)}, NULL, {now}, NULL, {now});"
        )
    out.append("COMMIT;")
    print("\n".join(out))


# --- passkeys and second-step pools ---------------------------------------

def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(data):
    return hashlib.sha256(data).digest()


def cbor(value):
    """Canonical-enough CBOR (RFC 8949) of the kinds WebAuthn needs here:
    unsigned and negative integers, byte strings, text strings, maps (in
    the order given)."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        for extra, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
            if n < 1 << (8 * struct.calcsize(fmt)):
                return bytes([major << 5 | extra]) + struct.pack(fmt, n)
        raise ValueError("integer too large for CBOR")
    if isinstance(value, bool):
        raise TypeError("cbor(): booleans are not needed here")
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, bytes):
        return head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return head(3, len(data)) + data
    if isinstance(value, dict):
        return head(5, len(value)) + b"".join(cbor(k) + cbor(v) for k, v in value.items())
    raise TypeError("cbor(): %r" % type(value))


def compact(value):
    return json.dumps(value, separators=(",", ":"))


# Authenticator data flags (WebAuthn 6.1): user present, user verified,
# backup eligible, backed up (a synced platform passkey), attested data.
UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


class Api:
    """JSON over one keep-alive connection per thread."""

    def __init__(self, base):
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port or 80
        self.local = threading.local()

    def call(self, method, path, body=None, token=None):
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = "Bearer " + token
        data = None if body is None else compact(body).encode()
        for attempt in (1, 2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                conn.request(method, path, body=data, headers=headers)
                answer = conn.getresponse()
                text = answer.read()
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                # The server closed an idle keep-alive connection: once more
                # on a new one (nothing was answered, so nothing was done).
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            try:
                return answer.status, json.loads(text) if text else {}
            except ValueError:
                return answer.status, {"unparsed": text.decode(errors="replace")}


def fail(what, status, answer):
    sys.exit("helper.py: %s: HTTP %s %s" % (what, status, compact(answer)))


def run_pool(count, work, workers=8):
    """work(k) for k in 0..count-1 on a thread pool, results in order; the
    first exception ends the run."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(work, range(count)))


def register_passkeys(base, password, prefix, count, origin, keys_out):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    api = Api(base)

    def one(k):
        email = "%s%d@bench.example" % (prefix, k + 1)
        status, answer = api.call("POST", "/api/v1/sessions", {"email": email, "password": password})
        if status != 200 or answer.get("status") != "authenticated":
            fail("login of " + email, status, answer)
        token = answer["access_token"]
        status, options = api.call("POST", "/api/v1/me/mfa/passkeys/options", {"password": password}, token)
        if status != 200:
            fail("passkey options of " + email, status, options)
        pk = options["publicKey"]
        if not any(p.get("alg") == -7 for p in pk.get("pubKeyCredParams", [])):
            sys.exit("helper.py: the creation options do not offer ES256: " + compact(pk))
        rp_id = pk["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        cred_id = os.urandom(32)
        auth_data = (sha256(rp_id.encode()) + bytes([UP | UV | BE | BS | AT]) + struct.pack(">I", 0)
                     + bytes(16) + struct.pack(">H", len(cred_id)) + cred_id + cose)
        client_data = compact({"type": "webauthn.create", "challenge": pk["challenge"],
                               "origin": origin, "crossOrigin": False}).encode()
        spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
        # PublicKeyCredential.toJSON() of a registration (WebAuthn L3).
        credential = {
            "id": b64u(cred_id),
            "rawId": b64u(cred_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})),
                "authenticatorData": b64u(auth_data),
                "transports": ["hybrid", "internal"],
                "publicKeyAlgorithm": -7,
                "publicKey": b64u(spki),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
        status, answer = api.call("POST", "/api/v1/me/mfa/passkeys",
                                  {"name": "bench", "credential": credential}, token)
        if status != 201:
            fail("passkey registration of " + email, status, answer)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        return {"email": email, "credential_id": b64u(cred_id), "user_handle": pk["user"]["id"],
                "rp_id": rp_id, "key": pem}

    started = time.monotonic()
    entries = run_pool(count, one)
    with open(keys_out, "w") as out:
        for entry in entries:
            out.write(compact(entry) + "\n")
    print("registered %d passkeys in %.1f s" % (count, time.monotonic() - started), file=sys.stderr)


def assertion(entry, key, public_key, origin):
    """PublicKeyCredential.toJSON() of an assertion for the request options
    `public_key`: signed over authenticatorData || SHA-256(clientDataJSON)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    allowed = [c["id"] for c in public_key.get("allowCredentials", [])]
    if allowed and entry["credential_id"] not in allowed:
        sys.exit("helper.py: %s: the options do not allow its passkey" % entry["email"])
    rp_id = public_key.get("rpId") or entry["rp_id"]
    client_data = compact({"type": "webauthn.get", "challenge": public_key["challenge"],
                           "origin": origin, "crossOrigin": False}).encode()
    auth_data = sha256(rp_id.encode()) + bytes([UP | UV | BE | BS]) + struct.pack(">I", 0)
    signature = key.sign(auth_data + sha256(client_data), ec.ECDSA(hashes.SHA256()))
    return {
        "id": entry["credential_id"],
        "rawId": entry["credential_id"],
        "type": "public-key",
        "response": {
            "clientDataJSON": b64u(client_data),
            "authenticatorData": b64u(auth_data),
            "signature": b64u(signature),
            "userHandle": entry["user_handle"],
        },
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
    }


# Concurrent password logins of one email: the server counts each as a
# failure until it succeeds and answers 429 from the sixth at once on.
PER_EMAIL = 4


def step_pool(base, password, method, args):
    api = Api(base)
    if method == "totp":
        prefix, users, count, out = args[0], int(args[1]), int(args[2]), args[3]
        emails = ["%s%d@bench.example" % (prefix, k % users + 1) for k in range(count)]
        keys, origin = {}, None
    elif method == "passkey":
        from cryptography.hazmat.primitives import serialization
        keys_file, count, origin, out = args[0], int(args[1]), args[2], args[3]
        entries = [json.loads(line) for line in open(keys_file) if line.strip()]
        keys = {e["email"]: (e, serialization.load_pem_private_key(e["key"].encode(), None)) for e in entries}
        emails = [entries[k % len(entries)]["email"] for k in range(count)]
    else:
        sys.exit(__doc__)
    gates = {email: threading.Semaphore(PER_EMAIL) for email in set(emails)}

    def one(k):
        email = emails[k]
        with gates[email]:
            status, answer = api.call("POST", "/api/v1/sessions", {"email": email, "password": password})
        if status != 200 or answer.get("status") != "mfa_required":
            fail("login of " + email, status, answer)
        if method not in answer.get("methods", []):
            fail("login of %s offers no %s" % (email, method), status, answer)
        if method == "totp":
            return compact({"mfa_token": answer["mfa_token"], "code": "@CODE@"})
        entry, key = keys[email]
        options = (answer.get("passkey_options") or {}).get("publicKey")
        if not options:
            fail("login of %s has no passkey_options" % email, status, answer)
        return compact({"mfa_token": answer["mfa_token"], "passkey": assertion(entry, key, options, origin)})

    started = time.monotonic()
    bodies = run_pool(count, one)
    with open(out, "w") as f:
        for body in bodies:
            f.write(body + "\n")
    print("%s: %d challenges of %d users in %.1f s" % (method, count, len(gates), time.monotonic() - started),
          file=sys.stderr)


def main(argv):
    self_test()
    if argv[:1] == ["secret"]:
        print(base64.b32encode(os.urandom(20)).decode().rstrip("="))
    elif argv[:1] == ["codes"] and len(argv) == 4:
        secret, start, count = b32decode(argv[1]), int(argv[2]), int(argv[3])
        for step in range(start, start + count):
            print(code_for_step(secret, step))
    elif argv[:1] == ["mfa-sql"] and 6 <= len(argv) <= 8:
        mfa_sql(argv[1], int(argv[2]), argv[3], argv[4], argv[5], *argv[6:])
    elif argv[:1] == ["register-passkeys"] and len(argv) == 7:
        register_passkeys(argv[1], argv[2], argv[3], int(argv[4]), argv[5], argv[6])
    elif argv[:1] == ["step-pool"] and len(argv) == 8:
        step_pool(argv[1], argv[2], argv[3], argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
