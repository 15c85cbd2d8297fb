// verify_proofs.go — independent check of cofab checkpoints and proofs with Go's sumdb/note and sumdb/tlog.
//
// It uses only golang.org/x/mod/sumdb/note, golang.org/x/mod/sumdb/tlog and
// the standard library, so that a verifier written by other people accepts
// cofab's signed checkpoints, inclusion proofs and consistency proofs as they
// are. Run in GOPATH mode against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tests/interop/verify_proofs.go -key VKEY < in.json
//
// Inclusion (default) reads
//
//	{"checkpoint": "<signed note>", "entries": [{"index": N, "record": "<b64 leaf bytes>", "proof": ["<b64 hash>", ...]}]}
//
// and -consistency reads
//
//	{"old": "<signed note>", "new": "<signed note>", "proof": ["<b64 hash>", ...]}
//
// -witness VKEY (may repeat; "name+hash+base64(0x04||pk)") also requires a
// valid C2SP tlog-cosignature cosignature/v1 line by that witness on every
// checkpoint. It prints one "ok: ..." line, or an error and exits 1.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type entry struct {
	Index  int64    `json:"index"`
	Record string   `json:"record"`
	Proof  []string `json:"proof"`
}

type inclusionInput struct {
	Checkpoint *string `json:"checkpoint"`
	Entries    []entry `json:"entries"`
}

