/* test_hub_match.c — the hub's rounds: a round's reassignments in one commit, a refused record skipped, an order that left many factories matched again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>
#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/audit_rules.h"
#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "support/fixture.h"
/* White-box: the rounds' private helpers are compiled into this test (so
 * the library's copy of hub_match.o is not linked), to hand the batch
 * helper records the rules refuse; and the ledger's LMDB environment, to
 * count commits. */
#include "../../node/hub_match.c"
#include "../../ledger/ledger_internal.h"

#define S_MAX_FACTORIES 18
#define S_DAY_MS 86400000ull

typedef struct {
    char dir[256];                        /* keys and the hub's ledger */
    config_hub_t *cfg;                    /* the hub's configuration */
    hub_t *hub;                           /* built, never run: this thread is its writer */
    keys_t *f[S_MAX_FACTORIES];           /* factory members f00, f01, ... */
    envelope_chain_t fc[S_MAX_FACTORIES]; /* their author chains */
    int nf;                               /* how many */
    keys_t *cust;                         /* a customer (open alliance) */
    envelope_chain_t cc;                  /* its chain */
    uint8_t *buf;                         /* sealing room */
} s_fx_t;

static keys_t *
s_write_keys(s_fx_t *fx, const char *name)
{
    keys_t *k = keys_generate(name);
    assert_non_null(k);
    assert_int_equal(keys_write(k, fx->dir), 0);
    return k;
}

/* A hub over a fresh ledger with nf factory members. */
static s_fx_t *
s_fx_new(int nf)
{
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fixture_tmpdir(fx->dir);
    fx->buf = malloc(ENVELOPE_MAX);
    keys_t *k = s_write_keys(fx, "hub");
    keys_destroy(&k);
    k = s_write_keys(fx, "operator");
    keys_destroy(&k);
    config_hub_t *h = fx->cfg = calloc(1, sizeof *h);
    assert_non_null(h);
    snprintf(h->origin, sizeof h->origin, "cofab.test/hub-match");
    snprintf(h->data_dir, sizeof h->data_dir, "%s/ledger", fx->dir);
    snprintf(h->key, sizeof h->key, "%s/hub.key", fx->dir);
    snprintf(h->operator_pub, sizeof h->operator_pub, "%s/operator.pub", fx->dir);
    snprintf(h->submit, sizeof h->submit, "tcp://127.0.0.1:*");
    snprintf(h->feed, sizeof h->feed, "tcp://127.0.0.1:*");
    snprintf(h->customers, sizeof h->customers, "open");
    h->verify_threads = 1;
    h->ack_timeout_s = 1;
    matcher_params_default(&h->params);
    fx->nf = nf;
    for (int i = 0; i < nf; i++) {
        char name[16];
        snprintf(name, sizeof name, "f%02d", i);
        fx->f[i] = s_write_keys(fx, name);
        envelope_chain_init(&fx->fc[i]);
        snprintf(h->members[i].name, sizeof h->members[i].name, "%s", name);
        snprintf(h->members[i].pub, sizeof h->members[i].pub, "%s/%s.pub", fx->dir, name);
        snprintf(h->members[i].role, sizeof h->members[i].role, "factory");
    }
    h->nmembers = (size_t) nf;
    fx->cust = keys_generate("customer");
    envelope_chain_init(&fx->cc);
    fx->hub = hub_new(h);
    assert_non_null(fx->hub);
    return fx;
}

static void
s_fx_free(s_fx_t *fx)
{
    hub_destroy(&fx->hub);
    for (int i = 0; i < fx->nf; i++)
        keys_destroy(&fx->f[i]);
    keys_destroy(&fx->cust);
    fixture_rmtree(fx->dir);
    free(fx->cfg);
    free(fx->buf);
    free(fx);
}

/* Appends the next envelope of k to the hub's ledger; returns its code. */
static int
s_append(s_fx_t *fx, const keys_t *k, envelope_chain_t *chain, int kind, const uint8_t *subject,
         uint8_t *payload, size_t len)
{
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = len};
    if (subject)
        memcpy(spec.subject, subject, 32);
    size_t elen = 0;
    envelope_t e;
    ledger_result_t r;
    assert_int_equal(envelope_chain_seal(chain, &spec, k, fx->buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, fx->buf, elen), 0);
    assert_int_equal(ledger_append(fx->hub->ledger, &e, 1, util_now_ms(), &r), 0);
    free(payload);
    return r.code;
}

