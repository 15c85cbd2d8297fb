/* envelope.h — the signed envelope: the unit every party signs and the ledger stores.
 *
 * Wire layout (all integers big-endian), ENVELOPE_HEADER_LEN bytes of header,
 * the payload, then the signature:
 *
 *   off  size  field
 *     0     1  version            ENVELOPE_VERSION (1)
 *     1     1  kind               envelope_kind_t
 *     2     2  flags              0 (reserved; anything else is malformed)
 *     4    32  author             author's Ed25519 public key
 *    36     8  author_seq         author's own counter, 1, 2, 3, ...
 *    44    32  author_prev        SHA-256 of the author's previous envelope
 *                                 (32 zero bytes when author_seq is 1)
 *    76     8  timestamp_ms       author's clock, ms since the Unix epoch
 *    84    32  subject            what the envelope is about (an order id),
 *                                 or 32 zero bytes
 *   116     4  payload_len        at most ENVELOPE_MAX - header - signature
 *   120     n  payload            kind-specific bytes (CBOR for most kinds)
 * 120+n    64  signature          Ed25519 over bytes [0, 120+n)
 *
 * The envelope hash is SHA-256 of all the bytes, signature included. The
 * ledger stores envelopes exactly as received: nothing is ever re-encoded.
 */
#ifndef COFAB_ENVELOPE_H
#define COFAB_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENVELOPE_VERSION 1
#define ENVELOPE_MAX 65536
#define ENVELOPE_HEADER_LEN 120
#define ENVELOPE_SIG_LEN 64
#define ENVELOPE_MAX_PAYLOAD (ENVELOPE_MAX - ENVELOPE_HEADER_LEN - ENVELOPE_SIG_LEN)

typedef enum {
    ENVELOPE_GENESIS = 1,       /* operator: alliance name, hub key, members, params */
    ENVELOPE_MEMBER_ADD = 2,    /* operator: a factory joins */
    ENVELOPE_MEMBER_REMOVE = 3, /* operator: a factory leaves */
    ENVELOPE_CAPACITY = 4,      /* factory: what it can make, how much, when */
    ENVELOPE_ORDER = 5,         /* customer: what they want */
    ENVELOPE_ASSIGN = 6,        /* hub: order -> factory (or factories) */
    ENVELOPE_ACCEPT = 7,        /* assigned factory */
    ENVELOPE_DECLINE = 8,       /* assigned factory, with a reason */
    ENVELOPE_STATUS = 9,        /* assigned factory: production progress */
    ENVELOPE_CANCEL = 10,       /* the order's customer */
    ENVELOPE_REASSIGN = 11,     /* hub: why an order goes back to matching */
    ENVELOPE_NOTE = 12,         /* free-form operator note (tests, tools) */
    ENVELOPE_KIND_MAX = 12
} envelope_kind_t;

/* A decoded envelope. The byte pointers borrow from the buffer given to
 * envelope_decode(); they are valid while that buffer is. */
typedef struct {
    uint8_t version;            /* format version */
    uint8_t kind;               /* envelope_kind_t */
    uint8_t author[32];         /* Ed25519 public key of the signer */
    uint64_t author_seq;        /* author's sequence number, from 1 */
    uint8_t author_prev[32];    /* hash of the author's previous envelope */
    uint64_t timestamp_ms;      /* author's clock */
    uint8_t subject[32];        /* order id or zeros */
    const uint8_t *payload;     /* borrowed: kind-specific bytes */
    uint32_t payload_len;       /* their length */
    const uint8_t *signature;   /* borrowed: 64 bytes */
    const uint8_t *bytes;       /* borrowed: the whole envelope */
    size_t len;                 /* its length */
    uint8_t hash[32];           /* SHA-256 of the whole envelope */
} envelope_t;

/* Name of a kind ("order"), or NULL if unknown. */
const char *envelope_kind_name(int kind);

/* Kind for a name, or COFAB_EKIND. */
int envelope_kind_parse(const char *name);

/* Parses the layout without checking the signature; computes e->hash.
 * Returns 0 or: COFAB_ETOOBIG (len > ENVELOPE_MAX), COFAB_ETRUNCATED
 * (shorter than its header says), COFAB_ETRAILING (longer), COFAB_EVERSION,
 * COFAB_EKIND (unknown kind), COFAB_EMALFORMED (flags set, author_seq 0,
 * non-zero author_prev on the first envelope). */
int envelope_decode(envelope_t *e, const uint8_t *bytes, size_t len);

/* Verifies the Ed25519 signature of a decoded envelope against its author
 * key. Returns 0 or COFAB_EBADSIG. */
int envelope_verify(const envelope_t *e);

/* envelope_decode() then envelope_verify(): what every receiver calls. */
int envelope_open(envelope_t *e, const uint8_t *bytes, size_t len);

/* What an author fills in to make an envelope. */
typedef struct {
    uint8_t kind;               /* envelope_kind_t */
    uint64_t author_seq;        /* next sequence number for this author */
    uint8_t author_prev[32];    /* hash of the previous envelope (zeros first) */
    uint64_t timestamp_ms;      /* author's clock */
    uint8_t subject[32];        /* order id or zeros */
    const uint8_t *payload;     /* borrowed */
    size_t payload_len;         /* at most ENVELOPE_MAX_PAYLOAD */
} envelope_spec_t;

/* Encodes and signs spec with the author's keys into out (room out_len,
 * ENVELOPE_MAX always suffices); *len receives the size. Returns 0,
 * COFAB_EINVAL (bad kind, seq 0), COFAB_ETOOBIG (payload too large or out
 * too small) or COFAB_ECRYPTO. */
int envelope_seal(const envelope_spec_t *spec, const keys_t *author, uint8_t *out,
                  size_t out_len, size_t *len);

/* Tracks an author's chain so callers can seal envelope after envelope. */
typedef struct {
    uint64_t next_seq;          /* sequence number the next envelope gets */
    uint8_t prev[32];           /* hash of the last envelope sealed */
} envelope_chain_t;

/* Starts a fresh chain (next_seq 1, prev zeros). */
void envelope_chain_init(envelope_chain_t *c);

/* Seals the next envelope of the chain (spec's author_seq and author_prev
 * are taken from c) and advances c. Returns as envelope_seal(). */
int envelope_chain_seal(envelope_chain_t *c, envelope_spec_t *spec, const keys_t *author,
                        uint8_t *out, size_t out_len, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
