/* scen.c — builds a small alliance history in-process, appending exactly what the hub and members would. */
#include "support/scen.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cofab/error.h"
#include "cofab/match_input.h"
#include "cofab/matcher.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "support/pfix.h"

#define S_DAY_MS 86400000ull

typedef struct {
    scen_t *s;                  /* the story */
    ledger_t *l;                /* its ledger */
    envelope_chain_t op, north, south, alice; /* members' chains (the hub's is in s) */
    uint8_t *buf;               /* ENVELOPE_MAX x SCEN_ORDERS of sealing room */
    match_input_cache_t *cache; /* decoded capacities across rounds, as the audit keeps */
} s_ctx_t;

static envelope_chain_t *
s_chain(s_ctx_t *c, const keys_t *k)
{
    scen_t *s = c->s;
    return k == s->op ? &c->op : k == s->north ? &c->north : k == s->south ? &c->south
         : k == s->alice ? &c->alice : &s->hub_chain;
}

/* Seals one envelope by k and appends it; the rules must accept it. */
static uint64_t
s_append(s_ctx_t *c, const keys_t *k, int kind, const uint8_t subject[32], uint8_t *payload,
         size_t len)
{
    envelope_spec_t spec = {.kind = kind, .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = len};
    if (subject)
        memcpy(spec.subject, subject, 32);
    size_t elen = 0;
    envelope_t e;
    ledger_result_t res;
    assert_int_equal(envelope_chain_seal(s_chain(c, k), &spec, k, c->buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, c->buf, elen), 0);
    c->s->time_ms = util_now_ms();
    assert_int_equal(ledger_append(c->l, &e, 1, c->s->time_ms, &res), 0);
    if (res.code != 0)
        fail_msg("scenario: %s refused: %s", envelope_kind_name(kind), cofab_strerror(res.code));
    free(payload);
    return res.seq;
}

static void
s_capacity(s_ctx_t *c, const keys_t *k, int64_t price, int32_t lat)
{
    payload_capacity_t *cap = pfix_capacity();
    uint32_t today = (uint32_t) (util_now_ms() / S_DAY_MS);
    cap->start_day = today;
    cap->valid_until_day = today + 90;
    cap->offers[0].unit_price = price;
    cap->lat_e6 = lat;
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(payload_capacity_encode(cap, &p, &n), 0);
    free(cap);
    s_append(c, k, ENVELOPE_CAPACITY, NULL, p, n);
}

/* The input built with the capacity cache gives the same decisions,
 * byte for byte, as the one built from scratch. */
static void
s_same_with_cache(s_ctx_t *c, match_input_t *in, const matcher_result_t *r)
{
    match_input_t *cached = NULL;
    matcher_result_t *rc = NULL;
    payload_assign_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_true(a && b);
    assert_int_equal(match_input_build_cached(c->l, c->cache, &cached), 0);
    assert_int_equal(matcher_solve(match_input_problem(cached), match_input_params(cached), &rc),
                     0);
    assert_int_equal(matcher_result_norders(rc), matcher_result_norders(r));
    for (uint32_t i = 0; i < matcher_result_norders(r); i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i), *p = matcher_result_order(rc, i);
        assert_memory_equal(o->id, p->id, 32);
        assert_int_equal(o->status, p->status);
        if (o->status != MATCHER_PLACED)
            continue;
        assert_int_equal(match_input_assign(in, r, o, a), 0);
        assert_int_equal(match_input_assign(cached, rc, p, b), 0);
        uint8_t *ea = NULL, *eb = NULL;
        size_t la = 0, lb = 0;
        assert_int_equal(payload_assign_encode(a, &ea, &la), 0);
        assert_int_equal(payload_assign_encode(b, &eb, &lb), 0);
        assert_int_equal(la, lb);
        assert_memory_equal(ea, eb, la);
        free(ea);
        free(eb);
    }
    free(a);
    free(b);
    matcher_result_destroy(&rc);
    match_input_destroy(&cached);
}

/* One matcher round exactly as the hub runs it: input from the ledger,
 * solve, then every placed order's assign in one batch. */
