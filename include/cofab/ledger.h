/* ledger.h — the append-only, hash-chained, Merkle-tree ledger in LMDB.
 *
 * A record is the hub's wrapping of one envelope, exactly as signed:
 *
 *   off  size  field
 *     0     1  version        LEDGER_RECORD_VERSION (1)
 *     1     8  seq            position in the ledger, from 0 (big-endian)
 *     9     8  time_ms        hub clock when sequenced, ms since the epoch
 *    17    32  prev           hash of the previous record (zeros for seq 0)
 *    49     4  envelope_len   (big-endian)
 *    53     n  envelope       the author's signed envelope bytes
 *
 * The record hash is the RFC 6962 leaf hash SHA-256(0x00 || record); it is
 * both the Merkle leaf and the link the next record's `prev` carries, so
 * the head of the hash chain is simply the last leaf hash.
 *
 * LMDB layout (one environment, named databases):
 *   records      u64 seq (BE)              -> record bytes (MDB_APPEND)
 *   tree         u64 (level<<56 | index)   -> 32-byte perfect-subtree hash
 *   authors      author pk || u64 aseq     -> u64 seq || envelope hash
 *   subjects     subject || u64 seq        -> (empty)
 *   checkpoints  u64 tree size             -> signed checkpoint note text
 *   meta         "origin"                  -> origin line
 *   state        apply hook's keys         -> derived state (rebuildable)
 *
 * Record 0 is always a genesis envelope. Appends are group commits: a batch
 * of envelopes becomes one write transaction, fsync'd by default, and
 * callers learn sequence numbers only after the commit returns. A crash at
 * any moment leaves the last committed transaction and nothing half-written.
 *
 * Threads: one thread appends; any thread may read (every read call opens its
 * own read transaction). A ledger opened read-only never writes.
 *
 * Live ledgers: a read-only ledger may be open while another process (the
 * hub) appends. Each read sees the latest commit; ledger_size() stays what
 * it was at open. When the writer grows the LMDB map past this process's
 * mapping, the next read adopts the new size and goes on (it waits, at most
 * 10 s, for this ledger's other open reads and iterators to end: a thread
 * should not start a read while it holds an iterator, and use the
 * ledger_iter_* reads instead). An iterator is a snapshot: what it returns
 * never changes while it lives, whatever is appended meanwhile.
 */
#ifndef COFAB_LEDGER_H
#define COFAB_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/keys.h"
#include "cofab/merkle.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LEDGER_RECORD_VERSION 1
#define LEDGER_RECORD_HEADER 53
#define LEDGER_RECORD_MAX (LEDGER_RECORD_HEADER + ENVELOPE_MAX)
#define LEDGER_CHECKPOINT_MAX 8192

typedef struct ledger_t ledger_t;

/* The write transaction an apply hook runs in (see ledger_apply_fn). */
typedef struct ledger_txn_t ledger_txn_t;

/* Called for each envelope that passed the ledger's structural checks,
 * inside the batch's write transaction, before its record is written, with
 * the position and hub time it will get. Derived state (order status,
 * membership...) lives in the ledger's `state` database and is read and
 * written with ledger_txn_get/put/del, so it commits atomically with the
 * records. Contract: return a refusal (a negative code above COFAB_EIO)
 * only BEFORE writing anything; once it has written, it may only return 0
 * or an environment error (<= COFAB_EIO), which aborts the whole batch. */
typedef int (*ledger_apply_fn)(void *ctx, ledger_txn_t *txn, const envelope_t *e, uint64_t seq,
                               uint64_t time_ms);

typedef struct {
    int read_only;          /* 1: open for reading only (auditors, replicas' readers) */
    int no_sync;            /* 1: skip fsync at commit (benchmarks only; not durable) */
    size_t map_size;        /* initial LMDB map size in bytes; 0 = 64 MiB */
    size_t map_max;         /* growth stops here (COFAB_ENOSPC); 0 = no limit */
    int scratch;            /* 1: keep records and derived state only, for a
                               throwaway replay (an auditor's): no Merkle tree,
                               no author or subject index, no author-chain
                               check, and the hub's record chain is not
                               rehashed: its caller (the audit) has verified
                               it already. Such a ledger answers record and
                               state reads (its head reads as zeros), and is
                               never reopened. */
    ledger_apply_fn apply;  /* derived-state hook, or NULL */
    void *apply_ctx;        /* passed to apply */
} ledger_options_t;

