/* receipt.h — reading and verifying cofab's offline receipts (C2SP tlog-proof@v1).
 *
 * A receipt proves that one ledger record is in the log a hub signed. cofab
 * writes it with cli_write_tlog_proof() (`cofab order status --receipt`,
 * `cofab audit prove --receipt`); this module reads it back, for
 * `cofab audit receipt` and for anyone linking libcofab. The text is
 *
 *   c2sp.org/tlog-proof@v1\n
 *   extra <base64 of the ledger record bytes>\n
 *   index <N>\n
 *   <base64 32-byte proof hash>\n      zero to RECEIPT_MAX_PROOF lines, leaf side first
 *   \n
 *   <the checkpoint signed note: body, blank line, signature lines>
 *
 * In the generic format "extra" is optional opaque data; in a cofab receipt
 * it is required and holds the record, whose leaf hash SHA-256(0x00 ||
 * record) the proof starts from. The parser is strict and canonical: "\n"
 * line ends only, RFC 4648 base64 with padding and zero pad bits, index in
 * decimal without sign or leading zero, nothing after the note's last
 * signature line. So a receipt that parses has exactly one text form.
 *
 * Parsing checks shape only; receipt_verify() checks every claim:
 *   1. the checkpoint carries a valid signature by the hub key,
 *   2. the inclusion proof leads from the record's leaf hash to the signed
 *      root (RFC 9162 §2.1.3.2),
 *   3. the record says it sits at the receipt's index, and when it is the
 *      last record of the checkpoint, its hash is the signed chain head,
 *   4. with a witness policy: the policy's witnesses cosigned the checkpoint
 *      (cosignature/v1) up to its quorum,
 *   5. the record's envelope carries a valid signature by its author.
 * The report says which step failed, so "proof does not lead to the root"
 * (COFAB_EPROOF), "not signed by this hub" (COFAB_ENOTFOUND / COFAB_EBADSIG)
 * and "not a receipt" (the malformed family) stay apart.
 *
 * Everything read here is untrusted. No function allocates or keeps
 * pointers to its arguments; every int function returns COFAB_EINVAL for a
 * NULL pointer argument.
 */
#ifndef COFAB_RECEIPT_H
#define COFAB_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/ledger.h"
#include "cofab/merkle.h"
#include "cofab/note.h"
#include "cofab/witness.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RECEIPT_HEADER "c2sp.org/tlog-proof@v1"
/* Proof hashes accepted: enough for any tree of fewer than 2^63 records. */
#define RECEIPT_MAX_PROOF 63
/* Longest base64 "extra" value: a record of LEDGER_RECORD_MAX bytes. */
#define RECEIPT_EXTRA_B64_MAX (((LEDGER_RECORD_MAX + 2) / 3) * 4)
/* Longest receipt text: header, extra, index, a full proof, blank line, note. */
#define RECEIPT_MAX_LEN                                                                  \
    (sizeof RECEIPT_HEADER + sizeof "extra " + RECEIPT_EXTRA_B64_MAX + sizeof "index " + \
     20 + 1 + RECEIPT_MAX_PROOF * 45 + 1 + NOTE_MAX_LEN)

/* A parsed receipt. Fixed size (about 104 KiB, no heap): callers keep it
 * on the heap, not the stack. A plain value; copy it freely. */
typedef struct {
    uint8_t record[LEDGER_RECORD_MAX];              /* the "extra" bytes: one ledger record */
    size_t record_len;                              /* their length */
    uint64_t index;                                 /* claimed position of the record */
    uint8_t proof[RECEIPT_MAX_PROOF][MERKLE_HASH_LEN]; /* inclusion proof, leaf side first */
    size_t proof_len;                               /* hashes in proof */
    char note_text[NOTE_MAX_LEN + 1];               /* the checkpoint note as written, NUL-terminated */
    size_t note_len;                                /* its length */
    note_t note;                                    /* the note split into body and signatures */
    checkpoint_t cp;                                /* the note's checkpoint body, parsed */
} receipt_t;

/* The verification steps, in the order receipt_verify() runs them. */
typedef enum {
    RECEIPT_STEP_NONE = 0,      /* nothing failed */
    RECEIPT_STEP_HUB = 1,       /* hub key and its signature on the checkpoint */
    RECEIPT_STEP_PROOF = 2,     /* inclusion proof up to the signed root */
    RECEIPT_STEP_RECORD = 3,    /* record position and chain head */
    RECEIPT_STEP_WITNESS = 4,   /* witness cosignatures against the policy */
    RECEIPT_STEP_ENVELOPE = 5   /* the record's envelope and its author signature */
} receipt_step_t;

/* What receipt_verify() found. Filled as far as verification got: index,
 * tree size and origin always; the record's fields once it decoded. */
