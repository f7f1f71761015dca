#!/usr/bin/env python3
"""Independent verifier for a recaudit ledger audit package (ledger format v1).

This file is the reference verifier shipped inside every audit package written by
`recaudit ledger export`.  It uses only the Python standard library (Python >= 3.8) and shares no
code with recaudit, so an auditor or an opposing expert can read it in full and check a package
without trusting recaudit's software.  The format it checks is described in the package's
VERIFY.md and in recaudit's ledger-format specification.

Usage:

    python3 verify.py [PACKAGE_DIR] [--vkey VKEY_STRING_OR_FILE] [--tsa-ca FILE]
                      [--checkpoint OLD.note ...] [--proof PROOF.json ...]

PACKAGE_DIR defaults to the directory that holds this file.  The verifier key defaults to
PACKAGE_DIR/ledger.vkey; an auditor should pass the key obtained independently with --vkey
(a vkey string `<name>+<key id>+<base64 key>`, or a file holding it).

What it checks (ids as in the specification; each failure names its check):

    V1   every checkpoints/<size>.note parses strictly (exact layout, no CR, final LF, no
         extension lines, canonical size and base64 root) and its origin is the key's name
    V2   every checkpoint carries a valid Ed25519 signature by the ledger key (C2SP signed note)
    V3   RFC 3161 time-stamp tokens (checkpoints/<size>.tsr) verify with openssl over the
         checkpoint text, and their time is not before the covered run's `completed` time
         (skipped, and said so, without openssl >= 3.0 or the TSA's CA certificate)
    V4   the newest checkpoint's size equals the number of run records and its root equals the
         RFC 6962 Merkle tree hash (MTH) of the run records
    V5   each run record parses strictly; index = file name = position; origin; prev-root is the
         MTH of the run records before it
    V6   each run's .inputs and .findings files: strict records, each followed by one empty line;
         seq = position; run = the run's id; interaction ids unique; counts and roots match.
         An .inputs file mixes two layouts, told apart by their first line: `recaudit-input v1`
         (a payload that was read, with its SHA-256; never of kind export-media-object) and
         `recaudit-input-listed v1` (an S3 object that was only listed, not downloaded: what
         the bucket said of it, no hash; always of kind export-media-object).  Listed inputs
         are counted in NOTE lines: they are to be checked against the bucket (VERIFY.md)
    V7   window-start <= window-end <= completed; completed never decreases; supersedes names an
         earlier run (and run ids are unique)
    V8   each --checkpoint note (an older checkpoint the auditor kept) is valid and consistent
         with the current log (RFC 9162 consistency proof); otherwise both notes are printed
    V9   each --proof file (from `recaudit ledger prove`) verifies: finding -> findings-root,
         run record -> checkpoint root, checkpoint signature
    V10  every pair of consecutive checkpoints is consistent (RFC 9162 consistency proof), every
         checkpoint's root is the MTH of the run records it covers, one checkpoint per run

Two verdicts are printed: `integrity` (nothing altered: V1-V3, V4 root, V5-V7, V9) and
`completeness` (nothing missing relative to the checkpoints held: V4 size, V8, V10).
Each failure is one line `FAIL V<n> [run <run-id>] [seq <n>]: <what>` (at most 20 per record
file; the rest are counted on one more FAIL line); passed checks print `OK V<n>: ...`, skipped
ones `SKIP V<n>: ...`, remarks `NOTE: ...`.  The last two lines are `integrity: OK|FAILED` and
`completeness: OK|FAILED`.  The exit status is 0 only if no check failed (a skipped check is not
a failure), 1 if one failed, 2 on a usage error.

Hashing is RFC 6962 / RFC 9162: leaf hash = SHA-256(0x00 || leaf bytes), node hash =
SHA-256(0x01 || left || right), the empty tree hashes to SHA-256("").
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

# ---------------------------------------------------------------------------------------------
# 1. RFC 6962 / RFC 9162 Merkle trees
# ---------------------------------------------------------------------------------------------

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data):
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n):
    """The largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaf_hashes):
    """RFC 6962 Merkle Tree Hash over a list of leaf hashes, exactly as the RFC defines it."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


class StreamingTree:
    """Computes the MTH of leaves added one at a time, in O(log n) memory.

    It keeps the roots of the complete subtrees on the tree's right edge (sizes are decreasing
    powers of two).  Folding them from the right gives exactly the RFC 6962 MTH, because MTH
    splits at the largest power of two below n.
    """

    def __init__(self):
        self.size = 0
        self._stack = []  # (subtree size, subtree hash), sizes strictly decreasing

    def add(self, leaf):
        size, h = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            size, h = size * 2, node_hash(left, h)
        self._stack.append((size, h))
        self.size += 1

    def root(self):
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


class MerkleLog:
    """All leaf hashes of a log, with the hashes of every complete aligned subtree cached, so that
    roots of prefixes and RFC 9162 consistency proofs cost O(log n) hashes each."""

    def __init__(self, leaf_hashes):
        self.levels = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    @property
    def size(self):
        return len(self.levels[0])

    def subtree_hash(self, lo, hi):
        """MTH of leaves [lo, hi)."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            level = n.bit_length() - 1
            return self.levels[level][lo >> level]
        k = largest_power_of_two_below(n)
        return node_hash(self.subtree_hash(lo, lo + k), self.subtree_hash(lo + k, hi))

    def root(self, size):
        """MTH of the first `size` leaves."""
        if not 0 <= size <= self.size:
            raise ValueError("tree size %d outside the log (%d leaves)" % (size, self.size))
        return self.subtree_hash(0, size)

    def consistency_proof(self, m, n):
        """RFC 9162 section 2.1.4.1: PROOF(m, D[n]); empty for m = 0 and m = n."""
        if not 0 <= m <= n <= self.size:
            raise ValueError("cannot prove consistency between sizes %d and %d" % (m, n))
        if m == 0 or m == n:
            return []
        return self._subproof(m, 0, n, True)

    def _subproof(self, m, lo, hi, complete):
        n = hi - lo
        if m == n:
            return [] if complete else [self.subtree_hash(lo, hi)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return self._subproof(m, lo, lo + k, complete) + [self.subtree_hash(lo + k, hi)]
        return self._subproof(m - k, lo + k, hi, False) + [self.subtree_hash(lo, lo + k)]


def root_from_inclusion_proof(index, size, leaf, path):
    """RFC 9162 section 2.1.3.2.  Returns the root the audit path leads to, or None if the path
    has the wrong shape for (index, size)."""
    if index >= size or index < 0:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_consistency(m, n, root_m, root_n, proof):
    """RFC 9162 section 2.1.4.2, with the edge cases m = 0 (empty proof, any older root must be
    the empty-tree hash) and m = n (empty proof, equal roots).  Returns True or False."""
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not proof and root_m == EMPTY_ROOT
    if m == n:
        return not proof and root_m == root_n
    if not proof:
        return False
    path = list(proof)
    if m & (m - 1) == 0:
        path.insert(0, root_m)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root_m and sr == root_n and sn == 0


# ---------------------------------------------------------------------------------------------
# 2. Ed25519 signature verification (RFC 8032, section 6 reference arithmetic)
# ---------------------------------------------------------------------------------------------

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _point_add(a, b):
    """Add two points in extended coordinates (X, Y, Z, T)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _point_decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


_G_Y = 4 * pow(5, _P - 2, _P) % _P
_G_X = _recover_x(_G_Y, 0)
_G = (_G_X, _G_Y, 1, _G_X * _G_Y % _P)


def ed25519_verify(public_key, message, signature):
    """True if `signature` (64 bytes) is a valid Ed25519 signature of `message` by
    `public_key` (32 bytes), per RFC 8032: S < L and [S]B = R + [k]A with
    k = SHA-512(R || A || M) mod L.  ([S]B - [k]A is computed in one pass over the bits of S
    and k, which is the same equation, about twice as fast.)"""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _point_decompress(public_key)
    r = _point_decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    minus_a = ((-a[0]) % _P, a[1], a[2], (-a[3]) % _P)
    both = _point_add(_G, minus_a)
    q = (0, 1, 1, 0)
    for bit in range(max(s.bit_length(), k.bit_length()) - 1, -1, -1):
        q = _point_add(q, q)
        s_bit, k_bit = (s >> bit) & 1, (k >> bit) & 1
        if s_bit and k_bit:
            q = _point_add(q, both)
        elif s_bit:
            q = _point_add(q, _G)
        elif k_bit:
            q = _point_add(q, minus_a)
    return _point_equal(q, r)


# ---------------------------------------------------------------------------------------------
# 3. Verifier keys and C2SP signed notes / tlog checkpoints
# ---------------------------------------------------------------------------------------------

EM_DASH = "\u2014"  # bytes e2 80 94; every signature line starts with it and a space
MAX_SIGNATURES = 100  # the spec requires accepting at least 16 signature lines
_ORIGIN_RE = re.compile(r"[\x21-\x2a\x2c-\x7e]{1,255}")  # printable ASCII, no space, no '+'
_UINT_RE = re.compile(r"0|[1-9][0-9]*")
_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class NoteError(Exception):
    """A note or key that does not parse (check V1) or does not verify (check V2)."""

    def __init__(self, check, message):
        Exception.__init__(self, message)
        self.check = check


def strict_b64decode(text):
    """Standard padded base64 in canonical form only (re-encoding must give the same text)."""
    if not _B64_RE.fullmatch(text) or len(text) % 4 != 0:
        raise ValueError("not standard padded base64")
    data = base64.b64decode(text, validate=True)
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return data


def key_id(name, public_key):
    """First 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_key).digest()[:4]


