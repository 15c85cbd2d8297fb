/* scen.h — a small alliance history built in-process the way the hub builds it: for audit tests. */
#ifndef COFAB_TEST_SCEN_H
#define COFAB_TEST_SCEN_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"

#define SCEN_ORDERS 6
#define SCEN_DAY 20000u                 /* epoch day the story happens on */

typedef struct {
    keys_t *hub, *op, *north, *south, *alice;  /* the cast */
    envelope_chain_t hub_chain;        /* the hub's author chain */
    uint8_t orders[SCEN_ORDERS][32];   /* order ids, in submission order */
    uint64_t forged_at;                /* position of the forged assign (forge only), else 0 */
    uint64_t first_assign;             /* position of the first assign */
    uint64_t time_ms;                  /* hub clock of the last record */
} scen_t;

/* Builds the history in dir (a new ledger, rules applied on every append):
 * genesis (north and south are founding factories, witness_k 1), both
 * capacities, SCEN_ORDERS orders by alice, a matcher round, accepts, a
 * decline by the factory of order 1 and the hub's reassign, a second
 * round, progress to delivery for order 0, a cancel of order 2, and a
 * checkpoint cosigned by north. With forge = 1 the first round's assign of
 * order 0 names the factory the matcher did not choose, re-signed by the
 * hub (everything else follows from it). Aborts the test on failure. */
void scen_build(scen_t *s, const char *dir, int forge);

/* Signs a checkpoint of the ledger in dir, cosigned by north when cosign is
 * set, and stores it. Aborts on failure. */
void scen_checkpoint(scen_t *s, const char *dir, int cosign);

/* Appends one envelope by k to the ledger in dir WITHOUT the rules, as a
 * rogue hub would, continuing k's author chain; frees payload. Returns its
 * position. Aborts on failure. */
uint64_t scen_append_raw(const char *dir, const keys_t *k, int kind, const uint8_t subject[32],
                         uint8_t *payload, size_t len);

/* Frees the keys. */
void scen_free(scen_t *s);

#endif
