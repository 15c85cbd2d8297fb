#!/usr/bin/env python3
"""tiles_client.py — a C2SP tlog-tiles client that is not cofab's: Python standard
library only (urllib, hashlib, base64; openssl(1) for the optional signature check).

It reads a log served in the tlog-tiles layout (c2sp.org/tlog-tiles): fetches
/checkpoint, works out from the tree size which tiles exist and how wide the
right-most ones are, mirrors every entry bundle and every hash tile, and checks
  - each entry bundle holds exactly the entries its width says, nothing after;
  - each level-0 tile hash is the RFC 6962 leaf hash SHA-256(0x00 || entry);
  - each level-L tile hash is the root of the 256 level-(L-1) hashes below it;
  - the root recomputed from the entries alone (RFC 6962 MTH) and the root
    assembled from the hash tiles alone (the way a light tiles client does)
    both equal the checkpoint's root.
With --hub-key HUB.pub the checkpoint's Ed25519 signature by that key is
checked too (openssl pkeyutl). With --checkpoint FILE a local checkpoint is used
instead of the server's (tests use it to show a wrong root is caught).

Usage: tiles_client.py URL [--checkpoint FILE] [--hub-key HUB.pub] [--out DIR]
Exit 0 when everything matches, 1 when anything does not, 2 on usage errors."""
import argparse
import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

WIDTH = 256          # hashes per full tile, entries per full bundle
HEIGHT = 8           # Merkle levels per tile
MAX_BUNDLE = WIDTH * (2 + 65535)


class Mismatch(Exception):
    """The log does not check out."""


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(entry):
    return sha256(b"\x00" + entry)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(hashes):
    """RFC 6962 Merkle tree hash over a list of leaf hashes (any count >= 1)."""
    level = list(hashes)
    # Bottom-up: pair neighbours; an odd last node moves up unchanged, which
    # is exactly the RFC's split at the largest power of two.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def tile_path(level, index, width):
    """tile/<L>/<N>[.p/<W>]: N in groups of three digits, all but the last 'x'-prefixed."""
    groups = []
    while True:
        groups.append(index % 1000)
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    n = "/".join(["x%03d" % g for g in groups[:-1]] + ["%03d" % groups[-1]])
    path = "tile/%s/%s" % (level, n)
    if width < WIDTH:
        path += ".p/%d" % width
    return path


def parse_checkpoint(text):
    """Origin, size, root and the signed body of a checkpoint note."""
    cut = text.rfind("\n\n")
    if cut < 0:
        raise Mismatch("the checkpoint is not a signed note")
    body = text[:cut + 1]
    lines = body.split("\n")
    if len(lines) < 4:
        raise Mismatch("the checkpoint body has fewer than three lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise Mismatch("bad tree size %r" % size_text)
    root = base64.b64decode(root_text, validate=True)
    if len(root) != 32:
        raise Mismatch("the root is not 32 bytes")
    return origin, int(size_text), root, body, text[cut + 2:]


def check_signature(body, sig_lines, pub_path):
    """The hub's Ed25519 signature line on the note verifies (openssl)."""
    name, keyid_hex, key_b64 = open(pub_path).readline().strip().split("+", 2)
    pk = base64.b64decode(key_b64)[1:]
    der = bytes.fromhex("302a300506032b6570032100") + pk
    for line in sig_lines.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[1] != name:
            continue
        blob = base64.b64decode(parts[2])
        if len(blob) != 68 or blob[:4].hex() != keyid_hex:
            continue
        with tempfile.TemporaryDirectory() as d:
            for fname, data in (("pk.der", der), ("body", body.encode()), ("sig", blob[4:])):
                with open(os.path.join(d, fname), "wb") as f:
                    f.write(data)
            r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER",
                                "-inkey", os.path.join(d, "pk.der"), "-rawin",
                                "-in", os.path.join(d, "body"), "-sigfile", os.path.join(d, "sig")],
                               capture_output=True)
        if r.returncode == 0:
            return
    raise Mismatch("no valid signature by %s on the checkpoint" % name)


