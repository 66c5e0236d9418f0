#!/usr/bin/env python3
"""fuzz/make_seeds.py — regenerate the committed seed corpora in fuzz/corpus/ (docs/fuzzing.md).

Seeds are small, meaningful inputs in each harness's input format (see the comment at the top of
each fuzz/fuzz_<name>.c): valid inputs from ../shared/vectors and policy/charter.example.json, and
near-valid ones that each miss one rule. Standard library only; deterministic.

    python3 fuzz/make_seeds.py [SHARED_DIR]     (default: ../shared, else /work/shared)
"""
import base64, glob, hashlib, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = sys.argv[1] if len(sys.argv) > 1 else next(
    (d for d in (os.path.join(ROOT, "..", "shared"), "/work/shared") if os.path.isdir(d)), None)
V = json.load(open(os.path.join(SHARED, "vectors", "kluis-v1.json")))["vectors"]


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False)


# ---- jspec: request bodies ------------------------------------------------------------------------
z = lambda n, c=1: b64u(bytes([c]) * n)
enroll_item = {"section": "plan", "epoch": 1, "statement": V["statement"]["envelope"]["statement"],
               "signature": V["statement"]["envelope"]["signature"], "self_wrap": z(80), "escrow_wrap": z(128)}
enroll = {"enrollment_code": "ABCD-EFGH-IJKL", "sign_pk": b64u(bytes.fromhex(V["keys"]["sign_pk"])),
          "box_pk": b64u(bytes.fromhex(V["keys"]["box_pk"])), "salt": z(16, 7), "opslimit": 2,
          "memlimit": 67108864, "bundle": V["bundle"]["bundle_b64"], "auth_hash": z(32, 9),
          "sections": [enroll_item, dict(enroll_item, section="werk")]}
out("jspec", "enroll", compact(enroll))
out("jspec", "enroll-bad-section", compact(dict(enroll, sections=[dict(enroll_item, epoch=2)])))
out("jspec", "enroll-short-key", compact(dict(enroll, sign_pk=z(31))))
grant = {"statement": V["statement"]["envelope"]["statement"], "signature": V["statement"]["envelope"]["signature"],
         "wraps": [{"section": "plan", "epoch": 3, "wrap": b64u(bytes.fromhex(V["wrap"]["wrap"]))}]}
out("jspec", "grant", json.dumps(grant, indent=1))
out("jspec", "grant-unknown-field", compact(dict(grant, extra=True)))
out("jspec", "grant-duplicate", '{"statement":"a","statement":"b","signature":"c","wraps":[]}')
out("jspec", "every", compact({"v": z(10), "w": "AAA", "s": "short", "t": "text \u00e9", "id": "a.b-c_d",
                               "n": -5, "u": 7, "b": True, "k": z(32), "ids": ["x", "y"], "ids2": ["z"],
                               "a": [1, [2], {"3": None}], "o": {"id": "inner", "v": z(64)}, "x": 1.5e3}))
out("jspec", "every-late-failure", compact({"v": z(64), "w": z(3), "id": "ok", "n": 6}))
out("jspec", "deep", '{"x":' + "[" * 15 + "]" * 15 + ',"id":"d"}')
out("jspec", "too-deep", '{"x":' + "[" * 16 + "]" * 16 + "}")
out("jspec", "not-object", '["id"]')

# ---- statement ------------------------------------------------------------------------------------
TYPES = ["epoch", "entry", "grant", "revoke", "request", "override", "override-approval", "override-close"]
NOW = 1790000000


def hdr(mode, tsel, flags=0, now=NOW):
    return bytes([mode, tsel]) + struct.pack(">Q", now) + bytes([flags])


