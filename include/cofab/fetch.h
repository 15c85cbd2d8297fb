/* fetch.h — downloads a hub's ledger into a local replica, verifying every record, resumably.
 *
 * An auditor (or a customer proving an order) who does not run a node gets
 * the ledger with fetch_ledger(), then verifies the local copy like any
 * other (audit_verify). The copy is an ordinary ledger directory: a replica
 * whose record 0 is the hub's genesis record, with no derived state (no
 * apply hook).
 *
 * Trust: the hub's .pub is the anchor. The connection pins the hub's
 * transport key (CURVE); record 0 must be a genesis signed by the operator
 * it names that names this hub's signing and transport keys
 * (client_trust_load); the hub's latest checkpoint must carry a valid
 * signature by the pinned hub key and the genesis origin. Every record is
 * untrusted: it must decode, sit at the position asked for, carry a valid
 * envelope signature, and extend the copy's hash chain and author chains
 * (ledger_replicate). Once the copy holds the checkpoint's tree size, the
 * copy's Merkle root (and chain head) at that size must be the
 * checkpoint's; only then is the checkpoint stored in the copy.
 *
 * Resuming: records are committed one reply at a time (fsync'd unless
 * no_sync), so a download that is killed, times out or is refused leaves a
 * valid prefix of the hub's log. Calling fetch_ledger() again on the same
 * directory checks it holds the same log (identical record 0 bytes, and
 * the hub's checkpoint root if the copy already covers it) and continues
 * from the copy's size: nothing is downloaded twice.
 *
 * Bounds: every request waits at most timeout_ms. The first one (record 0)
 * is tried once, so an unreachable hub gives COFAB_ENET after about
 * timeout_ms; later requests are tried `attempts` times (a hub that
 * answered once may be busy, or rate-limiting customers), so a download
 * that stalls returns COFAB_ENET after about attempts x timeout_ms, keeping
 * what it has. A reply that does not move the copy forward ends the run.
 *
 * Threads: fetch_ledger() uses its own ZeroMQ context and socket; the
 * directory must not be written by anyone else while it runs.
 */
#ifndef COFAB_FETCH_H
#define COFAB_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/keys.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FETCH_DEFAULT_TIMEOUT_MS 5000  /* per request */
#define FETCH_DEFAULT_ATTEMPTS 3       /* tries per request after the first contact */
#define FETCH_MAX_ATTEMPTS 20          /* attempts above this are clamped */
#define FETCH_REASON_MAX 320           /* rep->reason, bytes with NUL */
#define FETCH_EPHEMERAL_NAME "auditor" /* name of the throw-away key (keys == NULL) */

typedef struct {
    int timeout_ms;          /* per request; <= 0: FETCH_DEFAULT_TIMEOUT_MS */
    uint32_t attempts;       /* tries per request after the first; 0: FETCH_DEFAULT_ATTEMPTS */
    uint32_t batch;          /* records asked per request, 1..WIRE_MAX_RANGE; 0: WIRE_MAX_RANGE */
    uint64_t max_records;    /* stop after storing this many this run; 0: no limit */
    int no_sync;             /* 1: skip fsync per reply (faster, not crash-safe) */
    size_t map_max;          /* LMDB map ceiling of the copy, bytes; 0: no limit */
    /* Called after each stored reply with the copy's size and the size
     * expected (the hub's checkpoint size, or the copy's size once past
     * it); may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;      /* passed to progress */
} fetch_options_t;

typedef struct {
    uint64_t resumed_from;   /* records the copy held before this run (0: new copy) */
    uint64_t fetched;        /* records downloaded, verified and stored this run */
    uint64_t size;           /* records the copy holds now */
    uint64_t checkpoint_size;/* tree size of the hub's latest checkpoint (0: none) */
    int checkpoint_stored;   /* 1: that checkpoint was verified and stored in the copy */
    int complete;            /* 1: the hub had no record beyond the copy's end */
    int code;                /* 0, or the failure's code (also returned) */
    int64_t bad_position;    /* ledger position of the record at fault, or -1 */
    char origin[NOTE_MAX_ORIGIN + 1]; /* the log's origin line from genesis ("" if unknown) */
    char reason[FETCH_REASON_MAX];    /* what failed, a sentence ("" on success) */
} fetch_report_t;

/* Downloads the ledger of the hub at endpoint (its submit/query endpoint)
 * into dir (created if missing), or continues a copy dir already holds.
 * hub_pub is the hub's public key (from its .pub). keys are the caller's
 * (borrowed; their transport key must be admitted by the hub's ZAP); NULL
 * makes a throw-away in-memory key pair named FETCH_EPHEMERAL_NAME, which
 * the hub admits only when the alliance's customers are "open". opts may be
 * NULL for defaults; rep is always filled (reason and bad_position say
 * what failed).
 *
 * Returns 0 when the copy reached the hub's end, holds at least the hub's
 * checkpoint size, and that checkpoint was verified against it and stored
 * (rep->complete and rep->checkpoint_stored are 1; checkpoint_stored is 0
 * when the hub has no checkpoint yet); also 0 when it stopped at
 * opts->max_records (rep->complete 0; the checkpoint is stored only if the
 * copy already covers it). Otherwise, with the copy keeping every record
 * stored before the failure (rep->size):
 *   COFAB_EINVAL        NULL argument, bad option or endpoint syntax;
 *   COFAB_ENET          the hub did not answer in time (also when it
 *                       refused our transport key, or when hub_pub's
 *                       transport key is not the hub's: CURVE cannot tell);
 *   COFAB_EKEYMISMATCH  the genesis names another hub than hub_pub;
 *   COFAB_EEXIST        dir holds another log (record 0 differs);
 *   COFAB_EPERM         dir holds a ledger with derived state (a hub's or
 *                       a node's data directory: fetch into your own);
 *   COFAB_EBADSIG       the checkpoint or a record's envelope signature;
 *   COFAB_ENOTFOUND     the checkpoint has no line by the hub key;
 *   COFAB_EROOT         the copy's root or chain head at the checkpoint's
 *                       size differs from the checkpoint (a fork);
 *   COFAB_ERANGE        a record at the wrong position, or the hub's
 *                       records end before its own checkpoint;
 *   COFAB_ECHAIN, COFAB_EREPLAY, COFAB_EGAP, COFAB_EFORK, COFAB_EPERM...
 *                       a record the copy's ledger refuses (bad_position);
 *   COFAB_EMALFORMED & co. a reply, record or note that does not parse;
 *   the hub's own ERR code for a request it refused;
 *   COFAB_ENOMEM, COFAB_EIO, COFAB_ESTORE, COFAB_ENOSPC (map_max reached). */
int fetch_ledger(const char *endpoint, const keys_public_t *hub_pub, const keys_t *keys,
                 const char *dir, const fetch_options_t *opts, fetch_report_t *rep);

#ifdef __cplusplus
}
#endif
#endif