static void
s_round(s_ctx_t *c, int forge)
{
    scen_t *s = c->s;
    match_input_t *in = NULL;
    matcher_result_t *r = NULL;
    payload_assign_t *a = malloc(sizeof *a);
    envelope_t envs[SCEN_ORDERS];
    ledger_result_t res[SCEN_ORDERS];
    size_t n = 0;
    assert_non_null(a);
    assert_int_equal(match_input_build(c->l, &in), 0);
    assert_int_equal(matcher_solve(match_input_problem(in), match_input_params(in), &r), 0);
    s_same_with_cache(c, in, r);
    for (uint32_t i = 0; i < matcher_result_norders(r) && n < SCEN_ORDERS; i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i);
        if (o->status != MATCHER_PLACED)
            continue;
        assert_int_equal(match_input_assign(in, r, o, a), 0);
        if (forge && memcmp(o->id, s->orders[0], 32) == 0) {
            /* The hub favours the factory the matcher did not choose. */
            for (uint32_t p = 0; p < a->npieces; p++) {
                const uint8_t *north = keys_sign_pk(s->north), *south = keys_sign_pk(s->south);
                memcpy(a->pieces[p].factory, memcmp(a->pieces[p].factory, north, 32) ? north : south,
                       32);
            }
            s->forged_at = ledger_size(c->l) + n;
        }
        uint8_t *payload = NULL;
        size_t plen = 0, elen = 0;
        assert_int_equal(payload_assign_encode(a, &payload, &plen), 0);
        envelope_spec_t spec = {.kind = ENVELOPE_ASSIGN, .timestamp_ms = util_now_ms(),
                                .payload = payload, .payload_len = plen};
        memcpy(spec.subject, o->id, 32);
        uint8_t *buf = c->buf + n * ENVELOPE_MAX;
        assert_int_equal(envelope_chain_seal(&s->hub_chain, &spec, s->hub, buf, ENVELOPE_MAX, &elen), 0);
        assert_int_equal(envelope_open(&envs[n], buf, elen), 0);
        free(payload);
        n++;
    }
    if (n) {
        if (!s->first_assign)
            s->first_assign = ledger_size(c->l);
        s->time_ms = util_now_ms();
        assert_int_equal(ledger_append(c->l, envs, n, s->time_ms, res), 0);
        for (size_t i = 0; i < n; i++)
            if (res[i].code != 0)
                fail_msg("scenario: assign refused: %s", cofab_strerror(res[i].code));
    }
    matcher_result_destroy(&r);
    match_input_destroy(&in);
    free(a);
}

static const keys_t *
s_factory_key(const scen_t *s, const uint8_t pk[32])
{
    return memcmp(pk, keys_sign_pk(s->north), 32) == 0 ? s->north : s->south;
}

static void
s_simple(s_ctx_t *c, const keys_t *k, int kind, const uint8_t order[32], int stage)
{
    uint8_t *p = NULL;
    size_t n = 0;
    if (kind == ENVELOPE_ACCEPT) {
        payload_accept_t a = {.note = ""};
        assert_int_equal(payload_accept_encode(&a, &p, &n), 0);
    } else if (kind == ENVELOPE_DECLINE) {
        payload_decline_t d = {.reason = "milling machine down"};
        assert_int_equal(payload_decline_encode(&d, &p, &n), 0);
    } else if (kind == ENVELOPE_STATUS) {
        payload_status_t st = {.stage = stage};
        assert_int_equal(payload_status_encode(&st, &p, &n), 0);
    } else {
        payload_cancel_t cn = {.reason = "design changed"};
        assert_int_equal(payload_cancel_encode(&cn, &p, &n), 0);
    }
    s_append(c, k, kind, order, p, n);
}

