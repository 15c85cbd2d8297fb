/* test_policy.c — who may write what, and the order state machine (with its exclusion window), enforced at append. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/match_input.h"
#include "cofab/matcher.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "support/fixture.h"

enum { OP, HUB, F1, F2, WIT, C1, C2, F3, NKEYS };
static const char *const s_names[NKEYS] = {"operator", "hub", "f1", "f2", "witness", "c1", "c2", "f3"};

typedef struct {
    char dir[256];
    keys_t *k[NKEYS];
    envelope_chain_t chain[NKEYS];
    ledger_t *ledger;
    uint8_t *buf;
} s_state_t;

static void
s_member(payload_member_t *m, const keys_t *k, int role)
{
    keys_verifier(k, &m->key);
    memcpy(m->transport, keys_curve_pk(k), 32);
    m->role = role;
}

/* Seals the next envelope of key k (its chain in *chain) and appends it;
 * returns the code. */
static int
s_submit_as(s_state_t *s, const keys_t *k, envelope_chain_t *chain, int kind,
            const uint8_t *subject, const uint8_t *payload, size_t len)
{
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = 1, .payload = payload,
                            .payload_len = len};
    if (subject)
        memcpy(spec.subject, subject, 32);
    size_t elen;
    envelope_t e;
    ledger_result_t r;
    envelope_chain_t attempt = *chain;
    assert_int_equal(envelope_chain_seal(&attempt, &spec, k, s->buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, s->buf, elen), 0);
    assert_int_equal(ledger_append(s->ledger, &e, 1, 86400000ull * 20000, &r), 0);
    if (r.code == 0)
        *chain = attempt; /* only a stored envelope advances the chain */
    return r.code;
}

/* The same for one of the fixture's keys. */
static int
s_submit(s_state_t *s, int who, int kind, const uint8_t *subject, const uint8_t *payload,
         size_t len)
{
    return s_submit_as(s, s->k[who], &s->chain[who], kind, subject, payload, len);
}

static int
s_setup(void **state)
{
    s_state_t *s = calloc(1, sizeof *s);
    fixture_tmpdir(s->dir);
    s->buf = malloc(ENVELOPE_MAX);
    for (int i = 0; i < NKEYS; i++) {
        s->k[i] = keys_generate(s_names[i]);
        envelope_chain_init(&s->chain[i]);
    }
    payload_genesis_t *g = malloc(sizeof *g);
    payload_genesis_init(g);
    snprintf(g->origin, sizeof g->origin, "example.org/policy");
    keys_verifier(s->k[HUB], &g->hub);
    memcpy(g->hub_transport, keys_curve_pk(s->k[HUB]), 32);
    keys_verifier(s->k[OP], &g->operator_key);
    s_member(&g->members[0], s->k[F1], PAYLOAD_ROLE_FACTORY);
    s_member(&g->members[1], s->k[F2], PAYLOAD_ROLE_FACTORY);
    s_member(&g->members[2], s->k[WIT], PAYLOAD_ROLE_WITNESS);
    g->nmembers = 3;
    uint8_t *payload;
    size_t plen, elen;
    assert_int_equal(payload_genesis_encode(g, &payload, &plen), 0);
    envelope_spec_t spec = {.kind = ENVELOPE_GENESIS, .timestamp_ms = 1, .payload = payload,
                            .payload_len = plen};
    envelope_t e;
    ledger_options_t o = {.apply = policy_apply};
    /* A genesis signed by someone other than the operator it names is refused. */
    envelope_chain_t hub_chain = s->chain[HUB];
    assert_int_equal(envelope_chain_seal(&hub_chain, &spec, s->k[HUB], s->buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, s->buf, elen), 0);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad", s->dir);
    assert_int_equal(ledger_create(&s->ledger, bad, "example.org/policy", &e, &o), COFAB_EPERM);
    assert_int_equal(envelope_chain_seal(&s->chain[OP], &spec, s->k[OP], s->buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, s->buf, elen), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/ledger", s->dir);
    assert_int_equal(ledger_create(&s->ledger, dir, "example.org/policy", &e, &o), 0);
    free(payload);
    free(g);
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    ledger_destroy(&s->ledger);
    for (int i = 0; i < NKEYS; i++)
        keys_destroy(&s->k[i]);
    fixture_rmtree(s->dir);
    free(s->buf);
    free(s);
    return 0;
}

static int
s_capacity_as(s_state_t *s, const keys_t *k, envelope_chain_t *chain)
{
    payload_capacity_t *c = calloc(1, sizeof *c);
    c->start_day = 20000;
    c->valid_until_day = 20100;
    c->lead_days = 2;
    c->lat_e6 = 45000000;
    c->lon_e6 = 7000000;
    c->reserve_pm = -1;
    payload_offer_t *o = &c->offers[0];
    snprintf(o->process, sizeof o->process, "sewing");
    snprintf(o->materials[0], sizeof o->materials[0], "cotton");
    o->nmaterials = 1;
    o->unit_price = 500;
    o->setup_cost = 1000;
    o->moq = 1;
    o->max_qty = 1000;
    o->ncap = 60;
    for (int d = 0; d < 60; d++)
        o->cap[d] = 100;
    c->noffers = 1;
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_capacity_encode(c, &p, &len), 0);
    int rc = s_submit_as(s, k, chain, ENVELOPE_CAPACITY, NULL, p, len);
    free(p);
    free(c);
    return rc;
}

