/* hub_match.c — the hub's matching rounds, and reassignments after declines and timeouts. */
#include "hub_internal.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/match_input.h"
#include "cofab/payload.h"
#include "cofab/util.h"

#define S_MAX_REASSIGN 256

typedef struct {
    uint8_t order[32];          /* order to send back */
    payload_reassign_t r;       /* why, and from which factory */
} s_reassign_t;

typedef struct {
    hub_t *hub;                 /* whose ledger */
    uint64_t now_ms;            /* hub clock */
    uint32_t ack_timeout_s;     /* alliance setting */
    s_reassign_t *list;         /* found so far */
    size_t n;                   /* how many */
    uint8_t factory[32];        /* the removed factory being scanned */
} s_scan_t;

/* Declined orders, and assignments not accepted in time, go back to matching. */
static int
s_find_reassign(void *ctx, const uint8_t order_id[32])
{
    s_scan_t *s = ctx;
    policy_order_t o;
    if (s->n == S_MAX_REASSIGN || policy_order(s->hub->ledger, order_id, &o) != 0)
        return 0;
    int why = 0, which = -1;
    for (unsigned i = 0; i < o.nfactories && which < 0; i++) {
        if (o.fstate[i] == POLICY_DECLINED) {
            why = PAYLOAD_WHY_DECLINED;
            which = (int) i;
        }
    }
    if (which < 0 && o.state == POLICY_ASSIGNED &&
        s->now_ms > o.assigned_ms + (uint64_t) s->ack_timeout_s * 1000u) {
        for (unsigned i = 0; i < o.nfactories && which < 0; i++) {
            if (o.fstate[i] == POLICY_ASSIGNED) {
                why = PAYLOAD_WHY_TIMEOUT;
                which = (int) i;
            }
        }
    }
    if (which < 0)
        return 0;
    s_reassign_t *r = &s->list[s->n++];
    memcpy(r->order, order_id, 32);
    r->r.why = why;
    memcpy(r->r.factory, o.factories[which], 32);
    r->r.basis = ledger_size(s->hub->ledger);
    return 0;
}

/* Orders a removed factory still holds (assigned, accepted or in
 * production, not yet shipped) go back to matching too. */
static int
s_find_removed_order(void *ctx, const uint8_t order_id[32])
{
    s_scan_t *s = ctx;
    policy_order_t o;
    if (s->n == S_MAX_REASSIGN || policy_order(s->hub->ledger, order_id, &o) != 0 ||
        o.state >= POLICY_SHIPPED)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(s->list[i].order, order_id, 32) == 0)
            return 0; /* already going back for another reason */
    s_reassign_t *r = &s->list[s->n++];
    memcpy(r->order, order_id, 32);
    r->r.why = PAYLOAD_WHY_REMOVED;
    memcpy(r->r.factory, s->factory, 32);
    r->r.basis = ledger_size(s->hub->ledger);
    return 0;
}

static int
s_find_removed(void *ctx, const uint8_t factory[32])
{
    s_scan_t *s = ctx;
    policy_member_t m;
    if (policy_member(s->hub->ledger, factory, &m) != 0 || m.active)
        return 0;
    memcpy(s->factory, factory, 32);
    return policy_factory_orders(s->hub->ledger, factory, s_find_removed_order, s);
}

static int
s_reassign_round(hub_t *self, void *pub, uint64_t now_ms)
{
    policy_alliance_t a;
    s_scan_t s = {self, now_ms, 0, calloc(S_MAX_REASSIGN, sizeof(s_reassign_t)), 0, {0}};
    if (!s.list || policy_alliance(self->ledger, &a) != 0) {
        free(s.list);
        return COFAB_ENOMEM;
    }
    s.ack_timeout_s = a.ack_timeout_s;
    int rc = policy_waiting_orders(self->ledger, s_find_reassign, &s), done = 0;
    if (rc == 0)
        rc = policy_factories(self->ledger, s_find_removed, &s);
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        uint8_t *payload = NULL;
        size_t len = 0;
        rc = payload_reassign_encode(&s.list[i].r, &payload, &len);
        if (rc == 0)
            rc = hub_append_own(self, pub, ENVELOPE_REASSIGN, s.list[i].order, payload, len, NULL);
        free(payload);
        if (rc == 0) {
            char hex[17];
            sodium_bin2hex(hex, sizeof hex, s.list[i].order, 8);
            hub_log("order %s… goes back to matching (%s)", hex, payload_why_name(s.list[i].r.why));
            done++;
        }
    }
    free(s.list);
    return rc ? rc : done;
}

