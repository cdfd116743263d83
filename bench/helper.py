#!/usr/bin/env python3
"""Helpers for bench/run that the shell cannot do on its own.

  helper.py secret                         a random 20-byte TOTP secret, base32
  helper.py codes SECRET_B32 STEP COUNT    TOTP codes (RFC 6238, SHA1, 6 digits,
                                           30 s) for steps STEP..STEP+COUNT-1
  helper.py mfa-sql DIALECT COUNT ACCOUNT_ID PASSWORD_HASH SECRET_B32
                                           INSERTs (stdin: master key, base64)
                                           for COUNT users m{i}@bench.example
                                           with MFA on: an active TOTP
                                           credential each, the same secret
                                           sealed per credential id

Sealing follows src/crypto/seal.rs: base64(nonce || AES-256-GCM ciphertext
and tag) under the master key, associated data "totp:{credential_id}"
(src/domain/mfa.rs, secret_aad). Needs the `cryptography` package.
"""
import base64
import hashlib
import hmac
import os
import struct
import sys


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


def mfa_sql(dialect, count, account_id, password_hash, secret_b32):
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
        user_id = "00000000-0000-4000-9000-%012d" % i
        cred_id = "20000000-0000-4000-9000-%012d" % i
        nonce = os.urandom(12)
        sealed = base64.b64encode(nonce + aead.encrypt(nonce, secret, ("totp:" + cred_id).encode())).decode()
        out.append(
            "INSERT INTO users (id, account_id, sub_account_id, email, display_name, role, password_hash,"
            " disabled, mfa_enabled_at, mfa_failures, mfa_locked_until, last_login_at, created_at, updated_at)"
            f" VALUES ({q(user_id)}, {q(account_id)}, NULL, {q('m%d@bench.example' % i)}, {q('MFA user %d' % i)},"
            f" 'read_only', {q(password_hash)}, {false}, {now}, 0, NULL, NULL, {now}, {now});"
        )
        out.append(
            "INSERT INTO totp_credentials (id, user_id, status, secret_sealed, last_used_step, created_at,"
            " expires_at, activated_at)"
            f" VALUES ({q(cred_id)}, {q(user_id)}, 'active', {q(sealed)}, NULL, {now}, NULL, {now});"
        )
    out.append("COMMIT;")
    print("\n".join(out))


def main(argv):
    self_test()
    if argv[:1] == ["secret"]:
        print(base64.b32encode(os.urandom(20)).decode().rstrip("="))
    elif argv[:1] == ["codes"] and len(argv) == 4:
        secret, start, count = b32decode(argv[1]), int(argv[2]), int(argv[3])
        for step in range(start, start + count):
            print(code_for_step(secret, step))
    elif argv[:1] == ["mfa-sql"] and len(argv) == 6:
        mfa_sql(argv[1], int(argv[2]), argv[3], argv[4], argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