static int
s_capacity(s_state_t *s, int who)
{
    return s_capacity_as(s, s->k[who], &s->chain[who]);
}

static int
s_order(s_state_t *s, int who, const uint8_t id[32])
{
    payload_order_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.items[0].process, sizeof o.items[0].process, "sewing");
    snprintf(o.items[0].material, sizeof o.items[0].material, "cotton");
    o.items[0].qty = 50;
    o.nitems = 1;
    o.due_day = 20030;
    o.lat_e6 = 45100000;
    o.lon_e6 = 7100000;
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_order_encode(&o, &p, &len), 0);
    int rc = s_submit(s, who, ENVELOPE_ORDER, id, p, len);
    free(p);
    return rc;
}

static int
s_assign_pk(s_state_t *s, int who, const uint8_t id[32], const uint8_t factory[32])
{
    payload_assign_t *a = calloc(1, sizeof *a);
    a->basis = ledger_size(s->ledger);
    memcpy(a->pieces[0].factory, factory, 32);
    snprintf(a->pieces[0].process, sizeof a->pieces[0].process, "sewing");
    snprintf(a->pieces[0].material, sizeof a->pieces[0].material, "cotton");
    a->pieces[0].qty = 50;
    a->pieces[0].first_day = 20001;
    a->pieces[0].last_day = 20002;
    a->pieces[0].cost = 26000;
    a->npieces = 1;
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_assign_encode(a, &p, &len), 0);
    int rc = s_submit(s, who, ENVELOPE_ASSIGN, id, p, len);
    free(p);
    free(a);
    return rc;
}

static int
s_assign(s_state_t *s, int who, const uint8_t id[32], int factory)
{
    return s_assign_pk(s, who, id, keys_sign_pk(s->k[factory]));
}

static int
s_status(s_state_t *s, int who, const uint8_t id[32], int stage)
{
    payload_status_t st = {.stage = stage};
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_status_encode(&st, &p, &len), 0);
    int rc = s_submit(s, who, ENVELOPE_STATUS, id, p, len);
    free(p);
    return rc;
}

