/* hubfix.h — an in-process hub on 127.0.0.1 for tests: keys in a temp dir, hub_run on a thread, fast pipelined submits. */
#ifndef COFAB_TEST_HUBFIX_H
#define COFAB_TEST_HUBFIX_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cofab/config.h"
#include "cofab/envelope.h"
#include "cofab/hub.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"

typedef struct {
    char dir[256];                 /* temp dir: key files and the hub's ledger (dir/ledger) */
    char hub_pub_path[400];        /* the hub's .pub */
    keys_t *op;                    /* operator: signs the genesis */
    keys_t *acme;                  /* the founding factory */
    keys_t *alice;                 /* a customer (the alliance's customers are open) */
    envelope_chain_t alice_chain;  /* alice's author chain as submitted so far */
    keys_public_t hub_pub;         /* the hub's public keys, from its .pub */
    config_hub_t *cfg;             /* the hub's configuration (checkpoint after each batch,
                                      no customer rate limit unless asked) */
    hub_t *hub;                    /* the running hub */
    pthread_t thread;              /* runs hub_run */
    volatile sig_atomic_t stop;    /* set by hubfix_stop */
    const char *ep;                /* the bound submit endpoint, tcp://127.0.0.1:PORT */
} hubfix_t;

/* Makes the keys and starts a hub for origin in a fresh temp dir. Aborts
 * the test program on failure. */
hubfix_t *hubfix_start(const char *origin);

/* As hubfix_start, with a rate limit of customer_rate requests/s per
 * customer key (burst: twice that); 0 = none. */
hubfix_t *hubfix_start_rate(const char *origin, uint32_t customer_rate);

/* Stops the hub, frees everything, removes the temp dir; safe on NULL and
 * twice; sets *fx_p = NULL. */
void hubfix_stop(hubfix_t **fx_p);

/* The hub's own ledger (white-box; read it only: the hub's writer thread
 * owns the write side). */
ledger_t *hubfix_ledger(hubfix_t *fx);

/* Submits n orders by alice on one connection without waiting for each
 * reply (so they group-commit), then waits for every ACK. Aborts unless
 * all n are stored as new records. */
void hubfix_orders(hubfix_t *fx, size_t n);

/* Waits (up to ~20 s) until the hub's latest checkpoint covers its whole
 * ledger and nothing more is appended. Copies that checkpoint note into
 * note (room note_max; may be NULL) and returns the ledger size. Aborts on
 * timeout. */
uint64_t hubfix_settle(hubfix_t *fx, char *note, size_t note_max);

#endif
