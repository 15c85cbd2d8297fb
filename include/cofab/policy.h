/* policy.h — who may write what, and the order state machine, as the ledger's apply hook.
 *
 * policy_apply() is a ledger_apply_fn: the hub runs it before appending and
 * every replica runs it again on what the hub sequenced, so a hub that
 * sequences a forbidden record is caught by its own members. It keeps the
 * derived state in the ledger's state database (membership, orders, pending
 * work, reliability figures), which can always be rebuilt from the records.
 *
 * Authorization (author = the envelope's signing key):
 *   genesis                 the operator key it names (position 0 only)
 *   member-add/-remove      the operator
 *   capacity                an active factory member
 *   order                   a customer: any non-member key (alliance
 *                           "open") or a customer member ("listed")
 *   assign, reassign        the hub
 *   accept, decline, status a factory the order is assigned to
 *   cancel                  the order's customer, until shipped
 *   note                    the operator or the hub
 *
 * Order states: submitted -> assigned -> accepted -> in production ->
 * QC passed -> shipped -> delivered. A decline parks the order (declined)
 * until the hub's reassign sends it back to submitted without that
 * factory; a reassign for timeout/unreachable/removed does the same from
 * assigned. An order remembers the POLICY_MAX_EXCLUDE factories it left
 * most recently (a sliding window: once full, each reassign drops the
 * oldest), so a reassign is never refused for the size of the list and the
 * order always goes back to matching. Cancel works until shipped. For split
 * orders each factory's piece moves on its own and the order is at the
 * least advanced piece.
 */
#ifndef COFAB_POLICY_H
#define COFAB_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/ledger.h"
#include "cofab/payload.h"

#ifdef __cplusplus
extern "C" {
#endif

#define POLICY_MAX_FACTORIES 16   /* distinct factories in one assignment */
#define POLICY_MAX_EXCLUDE 16     /* factories an order has left, most recent kept */

typedef enum {
    POLICY_SUBMITTED = 1,
    POLICY_ASSIGNED = 2,
    POLICY_ACCEPTED = 3,
    POLICY_IN_PRODUCTION = 4,
    POLICY_QC_PASSED = 5,
    POLICY_SHIPPED = 6,
    POLICY_DELIVERED = 7,
    POLICY_CANCELLED = 8,
    POLICY_DECLINED = 9,
} policy_state_t;

/* Derived state of one order. */
typedef struct {
    uint8_t version;                       /* 1 */
    uint8_t state;                         /* policy_state_t of the order */
    uint8_t nfactories;                    /* factories of the current assignment */
    uint8_t nexclude;                      /* factories it may not go back to (<= 16) */
    uint32_t due_day;                      /* epoch day */
    uint8_t customer[32];                  /* who ordered (signing key) */
    uint64_t order_seq;                    /* position of the order record */
    uint64_t assign_seq;                   /* position of the current assign, 0 = none */
    uint64_t assigned_ms;                  /* hub time of that assign */
    uint64_t last_seq;                     /* position of the latest record about it */
    uint8_t factories[POLICY_MAX_FACTORIES][32]; /* assigned factories */
    uint8_t fstate[POLICY_MAX_FACTORIES];  /* each factory's piece state */
    uint8_t exclude[POLICY_MAX_EXCLUDE][32]; /* declined / timed out / removed, oldest first */
} policy_order_t;

/* Derived state of one member. */
typedef struct {
    uint8_t version;                       /* 1 */
    uint8_t role;                          /* payload_role_t */
    uint8_t active;                        /* 0 once removed */
    uint8_t pad;                           /* zero */
    uint8_t transport[32];                 /* CurveZMQ public key */
    char name[NOTE_MAX_NAME + 1];          /* key name */
} policy_member_t;

/* Reliability figures of a factory, as the matcher reads them. */
typedef struct {
    uint32_t assigned, accepted, declined, timeouts, delivered, on_time;
} policy_reliability_t;

/* Alliance settings from genesis. */
typedef struct {
    uint8_t hub[32];                       /* hub signing key */
    uint8_t operator_key[32];              /* operator signing key */
    uint32_t witness_k;                    /* cosignatures per checkpoint */
    uint32_t customers;                    /* payload_customers_t */
    uint32_t ack_timeout_s;                /* seconds to accept an assignment */
} policy_alliance_t;

/* The apply hook (ctx unused, may be NULL). Refusal codes: COFAB_EPERM
 * (author may not write this kind here), COFAB_ESTATE (illegal transition),
 * COFAB_ENOTFOUND (unknown order), COFAB_ETAKEN (order id reused, member or transport key
 * already active; never COFAB_EEXIST, which the ledger reserves for an
 * identical envelope already stored),
 * COFAB_EMALFORMED & co. (payload does not decode). */
int policy_apply(void *ctx, ledger_txn_t *txn, const envelope_t *e, uint64_t seq,
                 uint64_t time_ms);

/* Name of an order state ("in-production"), or "unknown". */
const char *policy_state_name(int state);

/* Readers over a ledger whose hook is policy_apply. Each returns 0 or
 * COFAB_ENOTFOUND / store errors. */
int policy_alliance(ledger_t *ledger, policy_alliance_t *out);
/* The whole genesis payload (record 0 decoded; about 10 KB: heap-allocate
 * out). Also COFAB_EMALFORMED and the decoders' codes for a record 0 that
 * is not a genesis. */
int policy_genesis(ledger_t *ledger, payload_genesis_t *out);
int policy_member(ledger_t *ledger, const uint8_t sign_pk[32], policy_member_t *out);
/* The signing key of the member whose transport key this is. */
int policy_member_by_transport(ledger_t *ledger, const uint8_t transport[32], uint8_t sign_pk[32]);
int policy_order(ledger_t *ledger, const uint8_t order_id[32], policy_order_t *out);
int policy_reliability(ledger_t *ledger, const uint8_t factory[32], policy_reliability_t *out);
/* Position of the factory's latest capacity record. */
int policy_capacity_seq(ledger_t *ledger, const uint8_t factory[32], uint64_t *seq);

/* Calls fn(ctx, order_id) for each order waiting to be matched, in id order. */
typedef int (*policy_order_fn)(void *ctx, const uint8_t order_id[32]);
int policy_pending_orders(ledger_t *ledger, policy_order_fn fn, void *ctx);
/* Orders assigned and not yet accepted by every factory. */
int policy_waiting_orders(ledger_t *ledger, policy_order_fn fn, void *ctx);
/* Every order ever submitted, in id order. */
int policy_orders(ledger_t *ledger, policy_order_fn fn, void *ctx);
/* Factories with a capacity record, in key order. */
int policy_factories(ledger_t *ledger, policy_order_fn fn, void *ctx);
/* Orders a factory still has to produce (assigned, not yet shipped). */
int policy_factory_orders(ledger_t *ledger, const uint8_t factory[32], policy_order_fn fn,
                          void *ctx);

#ifdef __cplusplus
}
#endif
#endif