type consistencyInput struct {
	Old   *string  `json:"old"`
	New   *string  `json:"new"`
	Proof []string `json:"proof"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

type witnessList []string

func (w *witnessList) String() string     { return strings.Join(*w, ",") }
func (w *witnessList) Set(s string) error { *w = append(*w, s); return nil }

// cosigV1 verifies C2SP tlog-cosignature cosignature/v1 (algorithm 0x04)
// lines; note.Open hands it the note text and the bytes after the key id.
type cosigV1 struct {
	name string
	hash uint32
	pk   ed25519.PublicKey
}

func (c *cosigV1) Name() string    { return c.name }
func (c *cosigV1) KeyHash() uint32 { return c.hash }
func (c *cosigV1) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t > 1<<63-1 {
		return false
	}
	signed := fmt.Sprintf("cosignature/v1\ntime %d\n%s", t, msg)
	return ed25519.Verify(c.pk, []byte(signed), sig[8:])
}

func newCosigV1(vkey string) (*cosigV1, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || len(parts[1]) != 8 || parts[0] == "" {
		return nil, errors.New("malformed witness key")
	}
	hash, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil {
		return nil, errors.New("malformed witness key hash")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != 0x04 {
		return nil, errors.New("witness key is not base64(0x04 || 32-byte Ed25519 key)")
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), key...))
	if binary.BigEndian.Uint32(h[:4]) != uint32(hash) {
		return nil, errors.New("witness key hash does not match name and key")
	}
	return &cosigV1{name: parts[0], hash: uint32(hash), pk: ed25519.PublicKey(key[1:])}, nil
}

// openCheckpoint verifies the log signature (and any witness cosignatures)
// and parses the C2SP tlog-checkpoint body; extension lines are ignored.
func openCheckpoint(text string, log note.Verifier, witnesses []*cosigV1) (checkpoint, error) {
	var cp checkpoint
	list := []note.Verifier{log}
	for _, w := range witnesses {
		list = append(list, w)
	}
	n, err := note.Open([]byte(text), note.VerifierList(list...))
	if err != nil {
		return cp, fmt.Errorf("checkpoint signature: %v", err)
	}
	seen := map[string]bool{}
	for _, s := range n.Sigs {
		seen[fmt.Sprintf("%s+%08x", s.Name, s.Hash)] = true
	}
	if !seen[fmt.Sprintf("%s+%08x", log.Name(), log.KeyHash())] {
		return cp, errors.New("checkpoint is not signed by the log key")
	}
	for _, w := range witnesses {
		if !seen[fmt.Sprintf("%s+%08x", w.name, w.hash)] {
			return cp, fmt.Errorf("checkpoint has no cosignature by witness %s", w.name)
		}
	}
	lines := strings.Split(n.Text, "\n")
	// Text ends in "\n", so the last element is empty.
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return cp, errors.New("checkpoint body has fewer than three lines")
	}
	for _, l := range lines[:len(lines)-1] {
		if l == "" {
			return cp, errors.New("checkpoint body has an empty line")
		}
	}
	cp.origin = lines[0]
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return cp, fmt.Errorf("checkpoint tree size %q is not canonical decimal", lines[1])
	}
	cp.size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return cp, fmt.Errorf("checkpoint root %q is not base64 of %d bytes", lines[2], tlog.HashSize)
	}
	copy(cp.root[:], root)
	return cp, nil
}

func decodeHashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for i, s := range list {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d is not base64 of %d bytes", i, tlog.HashSize)
		}
		var h tlog.Hash
		copy(h[:], b)
		out = append(out, h)
	}
	return out, nil
}

func decodeJSON(r io.Reader, v interface{}) error {
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("input JSON: %v", err)
	}
	if dec.More() {
		return errors.New("input JSON: trailing data")
	}
	return nil
}

func inclusion(log note.Verifier, witnesses []*cosigV1) (string, error) {
	var in inclusionInput
	if err := decodeJSON(os.Stdin, &in); err != nil {
		return "", err
	}
	if in.Checkpoint == nil {
		return "", errors.New(`input JSON: no "checkpoint"`)
	}
	cp, err := openCheckpoint(*in.Checkpoint, log, witnesses)
	if err != nil {
		return "", err
	}
	for i, e := range in.Entries {
		record, err := base64.StdEncoding.Strict().DecodeString(e.Record)
		if err != nil {
			return "", fmt.Errorf("entry %d: record is not base64", i)
		}
		proof, err := decodeHashes(e.Proof)
		if err != nil {
			return "", fmt.Errorf("entry %d: %v", i, err)
		}
		if e.Index < 0 || e.Index >= cp.size {
			return "", fmt.Errorf("entry %d: index %d outside tree of size %d", i, e.Index, cp.size)
		}
		if err := tlog.CheckRecord(proof, cp.size, cp.root, e.Index, tlog.RecordHash(record)); err != nil {
			return "", fmt.Errorf("entry %d (index %d): %v", i, e.Index, err)
		}
	}
	return fmt.Sprintf("ok: %d entries verified against checkpoint of size %d", len(in.Entries), cp.size), nil
}

func consistency(log note.Verifier, witnesses []*cosigV1) (string, error) {
	var in consistencyInput
	if err := decodeJSON(os.Stdin, &in); err != nil {
		return "", err
	}
	if in.Old == nil || in.New == nil {
		return "", errors.New(`input JSON: needs "old" and "new"`)
	}
	oldCp, err := openCheckpoint(*in.Old, log, witnesses)
	if err != nil {
		return "", fmt.Errorf("old %v", err)
	}
	newCp, err := openCheckpoint(*in.New, log, witnesses)
	if err != nil {
		return "", fmt.Errorf("new %v", err)
	}
	if oldCp.origin != newCp.origin {
		return "", fmt.Errorf("origins differ: %q and %q", oldCp.origin, newCp.origin)
	}
	proof, err := decodeHashes(in.Proof)
	if err != nil {
		return "", err
	}
	if oldCp.size > newCp.size {
		return "", fmt.Errorf("old size %d is larger than new size %d", oldCp.size, newCp.size)
	}
	if oldCp.size == 0 {
		// Every tree extends the empty tree; tlog.CheckTree needs n >= 1.
		if len(proof) != 0 {
			return "", errors.New("non-empty proof from the empty tree")
		}
	} else if err := tlog.CheckTree(proof, newCp.size, newCp.root, oldCp.size, oldCp.root); err != nil {
		return "", fmt.Errorf("consistency %d -> %d: %v", oldCp.size, newCp.size, err)
	}
	return fmt.Sprintf("ok: checkpoint of size %d is consistent with checkpoint of size %d", newCp.size, oldCp.size), nil
}

func main() {
	key := flag.String("key", "", `log verifier key "name+hash+base64(0x01||pk)"`)
	cons := flag.Bool("consistency", false, "check a consistency proof between two checkpoints")
	var wkeys witnessList
	flag.Var(&wkeys, "witness", `witness key "name+hash+base64(0x04||pk)" whose cosignature is required (may repeat)`)
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	if *key == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: verify_proofs -key VKEY [-witness WKEY]... [-consistency] < input.json")
		os.Exit(2)
	}
	log, err := note.NewVerifier(*key)
	if err != nil {
		fail(fmt.Errorf("log key: %v", err))
	}
	var witnesses []*cosigV1
	for _, w := range wkeys {
		c, err := newCosigV1(w)
		if err != nil {
			fail(err)
		}
		witnesses = append(witnesses, c)
	}
	var msg string
	if *cons {
		msg, err = consistency(log, witnesses)
	} else {
		msg, err = inclusion(log, witnesses)
	}
	if err != nil {
		fail(err)
	}
	fmt.Println(msg)
}