static int
s_simple(s_state_t *s, int who, int kind, const uint8_t id[32])
{
    uint8_t *p = NULL;
    size_t len = 0;
    if (kind == ENVELOPE_ACCEPT) {
        payload_accept_t a = {""};
        assert_int_equal(payload_accept_encode(&a, &p, &len), 0);
    } else if (kind == ENVELOPE_DECLINE) {
        payload_decline_t d = {"machine down"};
        assert_int_equal(payload_decline_encode(&d, &p, &len), 0);
    } else {
        payload_cancel_t c = {""};
        assert_int_equal(payload_cancel_encode(&c, &p, &len), 0);
    }
    int rc = s_submit(s, who, kind, id, p, len);
    free(p);
    return rc;
}

static int
s_reassign_pk(s_state_t *s, int who, const uint8_t id[32], int why, const uint8_t factory[32])
{
    payload_reassign_t r = {.why = why, .basis = ledger_size(s->ledger)};
    memcpy(r.factory, factory, 32);
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_reassign_encode(&r, &p, &len), 0);
    int rc = s_submit(s, who, ENVELOPE_REASSIGN, id, p, len);
    free(p);
    return rc;
}

static int
s_reassign(s_state_t *s, int who, const uint8_t id[32], int why, int factory)
{
    return s_reassign_pk(s, who, id, why, keys_sign_pk(s->k[factory]));
}

static int
s_state_of(s_state_t *s, const uint8_t id[32])
{
    policy_order_t o;
    assert_int_equal(policy_order(s->ledger, id, &o), 0);
    return o.state;
}

static void
test_roles(void **state)
{
    s_state_t *s = *state;
    uint64_t size = ledger_size(s->ledger);
    assert_int_equal(s_capacity(s, C1), COFAB_EPERM);   /* a customer */
    assert_int_equal(s_capacity(s, WIT), COFAB_EPERM);  /* a witness */
    assert_int_equal(s_capacity(s, HUB), COFAB_EPERM);
    assert_int_equal(ledger_size(s->ledger), size);      /* nothing stored */
    assert_int_equal(s_capacity(s, F1), 0);
    uint64_t seq;
    assert_int_equal(policy_capacity_seq(s->ledger, keys_sign_pk(s->k[F1]), &seq), 0);
    assert_int_equal(seq, size);

    uint8_t id[32], zero[32] = {0};
    randombytes_buf(id, sizeof id);
    assert_int_equal(s_order(s, F1, id), COFAB_EPERM);  /* factories do not order */
    assert_int_equal(s_order(s, OP, id), COFAB_EPERM);
    assert_int_equal(s_order(s, C1, zero), COFAB_EMALFORMED);
    assert_int_equal(s_order(s, C1, id), 0);
    assert_int_equal(s_order(s, C2, id), COFAB_ETAKEN); /* an order id is used once */
    assert_int_equal(s_state_of(s, id), POLICY_SUBMITTED);

    /* Only the hub assigns, only the operator manages members. */
    assert_int_equal(s_assign(s, OP, id, F1), COFAB_EPERM);
    assert_int_equal(s_assign(s, C1, id, F1), COFAB_EPERM);
    assert_int_equal(s_assign(s, HUB, id, WIT), COFAB_EPERM); /* not a factory */
    payload_member_t m;
    s_member(&m, s->k[F3], PAYLOAD_ROLE_FACTORY);
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_member_add_encode(&m, &p, &len), 0);
    assert_int_equal(s_submit(s, HUB, ENVELOPE_MEMBER_ADD, NULL, p, len), COFAB_EPERM);
    assert_int_equal(s_submit(s, OP, ENVELOPE_MEMBER_ADD, NULL, p, len), 0);
    free(p);
    policy_member_t pm;
    assert_int_equal(policy_member(s->ledger, keys_sign_pk(s->k[F3]), &pm), 0);
    assert_true(pm.active);
    uint8_t who[32];
    assert_int_equal(policy_member_by_transport(s->ledger, keys_curve_pk(s->k[F3]), who), 0);
    assert_memory_equal(who, keys_sign_pk(s->k[F3]), 32);
    assert_int_equal(s_capacity(s, F3), 0);
    payload_member_remove_t rm = {{0}, "left the alliance"};
    memcpy(rm.key, keys_sign_pk(s->k[F3]), 32);
    assert_int_equal(payload_member_remove_encode(&rm, &p, &len), 0);
    assert_int_equal(s_submit(s, F1, ENVELOPE_MEMBER_REMOVE, NULL, p, len), COFAB_EPERM);
    assert_int_equal(s_submit(s, OP, ENVELOPE_MEMBER_REMOVE, NULL, p, len), 0);
    free(p);
    assert_int_equal(s_capacity(s, F3), COFAB_EPERM); /* removed */
    assert_int_equal(s_submit(s, C1, ENVELOPE_NOTE, NULL, (const uint8_t *) "x", 1), COFAB_EPERM);
    assert_int_equal(s_submit(s, OP, ENVELOPE_NOTE, NULL, (const uint8_t *) "x", 1), 0);
}