/* A record split into its fields. Pointers borrow from the bytes decoded. */
typedef struct {
    uint64_t seq;               /* position in the ledger */
    uint64_t time_ms;           /* hub clock */
    uint8_t prev[32];           /* previous record's hash */
    const uint8_t *envelope;    /* borrowed: envelope bytes */
    size_t envelope_len;        /* their length */
    const uint8_t *bytes;       /* borrowed: whole record (the Merkle leaf data) */
    size_t len;                 /* its length */
} ledger_record_t;

/* Outcome of one envelope in a batch append. */
typedef struct {
    int code;       /* 0 appended; COFAB_EEXIST: identical envelope already
                       stored (seq is the original); else why it was refused */
    uint64_t seq;   /* its sequence number when code is 0 or COFAB_EEXIST */
} ledger_result_t;

/* Parses record bytes (untrusted). Returns 0, COFAB_ETRUNCATED,
 * COFAB_ETRAILING, COFAB_EVERSION or COFAB_ETOOBIG. */
int ledger_record_decode(ledger_record_t *r, const uint8_t *bytes, size_t len);

/* Encodes a record into out (room LEDGER_RECORD_MAX suffices). Returns
 * the length written, or 0 if out_len is too small. */
size_t ledger_record_encode(uint8_t *out, size_t out_len, uint64_t seq, uint64_t time_ms,
                            const uint8_t prev[32], const uint8_t *envelope, size_t envelope_len);

/* Creates a new ledger in dir (created if missing; must not already hold a
 * ledger) whose record 0 is `genesis`, a GENESIS envelope the caller has
 * verified. origin is the checkpoint origin line. Returns 0 with *out owned
 * by the caller; COFAB_EEXIST if dir already holds a ledger; COFAB_EPERM if
 * genesis is not a GENESIS envelope; COFAB_EMALFORMED for a bad origin;
 * COFAB_EIO / COFAB_ESTORE on storage failure. */
int ledger_create(ledger_t **out, const char *dir, const char *origin, const envelope_t *genesis,
                  const ledger_options_t *opts);

/* Like ledger_create(), for a replica: record 0 is the hub's genesis record
 * (decoded from the hub's bytes, stored exactly), genesis its verified
 * envelope. Returns as ledger_create(), or COFAB_ERANGE / COFAB_ECHAIN if
 * the record is not a position-0 record. */
int ledger_create_replica(ledger_t **out, const char *dir, const char *origin,
                          const ledger_record_t *genesis_record, const envelope_t *genesis,
                          const ledger_options_t *opts);

/* Opens an existing ledger (opts may be NULL for defaults). Clears stale
 * reader slots (mdb_reader_check) and reloads the Merkle frontier. Returns
 * 0; COFAB_ENOTFOUND if dir holds no ledger; COFAB_ESTORE / COFAB_EIO. */
int ledger_open(ledger_t **out, const char *dir, const ledger_options_t *opts);

/* Closes the ledger; safe on NULL and twice; sets *self_p = NULL. */
void ledger_destroy(ledger_t **self_p);

/* The checkpoint origin line (owned by the ledger). */
const char *ledger_origin(const ledger_t *self);

/* Number of committed records. */
uint64_t ledger_size(ledger_t *self);

/* Hash of the last committed record (zeros for an empty ledger). */
void ledger_head(ledger_t *self, uint8_t out[32]);

/* Appends a batch in one durable transaction. Every envelope must have been
 * decoded AND signature-verified by the caller (envelope_open); the ledger
 * checks structure only: genesis first and never again, each author's chain
 * (author_seq is the next one, author_prev is the hash of the previous
 * envelope). results[i] says what happened to envs[i]; refused envelopes
 * are skipped and never touch the store. Returns 0 once the transaction has
 * committed (or nothing needed committing), with every results[i] final;
 * COFAB_ENOSPC if the map hit map_max or the disk is full; COFAB_EIO /
 * COFAB_ESTORE on storage failure. On error nothing of the batch is stored
 * and the results must be ignored. */
int ledger_append(ledger_t *self, const envelope_t *envs, size_t n, uint64_t time_ms,
                  ledger_result_t *results);

