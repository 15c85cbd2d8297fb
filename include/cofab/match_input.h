/* match_input.h — the matcher's problem, built from a ledger's derived state.
 *
 * A pure function of the ledger prefix it is built on (`basis` records):
 * the pending orders with their exclusions, the active factories' latest
 * capacity records shifted so that day 0 is "today" (the hub time of the
 * last record in the prefix), the load of pieces already assigned and not
 * yet shipped, reliability figures from accept/decline/timeout/delivery
 * records, and the matcher parameters from genesis. The hub solves it to
 * write assignments; an auditor rebuilds it from the same prefix and must
 * get byte-identical assignments.
 */
#ifndef COFAB_MATCH_INPUT_H
#define COFAB_MATCH_INPUT_H

#include <stdint.h>

#include "cofab/ledger.h"
#include "cofab/matcher.h"
#include "cofab/payload.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct match_input_t match_input_t;

typedef struct match_input_cache_t match_input_cache_t;

/* Builds the input from the ledger as it stands (its derived state must come
 * from policy_apply). Returns 0 with a new object; COFAB_ENOMEM; store
 * errors; COFAB_EMALFORMED if a stored record does not decode. */
int match_input_build(ledger_t *ledger, match_input_t **out);

/* Same, reusing decoded capacity records kept in cache (NULL = none) by
 * earlier builds on the same ledger or on a longer prefix of the same
 * history: a capacity record is immutable once stored, so an entry is
 * keyed by factory and record position and never goes stale. Callers that
 * build every round (the hub, an auditor's replay) decode each capacity
 * once instead of once per round. The result is identical with or
 * without the cache. Returns as match_input_build(). */
int match_input_build_cached(ledger_t *ledger, match_input_cache_t *cache, match_input_t **out);

/* A new, empty cache (NULL when out of memory); it grows to at most
 * MATCHER_MAX_FACTORIES entries, one per factory. */
match_input_cache_t *match_input_cache_new(void);

/* Frees; safe on NULL and twice. */
void match_input_cache_destroy(match_input_cache_t **self_p);

/* Frees; safe on NULL and twice. */
void match_input_destroy(match_input_t **self_p);

const matcher_problem_t *match_input_problem(const match_input_t *self);
const matcher_params_t *match_input_params(const match_input_t *self);
uint64_t match_input_basis(const match_input_t *self);  /* ledger size used */
uint32_t match_input_today(const match_input_t *self);  /* epoch day of day 0 */

/* The assign payload for a placed order of result r (pieces with epoch
 * days, runner-up, the result's digest). The digest of the whole result is
 * computed on the first call for r and reused for its other orders, so r
 * must stay the same result (not freed and replaced) while it is used
 * with this input. Returns 0, COFAB_EINVAL if the order is not placed, or
 * COFAB_ENOMEM. */
int match_input_assign(match_input_t *self, const matcher_result_t *r,
                       const matcher_order_result_t *o, payload_assign_t *out);

#ifdef __cplusplus
}
#endif
#endif
