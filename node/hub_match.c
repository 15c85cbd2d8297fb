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

/* One envelope the hub writes in its own name (assign, reassign), and what
 * became of it. */
typedef struct {
    uint8_t kind;               /* envelope kind */
    uint8_t subject[32];        /* the order */
    uint8_t *payload;           /* encoded payload (freed by s_own_free) */
    size_t payload_len;         /* its length */
    uint8_t *sealed;            /* envelope sealed for the latest pass (helper's) */
    int code;                   /* 0 stored, the rules' refusal, or S_NOT_STORED */
    uint64_t seq;               /* ledger position once stored */
} s_own_t;

/* An entry not stored (yet): its pass never came, or the batch failed. */
#define S_NOT_STORED COFAB_ERANGE
/* A refusal breaks the hub's author chain for the entries after it, so they
 * are sealed again and appended in a new pass; each pass settles at least
 * one entry, and this bounds the commits one batch may cost. */
#define S_MAX_PASSES 4

static void
s_own_free(s_own_t *own, size_t n)
{
    for (size_t i = 0; own && i < n; i++) {
        free(own[i].payload);
        free(own[i].sealed);
    }
    free(own);
}

/* Seals o as the next envelope of the hub's chain into its own buffer and
 * opens it into e (which borrows o->sealed). */
static int
s_seal(hub_t *self, envelope_chain_t *chain, s_own_t *o, uint8_t *scratch, envelope_t *e)
{
    envelope_spec_t spec = {.kind = o->kind, .timestamp_ms = util_now_ms(),
                            .payload = o->payload, .payload_len = o->payload_len};
    memcpy(spec.subject, o->subject, 32);
    size_t len = 0;
    int rc = envelope_chain_seal(chain, &spec, self->keys, scratch, ENVELOPE_MAX, &len);
    if (rc != 0)
        return rc;
    free(o->sealed);
    o->sealed = malloc(len);
    if (!o->sealed)
        return COFAB_ENOMEM;
    memcpy(o->sealed, scratch, len);
    return envelope_open(e, o->sealed, len);
}

/* Seals own[0..n) on the hub's author chain and appends them as one batch
 * (one durable commit), publishing every new record. An entry the rules
 * refuse is logged once and skipped; the ones after it are sealed again on
 * the chain as it now stands and appended once more (at most S_MAX_PASSES
 * commits; what is left then waits for the next round). Sets each entry's
 * code and seq, which stay right even on failure (earlier passes remain
 * stored). Returns the number stored, or a negative code when sealing or
 * the store failed. */
static int
s_append_own(hub_t *self, void *pub, s_own_t *own, size_t n)
{
    envelope_t *envs = calloc(n ? n : 1, sizeof *envs);
    ledger_result_t *res = calloc(n ? n : 1, sizeof *res);
    uint8_t *scratch = malloc(ENVELOPE_MAX);
    int rc = envs && res && scratch ? 0 : COFAB_ENOMEM, stored = 0;
    for (size_t i = 0; i < n; i++)
        own[i].code = S_NOT_STORED;
    size_t from = 0; /* own[from..n) still to append */
    for (int pass = 0; rc == 0 && from < n && pass < S_MAX_PASSES; pass++) {
        envelope_chain_t chain;
        rc = ledger_author_last(self->ledger, keys_sign_pk(self->keys), &chain.next_seq,
                                chain.prev);
        chain.next_seq++;
        size_t m = n - from;
        for (size_t i = 0; rc == 0 && i < m; i++)
            rc = s_seal(self, &chain, &own[from + i], scratch, &envs[i]);
        uint64_t before = ledger_size(self->ledger);
        if (rc == 0)
            rc = ledger_append(self->ledger, envs, m, util_now_ms(), res);
        if (rc != 0)
            break;
        /* Entries before the first refusal are stored; those after it
         * were refused only because their chain link is missing. */
        size_t next = n;
        for (size_t i = 0; i < m; i++) {
            s_own_t *o = &own[from + i];
            o->code = res[i].code;
            if (o->code == 0) {
                o->seq = res[i].seq;
                stored++;
                continue;
            }
            char hex[17];
            sodium_bin2hex(hex, sizeof hex, o->subject, 8);
            hub_log("%s for order %s… refused: %s",
                    o->kind == ENVELOPE_ASSIGN ? "assignment" : "reassignment", hex,
                    cofab_strerror(o->code));
            next = from + i + 1;
            break;
        }
        uint64_t after = ledger_size(self->ledger);
        for (uint64_t s = before; s < after; s++)
            hub_publish_record(self, pub, s);
        from = next;
    }
    if (rc == 0 && from < n)
        hub_log("%zu record(s) of the hub left for the next round after %d refusals", n - from,
                S_MAX_PASSES);
    free(envs);
    free(res);
    free(scratch);
    return rc ? rc : stored;
}

static int
s_reassign_round(hub_t *self, void *pub, uint64_t now_ms)
{
    policy_alliance_t a;
    s_scan_t s = {self, now_ms, 0, calloc(S_MAX_REASSIGN, sizeof(s_reassign_t)), 0, {0}};
    s_own_t *own = calloc(S_MAX_REASSIGN, sizeof *own);
    int rc = s.list && own ? policy_alliance(self->ledger, &a) : COFAB_ENOMEM;
    if (rc == 0) {
        s.ack_timeout_s = a.ack_timeout_s;
        rc = policy_waiting_orders(self->ledger, s_find_reassign, &s);
    }
    if (rc == 0)
        rc = policy_factories(self->ledger, s_find_removed, &s);
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        own[i].kind = ENVELOPE_REASSIGN;
        own[i].code = S_NOT_STORED;
        memcpy(own[i].subject, s.list[i].order, 32);
        rc = payload_reassign_encode(&s.list[i].r, &own[i].payload, &own[i].payload_len);
    }
    if (rc == 0 && s.n)
        rc = s_append_own(self, pub, own, s.n);
    for (size_t i = 0; i < s.n; i++) {
        if (own[i].code != 0)
            continue;
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, s.list[i].order, 8);
        hub_log("order %s… goes back to matching (%s)", hex, payload_why_name(s.list[i].r.why));
    }
    s_own_free(own, S_MAX_REASSIGN);
    free(s.list);
    return rc;
}

/* Seals the assignments of one matcher result and appends them as a batch. */
static int
s_append_assignments(hub_t *self, void *pub, match_input_t *in, const matcher_result_t *r)
{
    uint32_t n = matcher_result_norders(r), placed = 0;
    s_own_t *own = calloc(n ? n : 1, sizeof *own);
    payload_assign_t *a = malloc(sizeof *a);
    int rc = own && a ? 0 : COFAB_ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i);
        if (o->status != MATCHER_PLACED)
            continue;
        s_own_t *w = &own[placed++];
        w->kind = ENVELOPE_ASSIGN;
        w->code = S_NOT_STORED;
        memcpy(w->subject, o->id, 32);
        rc = match_input_assign(in, r, o, a);
        if (rc == 0)
            rc = payload_assign_encode(a, &w->payload, &w->payload_len);
    }
    if (rc == 0 && placed)
        rc = s_append_own(self, pub, own, placed);
    for (uint32_t i = 0; i < placed; i++)
        if (own[i].code == 0)
            atomic_fetch_add(&self->matched, 1);
    s_own_free(own, n);
    free(a);
    return rc;
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
    return rc < 0 ? rc : rc + (appended > 0 ? appended : 0);
}