typedef struct {
    int code;                           /* 0, or the error returned */
    int step;                           /* receipt_step_t that failed (NONE on success) */
    char reason[256];                   /* one human sentence on the outcome */
    uint64_t index;                     /* the record's position */
    uint64_t tree_size;                 /* size of the checkpointed tree */
    char origin[NOTE_MAX_ORIGIN + 1];   /* the log's origin line */
    char hub_name[NOTE_MAX_NAME + 1];   /* name of the hub key that signed */
    uint8_t leaf[MERKLE_HASH_LEN];      /* SHA-256(0x00 || record): the record hash */
    int has_record;                     /* 1 once the fields below are set */
    uint64_t record_time_ms;            /* hub clock when the record was sequenced */
    int kind;                           /* envelope_kind_t of the record's envelope */
    uint8_t author[32];                 /* the envelope author's Ed25519 key */
    uint64_t author_seq;                /* the author's own sequence number */
    uint8_t subject[32];                /* the order id, or zeros */
    uint64_t timestamp_ms;              /* the author's clock */
    uint8_t envelope_hash[32];          /* SHA-256 of the envelope bytes */
    int has_policy;                     /* 1 when a witness policy was checked */
    uint32_t quorum;                    /* the policy's quorum */
    uint32_t cosigned;                  /* policy witnesses with a valid cosignature */
    char cosigners[WITNESS_MAX][NOTE_MAX_NAME + 1]; /* their names, policy order */
    uint32_t other_sigs;                /* signature lines by keys neither the hub's nor
                                           the policy's (not verified: unknown keys) */
} receipt_report_t;

/* Parses receipt text (untrusted, len bytes; need not be NUL-terminated)
 * into *out. Checks the shape of every part: header line, "extra" record
 * (must decode with ledger_record_decode() and hold an envelope that
 * envelope_decode() accepts), index, proof lines, the note (note_parse())
 * and its checkpoint body (checkpoint_parse()). Verifies nothing.
 * Returns 0 or:
 *   COFAB_ETOOBIG     text over RECEIPT_MAX_LEN, extra over LEDGER_RECORD_MAX,
 *                     more than RECEIPT_MAX_PROOF proof lines, note over
 *                     NOTE_MAX_LEN;
 *   COFAB_ETRUNCATED  the text ends before the note's signature lines are
 *                     complete (a line without its "\n", no blank line, no
 *                     signature line);
 *   COFAB_ETRAILING   anything after the note's last signature line;
 *   COFAB_EVERSION    a "c2sp.org/tlog-proof@" header of another version;
 *   COFAB_EMALFORMED  anything else that is not of the format (missing
 *                     extra, bad base64, bad index, a proof line that is not
 *                     32 bytes, a bad note or checkpoint body);
 *   the codes of ledger_record_decode() / envelope_decode() for a record
 *   that does not decode (COFAB_ETRUNCATED, COFAB_ETRAILING, COFAB_EVERSION,
 *   COFAB_EKIND, COFAB_EMALFORMED, COFAB_ETOOBIG).
 * On error *out is left zeroed. */
int receipt_parse(receipt_t *out, const char *text, size_t len);

/* Verifies a parsed receipt against the hub's key and, when policy is not
 * NULL, against that witness policy. hub may be NULL when the policy has a
 * `log` line (that key is then the hub's). Fills *rep (see above) and
 * returns 0 when every step holds, else the first failure:
 *   COFAB_EINVAL        no hub key at all (hub NULL, no policy log line);
 *   COFAB_EKEYMISMATCH  hub and the policy's `log` key differ;        [HUB]
 *   COFAB_ENOTFOUND     the checkpoint has no signature line by hub;  [HUB]
 *   COFAB_EBADSIG       the hub's signature line does not verify;     [HUB]
 *   COFAB_ERANGE        index beyond the checkpoint's tree size;      [PROOF]
 *   COFAB_EPROOF        the proof does not lead to the signed root;   [PROOF]
 *   COFAB_ECHAIN        the record names another position, or as the
 *                       last record its hash is not the chain head;   [RECORD]
 *   COFAB_EBADSIG       a policy witness' cosignature does not verify;[WITNESS]
 *   COFAB_EWITNESS      fewer valid cosignatures than the quorum;     [WITNESS]
 *   COFAB_EBADSIG       the envelope's author signature does not
 *                       verify (or a decode error of the record);     [ENVELOPE]
 *   COFAB_ECRYPTO       libsodium failed to initialise. */
int receipt_verify(const receipt_t *r, const note_verifier_t *hub, const witness_policy_t *policy,
                   receipt_report_t *rep);

/* Short name of a step ("hub signature", "inclusion proof"...), never NULL. */
const char *receipt_step_name(int step);

#ifdef __cplusplus
}
#endif
#endif
