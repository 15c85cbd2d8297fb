/* client.h — a hub client for customers and the operator: submit envelopes, fetch and verify an order's records.
 *
 * A client_t is one CURVE DEALER connected to a hub's submit/query endpoint
 * with the caller's keys. Every request is bounded: it is sent at most
 * CLIENT_TRIES times, each attempt waiting a slice of the caller's
 * timeout_ms, so a call returns COFAB_ENET within about timeout_ms when the
 * hub is unreachable (or refuses our transport key at the ZAP handshake,
 * which looks the same from here). Resending is safe: queries are
 * idempotent, and a resubmitted envelope is always the SAME bytes, which
 * the hub answers with its original position.
 *
 * Every reply is untrusted input: the decoders below check every length
 * against explicit bounds and refuse trailing bytes; nothing the hub says
 * is believed until client_subject_verify() has checked the hub's
 * signature on the checkpoint, every record's inclusion proof against it
 * and every envelope's signature.
 *
 * Threads: a client_t is used by one thread at a time.
 */
#ifndef COFAB_CLIENT_H
#define COFAB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/keys.h"
#include "cofab/net.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLIENT_TRIES 3             /* attempts per request */
#define CLIENT_MIN_ATTEMPT_MS 20   /* shortest wait per attempt */
#define CLIENT_MAX_PROOF 64        /* inclusion proof hashes accepted (2^64 leaves) */
#define CLIENT_REASON_MAX 320      /* failure text, bytes with NUL (> WIRE_MAX_REASON) */
#define CLIENT_PATH_MAX 4096       /* state and evidence file paths, bytes with NUL */

typedef struct client_t client_t;

/* Connects (asynchronously: ZeroMQ reconnects in the background) to the
 * hub's submit endpoint with our keys, pinning the hub's transport public
 * key. keys is borrowed and must outlive the client. Returns NULL on a bad
 * argument, a bad endpoint or a ZeroMQ failure. */
client_t *client_new(const char *endpoint, const keys_t *keys, const uint8_t hub_transport[32]);

/* Closes the socket (bounded linger) and the context; safe on NULL and
 * twice; sets *self_p = NULL. */
void client_destroy(client_t **self_p);

/* Sends (type, body) and waits for its reply, resending up to CLIENT_TRIES
 * times within timeout_ms. Returns 0 with *reply filled (any reply type,
 * ERR included; free with net_msg_free), COFAB_EINVAL, or COFAB_ENET. */
int client_request(client_t *self, int type, const void *body, size_t len, int timeout_ms,
                   net_msg_t *reply);

/* GET_AUTHOR: the hub's last author sequence number for a signing key and
 * the hash of that envelope (0 and zeros for a new author). Returns 0,
 * COFAB_ENET, the hub's ERR code, or COFAB_EMALFORMED for a bad reply. */
int client_author(client_t *self, const uint8_t sign_pk[32], int timeout_ms, uint64_t *author_seq,
                  uint8_t hash[32]);

/* Seals the next envelope of our author chain (asks GET_AUTHOR where the
 * chain stands) into out (ENVELOPE_MAX always suffices); *env_len gets its
 * size. subject may be NULL (zeros). Returns 0, as client_author(), or as
 * envelope_seal(). */
int client_seal(client_t *self, int kind, const uint8_t subject[32], const uint8_t *payload,
                size_t payload_len, int timeout_ms, uint8_t *out, size_t out_len,
                size_t *env_len);

/* SUBMITs envelope bytes, resending the same bytes after each timed-out
 * attempt (and after a hub-side ENOMEM / EIO / ESTORE, which stored
 * nothing). On 0, *position is where the envelope is durably stored and
 * *duplicate (may be NULL) says it was already there. On a refusal returns
 * the hub's code (COFAB_EPERM, COFAB_EREPLAY, COFAB_ESTATE...) with the
 * hub's reason in reason (room WIRE_MAX_REASON + 1, may be NULL); returns
 * COFAB_ENET when no answer came within timeout_ms, COFAB_EMALFORMED for a
 * reply that does not parse. */
int client_submit_envelope(client_t *self, const uint8_t *env, size_t len, int timeout_ms,
                           uint64_t *position, int *duplicate, char *reason);

/* client_seal() then client_submit_envelope(): the whole submit. timeout_ms
 * bounds each of the two steps. Returns as those. */
int client_submit(client_t *self, int kind, const uint8_t subject[32], const uint8_t *payload,
                  size_t len, int timeout_ms, uint64_t *position, char *reason);

/* ---- Reply decoders (untrusted bytes; pointers borrow from body) ---- */

/* ACK body: u64 position | u8 duplicate (0 or 1). Returns 0,
 * COFAB_ETRUNCATED, COFAB_ETRAILING or COFAB_EMALFORMED. */