env = V["statement"]["envelope"]
out("statement", "env-grant", hdr(0, 2, 1) + (env["statement"] + "\n" + env["signature"]).encode())
out("statement", "env-grant-late", hdr(0, 2, 0, NOW + 86401) + (env["statement"] + "\n" + env["signature"]).encode())
out("statement", "env-wrong-type", hdr(0, 3) + (env["statement"] + "\n" + env["signature"]).encode())
out("statement", "env-bad-sig", hdr(0, 2) + (env["statement"] + "\n" + env["signature"][:-2] + "AA").encode())
common = {"id": "s-0001", "signer": "burger-0001", "issued": NOW}
h32 = b64u(hashlib.blake2b(b"x", digest_size=32).digest())
bodies = {
    "epoch": {"citizen": "burger-0001", "section": "plan", "epoch": 1, "commit": h32},
    "entry": {"citizen": "burger-0001", "section": "plan", "epoch": 3, "blob_hash": h32, "corrects": "e-0001"},
    "grant": {"citizen": "burger-0001", "grantee": "wijk-anna", "sections": ["plan", "werk"], "access": "write",
              "purpose": "ondersteuning", "not_before": NOW, "expires": NOW + 86400, "request": "r-1", "note": "ok"},
    "revoke": {"citizen": "burger-0001", "grant": "g-0001"},
    "request": {"citizen": "burger-0001", "sections": ["plan"], "access": "read", "purpose": "ondersteuning",
                "days": 30, "note": "graag"},
    "override": {"citizen": "burger-0001", "sections": ["*"], "beneficiary": "wijk-anna", "ground": "acuut-gevaar",
                 "justification": "Acuut gevaar voor de inwoner.", "hours": 24},
    "override-approval": {"override": "o-0001", "statement_hash": h32},
    "override-close": {"override": "o-0001", "reason": "klaar"},
}
for i, t in enumerate(TYPES):
    s = compact(dict({"type": t}, **common, **bodies[t]))
    out("statement", "signed-" + t, hdr(1, i, 1) + s.encode())
out("statement", "signed-vector-grant", hdr(1, 0x80, 1) + V["statement"]["statement_bytes"].encode())
out("statement", "signed-override-sections", hdr(1, 5) + compact(dict({"type": "override"}, **common, **dict(
    bodies["override"], sections=["plan", "werk"]))).encode())
out("statement", "signed-grant-bad-access", hdr(1, 2) + compact(dict({"type": "grant"}, **common, **dict(
    bodies["grant"], access="admin"))).encode())
out("statement", "signed-grant-unknown", hdr(1, 2) + compact(dict({"type": "grant"}, **common, **dict(
    bodies["grant"], extra=1))).encode())

# ---- charter --------------------------------------------------------------------------------------
ch_text = open(os.path.join(ROOT, "policy", "charter.example.json"), "rb").read()
out("charter", "example", ch_text)
ch = json.loads(ch_text)
small = dict(ch, principles=ch["principles"][:1], sections=ch["sections"][:2],
             purposes=[dict(ch["purposes"][0], sections=[ch["sections"][0]["id"]])])
out("charter", "small", compact(small))
out("charter", "bad-purpose-section", compact(dict(small, purposes=[dict(small["purposes"][0], sections=["nope"])])))
out("charter", "bad-role", compact(dict(small, grant_roles=["citizen"])))
out("charter", "dup-section", compact(dict(small, sections=[small["sections"][0], small["sections"][0]])))
out("charter", "bad-override", compact(dict(small, override=dict(ch["override"], max_hours=169))))

# ---- keyfile and bundle ---------------------------------------------------------------------------
K = V["keys"]
secret = bytes.fromhex(K["sign_seed"]) + bytes.fromhex(K["box_sk"])
kf = lambda o: json.dumps(o, indent=2) + "\n"
out("keyfile", "principal-plain", b"\x00" + kf({"kluis_key": 1, "id": "burger-0001", "kdf": "none",
                                                "secret": b64u(secret)}).encode())
out("keyfile", "principal-argon", b"\x00" + kf({"kluis_key": 1, "id": "burger-0001", "kdf": "argon2id13",
                                                "salt": z(16, 7), "opslimit": 2, "memlimit": 67108864,
                                                "sealed": z(104, 3)}).encode())
out("keyfile", "principal-loose", b"\x02" + kf({"kluis_key": 1, "id": "burger-0001", "kdf": "none",
                                                "secret": b64u(secret)}).encode())
out("keyfile", "public", b"\x02" + kf({"kluis_pub": 1, "id": "burger-0001",
                                       "sign_pk": b64u(bytes.fromhex(K["sign_pk"])),
                                       "box_pk": b64u(bytes.fromhex(K["box_pk"]))}).encode())
out("keyfile", "public-bad-point", b"\x00" + kf({"kluis_pub": 1, "id": "x", "sign_pk": z(32, 0xff),
                                                 "box_pk": z(32)}).encode())
