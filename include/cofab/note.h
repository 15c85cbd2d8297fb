/* note.h — C2SP signed notes, tlog checkpoints and cosignature/v1.
 *
 * A signed note is a UTF-8 text body ending in "\n", a blank line, then one
 * or more signature lines "— <name> <base64(key id || signature)>\n"
 * (the dash is U+2014). For Ed25519 keys (algorithm byte 0x01) the key id is
 * the first 4 bytes of SHA-256(name || "\n" || 0x01 || public key) and the
 * signature is Ed25519 over the body bytes.
 *
 * A checkpoint (C2SP tlog-checkpoint) is a note whose body is
 *   <origin>\n<tree size, decimal>\n<base64 root hash>\n[extension lines]
 * cofab writes one extension line, "chain <base64 chain head>", carrying the
 * hash of the ledger's last record (the head of the record hash chain).
 *
 * A witness cosignature (C2SP tlog-cosignature, cosignature/v1, algorithm
 * byte 0x04) signs "cosignature/v1\ntime <T>\n" followed by the checkpoint
 * body; its line carries base64(key id || 8-byte big-endian T || signature).
 *
 * Verifier keys travel as the text "name+<8 hex key id>+base64(0x01 || pk)"
 * (the form Go's golang.org/x/mod/sumdb/note reads).
 *
 * Everything parsed here is untrusted: sizes are bounded (NOTE_MAX_LEN),
 * every field is checked, and malformed input gets COFAB_EMALFORMED (or
 * COFAB_ETOOBIG), never a crash. Notes must be valid UTF-8 with no ASCII
 * control character other than "\n" (so no NUL), as signed-note and Go
 * require. Base64 is strict RFC 4648 (padding required, zero pad bits).
 * No function keeps pointers to its inputs. Every int function returns
 * COFAB_EINVAL for a NULL pointer argument.
 */
#ifndef COFAB_NOTE_H
#define COFAB_NOTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NOTE_MAX_LEN 16384        /* whole signed note, bytes */
#define NOTE_MAX_NAME 64          /* key name, bytes */
#define NOTE_MAX_ORIGIN 255       /* checkpoint origin line, bytes */
#define NOTE_MAX_SIGS 32          /* signature lines kept per note */
#define NOTE_KEYID_LEN 4
#define NOTE_ALG_ED25519 0x01
#define NOTE_ALG_COSIG_V1 0x04
#define NOTE_VERIFIER_MAX 160     /* longest verifier key text, with NUL */

/* A named Ed25519 public key, as used to verify notes. */
typedef struct {
    char name[NOTE_MAX_NAME + 1];       /* key name, NUL-terminated */
    uint8_t pk[32];                     /* Ed25519 public key */
    uint8_t keyid[NOTE_KEYID_LEN];      /* id for alg 0x01 (note signatures) */
} note_verifier_t;

/* One signature line of a parsed note. */
typedef struct {
    char name[NOTE_MAX_NAME + 1];       /* key name from the line */
    uint8_t keyid[NOTE_KEYID_LEN];      /* first 4 bytes of the blob */
    uint8_t blob[4 + 8 + 64];           /* key id || [timestamp ||] signature */
    size_t blob_len;                    /* 68 for Ed25519, 76 for cosignature/v1;
                                           0 if the line's blob was longer than
                                           76 bytes (another algorithm): kept so
                                           a key match still fails to verify */
} note_sig_t;

/* A note split into body and signature lines. Fixed size, no heap. */
typedef struct {
    char body[NOTE_MAX_LEN];            /* body text, ends "\n", NUL-terminated */
    size_t body_len;                    /* bytes in body, without the NUL */
    note_sig_t sigs[NOTE_MAX_SIGS];     /* signature lines in order */
    size_t nsigs;                       /* how many */
} note_t;

/* A parsed checkpoint body. */
typedef struct {
    char origin[NOTE_MAX_ORIGIN + 1];   /* first line, NUL-terminated */
    uint64_t size;                      /* tree size */
    uint8_t root[32];                   /* Merkle root hash */
    int has_chain;                      /* 1 if a "chain" extension line was present */
    uint8_t chain[32];                  /* record hash-chain head, if has_chain */
} checkpoint_t;

/* Key id for alg (0x01 note, 0x04 cosignature): first 4 bytes of
 * SHA-256(name || "\n" || alg || pk). */
void note_keyid(const char *name, uint8_t alg, const uint8_t pk[32],
                uint8_t out[NOTE_KEYID_LEN]);

/* Fills v from a name and public key. Returns 0 or COFAB_EMALFORMED if the
 * name is empty, too long, or holds a character outside [A-Za-z0-9._-]. */
int note_verifier_init(note_verifier_t *v, const char *name, const uint8_t pk[32]);