static void
s_capacity(s_fx_t *fx, int i)
{
    payload_capacity_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->start_day = (uint32_t) (util_now_ms() / S_DAY_MS);
    c->valid_until_day = c->start_day + 60;
    c->lead_days = 1;
    c->lat_e6 = 48000000;
    c->lon_e6 = 2000000;
    c->reserve_pm = -1;
    payload_offer_t *o = &c->offers[0];
    snprintf(o->process, sizeof o->process, "printing");
    snprintf(o->materials[0], sizeof o->materials[0], "paper");
    o->nmaterials = 1;
    o->unit_price = 100 + i; /* distinct: no tie to break */
    o->setup_cost = 1000;
    o->moq = 1;
    o->max_qty = 10000;
    o->ncap = 60;
    for (int d = 0; d < 60; d++)
        o->cap[d] = 1000;
    c->noffers = 1;
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_capacity_encode(c, &p, &len), 0);
    free(c);
    assert_int_equal(s_append(fx, fx->f[i], &fx->fc[i], ENVELOPE_CAPACITY, NULL, p, len), 0);
}

static void
s_order(s_fx_t *fx, uint8_t id[32])
{
    payload_order_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.items[0].process, sizeof o.items[0].process, "printing");
    snprintf(o.items[0].material, sizeof o.items[0].material, "paper");
    o.items[0].qty = 10;
    o.nitems = 1;
    o.due_day = (uint32_t) (util_now_ms() / S_DAY_MS) + 20;
    o.lat_e6 = 48000000;
    o.lon_e6 = 2000000;
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_order_encode(&o, &p, &len), 0);
    randombytes_buf(id, 32);
    assert_int_equal(s_append(fx, fx->cust, &fx->cc, ENVELOPE_ORDER, id, p, len), 0);
}

static void
s_decline(s_fx_t *fx, int i, const uint8_t id[32])
{
    payload_decline_t d = {"machine down"};
    uint8_t *p;
    size_t len;
    assert_int_equal(payload_decline_encode(&d, &p, &len), 0);
    assert_int_equal(s_append(fx, fx->f[i], &fx->fc[i], ENVELOPE_DECLINE, id, p, len), 0);
}

/* The factory an order is assigned to (one piece), or -1. */
static int
s_assignee(s_fx_t *fx, const uint8_t id[32])
{
    policy_order_t o;
    assert_int_equal(policy_order(fx->hub->ledger, id, &o), 0);
    if (o.state != POLICY_ASSIGNED || o.nfactories != 1)
        return -1;
    for (int i = 0; i < fx->nf; i++)
        if (memcmp(o.factories[0], keys_sign_pk(fx->f[i]), 32) == 0)
            return i;
    return -1;
}

/* Write transactions committed so far. */
static size_t
s_commits(s_fx_t *fx)
{
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(fx->hub->ledger->env, &info), 0);
    return info.me_last_txnid;
}

/* The hub's own author chain: its latest sequence number. */
static uint64_t
s_hub_seq(s_fx_t *fx)
{
    uint64_t seq;
    uint8_t hash[32];
    assert_int_equal(ledger_author_last(fx->hub->ledger, keys_sign_pk(fx->hub->keys), &seq, hash),
                     0);
    return seq;
}

/* Signs a checkpoint, then audits the whole ledger with the rules and the
 * matcher replay; fails the test unless it is valid. Returns the replay's
 * count of reassign records. */
static uint64_t
s_audit_clean(s_fx_t *fx)
{
    char note[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_checkpoint_sign(fx->hub->ledger, fx->hub->keys, note, sizeof note), 0);
    audit_rules_t *rules = NULL;
    audit_rules_options_t ro = {.replay = 1};
    assert_int_equal(audit_rules_new(&rules, &ro), 0);
    audit_options_t ao = {.threads = 2, .hook = audit_rules_hook(rules)};
    audit_report_t *r = calloc(1, sizeof *r);
    audit_rules_summary_t sum;
    assert_int_equal(audit_verify(fx->hub->ledger, &ao, r), 0);
    if (!r->valid)
        fail_msg("the hub's ledger does not audit: %s", r->reason);
    assert_int_equal(audit_rules_summary(rules, &sum), 0);
    audit_rules_destroy(&rules);
    free(r);
    return sum.reassigns;
}

/* Every order that timed out in a round goes back in one commit (it was one
 * fsync'd commit per order), and is matched again in one more. */