int client_ack_decode(const uint8_t *body, size_t len, uint64_t *position, int *duplicate);

/* AUTHOR body: u64 author sequence | 32-byte hash. Returns 0,
 * COFAB_ETRUNCATED, COFAB_ETRAILING or COFAB_EMALFORMED (sequence 0 with a
 * non-zero hash, or UINT64_MAX, which no author can follow). */
int client_author_decode(const uint8_t *body, size_t len, uint64_t *author_seq, uint8_t hash[32]);

/* A borrowed byte range. */
typedef struct {
    const uint8_t *bytes;   /* borrowed from the reply body */
    size_t len;             /* its length */
} client_blob_t;

/* RECORDS body: u32 n | n x (u32 len | record). */
typedef struct {
    uint32_t n;                             /* records, 0..WIRE_MAX_RANGE */
    client_blob_t records[WIRE_MAX_RANGE];  /* each 1..LEDGER_RECORD_MAX bytes */
} client_records_t;

/* Returns 0, COFAB_ETRUNCATED, COFAB_ETRAILING, COFAB_ETOOBIG (count or a
 * length over its bound) or COFAB_EMALFORMED (an empty record). */
int client_records_decode(client_records_t *out, const uint8_t *body, size_t len);

/* One record of a SUBJECT reply. */
typedef struct {
    uint64_t position;                      /* claimed ledger position */
    client_blob_t record;                   /* record bytes */
    uint8_t k;                              /* proof hashes, 0..CLIENT_MAX_PROOF */
    const uint8_t *proof;                   /* k x 32 bytes, borrowed */
} client_subject_entry_t;

/* SUBJECT body: u32 note len | note | u32 n | n x (u64 position | u32 len |
 * record | u8 k | k x 32). */
typedef struct {
    client_blob_t note;                     /* checkpoint note text (not NUL-terminated) */
    uint32_t n;                             /* 1..WIRE_MAX_SUBJECT_RECORDS */
    client_subject_entry_t entries[WIRE_MAX_SUBJECT_RECORDS];
} client_subject_t;

/* Returns 0, COFAB_ETRUNCATED, COFAB_ETRAILING, COFAB_ETOOBIG (note over
 * NOTE_MAX_LEN, a record over LEDGER_RECORD_MAX, more than
 * WIRE_MAX_SUBJECT_RECORDS records, more than CLIENT_MAX_PROOF hashes) or
 * COFAB_EMALFORMED (empty note or record, no records). */
int client_subject_decode(client_subject_t *out, const uint8_t *body, size_t len);

/* ---- Trust and verification ---- */

/* What a customer trusts: the hub's key (from its .pub) and the alliance
 * as its genesis record states it. About 9 KB. */
typedef struct {
    note_verifier_t hub;                     /* signs checkpoints (pinned from the .pub) */
    uint8_t hub_transport[32];               /* the hub's CurveZMQ key */
    char origin[NOTE_MAX_ORIGIN + 1];        /* checkpoint origin line; "" = not checked */
    uint8_t operator_key[32];                /* signs membership changes */
    payload_member_t members[PAYLOAD_MAX_MEMBERS]; /* founding members */
    uint32_t nmembers;                       /* 0..PAYLOAD_MAX_MEMBERS */
    uint32_t witness_k;                      /* cosignatures a checkpoint needs */
} client_trust_t;

/* Fetches record 0 (GET_RANGE 0 1), checks it is a position-0 genesis
 * record signed by the operator it names, whose hub key and transport key
 * are the pinned ones in hub, and fills *out. Returns 0; COFAB_ENET; the
 * hub's ERR code; COFAB_EMALFORMED & co. for a reply or record that does
 * not parse; COFAB_EBADSIG; COFAB_EKEYMISMATCH (the genesis names another
 * hub: wrong --hub-key, or an impostor). */
int client_trust_load(client_t *self, const keys_public_t *hub, int timeout_ms,
                      client_trust_t *out);

/* One verified record. Pointers borrow from the reply body. */
typedef struct {
    uint64_t position;          /* ledger position (matches the record's own) */
    uint64_t time_ms;           /* hub time when sequenced */
    uint8_t kind;               /* envelope kind */
    uint8_t author[32];         /* who signed it */
    const uint8_t *payload;     /* the envelope's payload, borrowed */
    uint32_t payload_len;       /* its length */
    const uint8_t *record;      /* the whole record, borrowed */
    size_t record_len;          /* its length */
    const uint8_t *proof;       /* its inclusion proof, k x 32 bytes, borrowed */
    uint8_t k;                  /* proof hashes (0 when not proven) */
    int proven;                 /* 1: inclusion proof verified against the
                                   checkpoint; 0: sequenced after it */
} client_event_t;

