/* hub.h — the alliance hub: verifies, sequences, matches, checkpoints and serves the ledger.
 *
 * Threads: the caller's thread runs the ROUTER (submissions and queries);
 * `verify_threads` threads decode and verify envelopes in parallel; one
 * writer thread owns the ledger's write side: it group-commits batches,
 * acknowledges each client only after the commit, publishes every record
 * and checkpoint on the PUB feed, runs the matcher and the acceptance
 * timeouts, and stores witnesses' cosignatures. A ZAP thread admits
 * members by their ledger membership, the operator by its configured key,
 * and customers as the alliance allows; every other key is refused.
 */
#ifndef COFAB_HUB_H
#define COFAB_HUB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cofab/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hub_t hub_t;

/* Opens (or, on first start, creates with a genesis record signed by the
 * operator key next to the configured operator .pub) the ledger, loads the
 * keys and binds the endpoints. Returns NULL on failure, with a reason on
 * stderr. */
hub_t *hub_new(const config_hub_t *cfg);

/* Serves until *stop becomes non-zero (a signal handler sets it). Returns 0
 * on a clean stop, a negative code if a thread could not start. */
int hub_run(hub_t *self, volatile sig_atomic_t *stop);

/* The endpoints actually bound (useful with port 0 / "*"). */
const char *hub_submit_endpoint(const hub_t *self);
const char *hub_feed_endpoint(const hub_t *self);

/* Stops threads, closes sockets and the ledger; safe on NULL and twice. */
void hub_destroy(hub_t **self_p);

/* `cofab hub --config F`. */
int hub_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
