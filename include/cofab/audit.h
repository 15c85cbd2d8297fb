/* audit.h — full, independent verification of a ledger.
 *
 * audit_verify() trusts nothing stored except the bytes of the records and
 * checkpoints themselves. It recomputes, in one pass:
 *   - every record's layout, position and hash-chain link;
 *   - every envelope's layout and Ed25519 signature (on several threads);
 *   - genesis first and only first; each author's sequence and prev-hash
 *     chain (a gap, a replay or a fork is named);
 *   - the whole Merkle tree, comparing every stored interior hash;
 *   - every stored checkpoint: its hub signature, size, root and chain head.
 * The first failure (lowest ledger position; checkpoints after records of
 * the same position) is reported with a code and a sentence.
 */
#ifndef COFAB_AUDIT_H
#define COFAB_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/ledger.h"
#include "cofab/note.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AUDIT_MAX_THREADS 16

typedef struct {
    int threads;                      /* verifying threads; 0 = online cores */
    const note_verifier_t *hub_key;   /* pinned hub key, or NULL to take genesis' */
    /* Called now and then with records checked so far; may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;               /* passed to progress */
} audit_options_t;

typedef struct {
    int valid;                        /* 1 if every check passed */
    uint64_t records;                 /* records checked */
    uint64_t kinds[ENVELOPE_KIND_MAX + 1]; /* records per envelope kind */
    uint64_t authors;                 /* distinct authors */
    uint64_t checkpoints;             /* checkpoints verified */
    char origin[NOTE_MAX_ORIGIN + 1]; /* from genesis */
    note_verifier_t hub;              /* hub key the checkpoints were checked with */
    checkpoint_t latest;              /* latest verified checkpoint (size 0: none) */
    uint8_t root[32];                 /* recomputed root of the whole ledger */
    /* First failure, when !valid. */
    int code;                         /* cofab error code */
    int64_t bad_record;               /* ledger position, or -1 */
    int64_t bad_checkpoint;           /* tree size of the bad checkpoint, or -1 */
    int64_t related_record;           /* earlier record involved (fork, replay), or -1 */
    char reason[256];                 /* human sentence naming what is wrong */
} audit_report_t;

/* Verifies the whole ledger. Returns 0 when the audit ran to a verdict
 * (report->valid says which); a negative code when it could not run
 * (COFAB_ENOMEM, COFAB_ESTORE...). */
int audit_verify(ledger_t *ledger, const audit_options_t *opts, audit_report_t *report);

#ifdef __cplusplus
}
#endif
#endif