static void
test_timeouts_reassigned_in_one_commit(void **state)
{
    (void) state;
    enum { NF = 4, N = 24 };
    s_fx_t *fx = s_fx_new(NF);
    uint8_t ids[N][32];
    for (int i = 0; i < NF; i++)
        s_capacity(fx, i);
    for (int i = 0; i < N; i++)
        s_order(fx, ids[i]);
    uint64_t size = ledger_size(fx->hub->ledger);
    assert_int_equal(hub_match_round(fx->hub, fx->hub->pub, util_now_ms()), N);
    assert_int_equal(ledger_size(fx->hub->ledger), size + N);
    int first[N];
    for (int i = 0; i < N; i++) {
        first[i] = s_assignee(fx, ids[i]);
        assert_true(first[i] >= 0);
    }
    /* Nobody answers; the acceptance time (1 s) runs out. The audit checks
     * on the records' own hub times that it had, so it must really pass. */
    nanosleep(&(struct timespec){1, 150000000}, NULL);
    size = ledger_size(fx->hub->ledger);
    size_t commits = s_commits(fx);
    uint64_t hub_seq = s_hub_seq(fx);
    assert_int_equal(hub_match_round(fx->hub, fx->hub->pub, util_now_ms()), 2 * N);
    /* N reassignments in one commit, N new assignments in another. */
    assert_int_equal(ledger_size(fx->hub->ledger), size + 2 * N);
    assert_int_equal(s_commits(fx) - commits, 2);
    assert_int_equal(s_hub_seq(fx), hub_seq + 2 * N);
    for (int i = 0; i < N; i++) {
        policy_order_t o;
        assert_int_equal(policy_order(fx->hub->ledger, ids[i], &o), 0);
        assert_int_equal(o.nexclude, 1);
        assert_memory_equal(o.exclude[0], keys_sign_pk(fx->f[first[i]]), 32);
        int now = s_assignee(fx, ids[i]);
        assert_true(now >= 0 && now != first[i]);
    }
    policy_reliability_t rel;
    uint32_t timeouts = 0;
    for (int i = 0; i < NF; i++) {
        assert_int_equal(policy_reliability(fx->hub->ledger, keys_sign_pk(fx->f[i]), &rel), 0);
        timeouts += rel.timeouts;
    }
    assert_int_equal(timeouts, N);
    assert_int_equal(s_audit_clean(fx), N);
    s_fx_free(fx);
}

/* Builds a reassign(declined) entry for the batch helper. */
static void
s_entry(s_fx_t *fx, s_own_t *o, const uint8_t id[32], int factory)
{
    payload_reassign_t r = {.why = PAYLOAD_WHY_DECLINED, .basis = ledger_size(fx->hub->ledger)};
    memcpy(r.factory, keys_sign_pk(fx->f[factory]), 32);
    memset(o, 0, sizeof *o);
    o->kind = ENVELOPE_REASSIGN;
    memcpy(o->subject, id, 32);
    assert_int_equal(payload_reassign_encode(&r, &o->payload, &o->payload_len), 0);
}

/* A record the rules refuse in the middle of a batch breaks the hub's chain
 * for the ones after it: they are sealed again and stored, and the refused
 * one alone is left out. */