void
scen_build(scen_t *s, const char *dir, int forge)
{
    memset(s, 0, sizeof *s);
    s->hub = keys_generate("hub");
    s->op = keys_generate("operator");
    s->north = keys_generate("north");
    s->south = keys_generate("south");
    s->alice = keys_generate("alice");
    assert_true(s->hub && s->op && s->north && s->south && s->alice);
    envelope_chain_init(&s->hub_chain);
    s_ctx_t c = {.s = s, .buf = malloc((size_t) SCEN_ORDERS * ENVELOPE_MAX),
                 .cache = match_input_cache_new()};
    assert_true(c.buf && c.cache);
    envelope_chain_init(&c.op);
    envelope_chain_init(&c.north);
    envelope_chain_init(&c.south);
    envelope_chain_init(&c.alice);

    payload_genesis_t *g = malloc(sizeof *g);
    assert_non_null(g);
    payload_genesis_init(g);
    snprintf(g->origin, sizeof g->origin, "scenario.example/log");
    keys_verifier(s->hub, &g->hub);
    memcpy(g->hub_transport, keys_curve_pk(s->hub), 32);
    keys_verifier(s->op, &g->operator_key);
    const keys_t *founders[2] = {s->north, s->south};
    for (int i = 0; i < 2; i++) {
        keys_verifier(founders[i], &g->members[i].key);
        memcpy(g->members[i].transport, keys_curve_pk(founders[i]), 32);
        g->members[i].role = PAYLOAD_ROLE_FACTORY;
    }
    g->nmembers = 2;
    g->witness_k = 1;
    g->customers = PAYLOAD_CUSTOMERS_OPEN;
    g->ack_timeout_s = 3600;
    uint8_t *p = NULL;
    size_t n = 0, elen = 0;
    assert_int_equal(payload_genesis_encode(g, &p, &n), 0);
    envelope_spec_t spec = {.kind = ENVELOPE_GENESIS, .timestamp_ms = util_now_ms(), .payload = p,
                            .payload_len = n};
    envelope_t e;
    assert_int_equal(envelope_chain_seal(&c.op, &spec, s->op, c.buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, c.buf, elen), 0);
    ledger_options_t o = {.apply = policy_apply, .no_sync = 1};
    assert_int_equal(ledger_create(&c.l, dir, g->origin, &e, &o), 0);
    free(p);
    free(g);

    s_capacity(&c, s->north, 1250, 48856613);
    s_capacity(&c, s->south, 1900, 41902782);
    uint32_t today = (uint32_t) (util_now_ms() / S_DAY_MS);
    for (int i = 0; i < SCEN_ORDERS; i++) {
        payload_order_t ord;
        pfix_order(&ord);
        ord.items[0].qty = ord.items[1].qty = 100 + 20 * i;
        ord.due_day = today + 25;
        randombytes_buf(s->orders[i], 32);
        assert_int_equal(payload_order_encode(&ord, &p, &n), 0);
        s_append(&c, s->alice, ENVELOPE_ORDER, s->orders[i], p, n);
    }
    s_round(&c, forge);

    /* Factories answer; the factory of order 1 declines. */
    policy_order_t po;
    uint8_t decliner[32] = {0};
    for (int i = 0; i < SCEN_ORDERS; i++) {
        if (policy_order(c.l, s->orders[i], &po) != 0 || po.state != POLICY_ASSIGNED)
            continue;
        for (unsigned f = 0; f < po.nfactories; f++) {
            int decline = i == 1 && f == 0;
            if (decline)
                memcpy(decliner, po.factories[f], 32);
            s_simple(&c, s_factory_key(s, po.factories[f]),
                     decline ? ENVELOPE_DECLINE : ENVELOPE_ACCEPT, s->orders[i], 0);
        }
    }
    /* The hub sends the declined order back to matching, then matches again. */
    payload_reassign_t ra = {.why = PAYLOAD_WHY_DECLINED, .basis = ledger_size(c.l)};
    memcpy(ra.factory, decliner, 32);
    assert_int_equal(payload_reassign_encode(&ra, &p, &n), 0);
    s_append(&c, s->hub, ENVELOPE_REASSIGN, s->orders[1], p, n);
    /* North republishes the same capacity: a new record the cache must
     * notice (same content, so the story does not change). */
    s_capacity(&c, s->north, 1250, 48856613);
    s_round(&c, 0);
    if (policy_order(c.l, s->orders[1], &po) == 0 && po.state == POLICY_ASSIGNED)
        for (unsigned f = 0; f < po.nfactories; f++)
            s_simple(&c, s_factory_key(s, po.factories[f]), ENVELOPE_ACCEPT, s->orders[1], 0);
    /* Order 0 goes all the way; order 2 is cancelled. */
    assert_int_equal(policy_order(c.l, s->orders[0], &po), 0);
    for (int stage = PAYLOAD_STAGE_IN_PRODUCTION; stage <= PAYLOAD_STAGE_DELIVERED; stage++)
        for (unsigned f = 0; f < po.nfactories; f++)
            s_simple(&c, s_factory_key(s, po.factories[f]), ENVELOPE_STATUS, s->orders[0], stage);
    s_simple(&c, s->alice, ENVELOPE_CANCEL, s->orders[2], 0);
    ledger_destroy(&c.l);
    free(c.buf);
    match_input_cache_destroy(&c.cache);
    scen_checkpoint(s, dir, 1);
}

void
scen_checkpoint(scen_t *s, const char *dir, int cosign)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.no_sync = 1};
    char note[LEDGER_CHECKPOINT_MAX], cosigned[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_open(&l, dir, &o), 0);
    assert_int_equal(ledger_checkpoint_sign(l, s->hub, note, sizeof note), 0);
    if (cosign) {
        assert_int_equal(note_cosign(note, strlen(note), keys_name(s->north), keys_sign_sk(s->north),
                                     util_now_ms() / 1000, cosigned, sizeof cosigned),
                         0);
        checkpoint_t cp;
        assert_int_equal(checkpoint_from_note(&cp, cosigned, strlen(cosigned)), 0);
        assert_int_equal(ledger_checkpoint_put(l, cp.size, cosigned, strlen(cosigned)), 0);
    }
    ledger_destroy(&l);
}

uint64_t
scen_append_raw(const char *dir, const keys_t *k, int kind, const uint8_t subject[32],
                uint8_t *payload, size_t len)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.no_sync = 1};
    assert_int_equal(ledger_open(&l, dir, &o), 0);
    envelope_spec_t spec = {.kind = kind, .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = len};
    memcpy(spec.subject, subject, 32);
    assert_int_equal(ledger_author_last(l, keys_sign_pk(k), &spec.author_seq, spec.author_prev), 0);
    spec.author_seq++;
    uint8_t *buf = malloc(ENVELOPE_MAX);
    size_t elen = 0;
    envelope_t e;
    ledger_result_t res;
    assert_non_null(buf);
    assert_int_equal(envelope_seal(&spec, k, buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, buf, elen), 0);
    assert_int_equal(ledger_append(l, &e, 1, util_now_ms(), &res), 0);
    assert_int_equal(res.code, 0);
    ledger_destroy(&l);
    free(buf);
    free(payload);
    return res.seq;
}

void
scen_free(scen_t *s)
{
    keys_destroy(&s->hub);
    keys_destroy(&s->op);
    keys_destroy(&s->north);
    keys_destroy(&s->south);
    keys_destroy(&s->alice);
}
