/* audit.h — full, independent verification of a ledger.
 *
 * audit_verify() trusts nothing stored except the bytes of the records and
 * checkpoints themselves. It recomputes, in one pass:
 *   - every record's layout, position and hash-chain link;
 *   - every envelope's layout and Ed25519 signature (on several threads);
 *   - genesis first and only first; each author's sequence and prev-hash
 *     chain (a gap, a replay or a fork is named);
 *   - the whole Merkle tree, comparing every stored interior hash;
 *   - every stored checkpoint: its hub signature, size, root and chain head,
 *     and its witnesses' cosignatures against a witness policy: a forged
 *     cosignature anywhere fails, and the latest checkpoint (the one the
 *     verdict rests on) must carry the policy's quorum;
 *   - through an optional hook, whatever a caller checks record by record
 *     in ledger order (node/audit_rules.c: authorization, the order state
 *     machine and the matcher's decisions).
 * The first failure (lowest ledger position; checkpoints after records of
 * the same position) is reported with a code and a sentence.
 *
 * The audit reads one snapshot of the ledger (one LMDB read transaction,
 * started when audit_verify() begins): on a live ledger, what the hub
 * appends meanwhile is neither audited nor a failure, and the report says
 * which size was audited (audit_report_t.size).
 */
#ifndef COFAB_AUDIT_H
#define COFAB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/ledger.h"
#include "cofab/note.h"
#include "cofab/witness.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AUDIT_MAX_THREADS 16

/* A caller's record-by-record checks, run in ledger order on the thread
 * that called audit_verify(), after each record passed every check above.
 * Both functions return 0; a refusal (a code above COFAB_EIO), having
 * written a sentence to why and the position of the offending record to
 * *bad (and an earlier record involved to *related, else -1), which
 * becomes the audit's verdict unless an earlier record already failed; or
 * an environment error (COFAB_EIO and below), which stops the audit. The
 * hook may batch its work: records are handed over with `record` and all
 * of them must be judged by the next `flush` (called after every few
 * thousand records, and with final = 1 once after the last record). */
typedef struct {
    void *ctx;                        /* passed to both */
    int (*record)(void *ctx, uint64_t pos, const ledger_record_t *rec, const envelope_t *e,
                  char *why, size_t why_len, int64_t *bad, int64_t *related);
    int (*flush)(void *ctx, int final, char *why, size_t why_len, int64_t *bad,
                 int64_t *related);
} audit_hook_t;

typedef struct {
    int threads;                      /* verifying threads; 0 = online cores */
    const note_verifier_t *hub_key;   /* pinned hub key, or NULL to take genesis' */
    /* Called now and then with records checked so far and the size audited;
     * may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;               /* passed to progress */
    const witness_policy_t *policy;   /* witnesses required; NULL = genesis' founding
                                         factories and witnesses, quorum witness_k */
    const audit_hook_t *hook;         /* extra in-order checks, or NULL */
} audit_options_t;

/* The kinds of check a failure belongs to. The audit goes on after a
 * failure and keeps the first failure of each kind (lowest position);
 * checks that depend on what failed (a checkpoint's root after a record
 * went missing, the rules after a record was refused) are not repeated. */
typedef enum {
    AUDIT_RECORD = 0,                 /* record layout, position, hash chain, genesis */
    AUDIT_SIGNATURE = 1,              /* envelope signatures */
    AUDIT_AUTHOR = 2,                 /* per-author chains: gaps, replays, forks */
    AUDIT_TREE = 3,                   /* stored Merkle nodes */
    AUDIT_CHECKPOINT = 4,             /* checkpoints: hub signature, size, root, cosignatures */
    AUDIT_WITNESS = 5,                /* the witness quorum on the latest checkpoint */
    AUDIT_RULES = 6,                  /* authorization, state machine (hook) */
    AUDIT_DECISION = 7,               /* the hub's decisions replayed (hook) */
    AUDIT_KINDS = 8
} audit_kind_t;

/* The first failure of one kind (code 0: none). */
typedef struct {
    int code;                         /* cofab error code */
    int64_t record;                   /* ledger position, or -1 */
    int64_t checkpoint;               /* tree size of the checkpoint, or -1 */
    int64_t related;                  /* earlier record involved, or -1 */
    char reason[256];                 /* human sentence */
} audit_failure_t;

typedef struct {
    int valid;                        /* 1 if every check passed */
    uint64_t size;                    /* ledger size audited: records in the snapshot */
    uint64_t records;                 /* records checked (= size unless some are missing) */
    uint64_t kinds[ENVELOPE_KIND_MAX + 1]; /* records per envelope kind */
    uint64_t authors;                 /* distinct authors */
    uint64_t checkpoints;             /* checkpoints verified (those in the snapshot) */
    char origin[NOTE_MAX_ORIGIN + 1]; /* from genesis */
    note_verifier_t hub;              /* hub key the checkpoints were checked with */
    checkpoint_t latest;              /* latest verified checkpoint (size 0: none) */
    uint8_t root[32];                 /* recomputed root of the whole ledger */
    uint32_t witnesses;               /* witnesses in the policy */
    uint32_t quorum;                  /* cosignatures a checkpoint needs */
    uint32_t latest_cosigned;         /* valid witness cosignatures on `latest` */
    uint64_t latest_witnesses;        /* bit i: witness_names[i] cosigned `latest` */
    char witness_names[WITNESS_MAX][NOTE_MAX_NAME + 1]; /* the policy's witnesses */
    uint64_t witnessed_size;          /* largest checkpoint meeting the quorum (0: none) */
    uint64_t below_quorum;            /* earlier checkpoints short of the quorum */
    /* First failure (lowest position of all kinds), when !valid. */
    int code;                         /* cofab error code */
    int64_t bad_record;               /* ledger position, or -1 */
    int64_t bad_checkpoint;           /* tree size of the bad checkpoint, or -1 */
    int64_t related_record;           /* earlier record involved (fork, replay), or -1 */
    char reason[256];                 /* human sentence naming what is wrong */
    audit_failure_t failures[AUDIT_KINDS]; /* first failure of each kind */
} audit_report_t;

/* Short name of an audit_kind_t ("signature"), or "unknown". */
const char *audit_kind_name(int kind);

/* Verifies the whole ledger. Returns 0 when the audit ran to a verdict
 * (report->valid says which; the failure reported is the one at the lowest
 * ledger position); a negative code when it could not run (COFAB_ENOMEM,
 * COFAB_ESTORE, or the hook's environment error). Failure codes include
 * COFAB_EWITNESS (latest checkpoint short of the quorum) and whatever the
 * hook returns. */
int audit_verify(ledger_t *ledger, const audit_options_t *opts, audit_report_t *report);

#ifdef __cplusplus
}
#endif
#endif