static void
test_order_lifecycle(void **state)
{
    s_state_t *s = *state;
    uint8_t id[32];
    randombytes_buf(id, sizeof id);
    assert_int_equal(s_capacity(s, F1), 0);
    assert_int_equal(s_order(s, C1, id), 0);
    assert_int_equal(s_simple(s, F1, ENVELOPE_ACCEPT, id), COFAB_EPERM); /* not assigned yet */
    assert_int_equal(s_assign(s, HUB, id, F1), 0);
    assert_int_equal(s_state_of(s, id), POLICY_ASSIGNED);
    assert_int_equal(s_assign(s, HUB, id, F2), COFAB_ESTATE); /* already assigned */

    uint64_t size = ledger_size(s->ledger);
    assert_int_equal(s_status(s, F2, id, PAYLOAD_STAGE_IN_PRODUCTION), COFAB_EPERM); /* not its order */
    assert_int_equal(s_status(s, F1, id, PAYLOAD_STAGE_IN_PRODUCTION), COFAB_ESTATE); /* not accepted */
    assert_int_equal(s_simple(s, C2, ENVELOPE_CANCEL, id), COFAB_EPERM); /* not the customer */
    assert_int_equal(ledger_size(s->ledger), size);
    assert_int_equal(s_simple(s, F1, ENVELOPE_ACCEPT, id), 0);
    assert_int_equal(s_simple(s, F1, ENVELOPE_ACCEPT, id), COFAB_ESTATE);
    assert_int_equal(s_status(s, F1, id, PAYLOAD_STAGE_QC_PASSED), COFAB_ESTATE); /* skips a step */
    assert_int_equal(s_status(s, F1, id, PAYLOAD_STAGE_IN_PRODUCTION), 0);
    assert_int_equal(s_status(s, F1, id, PAYLOAD_STAGE_QC_PASSED), 0);
    assert_int_equal(s_status(s, F1, id, PAYLOAD_STAGE_SHIPPED), 0);
    assert_int_equal(s_simple(s, C1, ENVELOPE_CANCEL, id), COFAB_ESTATE); /* too late */
    assert_int_equal(s_status(s, F1, id, PAYLOAD_STAGE_DELIVERED), 0);
    assert_int_equal(s_state_of(s, id), POLICY_DELIVERED);
    assert_int_equal(s_status(s, F1, id, PAYLOAD_STAGE_DELIVERED), COFAB_ESTATE);
    policy_reliability_t r;
    assert_int_equal(policy_reliability(s->ledger, keys_sign_pk(s->k[F1]), &r), 0);
    assert_int_equal(r.assigned, 1);
    assert_int_equal(r.accepted, 1);
    assert_int_equal(r.delivered, 1);
    assert_int_equal(r.on_time, 1); /* delivered on day 20000, due 20030 */
}

static int
s_count(void *ctx, const uint8_t id[32])
{
    (void) id;
    (*(int *) ctx)++;
    return 0;
}

