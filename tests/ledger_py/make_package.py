#!/usr/bin/env python3
"""Test helper: writes a valid recaudit ledger audit package (ledger format v1).

It shares no code with src/ledger/verify.py on purpose: the Merkle tree, the records, the
signed notes and the Ed25519 signer below are written again from the specification, so that
the tests compare two independent implementations.  Everything is deterministic from a seed.

    python3 tests/ledger_py/make_package.py OUT_DIR [--runs N] [--seed S] [--tsa] [--no-listed]

writes a package into OUT_DIR (which must not exist) and prints its vkey.  By default some runs
(chosen from the seed) have listed input records (`recaudit-input-listed v1`, S3 objects that
were listed, not downloaded) mixed with the ordinary ones; --no-listed writes only ordinary ones.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VERIFY_PY = os.path.join(REPO, "src", "ledger", "verify.py")
VERIFY_MD = os.path.join(REPO, "src", "ledger", "VERIFY.md")

# Finding counts of the first runs: empty runs and the small tree sizes around powers of two.
DEFAULT_FINDING_COUNTS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 0, 16, 17, 6, 1, 0, 10, 3]

# ---------------------------------------------------------------------------------------------
# Ed25519 (RFC 8032 section 6), signer and verifier
# ---------------------------------------------------------------------------------------------

P = 2 ** 255 - 19
Q = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    A = (a[1] - a[0]) * (b[1] - b[0]) % P
    B = (a[1] + a[0]) * (b[1] + b[0]) % P
    C = 2 * a[3] * b[3] * D % P
    Dd = 2 * a[2] * b[2] % P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F, G * H, F * G, E * H)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
G = (_GX, _GY, 1, _GX * _GY % P)


def _compress(p):
    zinv = pow(p[2], P - 2, P)
    x, y = p[0] * zinv % P, p[1] * zinv % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _expand(secret):
    h = hashlib.sha512(secret).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(secret):
    return _compress(_mul(_expand(secret)[0], G))


def ed25519_sign(secret, msg):
    a, prefix = _expand(secret)
    pub = _compress(_mul(a, G))
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % Q
    rs = _compress(_mul(r, G))
    h = int.from_bytes(hashlib.sha512(rs + pub + msg).digest(), "little") % Q
    return rs + int.to_bytes((r + h * a) % Q, 32, "little")


# ---------------------------------------------------------------------------------------------
# RFC 6962 / 9162 Merkle tree, straight from the RFC's recursive definitions
# ---------------------------------------------------------------------------------------------


def leaf(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def _split(n):
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth_of_hashes(hs):
    if not hs:
        return hashlib.sha256(b"").digest()
    if len(hs) == 1:
        return hs[0]
    k = _split(len(hs))
    return node(mth_of_hashes(hs[:k]), mth_of_hashes(hs[k:]))


def inclusion_path(m, hs):
    """RFC 9162 2.1.3.1 PATH(m, D[n]) over leaf hashes."""
    if len(hs) <= 1:
        return []
    k = _split(len(hs))
    if m < k:
        return inclusion_path(m, hs[:k]) + [mth_of_hashes(hs[k:])]
    return inclusion_path(m - k, hs[k:]) + [mth_of_hashes(hs[:k])]


def consistency_path(m, hs):
    """RFC 9162 2.1.4.1 PROOF(m, D[n]) over leaf hashes (empty for m = 0 or m = n)."""
    def sub(m, hs, b):
        n = len(hs)
        if m == n:
            return [] if b else [mth_of_hashes(hs)]
        k = _split(n)
        if m <= k:
            return sub(m, hs[:k], b) + [mth_of_hashes(hs[k:])]
        return sub(m - k, hs[k:], False) + [mth_of_hashes(hs[:k])]
    if m == 0 or m == len(hs):
        return []
    return sub(m, hs, True)


# ---------------------------------------------------------------------------------------------
# Keys, signed notes, records
# ---------------------------------------------------------------------------------------------

DASH = "\u2014"


class Key:
    def __init__(self, name, seed):
        self.name = name
        self.secret = hashlib.sha256(b"recaudit test key " + str(seed).encode()).digest()
        self.public = ed25519_public(self.secret)
        self.key_id = hashlib.sha256(name.encode() + b"\n\x01" + self.public).digest()[:4]

    @property
    def vkey(self):
        return "%s+%s+%s" % (self.name, self.key_id.hex(), base64.b64encode(b"\x01" + self.public).decode())

    def signature_line(self, text, key_id=None):
        sig = ed25519_sign(self.secret, text.encode())
        blob = (self.key_id if key_id is None else key_id) + sig
        return "%s %s %s\n" % (DASH, self.name, base64.b64encode(blob).decode())


def checkpoint_body(origin, size, root):
    return "%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())


def signed_note(body, keys):
    return body + "\n" + "".join(k.signature_line(body) for k in keys)


def record(header, fields):
    return ("%s\n" % header + "".join("%s %s\n" % kv for kv in fields)).encode("ascii")


def utc(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def hexdigest(rng):
    return "%064x" % rng.getrandbits(256)


def uuid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])


REASONS = ["duration-mismatch", "export-failed", "media-file-missing", "media-not-established",
           "orphan-recording", "recording-error", "recording-missing", "retention-shortfall"]
STATUSES = ["complete", "exception", "pending", "excluded", "not-required"]


def make_finding(rng, run_id, seq, start):
    started = start + datetime.timedelta(milliseconds=rng.randrange(86400000))
    ended = "none" if rng.random() < 0.2 else utc(started + datetime.timedelta(milliseconds=rng.randrange(1, 3600000)))
    status = rng.choice(STATUSES)
    reasons = sorted(rng.sample(REASONS, rng.randrange(0, 3))) if status != "complete" else []
    recordings = sorted(uuid(rng) for _ in range(rng.randrange(0, 3)))
    media = sorted(hexdigest(rng) for _ in range(len(recordings)))
    interaction = uuid(rng) if rng.random() < 0.9 else "conv%2F" + uuid(rng) + "~x"
    return record("recaudit-finding v1", [
        ("run", run_id), ("seq", seq), ("interaction", interaction),
        ("media", rng.choice(["voice", "chat", "email", "callback", "message"])),
        ("direction", rng.choice(["inbound", "outbound", "unknown"])),
        ("started", utc(started)), ("ended", ended), ("status", status),
        ("reasons", ",".join(reasons) or "none"), ("recordings", ",".join(recordings) or "none"),
        ("media-sha256", ",".join(media) or "none"), ("rule-set", "rules-1.0.0")])


def make_input(rng, run_id, seq, received):
    kind = rng.choice(["analytics-details-page", "recording-metadata", "export-media"])
    return record("recaudit-input v1", [
        ("run", run_id), ("seq", seq), ("kind", kind),
        ("source", "%2Fapi%2Fv2%2Fanalytics%2Fconversations%2Fdetails%2Fquery%3FpageNumber%3D" + str(seq + 1)),
        ("received", utc(received)), ("bytes", rng.randrange(0, 10 ** 7)), ("sha256", hexdigest(rng))])


# pct: every byte outside A-Z a-z 0-9 - . _ ~ as %XX with uppercase hex, nothing else encoded.
PCT_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def pct(text):
    raw = text.encode("utf-8")
    return "".join(chr(b) if b in PCT_UNRESERVED else "%%%02X" % b for b in raw)


def make_listed_input(rng, run_id, seq, received):
    """A `recaudit-input-listed v1` record: an S3 bulk-export media object as a bucket listing
    describes it (key, size, ETag without its double quotes, version id or none, Last-Modified),
    written straight from the record definition."""
    when = received - datetime.timedelta(hours=rng.randrange(1, 48), seconds=rng.randrange(3600))
    conversation, recording = uuid(rng), uuid(rng)
    name = recording + rng.choice([".opus", ".ogg", ".wav", " (1).opus", "-\u00e4.opus"])
    key = "org-1/year=%d/month=%d/day=%d/conversation_id=%s/%s" % (
        when.year, when.month, when.day, conversation, name)
    etag = "%032x" % rng.getrandbits(128)
    if rng.random() < 0.4:
        etag += "-%d" % rng.randrange(2, 100)  # a multipart upload: not the MD5 of the bytes
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+/"
    version = "none" if rng.random() < 0.3 else pct("".join(rng.choice(alphabet) for _ in range(32)))
    return record("recaudit-input-listed v1", [
        ("run", run_id), ("seq", seq), ("kind", "export-media-object"),
        ("source", pct("s3://recaudit-export-bucket/" + key)), ("received", utc(received)),
        ("bytes", rng.randrange(0, 10 ** 8)), ("etag", pct(etag)), ("version", version),
        ("modified", utc(when.replace(microsecond=0)))])


def write_records(path, records):
    with open(path, "wb") as f:
        for r in records:
            f.write(r)
            f.write(b"\n")


# ---------------------------------------------------------------------------------------------
# The package
# ---------------------------------------------------------------------------------------------


class Package:
    """A generated package and what the tests need to tamper with it."""

    def __init__(self, directory, key, origin):
        self.dir = directory
        self.key = key
        self.origin = origin
        self.run_records = []  # bytes of each run record
        self.findings = []  # per run: list of finding record bytes
        self.inputs = []  # per run: list of input record bytes
        self.listed = []  # per run: the seqs of its listed input records (recaudit-input-listed v1)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def size(self):
        return len(self.run_records)

    def run_hashes(self):
        return [leaf(r) for r in self.run_records]

    def root(self, size=None):
        hs = self.run_hashes()
        return mth_of_hashes(hs[: self.size if size is None else size])

    def note(self, size):
        with open(self.path("checkpoints", "%d.note" % size), "rb") as f:
            return f.read()

    def write_checkpoint(self, size, keys=None):
        body = checkpoint_body(self.origin, size, self.root(size))
        with open(self.path("checkpoints", "%d.note" % size), "w", encoding="utf-8", newline="") as f:
            f.write(signed_note(body, keys or [self.key]))

    def proof(self, run_index, finding_index):
        """A proof file as `recaudit ledger prove` writes it (a dict)."""
        fh = [leaf(r) for r in self.findings[run_index]]
        return {
            "format": "recaudit-proof v1",
            "finding": self.findings[run_index][finding_index].decode(),
            "finding_index": finding_index,
            "findings_size": len(fh),
            "finding_path": [h.hex() for h in inclusion_path(finding_index, fh)],
            "run": self.run_records[run_index].decode(),
            "run_index": run_index,
            "tree_size": self.size,
            "run_path": [h.hex() for h in inclusion_path(run_index, self.run_hashes())],
            "checkpoint": self.note(self.size).decode("utf-8"),
        }

    def write_proof(self, path, run_index, finding_index, changes=None):
        proof = self.proof(run_index, finding_index)
        proof.update(changes or {})
        with open(path, "w", encoding="utf-8") as f:
            json.dump(proof, f, indent=1)


def build_package(directory, runs=None, seed=1, finding_counts=None, origin="audit.example.com/recaudit/org-1",
                  key_seed=1, base=datetime.datetime(2025, 3, 1), tsa=None, copy_tools=True,
                  input_counts=None, overrides=None, listed=None, edit_input=None):
    """Writes a package with `runs` runs (default: len(finding_counts)) into `directory` and
    returns a Package.  finding_counts[i] findings in run i (random 0-12 past the list).
    `tsa` (a Tsa) adds an RFC 3161 token for every checkpoint.  overrides = {run index: {key:
    value}} replaces run record values (before hashing and signing: an insider's rewrite).

    listed: which input records are listed ones (recaudit-input-listed v1) instead of ordinary
    ones.  None (default): chosen from the seed, in about half of the runs a quarter to all of
    their inputs; False: none; {run index: seqs}: exactly those.  Listed records come from
    their own random stream, so everything else in the package is what it is with listed=False.
    edit_input(run index, seq, record bytes) -> bytes, if given, rewrites input records before
    they are hashed and signed (an insider's consistent rewrite)."""
    rng = random.Random(seed)
    listed_rng = random.Random("recaudit listed inputs %d" % seed)
    counts = list(DEFAULT_FINDING_COUNTS if finding_counts is None else finding_counts)
    runs = len(counts) if runs is None else runs
    while len(counts) < runs:
        counts.append(rng.randrange(0, 13))
    key = Key(origin, key_seed)
    pkg = Package(directory, key, origin)
    os.makedirs(pkg.path("runs"))
    os.makedirs(pkg.path("checkpoints"))
    with open(pkg.path("ledger.vkey"), "w") as f:
        f.write(key.vkey + "\n")
    pkg.write_checkpoint(0)
    run_ids = []
    for i in range(runs):
        run_id = "%s.run-%04d-%04x" % ((base + datetime.timedelta(days=i)).strftime("%Y%m%d"), i, rng.getrandbits(16))
        changes = (overrides or {}).get(i, {})
        run_id = changes.get("run", run_id)
        start = base + datetime.timedelta(days=i)
        end = start + datetime.timedelta(days=1)
        completed = end + datetime.timedelta(hours=6, milliseconds=rng.randrange(3600000))
        n_inputs = input_counts[i] if input_counts and i < len(input_counts) else rng.randrange(0, 7)
        inputs = [make_input(rng, run_id, s, end + datetime.timedelta(minutes=s)) for s in range(n_inputs)]
        if listed is None:
            share = listed_rng.choice([0.25, 0.5, 0.75, 1]) if listed_rng.random() < 0.5 else 0
            listed_seqs = [s for s in range(n_inputs) if listed_rng.random() < share]
        else:
            listed_seqs = sorted(s for s in (listed or {}).get(i, ()) if s < n_inputs)
        for s in listed_seqs:
            inputs[s] = make_listed_input(listed_rng, run_id, s, end + datetime.timedelta(minutes=s))
        if edit_input is not None:
            inputs = [edit_input(i, s, r) for s, r in enumerate(inputs)]
        if counts[i] > 50000:  # large runs: cheap, still unique and valid
            findings = [big_finding(run_id, s) for s in range(counts[i])]
        else:
            findings = [make_finding(rng, run_id, s, start) for s in range(counts[i])]
        supersedes = run_ids[-3] if i % 5 == 4 and len(run_ids) >= 3 else "none"
        run = record("recaudit-run v1", [(k, changes.get(k, v)) for k, v in [
            ("origin", origin), ("index", i), ("run", run_id),
            ("window-start", utc(start)), ("window-end", utc(end)), ("completed", utc(completed)),
            ("inputs", len(inputs)), ("inputs-root", mth_of_hashes([leaf(r) for r in inputs]).hex()),
            ("findings", len(findings)), ("findings-root", mth_of_hashes([leaf(r) for r in findings]).hex()),
            ("reports-sha256", hexdigest(rng) if i % 3 else "none"),
            ("prev-root", pkg.root().hex()), ("supersedes", supersedes),
            ("rule-set", "rules-1.0.0"), ("software", "recaudit-0.3.1")]])
        run_ids.append(run_id)
        pkg.run_records.append(run)
        pkg.findings.append(findings)
        pkg.inputs.append(inputs)
        pkg.listed.append(listed_seqs)
        with open(pkg.path("runs", "%d.run" % i), "wb") as f:
            f.write(run)
        write_records(pkg.path("runs", "%d.inputs" % i), inputs)
        write_records(pkg.path("runs", "%d.findings" % i), findings)
        pkg.write_checkpoint(i + 1)
    if tsa is not None:
        tsa.install(pkg)
    if copy_tools:
        shutil.copy(VERIFY_PY, pkg.path("verify.py"))
        if os.path.exists(VERIFY_MD):
            shutil.copy(VERIFY_MD, pkg.path("VERIFY.md"))
    return pkg


def big_finding(run_id, seq):
    return ("recaudit-finding v1\nrun %s\nseq %d\ninteraction conv-%010d\nmedia voice\ndirection inbound\n"
            "started 2025-03-01T10:00:00.000Z\nended 2025-03-01T10:05:00.000Z\nstatus exception\n"
            "reasons media-not-established,recording-missing\nrecordings none\nmedia-sha256 none\n"
            "rule-set rules-1.0.0\n" % (run_id, seq, seq)).encode()


# ---------------------------------------------------------------------------------------------
# A throw-away RFC 3161 time-stamp authority (openssl)
# ---------------------------------------------------------------------------------------------

TSA_CONFIG = """
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = test
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ tsa_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
"""


class Tsa:
    """A CA and a TSA certificate made with openssl, to stamp checkpoint text."""

    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.config = os.path.join(directory, "tsa.cnf")
        with open(self.config, "w") as f:
            f.write(TSA_CONFIG.replace("{dir}", directory))
        with open(os.path.join(directory, "serial"), "w") as f:
            f.write("01\n")
        self._openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=Test TSA CA",
                      "-config", self.config, "-extensions", "ca_ext")
        self._openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=Test TSA", "-config", self.config)
        self._openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                      "-out", "tsa.crt", "-days", "3650", "-extfile", self.config, "-extensions", "tsa_ext")
        self.ca = os.path.join(directory, "ca.pem")

    def _openssl(self, *args):
        subprocess.run(["openssl"] + list(args), cwd=self.dir, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stamp(self, data, out_path):
        """Writes a TimeStampResp (DER) over `data` to out_path."""
        with tempfile.TemporaryDirectory() as tmp:
            data_file = os.path.join(tmp, "data")
            with open(data_file, "wb") as f:
                f.write(data)
            query = os.path.join(tmp, "q.tsq")
            self._openssl("ts", "-query", "-data", data_file, "-sha256", "-cert", "-out", query)
            self._openssl("ts", "-reply", "-config", self.config, "-queryfile", query, "-out",
                          os.path.abspath(out_path))

    def install(self, pkg, sizes=None):
        shutil.copy(self.ca, pkg.path("checkpoints", "tsa-ca.pem"))
        for size in range(pkg.size + 1) if sizes is None else sizes:
            body = pkg.note(size).split(b"\n\n")[0] + b"\n"
            self.stamp(body, pkg.path("checkpoints", "%d.tsr" % size))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out")
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--findings", type=int, default=None, help="findings in every run")
    p.add_argument("--tsa", action="store_true", help="add RFC 3161 tokens (needs openssl)")
    p.add_argument("--no-listed", action="store_true",
                   help="no listed input records (recaudit-input-listed v1), only ordinary ones")
    a = p.parse_args()
    counts = None if a.findings is None else [a.findings] * (a.runs or 1)
    tsa = Tsa(tempfile.mkdtemp(prefix="tsa-")) if a.tsa else None
    pkg = build_package(a.out, runs=a.runs, seed=a.seed, finding_counts=counts, tsa=tsa,
                        listed=False if a.no_listed else None)
    print(pkg.key.vkey)


if __name__ == "__main__":
    sys.exit(main())
