#!/usr/bin/env python3
"""Known-answer vectors for Tessera's formats, made by a second, independent implementation.

Each format is written here again from its specification (the module docs of the Rust code,
quoted above each function), with Python's `cryptography` package (>= 44, for Argon2id), and
never by calling Tessera. The Rust tests read the JSON files this writes and check that the
Rust code gives the same bytes, opens the same ciphertexts and verifies the same signatures.

Every input is fixed (keys, salts, nonces and ephemeral keys are SHA-256 of a label), so the
output is the same on every run:

    python3 tests/vectors/make_vectors.py           # check: the files match, writes nothing
    python3 tests/vectors/make_vectors.py --write   # write the files (a format change: say so)

A difference in check mode means this script or a file was edited; never regenerate to make a
Rust test pass: a vector that no longer matches the code means the code broke old data.
"""
import base64
import hashlib
import hmac
import json
import struct
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = Path(__file__).resolve().parent


def fixed(label, n=32):
    """A fixed input: the first `n` bytes of SHA-256 of `label` (one hash per 32 bytes)."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label} {i}".encode()).digest()
        i += 1
    return out[:n]


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def u64(n):
    return struct.pack(">Q", n)


def i64(n):
    return struct.pack(">q", n)


# --- crates/crypto/src/envelope.rs -------------------------------------------------------


def associated_data(label, parts):
    """Each of the label and the parts as u32 big-endian length + bytes."""
    out = b""
    for p in [label.encode()] + list(parts):
        out += u32(len(p)) + p
    return out


def envelope_seal(key, plaintext, ad, nonce):
    """nonce (12) || AES-256-GCM ciphertext || tag (16)."""
    return nonce + AESGCM(key).encrypt(nonce, plaintext, ad)


# --- HKDF-SHA256, RFC 5869 (one output block) ---------------------------------------------


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info):
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def argon2id(password, salt, m, t, p):
    return Argon2id(salt=salt, length=32, iterations=t, lanes=p, memory_cost=m).derive(password)


# --- crates/crypto/src/secret_key.rs ------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def secret_key_human(key):
    """T1 + 28 Crockford base32 symbols: 128 key bits, 2 zero bits, 10 checksum bits."""
    d = hashlib.sha256(b"tessera account secret key v1" + key).digest()
    checksum = ((d[0] << 2) | (d[1] >> 6)) & 0x3FF
    bits = int.from_bytes(key, "big") << 2  # 130 bits
    symbols = [(bits >> (125 - 5 * i)) & 31 for i in range(26)]
    symbols += [checksum >> 5, checksum & 31]
    out = "T1"
    for i, s in enumerate(symbols):
        if i % 4 == 0:
            out += "-"
        out += ALPHABET[s]
    return out


# --- crates/crypto/src/kdf.rs -------------------------------------------------------------


def two_secret(password, secret_key, salt, m, t, p):
    a = argon2id(password, salt, m, t, p)
    mk = hkdf_extract(secret_key, a)
    return {
        "argon2id": a.hex(),
        "master_key": mk.hex(),
        "kek": hkdf_expand(mk, b"tessera enc").hex(),
        "auth_key": hkdf_expand(mk, b"tessera auth").hex(),
    }


def passphrase_key(passphrase, salt, m, t, p, label):
    a = argon2id(passphrase, salt, m, t, p)
    return hkdf_expand(hkdf_extract(b"tessera passphrase key v1", a), label)


def x25519_public(secret):
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw
    )


def ed25519(seed):
    return Ed25519PrivateKey.from_private_bytes(seed)


def ed25519_public(seed):
    return ed25519(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def kdf_vectors():
    floor = dict(memory_kib=19 * 1024, iterations=2, parallelism=1)
    default = dict(memory_kib=64 * 1024, iterations=3, parallelism=4)
    cases = []
    for name, password, params in [
        ("floor", "correct horse battery staple", floor),
        ("default", "pässwörd ✓ 🔑", default),
    ]:
        sk = fixed(f"kdf {name} account secret key", 16)
        salt = fixed(f"kdf {name} salt", 16)
        out = two_secret(
            password.encode(), sk, salt, params["memory_kib"], params["iterations"],
            params["parallelism"],
        )
        cases.append(
            dict(name=name, password=password, secret_key=secret_key_human(sk),
                 secret_key_hex=sk.hex(), salt=salt.hex(), **params, **out)
        )
    salt = fixed("kdf passphrase salt", 16)
    passphrase = dict(
        passphrase="an export passphrase", salt=salt.hex(), label="tessera export", **floor,
        key=passphrase_key(b"an export passphrase", salt, 19 * 1024, 2, 1,
                           b"tessera export").hex(),
    )
    # The floor case with one more character (the last) changed: the checksum catches it.
    human = cases[0]["secret_key"]
    last = ALPHABET[(ALPHABET.index(human[-1]) + 1) % 32]
    return {
        "about": "two-secret KDF: Argon2id(password, salt) -> HKDF-Extract(salt = Account Secret "
                 "Key) -> HKDF-Expand 'tessera enc' (KEK) and 'tessera auth' (auth key); the "
                 "passphrase-only key of exports. Hex unless named otherwise.",
        "two_secret": cases,
        "passphrase": passphrase,
        "fail_weak_params": dict(memory_kib=19 * 1024 - 1, iterations=2, parallelism=1),
        "fail_secret_key_typo": human[:-1] + last,
    }


# --- crates/crypto/src/keyset.rs and seal.rs ----------------------------------------------


def keyset_parts():
    return {
        "vault_key": fixed("keyset vault key"),
        "exchange_secret": fixed("keyset x25519 secret"),
        "signing_seed": fixed("keyset ed25519 seed"),
    }


def seal_to(recipient_public, plaintext, ad, ephemeral, nonce):
    """ephemeral public (32) || envelope, key = HKDF(salt = eph || recipient, shared,
    'tessera seal v1')."""
    eph = X25519PrivateKey.from_private_bytes(ephemeral)
    eph_public = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    key = hkdf_expand(hkdf_extract(eph_public + recipient_public, shared), b"tessera seal v1")
    return eph_public + envelope_seal(key, plaintext, ad, nonce)


def key_ad(team, group, epoch, account):
    return associated_data("tessera group key", [team, group, u64(epoch), account])


def token_key_ad(team, group, epoch, token):
    return associated_data("tessera machine token key", [team, group, u64(epoch), token])


TEAM = fixed("team id", 16)
GROUP = fixed("group id", 16)
ACCOUNT = fixed("member account id", 16)
ADMIN_ACCOUNT = fixed("admin account id", 16)
TOKEN = fixed("machine token id", 16)
EPOCH = 3


def key_vectors(kek):
    k = keyset_parts()
    plain = b"\x01" + k["vault_key"] + k["exchange_secret"] + k["signing_seed"]
    ad = associated_data("tessera keyset", [b"a vault header"])
    nonce = fixed("keyset nonce", 12)
    wrapped = envelope_seal(kek, plain, ad, nonce)
    version2 = envelope_seal(kek, b"\x02" + plain[1:], ad, fixed("keyset v2 nonce", 12))
    recipient = x25519_public(k["exchange_secret"])
    group_key = fixed("group key epoch 3")
    ad_member = key_ad(TEAM, GROUP, EPOCH, ACCOUNT)
    sealed = seal_to(recipient, group_key, ad_member, fixed("seal ephemeral"),
                     fixed("seal nonce", 12))
    # A low-order point as the ephemeral key: the shared secret is all zeros.
    low_order = bytes(32) + sealed[32:]
    return {
        "about": "keyset: 0x01 || vault key || X25519 secret || Ed25519 seed, sealed by the KEK "
                 "(two_secret.json, case floor) under ad; sealed: a group key sealed to the "
                 "keyset's X25519 key (ephemeral X25519 + HKDF-SHA256 'tessera seal v1' + "
                 "AES-256-GCM), associated data = the member group key AD.",
        "keyset": {
            "kek": kek.hex(),
            "ad": ad.hex(),
            "wrapped": wrapped.hex(),
            "vault_key": k["vault_key"].hex(),
            "exchange_public": recipient.hex(),
            "signing_public": ed25519_public(k["signing_seed"]).hex(),
            "fail_version_2": version2.hex(),
        },
        "sealed": {
            "ad": ad_member.hex(),
            "plaintext": group_key.hex(),
            "sealed": sealed.hex(),
            "fail_low_order_ephemeral": low_order.hex(),
        },
    }


# --- crates/crypto/src/cert.rs ------------------------------------------------------------


def cert_message(s, issuer):
    return associated_data(
        "tessera certificate v1",
        [s["team"], s["account"], s["email"].encode(), s["exchange"], s["signing"],
         bytes([s["admin"]]), issuer],
    )


def cert(signer_seed, s):
    issuer = ed25519_public(signer_seed)
    msg = cert_message(s, issuer)
    sig = ed25519(signer_seed).sign(msg)
    email = s["email"].encode()
    body = (b"\x01" + s["team"] + s["account"] + s["exchange"] + s["signing"]
            + bytes([s["admin"]]) + issuer + u16(len(email)) + email + sig)
    return msg, body


def chain(*certs):
    out = bytes([len(certs)])
    for c in certs:
        out += u16(len(c)) + c
    return out


def subject_json(s):
    return {
        "team_id": s["team"].hex(), "account_id": s["account"].hex(), "email": s["email"],
        "exchange_public": s["exchange"].hex(), "signing_public": s["signing"].hex(),
        "admin": bool(s["admin"]),
    }


def cert_vectors():
    root_seed = fixed("team root ed25519 seed")
    k = keyset_parts()
    admin = dict(team=TEAM, account=ADMIN_ACCOUNT, email="admin@example.com",
                 exchange=x25519_public(k["exchange_secret"]),
                 signing=ed25519_public(k["signing_seed"]), admin=1)
    member = dict(team=TEAM, account=ACCOUNT, email="bøb@example.com",
                  exchange=x25519_public(fixed("member x25519 secret")),
                  signing=ed25519_public(fixed("member ed25519 seed")), admin=0)
    admin_msg, admin_cert = cert(root_seed, admin)
    leaf_msg, leaf_cert = cert(k["signing_seed"], member)
    good = chain(leaf_cert, admin_cert)
    # The leaf's e-mail, one byte changed (b -> c): the admin's signature no longer verifies.
    at = 1 + 2 + leaf_cert.index(b"b\xc3\xb8b@")
    edited_email = bytearray(good)
    edited_email[at] ^= 0x01
    # The admin's certificate, root-signed, without the admin flag.
    _, not_admin = cert(root_seed, dict(admin, admin=0))
    # The admin flag byte set to 2 (offset 97 of the leaf).
    flag = bytearray(good)
    flag[1 + 2 + 97] = 2
    return {
        "about": "member certificates: Ed25519 over associated_data('tessera certificate v1', "
                 "team, account, email, exchange, signing, admin, issuer); chain = count || "
                 "(u16 length || certificate), leaf first. The admin is the keyset of "
                 "keys.json; the root signs the admin.",
        "root_seed": root_seed.hex(),
        "root_public": ed25519_public(root_seed).hex(),
        "team_id": TEAM.hex(),
        "admin": {"subject": subject_json(admin), "signed_message": admin_msg.hex(),
                  "certificate": admin_cert.hex()},
        "member": {"subject": subject_json(member), "signed_message": leaf_msg.hex(),
                   "certificate": leaf_cert.hex()},
        "chain": good.hex(),
        "fail_edited_email": bytes(edited_email).hex(),
        "fail_issuer_not_admin": chain(leaf_cert, not_admin).hex(),
        "fail_admin_flag_2": bytes(flag).hex(),
        "fail_wrong_team": fixed("another team", 16).hex(),
        "fail_issuer_dropped": chain(leaf_cert).hex(),
    }


# --- crates/crypto/src/token.rs, crates/core/src/vault/groups/token.rs --------------------


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64(b):
    """A protocol Blob: standard base64, padded."""
    return base64.b64encode(b).decode()


def token_vectors():
    secret = fixed("machine token secret")
    prk = hkdf_extract(b"tessera machine token v1", secret)
    bearer = hkdf_expand(prk, b"bearer")
    x = hkdf_expand(prk, b"x25519")
    public = x25519_public(x)
    text = f"tsr1_{TOKEN.hex()}_{b64url(secret)}"
    expires_at = 1_900_000_000
    msg = associated_data(
        "tessera machine token record v1", [TEAM, GROUP, TOKEN, public, i64(expires_at)]
    )
    sig = ed25519(keyset_parts()["signing_seed"]).sign(msg)
    group_key = fixed("group key epoch 3")
    ad = token_key_ad(TEAM, GROUP, EPOCH, TOKEN)
    sealed = seal_to(public, group_key, ad, fixed("token seal ephemeral"),
                     fixed("token seal nonce", 12))
    # Format 2 (tsr2_): the same secret, and a pin tagged under the pin key: HKDF expands
    # 'pin', then the MAC key is HKDF-SHA256(no salt, that, info 'tessera machine token pin
    # v1'); the tag is HMAC-SHA256 over associated_data('tessera machine token pin', [body]).
    pinned_text = text.replace("tsr1_", "tsr2_", 1)
    pin_key = hkdf_expand(hkdf_extract(b"", hkdf_expand(prk, b"pin")),
                          b"tessera machine token pin v1")
    pin_body = json.dumps({
        "v": 1, "team_id": TEAM.hex(), "group_id": GROUP.hex(), "token_id": TOKEN.hex(),
        "root": b64(fixed("team root public")), "epoch": EPOCH,
        "key": b64(hashlib.sha256(sealed).digest()),
        "log": {"seq": 2, "hash": b64(fixed("log head"))}, "manifest": None,
    }, separators=(",", ":")).encode()
    pin_tag = hmac.new(pin_key, associated_data("tessera machine token pin", [pin_body]),
                       hashlib.sha256).digest()
    return {
        "about": "machine tokens: tsr1_<id hex>_<secret base64url>; HKDF-SHA256(salt 'tessera "
                 "machine token v1', secret) expands 'bearer' and 'x25519'; the record is "
                 "signed by the admin keyset of keys.json; the group key is sealed to the "
                 "token's X25519 key under the token key AD. Format 2 (tsr2_, same secret) "
                 "has a pin: a TokenPin body tagged under the pin key.",
        "token": text,
        "token_id": TOKEN.hex(),
        "secret": secret.hex(),
        "bearer": bearer.hex(),
        "bearer_hash": hashlib.sha256(bearer).hexdigest(),
        "credential": f"{TOKEN.hex()}.{b64url(bearer)}",
        "exchange_public": public.hex(),
        "record": {"team_id": TEAM.hex(), "group_id": GROUP.hex(), "token_id": TOKEN.hex(),
                   "expires_at": expires_at, "message": msg.hex(), "signature": sig.hex()},
        "sealed_group_key": {"epoch": EPOCH, "ad": ad.hex(), "plaintext": group_key.hex(),
                             "sealed": sealed.hex()},
        "pin": {"token": pinned_text, "body": pin_body.hex(), "key": pin_key.hex(),
                "tag": pin_tag.hex()},
        "fail_tokens": [
            [text.replace("tsr1_", "tsr3_", 1), "does not start with tsr2_"],
            [text[:-1], "truncated (its secret is too short)"],
            [text + "A", "damaged (its secret is too long)"],
            [text[:-2] + "*A", "damaged (its secret is not base64url)"],
            [f"tsr1_{TOKEN.hex()}", "truncated (no secret after the id)"],
            [f"tsr1_zz{TOKEN.hex()[2:]}_{b64url(secret)}",
             "damaged (its id is not 32 hex digits)"],
        ],
    }


# --- crates/core/src/item/codec.rs --------------------------------------------------------

KINDS = ["login", "ssh_key", "api_token", "totp", "secure_note", "certificate", "database",
         "env_set"]
FIELD_KINDS = ["text", "concealed", "totp"]


def put_str(s):
    b = s.encode()
    return u32(len(b)) + b


def encode_item(d):
    """u8 format (=1) | u8 kind | str title | u32 n, n x (str name, u8 field kind, str value)
    | str notes | u32 n, n x str tag | opt str folder | u8 favourite | opt u32 rotation days
    | opt i64 expires_at   (str = u32 length + UTF-8; opt = u8 0/1 + value; big endian)"""
    out = bytes([1, KINDS.index(d["kind"])]) + put_str(d["title"]) + u32(len(d["fields"]))
    for f in d["fields"]:
        out += put_str(f["name"]) + bytes([FIELD_KINDS.index(f["kind"])]) + put_str(f["value"])
    out += put_str(d["notes"]) + u32(len(d["tags"]))
    for t in d["tags"]:
        out += put_str(t)
    out += b"\x00" if d["folder"] is None else b"\x01" + put_str(d["folder"])
    out += bytes([d["favourite"]])
    out += b"\x00" if d["rotation_days"] is None else b"\x01" + u32(d["rotation_days"])
    out += b"\x00" if d["expires_at"] is None else b"\x01" + i64(d["expires_at"])
    return out


def item(kind, title, fields=(), notes="", tags=(), folder=None, favourite=False,
         rotation_days=None, expires_at=None):
    return {"kind": kind, "title": title,
            "fields": [{"name": n, "kind": k, "value": v} for n, k, v in fields],
            "notes": notes, "tags": list(tags), "folder": folder, "favourite": favourite,
            "rotation_days": rotation_days, "expires_at": expires_at}


def items():
    return [
        item("login", "GitHub", [("username", "text", "alice"),
                                 ("password", "concealed", "hunter2"),
                                 ("url", "text", "https://github.com"),
                                 ("one-time code", "totp", "otpauth://totp/GitHub:alice?secret="
                                  "JBSWY3DPEHPK3PXP&issuer=GitHub")],
             notes="recovery codes in the safe", tags=["work", "dev"], folder="Work/Code",
             favourite=True, rotation_days=90, expires_at=1_900_000_000),
        item("ssh_key", "deploy key", [("private key", "concealed",
                                        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"
                                        "-----END OPENSSH PRIVATE KEY-----\n")]),
        item("api_token", "Stripe", [("token", "concealed", "sk_test_123")], expires_at=-1),
        item("totp", "AWS root", [("secret", "totp", "JBSWY3DPEHPK3PXP")]),
        item("secure_note", "Ünïcödé 🗝", notes="line 1\nline 2\ttab \"quoted\" \\ \u0000 end",
             tags=["ß"]),
        item("certificate", "", folder=""),
        item("database", "prod db", [("host", "text", "db.example.com"), ("port", "text", "5432"),
                                     ("password", "concealed", "")], rotation_days=0),
        item("env_set", "ci env", [("AWS_ACCESS_KEY_ID", "text", "AKIA0000"),
                                   ("AWS_SECRET_ACCESS_KEY", "concealed", "s3cr3t")]),
    ]


def item_vectors():
    cases = [{"item": d, "encoded": encode_item(d).hex()} for d in items()]
    first = bytes.fromhex(cases[0]["encoded"])
    title_len = 2  # the title's length field follows format and kind
    fails = {
        "fail_format_2": b"\x02" + first[1:],
        "fail_kind_8": first[:1] + b"\x08" + first[2:],
        "fail_trailing_byte": first + b"\x00",
        "fail_truncated": first[:-1],
        "fail_title_length_past_end": first[:title_len] + u32(0xFFFFFFFF) + first[title_len + 4:],
        "fail_invalid_utf8": first[:title_len + 4] + b"\xff" + first[title_len + 5:],
        "fail_favourite_2": encode_item(dict(items()[5], favourite=2)),
        "fail_field_kind_3": encode_item(items()[3]).replace(b"\x02\x00\x00\x00\x10JBSWY",
                                                             b"\x03\x00\x00\x00\x10JBSWY"),
    }
    return {
        "about": "the item codec (the plaintext of every item version): ItemData as JSON (the "
                 "export's form) and its encoding in hex; one item of each kind, in "
                 "ItemKind::ALL order, so the kind codes are pinned.",
        "items": cases,
        **{k: v.hex() for k, v in fails.items()},
    }


# --- crates/core/src/vault/groups/version.rs ----------------------------------------------


def group_vectors():
    item_id = fixed("shared item id", 16)
    version, created_at, changed_at = 4, 1_800_000_000, 1_799_999_000
    ads = {
        "key_ad": key_ad(TEAM, GROUP, EPOCH, ACCOUNT),
        "token_key_ad": token_key_ad(TEAM, GROUP, EPOCH, TOKEN),
        "token_name_ad": associated_data("tessera machine token name",
                                         [TEAM, GROUP, u64(EPOCH), TOKEN]),
        "prev_ad": associated_data("tessera group previous key", [TEAM, GROUP, u64(EPOCH)]),
        "name_ad": associated_data("tessera group name", [TEAM, GROUP, u64(EPOCH)]),
        "item_key_ad": associated_data("tessera group item key",
                                       [TEAM, GROUP, item_id, u64(version), u64(EPOCH)]),
        "content_ad": associated_data("tessera group item",
                                      [TEAM, GROUP, item_id, u64(version), b"\x01",
                                       i64(created_at), i64(changed_at)]),
    }
    group_key = fixed("group key epoch 3")
    item_key = fixed("shared item key")
    data = items()[0]
    wrapped = envelope_seal(group_key, item_key, ads["item_key_ad"], fixed("item key nonce", 12))
    content = envelope_seal(item_key, encode_item(data), ads["content_ad"],
                            fixed("content nonce", 12))
    blob = u64(EPOCH) + i64(created_at) + i64(changed_at) + u32(len(wrapped)) + wrapped + content
    return {
        "about": "shared items: the associated data of every group key, name and item (team, "
                 "group, account, token and item ids fixed), and one shared item version: "
                 "epoch | created_at | secret_changed_at | u32 key length | item key sealed by "
                 "the group key | item sealed by the item key.",
        "team_id": TEAM.hex(), "group_id": GROUP.hex(), "account_id": ACCOUNT.hex(),
        "token_id": TOKEN.hex(), "item_id": item_id.hex(), "epoch": EPOCH, "version": version,
        "created_at": created_at, "secret_changed_at": changed_at,
        **{k: v.hex() for k, v in ads.items()},
        "group_key": group_key.hex(),
        "item": data,
        "blob": blob.hex(),
    }


# --- crates/protocol/src/audit.rs ---------------------------------------------------------


def audit_hash(team, e, prev):
    def opt_id(v):
        return b"\x00" if v is None else b"\x01" + bytes.fromhex(v)

    def s(v):
        b = v.encode()
        return u64(len(b)) + b

    actor = {"anonymous": b"\x00", "account": b"\x01", "token": b"\x02"}[e["actor"]["kind"]]
    if "id" in e["actor"]:
        actor += bytes.fromhex(e["actor"]["id"])
    data = (b"tessera audit v1\x00" + team + u64(e["seq"]) + i64(e["at"]) + actor
            + s(e["action"]) + opt_id(e["item_id"]) + opt_id(e["group_id"])
            + opt_id(e["subject"]) + s(e["detail"]) + prev)
    return hashlib.sha256(data).digest()


def audit_vectors():
    admin = {"kind": "account", "id": ADMIN_ACCOUNT.hex()}
    events = [
        (admin, "team_create", None, None, None, ""),
        ({"kind": "anonymous"}, "login_failed", None, None, None, "unknown address"),
        (admin, "group_create", None, GROUP.hex(), None, ""),
        (admin, "member_set", None, GROUP.hex(), ACCOUNT.hex(), "role=member; expires=never"),
        (admin, "share", fixed("shared item id", 16).hex(), GROUP.hex(), None, "v4"),
        ({"kind": "token", "id": TOKEN.hex()}, "token_use", None, GROUP.hex(), None, ""),
        ({"kind": "account", "id": ACCOUNT.hex()}, "copy", fixed("shared item id", 16).hex(),
         GROUP.hex(), None, "field=password ✓"),
    ]
    prev = bytes(32)
    entries = []
    for i, (actor, action, item_id, group_id, subject, detail) in enumerate(events):
        e = {"seq": i + 1, "at": 1_800_000_000 + 60 * i, "actor": actor, "action": action,
             "item_id": item_id, "group_id": group_id, "subject": subject, "detail": detail}
        h = audit_hash(TEAM, e, prev)
        e["prev"] = base64.b64encode(prev).decode()
        e["hash"] = base64.b64encode(h).decode()
        entries.append(e)
        prev = h
    return {
        "about": "a team's audit chain as the server sends it (GET /v1/audit entries): "
                 "SHA-256 over 'tessera audit v1\\0', the team, seq, at, actor, action, item, "
                 "group, subject, detail and the previous entry's hash.",
        "team_id": TEAM.hex(),
        "entries": entries,
        "head": prev.hex(),
    }


def main():
    write = "--write" in sys.argv[1:]
    kdf = kdf_vectors()
    kek = bytes.fromhex(kdf["two_secret"][0]["kek"])
    files = {
        "kdf/two_secret.json": kdf,
        "keys/keys.json": key_vectors(kek),
        "cert/chain.json": cert_vectors(),
        "token/machine_token.json": token_vectors(),
        "item/codec.json": item_vectors(),
        "group/shared.json": group_vectors(),
        "audit/chain.json": audit_vectors(),
    }
    differ = []
    for name, value in files.items():
        text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
        path = HERE / name
        if write:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            differ.append(name)
    if differ:
        sys.exit("these vector files differ from what this script makes: " + ", ".join(differ)
                 + "\n(a format change must be deliberate: see tests/vectors/README.md)")
    print("written" if write else "all vector files match", len(files), "files")


if __name__ == "__main__":
    main()