static void
test_refused_record_does_not_block_the_rest(void **state)
{
    (void) state;
    enum { N = 8 };
    s_fx_t *fx = s_fx_new(2);
    s_capacity(fx, 0);
    s_capacity(fx, 1);
    uint8_t ids[N][32];
    for (int i = 0; i < N; i++)
        s_order(fx, ids[i]);
    assert_int_equal(hub_match_round(fx->hub, fx->hub->pub, util_now_ms()), N);
    int who[N];
    for (int i = 0; i < N; i++) {
        who[i] = s_assignee(fx, ids[i]);
        assert_true(who[i] >= 0);
    }
    /* Orders 2 and 5 were not declined: their reassign is refused. */
    for (int i = 0; i < N; i++)
        if (i != 2 && i != 5)
            s_decline(fx, who[i], ids[i]);
    s_own_t *own = calloc(N, sizeof *own);
    assert_non_null(own);
    for (int i = 0; i < N; i++)
        s_entry(fx, &own[i], ids[i], who[i]);
    uint64_t size = ledger_size(fx->hub->ledger), hub_seq = s_hub_seq(fx);
    size_t commits = s_commits(fx);
    assert_int_equal(s_append_own(fx->hub, fx->hub->pub, own, N), N - 2);
    /* Three passes: up to each refusal, then the rest. */
    assert_int_equal(s_commits(fx) - commits, 3);
    assert_int_equal(ledger_size(fx->hub->ledger), size + N - 2);
    assert_int_equal(s_hub_seq(fx), hub_seq + N - 2);
    for (int i = 0; i < N; i++) {
        policy_order_t o;
        assert_int_equal(policy_order(fx->hub->ledger, ids[i], &o), 0);
        if (i == 2 || i == 5) {
            assert_int_equal(own[i].code, COFAB_ESTATE);
            assert_int_equal(o.state, POLICY_ASSIGNED);
            continue;
        }
        assert_int_equal(own[i].code, 0);
        assert_true(own[i].seq >= size && own[i].seq < size + N - 2);
        assert_int_equal(o.state, POLICY_SUBMITTED);
        assert_int_equal(o.last_seq, own[i].seq);
    }
    s_own_free(own, N);

    /* More refusals than passes: the batch stops after S_MAX_PASSES passes
     * (none committed: nothing was stored), and what is left is stored by
     * the next call. */
    uint8_t late[32];
    s_order(fx, late);
    own = calloc(S_MAX_PASSES + 1, sizeof *own);
    assert_non_null(own);
    const int back[N - 2] = {0, 1, 3, 4, 6, 7}; /* already back to matching */
    _Static_assert(S_MAX_PASSES <= N - 2, "enough orders to refuse");
    for (int i = 0; i < S_MAX_PASSES; i++)
        s_entry(fx, &own[i], ids[back[i]], who[back[i]]);
    s_entry(fx, &own[S_MAX_PASSES], ids[2], who[2]);
    s_decline(fx, who[2], ids[2]);
    commits = s_commits(fx);
    assert_int_equal(s_append_own(fx->hub, fx->hub->pub, own, S_MAX_PASSES + 1), 0);
    assert_int_equal(s_commits(fx) - commits, 0);
    for (int i = 0; i < S_MAX_PASSES; i++)
        assert_int_equal(own[i].code, COFAB_ESTATE);
    assert_int_equal(own[S_MAX_PASSES].code, S_NOT_STORED);
    assert_int_equal(s_append_own(fx->hub, fx->hub->pub, own + S_MAX_PASSES, 1), 1);
    assert_int_equal(own[S_MAX_PASSES].code, 0);
    s_own_free(own, S_MAX_PASSES + 1);
    assert_int_equal(s_audit_clean(fx), N - 2 + 1);
    s_fx_free(fx);
}

/* Finding 7 of docs/drills.md: an order that left more than 16 factories
 * used to be refused its 17th reassignment, stayed with a factory that had
 * declined and, since the round stopped there, blocked every other
 * reassignment. Now it keeps going back to matching. */
static void
test_order_leaves_twenty_factories(void **state)
{
    (void) state;
    enum { ROUNDS = 20 };
    s_fx_t *fx = s_fx_new(S_MAX_FACTORIES);
    for (int i = 0; i < S_MAX_FACTORIES; i++)
        s_capacity(fx, i);
    uint8_t id[32], other[32];
    s_order(fx, id);
    s_order(fx, other);
    assert_int_equal(hub_match_round(fx->hub, fx->hub->pub, util_now_ms()), 2);
    int left[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        left[k] = s_assignee(fx, id);
        assert_true(left[k] >= 0);
        /* Never one of the factories it left most recently. */
        for (int j = k - POLICY_MAX_EXCLUDE; j < k; j++)
            if (j >= 0)
                assert_int_not_equal(left[k], left[j]);
        s_decline(fx, left[k], id);
        int o2 = s_assignee(fx, other);
        assert_true(o2 >= 0);
        s_decline(fx, o2, other); /* the other order comes along every time */
        /* Two reassignments (one batch) and two new assignments. */
        assert_int_equal(hub_match_round(fx->hub, fx->hub->pub, util_now_ms()), 4);
        assert_true(s_assignee(fx, other) >= 0);
    }
    policy_order_t o;
    assert_int_equal(policy_order(fx->hub->ledger, id, &o), 0);
    assert_int_equal(o.state, POLICY_ASSIGNED);
    assert_int_equal(o.nexclude, POLICY_MAX_EXCLUDE);
    for (int j = 0; j < POLICY_MAX_EXCLUDE; j++)
        assert_memory_equal(o.exclude[j],
                            keys_sign_pk(fx->f[left[ROUNDS - POLICY_MAX_EXCLUDE + j]]), 32);
    assert_int_equal(s_audit_clean(fx), 2 * ROUNDS);
    s_fx_free(fx);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeouts_reassigned_in_one_commit),
        cmocka_unit_test(test_refused_record_does_not_block_the_rest),
        cmocka_unit_test(test_order_leaves_twenty_factories),
    };
    return cmocka_run_group_tests_name("hub_match", tests, NULL, NULL);
}