/* Appends records already sequenced by a hub (a replica following its
 * feed). records[i] must decode, carry position ledger_size() + i and the
 * current chain head, and hold an envelope the caller has verified; the
 * record bytes are stored exactly as given. results[i].code is 0, or why
 * the record does not fit (COFAB_ERANGE wrong position, COFAB_ECHAIN wrong
 * link, author-chain and apply refusals); the first refused record stops
 * the batch (later ones get COFAB_ERANGE). Returns as ledger_append(). */
int ledger_replicate(ledger_t *self, const ledger_record_t *records, const envelope_t *envs,
                     size_t n, ledger_result_t *results);

/* Derived-state access inside an apply hook. Keys are at most 256 bytes,
 * values at most ENVELOPE_MAX. get returns COFAB_ENOTFOUND when absent; the
 * value pointer is valid until the next write in the transaction. */
int ledger_txn_get(ledger_txn_t *txn, const void *key, size_t klen, const uint8_t **val,
                   size_t *vlen);
int ledger_txn_put(ledger_txn_t *txn, const void *key, size_t klen, const void *val,
                   size_t vlen);
int ledger_txn_del(ledger_txn_t *txn, const void *key, size_t klen);
/* A committed (or earlier in this batch) record's bytes, inside the hook. */
int ledger_txn_record(ledger_txn_t *txn, uint64_t seq, const uint8_t **bytes, size_t *len);

/* Derived state from outside the hook (own read transaction). Copies the
 * value into out (room out_max); *vlen gets its length. Returns 0,
 * COFAB_ENOTFOUND, COFAB_ETOOBIG. */
int ledger_state_get(ledger_t *self, const void *key, size_t klen, void *out, size_t out_max,
                     size_t *vlen);

/* Calls fn for each state entry whose key starts with prefix, in key
 * order, until fn returns non-zero (which is returned). Pointers are valid
 * only during the call. */
typedef int (*ledger_state_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                               size_t vlen);
int ledger_state_scan(ledger_t *self, const void *prefix, size_t plen, ledger_state_fn fn,
                      void *ctx);

/* Copies record seq into a new malloc'd buffer (*buf, *len), caller frees.
 * Returns 0, COFAB_ENOTFOUND, COFAB_ESTORE. */
int ledger_get(ledger_t *self, uint64_t seq, uint8_t **buf, size_t *len);

/* Stored Merkle root of the first `size` records. Returns 0, COFAB_ERANGE
 * (size beyond the ledger), COFAB_ENOTFOUND / COFAB_ESTORE (damaged store). */
int ledger_root(ledger_t *self, uint64_t size, uint8_t out[32]);

/* Inclusion proof of record index in the tree of `size` records; proof needs
 * room for MERKLE_MAX_PROOF hashes. Returns 0 or COFAB_ERANGE / store errors. */
int ledger_inclusion_proof(ledger_t *self, uint64_t index, uint64_t size,
                           uint8_t proof[][MERKLE_HASH_LEN], size_t *proof_len);

/* Consistency proof between tree sizes old_size <= new_size <= ledger size. */
int ledger_consistency_proof(ledger_t *self, uint64_t old_size, uint64_t new_size,
                             uint8_t proof[][MERKLE_HASH_LEN], size_t *proof_len);

/* Reads the stored perfect-subtree hash (level, index); for auditors. */
int ledger_tree_node(ledger_t *self, unsigned level, uint64_t index, uint8_t out[32]);

/* Ledger position of the author's envelope number author_seq. Returns 0,
 * COFAB_ENOTFOUND. */
int ledger_author_find(ledger_t *self, const uint8_t author[32], uint64_t author_seq,
                       uint64_t *seq);

/* The author's latest sequence number and envelope hash (0 and zeros when
 * the author has none), so a client can continue its chain. */
int ledger_author_last(ledger_t *self, const uint8_t author[32], uint64_t *author_seq,
                       uint8_t hash[32]);

/* Up to max ledger positions of records about subject, ascending, from
 * position `from`; *n gets how many were written. Returns 0 or store error. */
int ledger_subject_records(ledger_t *self, const uint8_t subject[32], uint64_t from,
                           uint64_t *seqs, size_t max, size_t *n);

/* Signs a checkpoint of the current ledger with the hub key (name and key
 * from hub), after checking it is consistent with the latest stored one, and
 * stores it durably. Writes the signed note (NUL-terminated) to out.
 * Returns 0, COFAB_ETOOBIG (out too small), COFAB_EINCONSISTENT (the stored
 * tree no longer matches the latest checkpoint: refuse to sign), store
 * errors. Writer thread only. */