class VerifierKey:
    """A vkey `<name>+<key id as 8 lowercase hex>+<base64(0x01 || 32-byte Ed25519 key)>`."""

    def __init__(self, text):
        parts = text.split("+", 2)  # the name has no '+'; the base64 key may
        if len(parts) != 3:
            raise NoteError("V2", "vkey must be <name>+<key id>+<base64 key>, got %r" % text)
        name, kid_hex, key_b64 = parts
        if not _ORIGIN_RE.fullmatch(name):
            raise NoteError("V2", "vkey name %r is not 1-255 printable ASCII without space or '+'" % name)
        if not re.fullmatch(r"[0-9a-f]{8}", kid_hex):
            raise NoteError("V2", "vkey key id %r is not 8 lowercase hex digits" % kid_hex)
        try:
            blob = strict_b64decode(key_b64)
        except ValueError as e:
            raise NoteError("V2", "vkey key: %s" % e)
        if len(blob) != 33 or blob[0] != 0x01:
            raise NoteError("V2", "vkey key must be 0x01 (Ed25519) followed by 32 bytes")
        public = blob[1:]
        if _point_decompress(public) is None:
            raise NoteError("V2", "vkey key is not a valid Ed25519 point")
        if key_id(name, public).hex() != kid_hex:
            raise NoteError("V2", "vkey key id %s does not match its key (SHA-256 gives %s)"
                            % (kid_hex, key_id(name, public).hex()))
        self.text = text
        self.name = name
        self.key_id = bytes.fromhex(kid_hex)
        self.public = public