/* Writes "name+hex8+base64(0x01||pk)" (NUL-terminated) into out. Returns 0
 * or COFAB_EINVAL if out_len < NOTE_VERIFIER_MAX. */
int note_verifier_format(const note_verifier_t *v, char *out, size_t out_len);

/* Parses verifier text (no trailing newline). Returns 0, or
 * COFAB_EMALFORMED (bad shape, name, base64, length or algorithm byte) or
 * COFAB_EKEYMISMATCH (the hex key id does not match name and key). */
int note_verifier_parse(note_verifier_t *v, const char *text, size_t len);

/* Signs body (which must end in "\n" and hold no blank line) with the
 * Ed25519 secret key sk (64 bytes, libsodium layout) under name, appending
 * "\n— name base64(...)\n". Writes the NUL-terminated note to out (which
 * may be the body's own buffer). Returns 0, COFAB_EMALFORMED for a bad body
 * or name, or COFAB_ETOOBIG if the note does not fit in out_len or would
 * exceed NOTE_MAX_LEN. */
int note_sign(const char *body, size_t body_len, const char *name,
              const uint8_t sk[64], char *out, size_t out_len);

/* Splits text into body and signature lines at the last blank line (the
 * body may itself hold blank lines, as in signed-note). Signature-line names
 * follow signed-note/Go: non-empty, no Unicode space, no '+'. Lines for
 * unknown keys are kept (verifiers skip them), except a well-formed line
 * whose name is longer than NOTE_MAX_NAME, which no verifier here can match
 * and is dropped (so nsigs may be 0 on success). Returns 0, COFAB_ETOOBIG
 * (over NOTE_MAX_LEN), COFAB_EMALFORMED (bad UTF-8 or control byte, no
 * blank line, a line not of the signature form, bad base64, a blob under 5
 * bytes, no signature line at all, more than NOTE_MAX_SIGS lines). On error
 * nsigs is 0. */
int note_parse(note_t *note, const char *text, size_t len);

/* Checks that note carries a valid Ed25519 signature by v. Every line with
 * v's name and key id must verify (signed-note: a known key's bad signature
 * rejects the note). Returns 0, COFAB_ENOTFOUND if no line has v's name and
 * key id, COFAB_EBADSIG if such a line does not verify. */
int note_verify(const note_t *note, const note_verifier_t *v);

/* Formats a checkpoint body into out (NUL-terminated) and its length into
 * *len. The chain line is written when cp->has_chain. Returns 0 or
 * COFAB_ETOOBIG / COFAB_EMALFORMED (origin empty, too long, with a newline
 * or other control character, or not UTF-8). */
int checkpoint_format(const checkpoint_t *cp, char *out, size_t out_len, size_t *len);

/* Parses a checkpoint body (the note body, without signatures): at least
 * three non-empty lines; size without sign or leading zero, fitting 64
 * bits; root exactly 32 bytes. Unknown extension lines are ignored; a
 * malformed or repeated "chain" line is not. Returns 0, COFAB_ETOOBIG
 * (over NOTE_MAX_LEN) or COFAB_EMALFORMED. */
int checkpoint_parse(checkpoint_t *cp, const char *body, size_t body_len);

/* Parses the checkpoint body of a signed note's text WITHOUT checking any
 * signature (for notes this process stored or already verified). Returns
 * 0, COFAB_ENOMEM, or note_parse()/checkpoint_parse() errors. */
int checkpoint_from_note(checkpoint_t *cp, const char *text, size_t len);

/* Appends a cosignature/v1 line by the witness key (name, sk) over the note's
 * checkpoint body at time `timestamp` (seconds since the epoch, at most
 * 2^63-1) to the signed note in `signed_note`, writing the result to out;
 * the existing lines are copied unchanged. It does not check the log's
 * signature (the witness does that first). Returns 0, COFAB_EMALFORMED (bad
 * name or timestamp, the note or its checkpoint body does not parse),
 * COFAB_ETOOBIG (result over out_len or NOTE_MAX_LEN, or the note already
 * has NOTE_MAX_SIGS lines). */
int note_cosign(const char *signed_note, size_t signed_len, const char *name,
                const uint8_t sk[64], uint64_t timestamp, char *out, size_t out_len);

/* Checks that note carries a valid cosignature/v1 by the witness (name, pk);
 * every matching line must verify. On success stores the first matching
 * line's timestamp in *timestamp (may be NULL). The name is only compared,
 * so any name a signature line may carry works. Returns 0, COFAB_ENOTFOUND
 * or COFAB_EBADSIG (also for a timestamp over 2^63-1). */
int note_verify_cosignature(const note_t *note, const char *name, const uint8_t pk[32],
                            uint64_t *timestamp);

#ifdef __cplusplus
}
#endif
#endif