static void
test_decline_reassign_cancel(void **state)
{
    s_state_t *s = *state;
    uint8_t id[32], other[32];
    randombytes_buf(id, sizeof id);
    randombytes_buf(other, sizeof other);
    assert_int_equal(s_order(s, C2, id), 0);
    int pending = 0;
    assert_int_equal(policy_pending_orders(s->ledger, s_count, &pending), 0);
    assert_int_equal(pending, 1);
    assert_int_equal(s_assign(s, HUB, id, F2), 0);
    pending = 0;
    policy_pending_orders(s->ledger, s_count, &pending);
    assert_int_equal(pending, 0);
    assert_int_equal(s_simple(s, F2, ENVELOPE_DECLINE, id), 0);
    assert_int_equal(s_state_of(s, id), POLICY_DECLINED);
    /* The hub must name the factory that declined, for that reason. */
    assert_int_equal(s_reassign(s, HUB, id, PAYLOAD_WHY_TIMEOUT, F2), COFAB_ESTATE);
    assert_int_equal(s_reassign(s, HUB, id, PAYLOAD_WHY_DECLINED, F1), COFAB_ESTATE);
    assert_int_equal(s_reassign(s, OP, id, PAYLOAD_WHY_DECLINED, F2), COFAB_EPERM);
    assert_int_equal(s_reassign(s, HUB, id, PAYLOAD_WHY_DECLINED, F2), 0);
    assert_int_equal(s_state_of(s, id), POLICY_SUBMITTED);
    assert_int_equal(s_assign(s, HUB, id, F2), COFAB_EPERM); /* never back to f2 */
    assert_int_equal(s_assign(s, HUB, id, F1), 0);
    /* A silent factory times out. */
    assert_int_equal(s_reassign(s, HUB, id, PAYLOAD_WHY_TIMEOUT, F1), 0);
    policy_reliability_t r;
    policy_reliability(s->ledger, keys_sign_pk(s->k[F1]), &r);
    assert_int_equal(r.timeouts, 1);

    /* Cancel: only the customer, then nothing moves the order. */
    assert_int_equal(s_order(s, C1, other), 0);
    assert_int_equal(s_assign(s, HUB, other, F1), 0);
    assert_int_equal(s_simple(s, C2, ENVELOPE_CANCEL, other), COFAB_EPERM);
    assert_int_equal(s_simple(s, C1, ENVELOPE_CANCEL, other), 0);
    assert_int_equal(s_state_of(s, other), POLICY_CANCELLED);
    assert_int_equal(s_simple(s, F1, ENVELOPE_ACCEPT, other), COFAB_ESTATE);
    assert_int_equal(s_simple(s, C1, ENVELOPE_CANCEL, other), COFAB_ESTATE);
    int active = 0;
    policy_factory_orders(s->ledger, keys_sign_pk(s->k[F1]), s_count, &active);
    assert_int_equal(active, 0);
    uint8_t unknown[32];
    randombytes_buf(unknown, sizeof unknown);
    assert_int_equal(s_simple(s, F1, ENVELOPE_ACCEPT, unknown), COFAB_ENOTFOUND);
}

/* Collects the pending orders' ids (room for 8). */
typedef struct {
    uint8_t ids[8][32];
    int n;
} s_ids_t;

static int
s_collect(void *ctx, const uint8_t id[32])
{
    s_ids_t *c = ctx;
    if (c->n < 8)
        memcpy(c->ids[c->n], id, 32);
    c->n++;
    return 0;
}

/* An order remembers only the POLICY_MAX_EXCLUDE factories it left most
 * recently: the 17th departure (refused with COFAB_ETOOBIG before, which
 * left the order with a silent factory for good) drops the oldest, and the
 * order always goes back to matching. */