def open_note(data, vkey):
    """Opens a C2SP signed note.  Returns (text, signature_lines) where text is the signed part
    (all lines before the blank line, each with its LF) and signature_lines a list of
    (name, key_id, signature).  Raises NoteError("V1") if the note is malformed and
    NoteError("V2") unless the ledger key made a valid signature (an invalid signature by the
    ledger key, or a repeated one, also fails; lines by other keys are ignored)."""
    try:
        note = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("V1", "note is not UTF-8")
    if "\r" in note:
        raise NoteError("V1", "note contains a CR (line ends must be LF only)")
    if any((ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F for c in note):
        raise NoteError("V1", "note contains a control character")
    if not note.endswith("\n"):
        raise NoteError("V1", "note does not end with LF")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("V1", "note has no blank line before its signatures")
    text, sig_block = note[: split + 1], note[split + 2:]
    if not sig_block:
        raise NoteError("V1", "note has no signature lines")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("V1", "note has %d signature lines (at most %d)" % (len(lines), MAX_SIGNATURES))
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(EM_DASH + " "):
            raise NoteError("V1", "signature line %d does not start with U+2014 and a space: %r"
                            % (number, line[:40]))
        fields = line[2:].split(" ")
        if len(fields) != 2 or not fields[0] or "+" in fields[0] or any(c.isspace() for c in fields[0]):
            raise NoteError("V1", "signature line %d is not '\u2014 <name> <base64>'" % number)
        try:
            blob = strict_b64decode(fields[1])
        except ValueError as e:
            raise NoteError("V1", "signature line %d: %s" % (number, e))
        if len(blob) < 5:
            raise NoteError("V1", "signature line %d is too short" % number)
        signatures.append((fields[0], blob[:4], blob[4:]))
    if vkey is None:
        return text, signatures
    good = 0
    for name, kid, sig in signatures:
        if name != vkey.name or kid != vkey.key_id:
            continue  # unknown key (another key id, even with the same name): ignored
        if good:
            raise NoteError("V2", "the ledger key signed the note more than once")
        if not ed25519_verify(vkey.public, text.encode("utf-8"), sig):
            raise NoteError("V2", "the signature by the ledger key %s+%s is invalid"
                            % (vkey.name, vkey.key_id.hex()))
        good += 1
    if not good:
        raise NoteError("V2", "no signature by the ledger key %s+%s" % (vkey.name, vkey.key_id.hex()))
    return text, signatures


class Checkpoint:
    """A C2SP tlog checkpoint: origin, tree size and root hash, plus the note's bytes."""

    def __init__(self, origin, size, root, body, note):
        self.origin, self.size, self.root, self.body, self.note = origin, size, root, body, note


def parse_checkpoint_body(text, origin):
    """Strictly parses the three signed lines `<origin> LF <size> LF <base64 root> LF`."""
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise NoteError("V1", "checkpoint has %d lines before the blank line, expected exactly 3 "
                        "(no extension lines)" % len(lines))
    if not _ORIGIN_RE.fullmatch(lines[0]):
        raise NoteError("V1", "origin %r is not 1-255 printable ASCII without space or '+'" % lines[0])
    if origin is not None and lines[0] != origin:
        raise NoteError("V1", "origin %r is not the ledger's origin %r" % (lines[0], origin))
    if not _UINT_RE.fullmatch(lines[1]):
        raise NoteError("V1", "tree size %r is not a decimal without leading zeros" % lines[1])
    try:
        root = strict_b64decode(lines[2])
    except ValueError as e:
        raise NoteError("V1", "root hash: %s" % e)
    if len(root) != 32:
        raise NoteError("V1", "root hash is %d bytes, expected 32" % len(root))
    return lines[0], int(lines[1]), root


def parse_checkpoint(data, vkey, check_signature=True):
    """Parses and verifies a signed checkpoint note.  Raises NoteError with check V1 or V2.
    With check_signature=False only the layout (V1) is checked."""
    text, _ = open_note(data, None)  # layout first, so that V1 problems are reported as V1
    origin, size, root = parse_checkpoint_body(text, vkey.name if vkey else None)
    if check_signature and vkey is not None:
        open_note(data, vkey)
    return Checkpoint(origin, size, root, text.encode("ascii"), data)


# ---------------------------------------------------------------------------------------------
# 4. Records: strict line-oriented ASCII, parse -> re-serialize -> byte-compare
# ---------------------------------------------------------------------------------------------
#
# A record is `key SP value LF` lines in a fixed key order after a first line `<type> v1`.
# Value grammar (where the format leaves room, the strictest rule is taken):
#   token  1-64 of a-z 0-9 - . _
#   pct    1-256 characters: A-Z a-z 0-9 - . _ ~ and %XX with uppercase hex; %XX never encodes
#          one of those unreserved characters (so every byte string has exactly one encoding)
#   utc    YYYY-MM-DDTHH:MM:SS.mmmZ, a real calendar time (years 0001-9999, no leap second)
#   hex64  64 lowercase hex digits
#   uint   0 or [1-9][0-9]*, at most 2^64-1
#   list   `none`, or items joined by ',' in strictly ascending byte order (no duplicates)
#   X or none   the literal `none`, or a value of type X (`none` always means none)
#   origin 1-255 printable ASCII characters except space and '+'
#
# parse_record() is the definition: it parses every value, re-serializes the record from the
# parsed values and requires the same bytes.  For the bulk .inputs/.findings files,
# check_record() gets the same answer faster: one regular expression built from the same field
# table (the `pattern` of each type, which matches exactly the canonical texts) plus the few
# checks a regular expression cannot do (calendar days, list order, the 2^64-1 bound).  A record
# it rejects goes through parse_record() to name the problem.  The test suite checks that both
# accept exactly the same records.


class RecordError(ValueError):
    pass


class FieldType:
    """A value type: `pattern` matches exactly the canonical texts (no capturing groups),
    `parse` turns a text into a value (RecordError if invalid), `format` gives the text back,
    `extra` is the part of `parse` that `pattern` cannot express (None if nothing)."""

    def __init__(self, name, pattern, parse, format, extra=None):
        self.name, self.pattern, self.parse, self.format, self.extra = name, pattern, parse, format, extra
        self.regex = re.compile(pattern)


_UINT_MAX = 2 ** 64 - 1
_UNRESERVED = "A-Za-z0-9._~\\-"
# %XX that does not encode an unreserved byte (2D 2E 30-39 41-5A 5F 61-7A 7E), uppercase hex.
_PCT_ESCAPE = r"%(?!2D|2E|3[0-9]|4[1-9A-F]|5[0-9A]|5F|6[1-9A-F]|7[0-9A]|7E)[0-9A-F]{2}"
_PCT_PATTERN = r"(?=[%%%s]{1,256}(?![%%%s]))(?:[%s]|%s)+" % (_UNRESERVED, _UNRESERVED, _UNRESERVED, _PCT_ESCAPE)
_UTC_PATTERN = (r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z")


def _check_pattern(field_type, v):
    if not field_type.regex.fullmatch(v):
        raise RecordError("%r is not a valid %s" % (v, field_type.name))


def _uint_extra(v):
    if len(v) == 20 and int(v) > _UINT_MAX:
        raise RecordError("%r is larger than 2^64-1" % v)


def _parse_uint(v):
    _check_pattern(UINT, v)
    _uint_extra(v)
    return int(v)


def _utc_extra(v):
    if v[8:10] > "28":  # only days 29-31 can fall outside their month
        try:
            datetime.date(int(v[0:4]), int(v[5:7]), int(v[8:10]))
        except ValueError:
            raise RecordError("%r is not a real calendar date" % v)


def _parse_utc(v):
    _check_pattern(UTC, v)
    _utc_extra(v)
    return datetime.datetime(int(v[0:4]), int(v[5:7]), int(v[8:10]), int(v[11:13]), int(v[14:16]),
                             int(v[17:19]), int(v[20:23]) * 1000)


def format_utc(t):
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond // 1000)


def _parse_pct(v):
    _check_pattern(PCT, v)
    return urllib.parse.unquote_to_bytes(v)


def format_pct(raw):
    return urllib.parse.quote_from_bytes(raw, safe="")  # keeps exactly A-Z a-z 0-9 - . _ ~


def _simple(name, pattern):
    """A type whose value is its text."""
    field_type = FieldType(name, pattern, None, str)

    def parse(v):
        _check_pattern(field_type, v)
        return v
    field_type.parse = parse
    return field_type


TOKEN = _simple("token (1-64 of a-z 0-9 - . _)", r"[a-z0-9._-]{1,64}")
ORIGIN = _simple("origin (1-255 printable ASCII, no space or '+')", r"[\x21-\x2a\x2c-\x7e]{1,255}")
UINT = FieldType("uint (decimal without leading zeros)", r"0|[1-9][0-9]{0,19}", None, str, _uint_extra)
UINT.parse = _parse_uint
UTC = FieldType("utc (YYYY-MM-DDTHH:MM:SS.mmmZ)", _UTC_PATTERN, None, format_utc, _utc_extra)
UTC.parse = _parse_utc
HEX64 = FieldType("hex64 (64 lowercase hex digits)", r"[0-9a-f]{64}", None, bytes.hex)


def _parse_hex64(v):
    _check_pattern(HEX64, v)
    return bytes.fromhex(v)


HEX64.parse = _parse_hex64
PCT = FieldType("pct (1-256 of A-Z a-z 0-9 - . _ ~ or %XX, uppercase, not encoding those)",
                _PCT_PATTERN, None, format_pct)
PCT.parse = _parse_pct


def one_of(*allowed):
    return _simple("one of " + ", ".join(allowed), "|".join(re.escape(a) for a in allowed))


def or_none(field_type):
    def parse(v):
        return None if v == "none" else field_type.parse(v)

    def extra(v):
        if v != "none" and field_type.extra:
            field_type.extra(v)
    return FieldType(field_type.name + " or none", "none|" + field_type.pattern, parse,
                     lambda x: "none" if x is None else field_type.format(x), extra)


def list_of(field_type):
    """`none`, or items joined by ',' in strictly ascending byte order."""
    item = "(?:%s)" % field_type.pattern

    def extra(v):
        if v == "none" or "," not in v and not field_type.extra:
            return
        items = v.split(",")
        for a, b in zip(items, items[1:]):
            if not a < b:
                raise RecordError("list %r is not in strictly ascending order" % v)
        if field_type.extra:
            for x in items:
                field_type.extra(x)

    def parse(v):
        if v == "none":
            return ()
        values = tuple(field_type.parse(x) for x in v.split(","))
        extra(v)
        return values
    return FieldType("list of " + field_type.name, "none|%s(?:,%s)*" % (item, item), parse,
                     lambda xs: ",".join(field_type.format(x) for x in xs) if xs else "none", extra)


def token_except(forbidden, why):
    """A token other than `forbidden`; `why` ends the error message for it."""
    def extra(v):
        if v == forbidden:
            raise RecordError("%r %s" % (v, why))

    def parse(v):
        _check_pattern(TOKEN, v)
        extra(v)
        return v
    return FieldType(TOKEN.name, TOKEN.pattern, parse, str, extra)


def exactly(value, why):
    """The one text `value`; `why` ends the error message for any other."""
    def parse(v):
        if v != value:
            raise RecordError("%r is not %s: %s" % (v, value, why))
        return v
    return FieldType(value, re.escape(value), parse, str)


class Layout:
    """A record type: its first line and its (key, FieldType) lines, in order."""

    def __init__(self, header, fields):
        self.header, self.fields = header, fields
        self.first_line = header.encode("ascii")
        self.keys = [key for key, _ in fields]
        self.regex = re.compile("".join([re.escape(header) + "\n"] + [
            "%s (%s)\n" % (re.escape(key), field_type.pattern) for key, field_type in fields]))
        self.extras = [(i, t.extra) for i, (_, t) in enumerate(fields) if t.extra]


LISTED_KIND = "export-media-object"

INPUT_RECORD = Layout("recaudit-input v1", (
    ("run", TOKEN),
    ("seq", UINT),
    ("kind", token_except(LISTED_KIND, "is the kind of an object that was only listed, not read: "
                          "it needs the layout 'recaudit-input-listed v1' (a 'recaudit-input v1' "
                          "record hashes bytes that were read)")),
    ("source", PCT),
    ("received", UTC),
    ("bytes", UINT),
    ("sha256", HEX64),
))

# An S3 object that was listed, not downloaded: the record commits to what the bucket said of
# it (size, ETag without its double quotes, version id, Last-Modified), not to its bytes.
LISTED_INPUT_RECORD = Layout("recaudit-input-listed v1", (
    ("run", TOKEN),
    ("seq", UINT),
    ("kind", exactly(LISTED_KIND, "a 'recaudit-input-listed v1' record is always an export media "
                     "object listed in a bucket")),
    ("source", PCT),
    ("received", UTC),
    ("bytes", UINT),
    ("etag", PCT),
    ("version", or_none(PCT)),
    ("modified", UTC),
))

# The layouts a run's .inputs file may hold, told apart by their first line; seq, leaf hash and
# root are the same whatever the layout.
INPUT_LAYOUTS = (INPUT_RECORD, LISTED_INPUT_RECORD)

FINDING_RECORD = Layout("recaudit-finding v1", (
    ("run", TOKEN),
    ("seq", UINT),
    ("interaction", PCT),
    ("media", TOKEN),
    ("direction", one_of("inbound", "outbound", "unknown")),
    ("started", UTC),
    ("ended", or_none(UTC)),
    ("status", one_of("complete", "exception", "pending", "excluded", "not-required")),
    ("reasons", list_of(TOKEN)),
    ("recordings", list_of(PCT)),
    ("media-sha256", list_of(HEX64)),
    ("rule-set", TOKEN),
))

RUN_RECORD = Layout("recaudit-run v1", (
    ("origin", ORIGIN),
    ("index", UINT),
    ("run", TOKEN),
    ("window-start", UTC),
    ("window-end", UTC),
    ("completed", UTC),
    ("inputs", UINT),
    ("inputs-root", HEX64),
    ("findings", UINT),
    ("findings-root", HEX64),
    ("reports-sha256", or_none(HEX64)),
    ("prev-root", HEX64),
    ("supersedes", or_none(TOKEN)),
    ("rule-set", TOKEN),
    ("software", TOKEN),
))


def serialize_record(layout, values):
    lines = [layout.header]
    for key, field_type in layout.fields:
        lines.append(key + " " + field_type.format(values[key]))
    return ("\n".join(lines) + "\n").encode("ascii")


def parse_record(layout, data):
    """Parses one record strictly and returns {key: value}.  The record is then re-serialized
    from the parsed values and must give back exactly the same bytes."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise RecordError("record contains a non-ASCII byte")
    if "\r" in text:
        raise RecordError("record contains a CR")
    if not text.endswith("\n"):
        raise RecordError("record does not end with LF")
    lines = text[:-1].split("\n")
    if lines[0] != layout.header:
        raise RecordError("first line is %r, expected %r" % (lines[0][:60], layout.header))
    values = {}
    for number, (key, field_type) in enumerate(layout.fields, 2):
        if number > len(lines):
            raise RecordError("line %d: key %r is missing" % (number, key))
        line = lines[number - 1]
        k, sep, v = line.partition(" ")
        if k != key or not sep:
            raise RecordError("line %d: expected key %r, found %r" % (number, key, line[:60]))
        try:
            values[key] = field_type.parse(v)
        except RecordError as e:
            raise RecordError("line %d (%s): %s" % (number, key, e))
    if len(lines) > len(layout.fields) + 1:
        raise RecordError("line %d: unexpected extra line %r"
                          % (len(layout.fields) + 2, lines[len(layout.fields) + 1][:60]))
    if serialize_record(layout, values) != data:
        raise RecordError("record does not re-serialize to the same bytes")
    return values


def select_layout(layouts, data):
    """The one of `layouts` whose first line the record has.  With one layout, that layout (its
    parser names a wrong first line); with several, RecordError naming the first line found."""
    if len(layouts) == 1:
        return layouts[0]
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    for layout in layouts:
        if first == layout.first_line:
            return layout
    raise RecordError("first line is %r, expected %s" % (
        first[:60].decode("ascii", "backslashreplace"), " or ".join(repr(l.header) for l in layouts)))


def check_record(layout, data):
    """Accepts exactly the records parse_record() accepts (see above), faster.  Returns
    {key: value text}; raises RecordError naming the problem."""
    try:
        m = layout.regex.fullmatch(data.decode("ascii"))
    except UnicodeDecodeError:
        m = None
    if m is None:
        parse_record(layout, data)  # raises with a precise message
        raise RecordError("record does not match the record grammar")  # not reached
    texts = m.groups()
    i = 0
    try:
        for i, extra in layout.extras:
            extra(texts[i])
    except RecordError as e:
        raise RecordError("line %d (%s): %s" % (i + 2, layout.keys[i], e))
    return dict(zip(layout.keys, texts))


MAX_RECORD_BYTES = 1 << 24  # no valid record comes near 16 MiB


class TrailingBytes(bytes):
    """Bytes after the last record separator: a truncated or unterminated record."""


class OversizedRecord(bytes):
    """The start of more than MAX_RECORD_BYTES without an empty line."""


def iter_record_file(path, chunk_size=1 << 22):
    """Streams a .inputs/.findings file: each record followed by exactly one empty line, that is
    `record LF` (the record's own last LF, then the empty line).  Yields each record's bytes
    with its final LF, without the empty line.  Bytes left after the last empty line are
    yielded last as TrailingBytes; a run of more than MAX_RECORD_BYTES without an empty line
    stops the stream with an OversizedRecord."""
    rest = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(chunk_size)
            if not chunk:
                break
            pieces = (rest + chunk).split(b"\n\n")
            rest = pieces.pop()
            for piece in pieces:
                yield piece + b"\n"
            if len(rest) > MAX_RECORD_BYTES:
                yield OversizedRecord(rest[:64])
                return
    if rest:
        yield TrailingBytes(rest)


# ---------------------------------------------------------------------------------------------
# 5. Reporting
# ---------------------------------------------------------------------------------------------

COMPLETENESS = "completeness"
INTEGRITY = "integrity"
MAX_FAILURES_PER_FILE = 20


class Report:
    """Prints results as they come: `FAIL V<n> [run <id>] [seq <n>]: <what>`, `SKIP ...`,
    `OK ...`, `NOTE ...`, and keeps the two verdicts."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.failed = {INTEGRITY: False, COMPLETENESS: False}
        self.failures = []  # (check, message) for tests and callers
        self._per_group = {}

    def _print(self, line):
        self.out.write(line + "\n")

    def fail(self, check, what, run=None, seq=None, verdict=INTEGRITY, group=None):
        self.failed[verdict] = True
        self.failures.append((check, what))
        if group is not None:
            count = self._per_group.get(group, 0) + 1
            self._per_group[group] = count
            if count > MAX_FAILURES_PER_FILE:
                return
        where = ""
        if run is not None:
            where += " run %s" % run
        if seq is not None:
            where += " seq %s" % seq
        self._print("FAIL %s%s: %s" % (check, where, what))

    def end_group(self, check, group, run=None, verdict=INTEGRITY):
        hidden = self._per_group.get(group, 0) - MAX_FAILURES_PER_FILE
        if hidden > 0:
            self._print("FAIL %s%s: %s: %d more failures not shown"
                        % (check, "" if run is None else " run %s" % run, group, hidden))

    def ok(self, check, what):
        self._print("OK %s: %s" % (check, what))

    def skip(self, check, what):
        self._print("SKIP %s: %s" % (check, what))

    def note(self, what):
        self._print("NOTE: %s" % what)

    def evidence(self, title, data):
        """Prints a signed note verbatim (decoded as UTF-8), one `| ` line per note line."""
        self._print("  evidence: %s" % title)
        text = data.decode("utf-8", "backslashreplace")
        lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        for line in lines:
            self._print(("    | " + line.replace("\r", "\\r")) if line else "    |")
        if not text.endswith("\n"):
            self._print("    (the note does not end with LF)")

    def count(self, check):
        return sum(1 for c, _ in self.failures if c == check)


# ---------------------------------------------------------------------------------------------
# 6. The package checks
# ---------------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"(0|[1-9][0-9]*)\.([a-z]+)")


class RunInfo:
    """One run record of the package: its file, raw bytes and (if it parsed) its values."""

    def __init__(self, index, path, data):
        self.index, self.path, self.data = index, path, data
        self.values = None

    @property
    def label(self):
        """The run id for FAIL lines, when known."""
        return self.values["run"] if self.values else None


class Package:
    def __init__(self, directory):
        self.dir = directory
        self.runs = []  # RunInfo, in file-name order
        self.log = MerkleLog([])
        self.checkpoints = {}  # size -> Checkpoint (those that parse, V1)
        self.newest = None  # the checkpoint with the largest size (file name), if it parsed
        self.newest_size = None  # the largest size among checkpoints/<size>.note file names

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def rel(self, path):
        return os.path.relpath(path, self.dir)


def load_vkey(args, package, report):
    """The trusted key: --vkey if given, else the package's ledger.vkey (reported as such)."""
    own = package.path("ledger.vkey")
    try:
        if args.vkey is not None:
            if os.path.isfile(args.vkey):
                with open(args.vkey, "rb") as f:
                    text = f.read().decode("ascii")
                text = text[:-1] if text.endswith("\n") else text
            else:
                text = args.vkey
            vkey = VerifierKey(text)
            if os.path.isfile(own):
                with open(own, "rb") as f:
                    if f.read() != (vkey.text + "\n").encode("ascii"):
                        report.note("ledger.vkey in the package differs from the key given with --vkey; "
                                    "the --vkey key is the one trusted")
            return vkey
        with open(own, "rb") as f:
            data = f.read()
        if not data.endswith(b"\n") or data.count(b"\n") != 1:
            raise NoteError("V2", "ledger.vkey must hold the vkey string and one final LF")
        vkey = VerifierKey(data[:-1].decode("ascii"))
        report.note("trusting the key in the package's ledger.vkey (%s); compare it with the key you "
                    "obtained independently, or pass --vkey" % vkey.text)
        return vkey
    except (OSError, UnicodeDecodeError) as e:
        report.fail("V2", "cannot read the verifier key: %s" % e)
    except NoteError as e:
        report.fail("V2", "verifier key: %s" % e)
    return None


def check_checkpoints(package, vkey, report):
    """V1 and V2 for every checkpoints/<size>.note."""
    directory = package.path("checkpoints")
    if not os.path.isdir(directory):
        report.fail("V1", "the package has no checkpoints/ directory", verdict=COMPLETENESS)
        return
    sizes = []
    for name in sorted(os.listdir(directory)):
        m = _NAME_RE.fullmatch(name)
        if name == "tsa-ca.pem" or (m and m.group(2) == "tsr"):
            continue
        if not m or m.group(2) != "note":
            report.fail("V1", "unexpected file checkpoints/%s (expected <size>.note with an unpadded "
                        "decimal size, <size>.tsr or tsa-ca.pem)" % name)
            continue
        sizes.append(int(m.group(1)))
    bad_v1 = bad_v2 = 0
    for size in sorted(sizes):
        rel = "checkpoints/%d.note" % size
        with open(package.path(rel), "rb") as f:
            data = f.read()
        try:
            cp = parse_checkpoint(data, vkey, check_signature=False)
        except NoteError as e:
            report.fail("V1", "%s: %s" % (rel, e))
            bad_v1 += 1
            continue
        if cp.size != size:
            report.fail("V1", "%s: tree size %d does not match the file name" % (rel, cp.size))
            bad_v1 += 1
            continue
        package.checkpoints[size] = cp
        if vkey is not None:
            try:
                open_note(data, vkey)
            except NoteError as e:
                report.fail("V2", "%s: %s" % (rel, e))
                bad_v2 += 1
    if sizes:
        newest = max(sizes)
        package.newest = package.checkpoints.get(newest)
        package.newest_size = newest
    else:
        package.newest_size = None
    if not bad_v1:
        report.ok("V1", "%d checkpoint notes parse strictly" % len(sizes))
    if not bad_v2 and vkey is not None:
        report.ok("V2", "%d checkpoints signed by %s+%s" % (len(package.checkpoints), vkey.name,
                                                            vkey.key_id.hex()))


def load_runs(package, report):
    """Reads runs/<index>.run in index order; every file in runs/ must be expected."""
    directory = package.path("runs")
    if not os.path.isdir(directory):
        report.fail("V5", "the package has no runs/ directory", verdict=COMPLETENESS)
        return
    indices, others = [], set()
    for name in sorted(os.listdir(directory)):
        m = _NAME_RE.fullmatch(name)
        if m and m.group(2) == "run":
            indices.append(int(m.group(1)))
        elif m and m.group(2) in ("inputs", "findings"):
            others.add((int(m.group(1)), m.group(2)))
        else:
            report.fail("V5", "unexpected file runs/%s (expected <index>.run, .inputs, .findings with "
                        "an unpadded decimal index)" % name)
    indices.sort()
    known = set(indices)
    for index, kind in sorted(others):
        if index not in known:
            report.fail("V6", "runs/%d.%s has no run record runs/%d.run" % (index, kind, index))
    leaves = []
    for index in indices:
        path = package.path("runs", "%d.run" % index)
        with open(path, "rb") as f:
            data = f.read()
        package.runs.append(RunInfo(index, path, data))
        leaves.append(leaf_hash(data))
    package.log = MerkleLog(leaves)


def check_log_against_newest(package, report):
    """V4: the newest checkpoint commits to exactly the run records present."""
    n = len(package.runs)
    if package.newest_size is None:
        report.fail("V4", "the package has no checkpoint", verdict=COMPLETENESS)
        return
    cp = package.newest
    rel = "checkpoints/%d.note" % package.newest_size
    if cp is None:
        report.fail("V4", "the newest checkpoint %s is malformed (see V1); the log size cannot be "
                    "confirmed" % rel, verdict=COMPLETENESS)
        return
    ok = True
    if cp.size != n:
        ok = False
        report.fail("V4", "%s has tree size %d but the package has %d run records: %s"
                    % (rel, cp.size, n, "runs are missing" if n < cp.size else
                       "runs are not covered by a checkpoint"), verdict=COMPLETENESS)
    size = min(cp.size, n)
    if size == cp.size and package.log.root(size) != cp.root:
        ok = False
        report.fail("V4", "%s root %s != MTH of runs/0..%d.run %s"
                    % (rel, cp.root.hex(), size - 1, package.log.root(size).hex()))
    if ok:
        report.ok("V4", "%d run records; their MTH %s equals the root of %s"
                  % (n, cp.root.hex(), rel))


def check_run_records(package, vkey, report):
    """V5: each run record strictly, its position, origin and prev-root."""
    before = StreamingTree()
    failures = report.count("V5")
    for position, run in enumerate(package.runs):
        rel = package.rel(run.path)
        try:
            run.values = parse_record(RUN_RECORD, run.data)
        except RecordError as e:
            report.fail("V5", "%s: %s" % (rel, e))
        else:
            v = run.values
            if not (v["index"] == run.index == position):
                report.fail("V5", "%s: index %d, file name %d and position %d must be equal"
                            % (rel, v["index"], run.index, position), run=run.label)
            if vkey is not None and v["origin"] != vkey.name:
                report.fail("V5", "%s: origin %r is not the ledger's origin %r"
                            % (rel, v["origin"], vkey.name), run=run.label)
            if v["prev-root"] != before.root():
                report.fail("V5", "%s: prev-root %s != MTH of the %d run records before it %s"
                            % (rel, v["prev-root"].hex(), position, before.root().hex()), run=run.label)
        before.add(package.log.levels[0][position])
    if report.count("V5") == failures:
        report.ok("V5", "%d run records parse strictly, in order, with correct prev-root"
                  % len(package.runs))


def check_run_contents(package, report):
    """V6: each run's .inputs and .findings files against its run record."""
    failures = report.count("V6")
    listed = listed_runs = 0
    for run in package.runs:
        for kind, layouts in (("inputs", INPUT_LAYOUTS), ("findings", (FINDING_RECORD,))):
            n = check_record_file(package, run, kind, layouts, report)
            listed += n
            listed_runs += n > 0
    if report.count("V6") == failures:
        total = sum(r.values["findings"] for r in package.runs if r.values)
        report.ok("V6", "inputs and findings of %d runs (%d findings) match their run records"
                  % (len(package.runs), total))
    if listed:
        report.note("%d %s in %d %s listed, not hashed (recaudit-input-listed v1): the ledger commits "
                    "to what the bucket listed of each object (size, ETag, version, Last-Modified), "
                    "not to its bytes; check them against the bucket as VERIFY.md says (\"Listed "
                    "inputs\")" % (listed, "input" if listed == 1 else "inputs", listed_runs,
                                   "run" if listed_runs == 1 else "runs"))


def check_record_file(package, run, kind, layouts, report):
    """V6 for one .inputs or .findings file; returns the number of listed input records in it
    (recaudit-input-listed v1)."""
    rel = "runs/%d.%s" % (run.index, kind)
    path = package.path(rel)
    label = run.label
    if not os.path.isfile(path):
        report.fail("V6", "%s is missing" % rel, run=label)
        return 0
    tree = StreamingTree()
    interactions = set()
    listed = 0
    expected_run = run.values["run"] if run.values else None
    singular = "input" if kind == "inputs" else "finding"
    for position, data in enumerate(iter_record_file(path)):
        if isinstance(data, OversizedRecord):
            report.fail("V6", "%s: more than %d bytes without an empty line after record %d: not a "
                        "sequence of records" % (rel, MAX_RECORD_BYTES, position), run=label, group=rel)
            break
        if isinstance(data, TrailingBytes):
            report.fail("V6", "%s: %d bytes after the last record are not a complete record followed "
                        "by an empty line" % (rel, len(data)), run=label, group=rel)
            break
        tree.add(leaf_hash(data))
        try:
            layout = select_layout(layouts, data)
            values = check_record(layout, data)
        except RecordError as e:
            report.fail("V6", "%s: %s record %d: %s" % (rel, singular, position, e),
                        run=label, seq=position, group=rel)
            continue
        if values["seq"] != str(position):
            report.fail("V6", "%s: seq %s at position %d" % (rel, values["seq"], position),
                        run=label, seq=position, group=rel)
        if expected_run is not None and values["run"] != expected_run:
            report.fail("V6", "%s: record names run %r, not %r" % (rel, values["run"], expected_run),
                        run=label, seq=position, group=rel)
        if kind == "findings":
            interaction = values["interaction"]
            if interaction in interactions:
                report.fail("V6", "%s: interaction %s appears more than once in the run"
                            % (rel, interaction), run=label, seq=position, group=rel)
            interactions.add(interaction)
        elif layout is LISTED_INPUT_RECORD:
            listed += 1
    report.end_group("V6", rel, run=label)
    if run.values is None:
        report.fail("V6", "%s: cannot compare with runs/%d.run, which does not parse (see V5)"
                    % (rel, run.index))
    else:
        if tree.size != run.values[kind]:
            report.fail("V6", "%s has %d records but runs/%d.run says %s %d"
                        % (rel, tree.size, run.index, kind, run.values[kind]), run=label)
        if tree.root() != run.values[kind + "-root"]:
            report.fail("V6", "%s: MTH of its records %s != %s-root %s in runs/%d.run"
                        % (rel, tree.root().hex(), kind, run.values[kind + "-root"].hex(), run.index),
                        run=label)
    if listed:
        report.note("%s%s: %d of its %d inputs listed, not hashed"
                    % (rel, "" if label is None else " (run %s)" % label, listed, tree.size))
    return listed


def check_run_times(package, report):
    """V7: window-start <= window-end <= completed, completed never decreases, supersedes names
    an earlier run, run ids are unique."""
    failures = report.count("V7")
    earlier = set()
    last_completed = None
    for run in package.runs:
        v = run.values
        if v is None:
            continue
        rel = package.rel(run.path)
        if not v["window-start"] <= v["window-end"] <= v["completed"]:
            report.fail("V7", "%s: window-start %s <= window-end %s <= completed %s does not hold"
                        % (rel, format_utc(v["window-start"]), format_utc(v["window-end"]),
                           format_utc(v["completed"])), run=run.label)
        if last_completed is not None and v["completed"] < last_completed:
            report.fail("V7", "%s: completed %s is before the previous run's completed %s"
                        % (rel, format_utc(v["completed"]), format_utc(last_completed)), run=run.label)
        last_completed = v["completed"]
        if v["supersedes"] is not None and v["supersedes"] not in earlier:
            report.fail("V7", "%s: supersedes %r, which is not an earlier run"
                        % (rel, v["supersedes"]), run=run.label)
        if v["run"] in earlier:
            report.fail("V7", "%s: run id %r is already used by an earlier run" % (rel, v["run"]),
                        run=run.label)
        earlier.add(v["run"])
    if report.count("V7") == failures:
        report.ok("V7", "run windows and completion times are ordered; supersedes names earlier runs")


def check_consecutive_checkpoints(package, report):
    """V10: one checkpoint per run, each root = MTH(R[0..size)), consecutive ones consistent."""
    failures = report.count("V10")
    log = package.log
    sizes = sorted(package.checkpoints)
    newest = package.newest_size
    if newest is not None:
        missing = [s for s in range(1, newest + 1) if not os.path.isfile(package.path("checkpoints", "%d.note" % s))]
        if missing:
            report.fail("V10", "no checkpoint for tree sizes %s (one is written after every run)"
                        % _ranges(missing), verdict=COMPLETENESS)
    for size in sizes:
        cp = package.checkpoints[size]
        if size > log.size:
            report.fail("V10", "checkpoints/%d.note covers %d runs but the package has only %d: runs "
                        "are missing" % (size, size, log.size), verdict=COMPLETENESS)
        elif log.root(size) != cp.root:
            report.fail("V10", "checkpoints/%d.note root %s != MTH of runs/0..%d.run %s"
                        % (size, cp.root.hex(), size - 1, log.root(size).hex()), verdict=COMPLETENESS)
    for older, newer in zip(sizes, sizes[1:]):
        if newer > log.size:
            break
        a, b = package.checkpoints[older], package.checkpoints[newer]
        proof = log.consistency_proof(older, newer)
        if not verify_consistency(older, newer, a.root, b.root, proof):
            report.fail("V10", "checkpoints/%d.note and checkpoints/%d.note are not consistent "
                        "(RFC 9162 consistency proof from the log does not verify)" % (older, newer),
                        verdict=COMPLETENESS)
    if report.count("V10") == failures:
        report.ok("V10", "%d checkpoints, consecutive ones consistent (RFC 9162 proofs verified)"
                  % len(sizes))


def _ranges(numbers):
    out, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            out.append(str(start) if start == n else "%d-%d" % (start, n))
            start = None
    return ", ".join(out)


def check_held_checkpoint(package, vkey, path, report):
    """V8: a checkpoint the auditor kept must be valid and consistent with the current log."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        report.fail("V8", "cannot read %s: %s" % (path, e), verdict=COMPLETENESS)
        return
    try:
        old = parse_checkpoint(data, vkey)
    except NoteError as e:
        report.fail("V8", "%s is not a valid checkpoint (%s): %s" % (path, e.check, e), verdict=COMPLETENESS)
        return
    new, log = package.newest, package.log

    def evidence():
        report.evidence("checkpoint you presented (%s)" % path, data)
        if new is not None:
            report.evidence("newest checkpoint in the package (checkpoints/%d.note)" % new.size, new.note)

    if new is None:
        report.fail("V8", "%s: the package has no valid newest checkpoint to compare with" % path,
                    verdict=COMPLETENESS)
        evidence()
        return
    if old.size > new.size:
        report.fail("V8", "%s has tree size %d but the package's newest checkpoint has %d: the log "
                    "was truncated or you were shown another history" % (path, old.size, new.size),
                    verdict=COMPLETENESS)
        evidence()
        return
    if new.size > log.size:
        report.fail("V8", "%s: cannot build a consistency proof, the package has %d runs but its "
                    "newest checkpoint covers %d" % (path, log.size, new.size), verdict=COMPLETENESS)
        evidence()
        return
    proof = log.consistency_proof(old.size, new.size)
    if not verify_consistency(old.size, new.size, old.root, new.root, proof):
        report.fail("V8", "%s (size %d) is NOT consistent with checkpoints/%d.note: the history was "
                    "rewritten or forked (RFC 9162 consistency proof from the log does not verify)"
                    % (path, old.size, new.size), verdict=COMPLETENESS)
        evidence()
        return
    report.ok("V8", "%s (size %d) is consistent with checkpoints/%d.note (proof of %d hashes verified)"
              % (path, old.size, new.size, len(proof)))


PROOF_KEYS = ("format", "finding", "finding_index", "findings_size", "finding_path", "run",
              "run_index", "tree_size", "run_path", "checkpoint")


def check_proof(package, vkey, path, report):
    """V9: a single-interaction proof file from `recaudit ledger prove`."""
    try:
        with open(path, "rb") as f:
            proof = json.loads(f.read().decode("utf-8"))
        problem = proof_shape_problem(proof)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        problem = "cannot read: %s" % e
    if problem:
        report.fail("V9", "%s: %s" % (path, problem))
        return
    problems = list(proof_problems(proof, vkey, package.log))
    for problem in problems:
        report.fail("V9", "%s: %s" % (path, problem))
    if not problems:
        finding = parse_record(FINDING_RECORD, proof["finding"].encode("ascii"))
        report.ok("V9", "%s: interaction %s (run %s, seq %d) is in the log signed at size %d"
                  % (path, format_pct(finding["interaction"]), finding["run"], finding["seq"],
                     proof["tree_size"]))


def proof_shape_problem(proof):
    if not isinstance(proof, dict) or set(proof) != set(PROOF_KEYS):
        return "not a JSON object with exactly the keys %s" % ", ".join(PROOF_KEYS)
    if proof["format"] != "recaudit-proof v1":
        return "format is %r, expected 'recaudit-proof v1'" % (proof["format"],)
    for key in ("finding", "run", "checkpoint"):
        if not isinstance(proof[key], str):
            return "%s must be a string" % key
    for key in ("finding_index", "findings_size", "run_index", "tree_size"):
        if type(proof[key]) is not int or proof[key] < 0:
            return "%s must be a non-negative integer" % key
    for key in ("finding_path", "run_path"):
        if not isinstance(proof[key], list) or not all(
                isinstance(h, str) and HEX64.regex.fullmatch(h) for h in proof[key]):
            return "%s must be a list of 64-digit lowercase hex hashes" % key
    return None


def proof_problems(proof, vkey, log):
    """Yields what is wrong with a well-shaped proof (nothing if it verifies)."""
    try:
        finding_bytes = proof["finding"].encode("ascii")
        run_bytes = proof["run"].encode("ascii")
        finding = parse_record(FINDING_RECORD, finding_bytes)
        run = parse_record(RUN_RECORD, run_bytes)
    except (UnicodeEncodeError, RecordError) as e:
        yield "record does not parse strictly: %s" % e
        return
    if finding["seq"] != proof["finding_index"]:
        yield "finding seq %d != finding_index %d" % (finding["seq"], proof["finding_index"])
    if finding["run"] != run["run"]:
        yield "the finding is from run %r but the run record is run %r" % (finding["run"], run["run"])
    if run["findings"] != proof["findings_size"]:
        yield "run record has %d findings but findings_size is %d" % (run["findings"], proof["findings_size"])
    path = [bytes.fromhex(h) for h in proof["finding_path"]]
    root = root_from_inclusion_proof(proof["finding_index"], proof["findings_size"], leaf_hash(finding_bytes), path)
    if root is None or root != run["findings-root"]:
        yield "finding_path does not lead from the finding to the run's findings-root"
    if run["index"] != proof["run_index"]:
        yield "run record index %d != run_index %d" % (run["index"], proof["run_index"])
    if vkey is not None and run["origin"] != vkey.name:
        yield "run record origin %r is not the ledger's origin %r" % (run["origin"], vkey.name)
    path = [bytes.fromhex(h) for h in proof["run_path"]]
    root = root_from_inclusion_proof(proof["run_index"], proof["tree_size"], leaf_hash(run_bytes), path)
    try:
        cp = parse_checkpoint(proof["checkpoint"].encode("utf-8"), vkey)
    except NoteError as e:
        yield "checkpoint (%s): %s" % (e.check, e)
        return
    if vkey is None:
        yield "no valid verifier key, the checkpoint signature cannot be checked"
    if cp.size != proof["tree_size"]:
        yield "checkpoint size %d != tree_size %d" % (cp.size, proof["tree_size"])
    if root is None or root != cp.root:
        yield "run_path does not lead from the run record to the checkpoint's root"
    if cp.size <= log.size and log.root(cp.size) != cp.root:
        yield ("the proof's checkpoint (size %d) does not match this package's log at that size "
               "(another history)" % cp.size)


def check_time_stamps(package, args, report):
    """V3: RFC 3161 tokens with openssl (>= 3.0) and the TSA's CA certificate."""
    directory = package.path("checkpoints")
    tokens = sorted(int(m.group(1)) for m in (_NAME_RE.fullmatch(n) for n in
                                               (os.listdir(directory) if os.path.isdir(directory) else []))
                    if m and m.group(2) == "tsr")
    if not tokens:
        report.skip("V3", "no RFC 3161 time-stamp tokens (checkpoints/<size>.tsr) in the package")
        return
    openssl = shutil.which("openssl")
    version = None
    if openssl:
        out = subprocess.run([openssl, "version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        m = re.match(r"OpenSSL (\d+)\.", out.stdout.decode("ascii", "replace"))
        version = int(m.group(1)) if m else None
    if version is None or version < 3:
        report.skip("V3", "%d time-stamp tokens NOT verified: openssl >= 3.0 is not on PATH" % len(tokens))
        return
    ca = args.tsa_ca or package.path("checkpoints", "tsa-ca.pem")
    if not os.path.isfile(ca):
        report.skip("V3", "%d time-stamp tokens NOT verified: no TSA CA certificate (pass --tsa-ca FILE "
                    "or put it in checkpoints/tsa-ca.pem)" % len(tokens))
        return
    if not args.tsa_ca:
        report.note("TSA CA certificate taken from the package (checkpoints/tsa-ca.pem); compare it "
                    "with the TSA's published certificate, or pass --tsa-ca")
    failures = report.count("V3")
    with tempfile.TemporaryDirectory() as tmp:
        for size in tokens:
            check_time_stamp(package, openssl, ca, size, tmp, report)
    if report.count("V3") == failures:
        report.ok("V3", "%d RFC 3161 time-stamp tokens verify and are not older than their runs"
                  % len(tokens))


def check_time_stamp(package, openssl, ca, size, tmp, report):
    rel = "checkpoints/%d.tsr" % size
    cp = package.checkpoints.get(size)
    if cp is None:
        report.fail("V3", "%s: no valid checkpoint checkpoints/%d.note for this token" % (rel, size))
        return
    data_file = os.path.join(tmp, "%d.txt" % size)
    with open(data_file, "wb") as f:
        f.write(cp.body)
    result = subprocess.run([openssl, "ts", "-verify", "-data", data_file, "-in", package.path(rel),
                             "-CAfile", ca], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = result.stdout.decode("utf-8", "replace")
    if result.returncode != 0 or "Verification: OK" not in output:
        report.fail("V3", "%s does not verify over the three lines of checkpoints/%d.note: %s"
                    % (rel, size, " ".join(output.split())[:300]))
        return
    result = subprocess.run([openssl, "ts", "-reply", "-in", package.path(rel), "-text"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    m = re.search(r"^Time stamp: (.*)$", result.stdout.decode("utf-8", "replace"), re.M)
    stamp = parse_openssl_time(m.group(1)) if m else None
    if stamp is None:
        report.fail("V3", "%s: cannot read the token's time" % rel)
        return
    if size == 0:
        return
    run = package.runs[size - 1] if size <= len(package.runs) else None
    if run is None or run.values is None:
        report.fail("V3", "%s: run %d, whose completed time the token must not precede, is missing "
                    "or invalid" % (rel, size - 1))
        return
    when, precision = stamp
    completed = run.values["completed"]
    step = 10 ** (6 - min(precision, 6))  # compare at the precision the TSA gave (often 1 s)
    completed = completed.replace(microsecond=completed.microsecond // step * step)
    if when < completed:
        report.fail("V3", "%s: TSA time %s is before the run's completed time %s"
                    % (rel, m.group(1).strip(), format_utc(run.values["completed"])), run=run.label)


_MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}


def parse_openssl_time(text):
    """`Nov 27 13:02:00 2025 GMT` or `Nov 27 13:02:00.123 2025 GMT` -> (datetime, fraction
    digits)."""
    m = re.fullmatch(r"\s*([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? (\d{4}) GMT\s*", text)
    if not m or m.group(1) not in _MONTHS:
        return None
    fraction = m.group(6) or ""
    micro = int((fraction + "000000")[:6])
    try:
        return (datetime.datetime(int(m.group(7)), _MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)),
                                  int(m.group(4)), int(m.group(5)), micro), len(fraction))
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# 7. Command line
# ---------------------------------------------------------------------------------------------


def verify_package(args, out=sys.stdout):
    """Runs every check; returns the Report."""
    report = Report(out)
    package = Package(args.package_dir)
    report.note("verifying the audit package in %s" % os.path.abspath(args.package_dir))
    vkey = load_vkey(args, package, report)
    check_checkpoints(package, vkey, report)
    load_runs(package, report)
    check_log_against_newest(package, report)
    check_run_records(package, vkey, report)
    check_run_contents(package, report)
    check_run_times(package, report)
    check_time_stamps(package, args, report)
    for path in args.checkpoint:
        check_held_checkpoint(package, vkey, path, report)
    if not args.checkpoint:
        report.skip("V8", "no older checkpoint given (--checkpoint); completeness is relative to the "
                    "package's own checkpoints only")
    for path in args.proof:
        check_proof(package, vkey, path, report)
    check_consecutive_checkpoints(package, report)
    report._print("integrity: %s" % ("FAILED" if report.failed[INTEGRITY] else "OK"))
    report._print("completeness: %s" % ("FAILED" if report.failed[COMPLETENESS] else "OK"))
    return report


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="Verify a recaudit ledger audit package (format v1) "
                                "with no recaudit software.")
    p.add_argument("package_dir", nargs="?", default=here, metavar="PACKAGE_DIR",
                   help="the audit package (default: the directory holding verify.py)")
    p.add_argument("--vkey", help="the ledger's verifier key, as a string or a file "
                   "(default: PACKAGE_DIR/ledger.vkey)")
    p.add_argument("--tsa-ca", help="CA certificate of the time-stamp authority, PEM "
                   "(default: PACKAGE_DIR/checkpoints/tsa-ca.pem)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="OLD.note",
                   help="an older signed checkpoint you kept; may be repeated (V8)")
    p.add_argument("--proof", action="append", default=[], metavar="PROOF.json",
                   help="a single-interaction proof from `recaudit ledger prove`; may be repeated (V9)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not os.path.isdir(args.package_dir):
        sys.stderr.write("verify.py: %s is not a directory\n" % args.package_dir)
        return 2
    report = verify_package(args)
    return 1 if any(report.failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