int ledger_checkpoint_sign(ledger_t *self, const keys_t *hub, char *out, size_t out_len);

/* Latest stored checkpoint note into out (NUL-terminated). Returns 0,
 * COFAB_ENOTFOUND (none yet), COFAB_ETOOBIG, store errors. */
int ledger_checkpoint_latest(ledger_t *self, char *out, size_t out_len);

/* The stored checkpoint of tree size `size` into out (NUL-terminated).
 * Returns 0, COFAB_ENOTFOUND, COFAB_ETOOBIG, store errors. */
int ledger_checkpoint_get(ledger_t *self, uint64_t size, char *out, size_t out_len);

/* Stores a checkpoint note under its tree size, replacing any earlier copy
 * of the same size (to add cosignatures). The caller has verified it.
 * Returns 0, COFAB_EMALFORMED, COFAB_ETOOBIG, store errors. Writer only. */
int ledger_checkpoint_put(ledger_t *self, uint64_t size, const char *note, size_t len);

/* Calls fn for every stored checkpoint in increasing size order; stops at
 * the first non-zero return, which it returns. */
typedef int (*ledger_checkpoint_fn)(void *ctx, uint64_t size, const char *note, size_t len);
int ledger_checkpoint_foreach(ledger_t *self, ledger_checkpoint_fn fn, void *ctx);

/* Sequential reader over records [from, size), in one read transaction.
 * Records returned borrow from the map and stay valid until the next call
 * to ledger_iter_next() or ledger_iter_destroy(). */
typedef struct ledger_iter_t ledger_iter_t;

/* Starts an iterator at position from. Returns NULL on failure. */
ledger_iter_t *ledger_iter_new(ledger_t *self, uint64_t from);

/* Next record's raw bytes. Returns 0, COFAB_ENOTFOUND at the end, or
 * COFAB_ESTORE. The key's own sequence number goes to *seq. */
int ledger_iter_next(ledger_iter_t *it, uint64_t *seq, const uint8_t **bytes, size_t *len);

/* Number of records in the iterator's snapshot: its last stored position
 * + 1 (0 when empty), whatever was appended after the iterator started.
 * Returns 0, COFAB_ESTORE, COFAB_EINVAL. */
int ledger_iter_size(ledger_iter_t *it, uint64_t *size);

/* Record seq's bytes in the iterator's snapshot, borrowed from the map
 * until ledger_iter_destroy(); the walk's position does not move. Returns
 * 0, COFAB_ENOTFOUND, COFAB_ESTORE, COFAB_EINVAL. */
int ledger_iter_get(ledger_iter_t *it, uint64_t seq, const uint8_t **bytes, size_t *len);

/* ledger_author_find() in the iterator's snapshot. */
int ledger_iter_author_find(ledger_iter_t *it, const uint8_t author[32], uint64_t author_seq,
                            uint64_t *seq);

/* ledger_checkpoint_foreach() over the checkpoints stored in the
 * iterator's snapshot. Returns 0, fn's non-zero return, COFAB_ESTORE. */
int ledger_iter_checkpoints(ledger_iter_t *it, ledger_checkpoint_fn fn, void *ctx);

/* Stored perfect-subtree hash (level, index) read in the iterator's
 * transaction, so it is consistent with the records it returns. */
int ledger_iter_tree_node(ledger_iter_t *it, unsigned level, uint64_t index, uint8_t out[32]);

/* Same result as ledger_iter_tree_node(), made for readers that walk each
 * level in increasing index order (an auditor replaying the tree): the
 * iterator keeps one cursor per level (opened on first use, closed by
 * ledger_iter_destroy()), so reading index i + 1 right after index i of
 * the same level is one cursor step, not a search from the root. Any
 * other order still works, at the cost of a search. level must be below
 * MERKLE_MAX_LEVELS and index below 2^56 (the key's top byte is the
 * level). Returns 0, COFAB_ENOTFOUND (no such node), COFAB_ESTORE
 * (damaged store), COFAB_EINVAL. */
int ledger_iter_tree_next(ledger_iter_t *it, unsigned level, uint64_t index, uint8_t out[32]);

/* Ends the read transaction; safe on NULL and twice. */
void ledger_iter_destroy(ledger_iter_t **it_p);

#ifdef __cplusplus
}
#endif
#endif