/* Outcome of client_subject_verify(). About 25 KB: heap-allocate it. */
typedef struct {
    char reason[CLIENT_REASON_MAX];   /* what failed ("" when all verified) */
    checkpoint_t cp;                  /* the checkpoint the proofs are against */
    const char *note;                 /* its signed note text, borrowed (not NUL-terminated) */
    size_t note_len;                  /* its length */
    uint32_t cosigned;                /* founding members' cosignature/v1 lines that verify */
    uint32_t witnesses;               /* founding factory/witness members (n) */
    uint32_t required;                /* witness_k from genesis */
    int witnessed;                    /* cosigned >= required */
    uint32_t n;                       /* events verified */
    uint32_t unproven;                /* events after the checkpoint */
    client_event_t events[WIRE_MAX_SUBJECT_RECORDS]; /* in ledger order */
} client_verified_t;

/* Verifies a decoded SUBJECT reply about `subject` against trust: the
 * checkpoint note carries a valid signature by trust->hub and names
 * trust->origin; every record decodes, sits at the position claimed, in
 * strictly increasing order; its envelope's signature verifies and its
 * subject is `subject`; a record inside the checkpoint's tree has an
 * inclusion proof (merkle_leaf_hash of the record bytes) that leads to the
 * checkpoint root, and one after it carries no proof (reported as not yet
 * checkpointed). Also counts the founding members' cosignatures on the
 * checkpoint; a shortfall against witness_k is reported in
 * out->witnessed, not as an error (witnesses cosign a moment after the hub
 * signs, so the caller may fetch again). Returns 0 when everything
 * verified; else the first failure's code with out->reason saying which
 * record and why: COFAB_EBADSIG (checkpoint or envelope signature),
 * COFAB_ENOTFOUND (no hub signature line), COFAB_EPROOF (an inclusion
 * proof), COFAB_ERANGE (position disagreement), COFAB_EMALFORMED & co. */
int client_subject_verify(const client_subject_t *s, const client_trust_t *trust,
                          const uint8_t subject[32], client_verified_t *out);

/* GET_SUBJECT, decode, verify, in one call. reply keeps the body the
 * events borrow from (free with net_msg_free, even on failure). Returns 0;
 * COFAB_ENET; the hub's ERR code (COFAB_ENOTFOUND for an unknown id);
 * as client_subject_decode() and client_subject_verify(). */
int client_order_status(client_t *self, const client_trust_t *trust, const uint8_t subject[32],
                        int timeout_ms, net_msg_t *reply, client_verified_t *out);

/* ---- A customer's memory of the log (split-view detection) ---- */

/* A client without memory cannot tell two histories apart: each one the
 * hub shows is valid on its own. This keeps, in state_dir (created 0700 if
 * missing), the latest checkpoint the customer verified from this hub,
 * in STATE_DIR/<hub key name>-<key id hex>.checkpoint, and checks each new
 * one against it the way a witness does: same size means same root; a
 * different size needs the hub's consistency proof (GET_CONSISTENCY) that
 * the smaller tree is a prefix of the larger. note (note_len bytes) must
 * be a checkpoint signed by trust->hub for trust->origin; it is checked
 * again here. A newer consistent checkpoint replaces the saved one (a
 * temporary file renamed over it); an older consistent one changes nothing.
 * Returns 0 when consistent (or the first checkpoint seen);
 * COFAB_EINCONSISTENT when the two cannot both be true: the hub shows
 * different histories, and STATE_DIR/evidence-<ms>.txt then holds both
 * signed notes; COFAB_ENET when the hub did not answer for a proof; the
 * note's parse or signature error; COFAB_EIO / COFAB_ETOOBIG for an
 * unusable state dir or path; an unreadable saved checkpoint, or one not
 * signed by this hub, gives its error and is left alone. reason (room
 * CLIENT_REASON_MAX) says what happened whenever the result is not 0. */
int client_checkpoint_track(client_t *self, const client_trust_t *trust, const char *state_dir,
                            const char *note, size_t note_len, int timeout_ms, char *reason);

/* ---- Commands (cofab order ..., cofab member ...) ---- */

/* `cofab order submit|status|cancel` (node/cmd_order.c). */
int order_main(int argc, char **argv);

/* `cofab member add|remove` (node/cmd_member.c). */
int member_main(int argc, char **argv);

/* Prints why a request to the hub at endpoint failed (rc != 0): "unreachable"
 * for COFAB_ENET after timeout_ms, else the hub's refusal and reason. */
void client_report_failure(const char *prog, const char *endpoint, int timeout_ms, int rc,
                           const char *reason);

#ifdef __cplusplus
}
#endif
#endif