class Log:
    """Reads one tlog-tiles log over HTTP, remembering what it fetched."""

    def __init__(self, base, out):
        self.base = base.rstrip("/")
        self.out = out
        self.fetches = 0
        self.tiles = {}

    def get(self, path, limit):
        url = self.base + "/" + path
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                data = r.read(limit + 1)
        except urllib.error.HTTPError as e:
            raise Mismatch("%s: HTTP %d" % (path, e.code))
        except urllib.error.URLError as e:
            raise Mismatch("%s: %s" % (path, e.reason))
        if len(data) > limit:
            raise Mismatch("%s: more than %d bytes" % (path, limit))
        self.fetches += 1
        if self.out:
            dest = os.path.join(self.out, path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(data)
        return data

    @staticmethod
    def width(size, level, index):
        """Width of tile `index` at `level` in a tree of `size` leaves (0: no such tile)."""
        count = size >> (HEIGHT * level)
        if index < count // WIDTH:
            return WIDTH
        if index == count // WIDTH:
            return count % WIDTH
        return 0

    def hash_tile(self, size, level, index):
        key = (level, index)
        if key not in self.tiles:
            w = self.width(size, level, index)
            if w == 0:
                raise Mismatch("tile %d/%d is outside the tree" % (level, index))
            data = self.get(tile_path(level, index, w), 32 * WIDTH)
            if len(data) != 32 * w:
                raise Mismatch("%s: %d bytes, want %d" % (tile_path(level, index, w), len(data),
                                                          32 * w))
            self.tiles[key] = [data[i:i + 32] for i in range(0, len(data), 32)]
        return self.tiles[key]

    def bundle(self, size, index):
        w = self.width(size, 0, index)
        path = tile_path("entries", index, w)
        data = self.get(path, MAX_BUNDLE)
        entries, at = [], 0
        while at < len(data):
            if len(entries) == w:
                raise Mismatch("%s: bytes after its %d entries" % (path, w))
            if len(data) - at < 2:
                raise Mismatch("%s: a length is cut short" % path)
            n = int.from_bytes(data[at:at + 2], "big")
            if len(data) - at - 2 < n:
                raise Mismatch("%s: entry %d is cut short" % (path, len(entries)))
            entries.append(data[at + 2:at + 2 + n])
            at += 2 + n
        if len(entries) != w:
            raise Mismatch("%s: %d entries, want %d" % (path, len(entries), w))
        return entries


def subtree_from_tiles(log, size, height, start):
    """Hash of the perfect subtree of 2^height leaves from leaf `start`, from hash tiles:
    its 2^(height % 8) hashes at tile level height // 8, hashed together."""
    level, rest = divmod(height, HEIGHT)
    first = start >> (HEIGHT * level)
    hashes = []
    for i in range(first, first + (1 << rest)):
        hashes.append(log.hash_tile(size, level, i // WIDTH)[i % WIDTH])
    return mth(hashes)


def root_from_tiles(log, size):
    """The tree root from the hash tiles alone: the perfect subtrees that make up
    `size` (its set bits, largest first), folded right to left."""
    subtrees, start = [], 0
    for height in range(63, -1, -1):
        if size >> height & 1:
            subtrees.append(subtree_from_tiles(log, size, height, start))
            start += 1 << height
    root = subtrees[-1]
    for h in reversed(subtrees[:-1]):
        root = node_hash(h, root)
    return root


def mirror(base, checkpoint_file, hub_key, out):
    log = Log(base, out)
    if checkpoint_file:
        text = open(checkpoint_file, encoding="utf-8").read()
    else:
        text = log.get("checkpoint", 16384).decode("utf-8")
    origin, size, root, body, sigs = parse_checkpoint(text)
    if size == 0:
        raise Mismatch("empty log")
    if hub_key:
        check_signature(body, sigs, hub_key)
    # Every entry, bundle by bundle.
    leaves = []
    for n in range((size + WIDTH - 1) // WIDTH):
        leaves.extend(leaf_hash(e) for e in log.bundle(size, n))
    # Every hash tile of every level, against hashes recomputed from below.
    below, levels = leaves, 0
    while size >> (HEIGHT * levels):
        count = size >> (HEIGHT * levels)
        if levels == 0:
            want = leaves
        else:
            want = [mth(below[i * WIDTH:(i + 1) * WIDTH]) for i in range(count)]
        for n in range((count + WIDTH - 1) // WIDTH):
            got = log.hash_tile(size, levels, n)
            for k, h in enumerate(got):
                if h != want[n * WIDTH + k]:
                    raise Mismatch("%s: hash %d differs from the one the entries give"
                                   % (tile_path(levels, n, len(got)), k))
        below, levels = want, levels + 1
    from_entries = mth(leaves)
    from_tiles = root_from_tiles(log, size)
    if from_entries != root:
        raise Mismatch("the root of the entries (%s) is not the checkpoint's (%s)"
                       % (base64.b64encode(from_entries).decode(), base64.b64encode(root).decode()))
    if from_tiles != root:
        raise Mismatch("the root from the hash tiles is not the checkpoint's")
    print("OK: %s: mirrored %d entries, %d files over HTTP (%d tile levels); both roots equal "
          "the checkpoint's %s" % (origin, size, log.fetches, levels,
                                   base64.b64encode(root).decode()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url")
    p.add_argument("--checkpoint")
    p.add_argument("--hub-key")
    p.add_argument("--out")
    a = p.parse_args()
    try:
        mirror(a.url, a.checkpoint, a.hub_key, a.out)
    except (Mismatch, ValueError, UnicodeDecodeError) as e:
        print("FAIL: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