static void
test_exclusion_window(void **state)
{
    enum { N = 20 };
    s_state_t *s = *state;
    keys_t *f[N];
    envelope_chain_t fc[N];
    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%02d", i);
        f[i] = keys_generate(name);
        assert_non_null(f[i]);
        envelope_chain_init(&fc[i]);
        payload_member_t m;
        s_member(&m, f[i], PAYLOAD_ROLE_FACTORY);
        uint8_t *p;
        size_t len;
        assert_int_equal(payload_member_add_encode(&m, &p, &len), 0);
        assert_int_equal(s_submit(s, OP, ENVELOPE_MEMBER_ADD, NULL, p, len), 0);
        free(p);
    }
    uint8_t id[32];
    randombytes_buf(id, sizeof id);
    assert_int_equal(s_order(s, C1, id), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(s_assign_pk(s, HUB, id, keys_sign_pk(f[i])), 0);
        int why = PAYLOAD_WHY_TIMEOUT;
        if (i % 2) { /* every other factory declines, the rest go silent */
            payload_decline_t d = {"busy"};
            uint8_t *p;
            size_t len;
            assert_int_equal(payload_decline_encode(&d, &p, &len), 0);
            assert_int_equal(s_submit_as(s, f[i], &fc[i], ENVELOPE_DECLINE, id, p, len), 0);
            free(p);
            why = PAYLOAD_WHY_DECLINED;
        }
        assert_int_equal(s_reassign_pk(s, HUB, id, why, keys_sign_pk(f[i])), 0);
        policy_order_t o;
        assert_int_equal(policy_order(s->ledger, id, &o), 0);
        assert_int_equal(o.state, POLICY_SUBMITTED);
        int kept = i + 1 < POLICY_MAX_EXCLUDE ? i + 1 : POLICY_MAX_EXCLUDE;
        assert_int_equal(o.nexclude, kept);
        /* The most recent departures, oldest first. */
        for (int k = 0; k < kept; k++)
            assert_memory_equal(o.exclude[k], keys_sign_pk(f[i + 1 - kept + k]), 32);
        s_ids_t pending = {.n = 0};
        assert_int_equal(policy_pending_orders(s->ledger, s_collect, &pending), 0);
        assert_int_equal(pending.n, 1);
        assert_memory_equal(pending.ids[0], id, 32);
    }
    /* The matcher sees the same window: of two equal factories it can only
     * use the one that dropped out of it. */
    assert_int_equal(s_capacity_as(s, f[N - 1], &fc[N - 1]), 0);
    assert_int_equal(s_capacity_as(s, f[0], &fc[0]), 0);
    match_input_t *in = NULL;
    matcher_result_t *r = NULL;
    assert_int_equal(match_input_build(s->ledger, &in), 0);
    const matcher_problem_t *pb = match_input_problem(in);
    assert_int_equal(pb->norders, 1);
    assert_int_equal(pb->orders[0].nexclude, POLICY_MAX_EXCLUDE);
    for (int k = 0; k < POLICY_MAX_EXCLUDE; k++)
        assert_memory_equal(pb->orders[0].exclude[k], keys_sign_pk(f[N - POLICY_MAX_EXCLUDE + k]),
                            32);
    assert_int_equal(matcher_solve(pb, match_input_params(in), &r), 0);
    const matcher_order_result_t *res = matcher_result_order(r, 0);
    assert_int_equal(res->status, MATCHER_PLACED);
    assert_int_equal(res->npieces, 1);
    assert_memory_equal(res->pieces[0].factory, keys_sign_pk(f[0]), 32);
    matcher_result_destroy(&r);
    match_input_destroy(&in);
    /* And so do the rules. */
    assert_int_equal(s_assign_pk(s, HUB, id, keys_sign_pk(f[N - POLICY_MAX_EXCLUDE])), COFAB_EPERM);
    assert_int_equal(s_assign_pk(s, HUB, id, keys_sign_pk(f[N - 1])), COFAB_EPERM);
    assert_int_equal(s_assign_pk(s, HUB, id, keys_sign_pk(f[0])), 0);
    assert_int_equal(s_state_of(s, id), POLICY_ASSIGNED);
    for (int i = 0; i < N; i++)
        keys_destroy(&f[i]);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roles, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_order_lifecycle, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_decline_reassign_cancel, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_exclusion_window, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
