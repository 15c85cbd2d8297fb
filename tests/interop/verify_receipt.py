#!/usr/bin/env python3
"""verify_receipt.py — checks a cofab tlog-proof receipt with nothing but the
Python standard library (and openssl(1) for the Ed25519 signature), as
docs/auditing.md explains: leaf hash, RFC 6962 inclusion proof, checkpoint
root, hub signature. Usage: verify_receipt.py RECEIPT HUB.pub
Exit 0 when every step holds, 1 otherwise."""
import base64, hashlib, os, subprocess, sys, tempfile

def h(b):
    return hashlib.sha256(b).digest()

def inclusion_ok(index, size, leaf, proof, root):
    # RFC 9162 section 2.1.3.2: fold the proof from the leaf to the root.
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root

def main(receipt_path, pub_path):
    text = open(receipt_path, encoding="utf-8").read()
    head, note = text.split("\n\n", 1)
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1", "not a tlog-proof"
    record = base64.b64decode(lines[1].split(" ", 1)[1])          # "extra <record>"
    index = int(lines[2].split(" ", 1)[1])                        # "index <N>"
    proof = [base64.b64decode(l) for l in lines[3:] if l]
    body, sigs = note.split("\n\n", 1)
    body += "\n"                                                  # signed text ends "\n"
    origin, size, root = body.split("\n")[:3]
    leaf = h(b"\x00" + record)
    if not inclusion_ok(index, int(size), leaf, proof, base64.b64decode(root)):
        print("FAIL: the inclusion proof does not lead to the checkpoint root")
        return 1
    name, keyid_hex, key_b64 = open(pub_path).readline().strip().split("+", 2)
    pk = base64.b64decode(key_b64)[1:]                            # drop the 0x01 alg byte
    for line in sigs.splitlines():
        _, sig_name, blob = line.split(" ")
        blob = base64.b64decode(blob)
        if sig_name != name or blob[:4].hex() != keyid_hex:
            continue
        with tempfile.TemporaryDirectory() as d:
            der = bytes.fromhex("302a300506032b6570032100") + pk   # Ed25519 SubjectPublicKeyInfo
            for fname, data in (("pk.der", der), ("body", body.encode()), ("sig", blob[4:])):
                open(os.path.join(d, fname), "wb").write(data)
            ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER",
                                 "-inkey", os.path.join(d, "pk.der"), "-rawin",
                                 "-in", os.path.join(d, "body"), "-sigfile", os.path.join(d, "sig")],
                                capture_output=True).returncode == 0
        if ok:
            print("OK: record %d is in the %s-record log %s signed by %s" % (index, size, origin, name))
            return 0
    print("FAIL: no valid signature by %s on the checkpoint" % name)
    return 1

if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