/* Seals the assignments of one matcher result and appends them as a batch. */
static int
s_append_assignments(hub_t *self, void *pub, match_input_t *in, const matcher_result_t *r)
{
    uint32_t n = matcher_result_norders(r), placed = 0;
    uint8_t *bufs = malloc((size_t) n * ENVELOPE_MAX);
    envelope_t *envs = calloc(n ? n : 1, sizeof *envs);
    ledger_result_t *res = calloc(n ? n : 1, sizeof *res);
    payload_assign_t *a = malloc(sizeof *a);
    envelope_chain_t chain;
    int rc = (bufs || n == 0) && envs && res && a ? 0 : COFAB_ENOMEM;
    if (rc == 0)
        rc = ledger_author_last(self->ledger, keys_sign_pk(self->keys), &chain.next_seq,
                                chain.prev);
    chain.next_seq++;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i);
        if (o->status != MATCHER_PLACED)
            continue;
        uint8_t *payload = NULL;
        size_t plen = 0, elen = 0;
        rc = match_input_assign(in, r, o, a);
        if (rc == 0)
            rc = payload_assign_encode(a, &payload, &plen);
        envelope_spec_t spec = {.kind = ENVELOPE_ASSIGN, .timestamp_ms = util_now_ms(),
                                .payload = payload, .payload_len = plen};
        memcpy(spec.subject, o->id, 32);
        uint8_t *buf = bufs + (size_t) placed * ENVELOPE_MAX;
        if (rc == 0)
            rc = envelope_chain_seal(&chain, &spec, self->keys, buf, ENVELOPE_MAX, &elen);
        if (rc == 0)
            rc = envelope_open(&envs[placed], buf, elen);
        free(payload);
        if (rc == 0)
            placed++;
    }
    uint64_t before = ledger_size(self->ledger);
    if (rc == 0 && placed)
        rc = ledger_append(self->ledger, envs, placed, util_now_ms(), res);
    for (uint32_t i = 0; rc == 0 && i < placed; i++)
        if (res[i].code != 0)
            hub_log("assignment refused by the rules: %s", cofab_strerror(res[i].code));
    if (rc == 0) {
        uint64_t after = ledger_size(self->ledger);
        for (uint64_t s = before; s < after; s++)
            hub_publish_record(self, pub, s);
        atomic_fetch_add(&self->matched, after - before);
    }
    free(bufs);
    free(envs);
    free(res);
    free(a);
    return rc ? rc : (int) placed;
}

int
hub_match_round(hub_t *self, void *pub, uint64_t now_ms)
{
    int appended = s_reassign_round(self, pub, now_ms);
    if (appended < 0)
        hub_log("reassignment round failed: %s", cofab_strerror(appended));
    /* The matcher is a function of the ledger: nothing new, nothing to redo. */
    if (ledger_size(self->ledger) == self->last_match_size)
        return appended > 0 ? appended : 0;
    match_input_t *in = NULL;
    matcher_result_t *r = NULL;
    int rc = match_input_build_cached(self->ledger, self->match_cache, &in);
    if (rc != 0) {
        hub_log("cannot build the matcher input: %s", cofab_strerror(rc));
        return rc;
    }
    if (match_input_problem(in)->norders == 0) {
        match_input_destroy(&in);
        return appended > 0 ? appended : 0;
    }
    rc = matcher_solve(match_input_problem(in), match_input_params(in), &r);
    /* One line per round, not per order: unplaced orders stay pending and
     * would otherwise be reported again on every round. */
    uint32_t unplaced = 0;
    const matcher_order_result_t *first = NULL;
    for (uint32_t i = 0; rc == 0 && i < matcher_result_norders(r); i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i);
        if (o->status != MATCHER_PLACED && unplaced++ == 0)
            first = o;
    }
    if (first) {
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, first->id, 8);
        hub_log("%u order(s) not placed this round (first: %s…, %s)", unplaced, hex,
                matcher_status_name(first->status));
    }
    if (rc == 0)
        rc = s_append_assignments(self, pub, in, r);
    self->last_match_size = ledger_size(self->ledger);
    if (rc < 0)
        hub_log("matching round failed: %s", cofab_strerror(rc));
    matcher_result_destroy(&r);
    match_input_destroy(&in);
    return rc;
}