out("keyfile", "authority-plain", b"\x00" + kf({"kluis_authority": 1, "kdf": "none",
                                                "secret": b64u(bytes.fromhex(V["escrow"]["authority_sk"]))}).encode())
out("keyfile", "authority-argon", b"\x00" + kf({"kluis_authority": 1, "kdf": "argon2id13", "salt": z(16),
                                                "opslimit": 16, "memlimit": 1073741824, "sealed": z(72)}).encode())
out("keyfile", "authority-pub", b"\x02" + kf({"kluis_authority_pub": 1, "box_pk": z(32, 5)}).encode())
out("keyfile", "two-tags", b"\x00" + kf({"kluis_pub": 1, "kluis_key": 1, "id": "a", "sign_pk": z(32),
                                         "box_pk": z(32)}).encode())
bundle = {"bundle": V["bundle"]["bundle_b64"], "sign_pk": b64u(bytes.fromhex(K["sign_pk"])),
          "box_pk": b64u(bytes.fromhex(K["box_pk"]))}
out("keyfile", "bundle", b"\x01" + compact(bundle).encode())
out("keyfile", "bundle-other-citizen", b"\x01" + compact(dict(bundle, citizen="burger-0002")).encode())
out("keyfile", "bundle-bad-citizen", b"\x01" + compact(dict(bundle, citizen="Burger 1")).encode())

# ---- checkpoint -----------------------------------------------------------------------------------
note = V["checkpoint"]["note"].encode()
out("checkpoint", "vector-note", b"\x00" + note)
body, sigs = note.split(b"\n\n", 1)
out("checkpoint", "vector-note-witness", b"\x00" + note + "\u2014 witness.example/w ".encode() +
    base64.b64encode(b"\x01\x02\x03\x04" + b"\x05" * 64) + b"\n")
out("checkpoint", "vector-note-bad-size", b"\x00" + note.replace(b"\n3\n", b"\n03\n"))
out("checkpoint", "signed-body", b"\x01" + body + b"\n")
out("checkpoint", "signed-body-witness", b"\x01" + body + b"\n\x00" + "\u2014 w.example ".encode() +
    base64.b64encode(b"\xaa" * 68) + b"\n")
out("checkpoint", "signed-body-big", b"\x01" + b"testdam.example/kluis\n18446744073709551615\n" +
    base64.b64encode(b"\x00" * 32) + b"\n")
out("checkpoint", "signed-body-extension", b"\x01" + body + b"\nextension line\n")

# ---- merkle: the transparency-dev vectors in the harness's binary format -------------------------
b64d = lambda s: base64.b64decode(s) if s else b""


def hashes(lst):
    return b"".join(b64d(h).ljust(32, b"\0")[:32] for h in (lst or []))


n = 0
for p in sorted(glob.glob(os.path.join(SHARED, "vectors", "merkle", "inclusion", "*", "*.json"))):
    v = json.load(open(p))
    if not any(k in os.path.basename(p) for k in ("happy-path", "sub-@1", "truncated", "wrong-leaf", "garbage")):
        continue
    data = b"\x00" + struct.pack(">QQ", v["leafIdx"] % 2**64, v["treeSize"] % 2**64) + \
        hashes([v["leafHash"], v["root"]]) + hashes(v["proof"])
    out("merkle", "incl-%s-%s" % (os.path.basename(os.path.dirname(p)), os.path.basename(p)[:-5]), data)
    n += 1
for p in sorted(glob.glob(os.path.join(SHARED, "vectors", "merkle", "consistency", "*", "*.json"))):
    v = json.load(open(p))
    if not any(k in os.path.basename(p) for k in ("happy-path", "sub-@1", "truncated", "swapped", "sizes-")):
        continue
    data = b"\x01" + struct.pack(">QQ", v["size1"] % 2**64, v["size2"] % 2**64) + \
        hashes([v.get("root1"), v.get("root2")]) + hashes(v.get("proof"))
    out("merkle", "cons-%s-%s" % (os.path.basename(os.path.dirname(p)), os.path.basename(p)[:-5]), data)
for leaves, a, b in ((1, 0, 0), (7, 3, 6), (256, 200, 255), (100, 64, 99)):
    out("merkle", "tree-%d-%d-%d" % (leaves, a, b), bytes([2, 0x42, leaves - 1, a, b]) + bytes([0, 1, 5, 3, 1, 0, 1, 0, 0]))
print("seeds written to", os.path.join(HERE, "corpus"))
