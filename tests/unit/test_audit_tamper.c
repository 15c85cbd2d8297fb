/* test_audit_tamper.c — each kind of tampering, made in a copy of a real alliance ledger, is named by `audit verify`.
 *
 * The ledger is the integration scenario's when tests/cli/alliance.sh runs
 * this binary with COFAB_TAMPER_LEDGER (the hub's data dir) and
 * COFAB_TAMPER_KEYS (its keys dir, with hub, factory and customer keys
 * named by COFAB_TAMPER_FACTORIES and COFAB_TAMPER_CUSTOMER); run alone, it
 * builds the in-process history of support/scen.c and tampers with that.
 * Each test works on a fresh copy; the original is never touched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/audit_rules.h"
#include "cofab/error.h"
#include "cofab/merkle.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "support/fixture.h"
#include "support/scen.h"

#define S_MAX_FACTORIES 4

typedef struct {
    char src[512];                        /* the ledger tampered with (copied, never changed) */
    char tmp[256];                        /* our temp dir: the scenario and the copies */
    char copy[320];                       /* the copy under test */
    keys_t *hub;                          /* re-signs what a dishonest hub would */
    keys_t *factories[S_MAX_FACTORIES];   /* witnesses and factories */
    size_t nfactories;
    keys_t *customer;                     /* an author whose chain gets forked */
    scen_t scen;                          /* when the history is built here */
    int built;                            /* 1: scen holds the keys */
    audit_report_t r;                     /* last verdict */
} s_world_t;

static keys_t *
s_load_key(const char *dir, const char *name)
{
    char path[600];
    keys_t *k = NULL;
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    if (keys_load(path, &k) != 0)
        fail_msg("cannot load %s", path);
    return k;
}

static const char *
s_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int
s_setup(void **state)
{
    s_world_t *w = calloc(1, sizeof *w);
    assert_non_null(w);
    fixture_tmpdir(w->tmp);
    const char *ledger = getenv("COFAB_TAMPER_LEDGER"), *keys = getenv("COFAB_TAMPER_KEYS");
    if (ledger && keys) {
        snprintf(w->src, sizeof w->src, "%s", ledger);
        w->hub = s_load_key(keys, "hub");
        char names[256];
        snprintf(names, sizeof names, "%s", s_env("COFAB_TAMPER_FACTORIES", ""));
        for (char *save = NULL, *n = strtok_r(names, " ", &save); n && w->nfactories < S_MAX_FACTORIES;
             n = strtok_r(NULL, " ", &save))
            w->factories[w->nfactories++] = s_load_key(keys, n);
        w->customer = s_load_key(keys, s_env("COFAB_TAMPER_CUSTOMER", "c1"));
        assert_true(w->nfactories >= 2);
    } else {
        snprintf(w->src, sizeof w->src, "%s/history", w->tmp);
        scen_build(&w->scen, w->src, 0);
        w->built = 1;
        w->hub = w->scen.hub;
        w->factories[0] = w->scen.north;
        w->factories[1] = w->scen.south;
        w->nfactories = 2;
        w->customer = w->scen.alice;
    }
    snprintf(w->copy, sizeof w->copy, "%s/copy", w->tmp);
    *state = w;
    return 0;
}

static int
s_teardown(void **state)
{
    s_world_t *w = *state;
    if (w->built) {
        scen_free(&w->scen);
    } else {
        keys_destroy(&w->hub);
        for (size_t i = 0; i < w->nfactories; i++)
            keys_destroy(&w->factories[i]);
        keys_destroy(&w->customer);
    }
    fixture_rmtree(w->tmp);
    free(w);
    return 0;
}

/* A fresh copy of the source ledger in w->copy. */
static void
s_copy(s_world_t *w)
{
    fixture_rmtree(w->copy);
    assert_int_equal(util_mkdir_p(w->copy, 0700), 0);
    char from[600], to[600];
    snprintf(from, sizeof from, "%s/data.mdb", w->src);
    snprintf(to, sizeof to, "%s/data.mdb", w->copy);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(util_read_file(from, (size_t) 1 << 32, &buf, &len), 0);
    assert_int_equal(util_write_file_excl(to, buf, len, 0600), 0);
    free(buf);
}

static void
s_audit(s_world_t *w, int replay)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, w->copy, &o), 0);
    audit_rules_t *rules = NULL;
    audit_rules_options_t ro = {.replay = replay};
    assert_int_equal(audit_rules_new(&rules, &ro), 0);
    audit_options_t ao = {.threads = 2, .hook = audit_rules_hook(rules)};
    assert_int_equal(audit_verify(l, &ao, &w->r), 0);
    audit_rules_destroy(&rules);
    ledger_destroy(&l);
}

/* Positions of the records of a kind in the copy. */
static uint64_t
s_find_kind(s_world_t *w, int kind, uint64_t from)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, w->copy, &o), 0);
    uint64_t found = 0, size = ledger_size(l);
    for (uint64_t i = from; i < size && !found; i++) {
        uint8_t *b = NULL;
        size_t n = 0;
        ledger_record_t rec;
        envelope_t e;
        assert_int_equal(ledger_get(l, i, &b, &n), 0);
        if (ledger_record_decode(&rec, b, n) == 0 &&
            envelope_decode(&e, rec.envelope, rec.envelope_len) == 0 && e.kind == kind)
            found = i;
        free(b);
    }
    ledger_destroy(&l);
    assert_true(found > 0);
    return found;
}

/* A new checkpoint by the hub, cosigned by every factory we hold, as a
 * dishonest hub with complicit (or fooled) witnesses would publish. */
static void
s_resign(s_world_t *w, ledger_t *l, size_t cosigners)
{
    char note[LEDGER_CHECKPOINT_MAX], next[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_checkpoint_sign(l, w->hub, note, sizeof note), 0);
    for (size_t i = 0; i < cosigners && i < w->nfactories; i++) {
        assert_int_equal(note_cosign(note, strlen(note), keys_name(w->factories[i]),
                                     keys_sign_sk(w->factories[i]), util_now_ms() / 1000, next,
                                     sizeof next),
                         0);
        memcpy(note, next, sizeof note);
    }
    checkpoint_t cp;
    assert_int_equal(checkpoint_from_note(&cp, note, strlen(note)), 0);
    assert_int_equal(ledger_checkpoint_put(l, cp.size, note, strlen(note)), 0);
}

static void
test_clean_copy_audits_with_replay(void **state)
{
    s_world_t *w = *state;
    s_copy(w);
    s_audit(w, 1);
    if (!w->r.valid)
        fail_msg("the untouched copy does not audit: %s", w->r.reason);
}

static void
test_changed_byte_dropped_and_reordered_records(void **state)
{
    s_world_t *w = *state;
    s_copy(w);
    uint64_t at = s_find_kind(w, ENVELOPE_ASSIGN, 1);
    assert_int_equal(fixture_flip_record_byte(w->copy, at, 60), 0);
    s_audit(w, 1);
    assert_false(w->r.valid);
    assert_int_equal(w->r.bad_record, (int64_t) at);

    s_copy(w);
    assert_int_equal(fixture_drop_record(w->copy, at), 0);
    s_audit(w, 1);
    assert_false(w->r.valid);
    assert_int_equal(w->r.bad_record, (int64_t) at);
    assert_non_null(strstr(w->r.reason, "missing"));

    s_copy(w);
    assert_int_equal(fixture_swap_records(w->copy, at, at + 1), 0);
    s_audit(w, 1);
    assert_false(w->r.valid);
    assert_int_equal(w->r.bad_record, (int64_t) at);
    assert_int_equal(w->r.code, COFAB_ECHAIN);
}

static int
s_other_factory(void *ctx, const uint8_t key[32])
{
    uint8_t *io = ctx; /* in: the chosen factory; out: another one */
    if (memcmp(io, key, 32) != 0 && sodium_is_zero(io + 32, 32))
        memcpy(io + 32, key, 32);
    return 0;
}

/* The history up to the first assign, then that assign re-signed by the
 * hub naming another factory, a fresh checkpoint and its cosignatures. */
static void
test_assign_resigned_for_another_factory(void **state)
{
    s_world_t *w = *state;
    s_copy(w);
    uint64_t at = s_find_kind(w, ENVELOPE_ASSIGN, 1);
    ledger_t *src = NULL, *dst = NULL;
    ledger_options_t ro = {.read_only = 1};
    assert_int_equal(ledger_open(&src, w->copy, &ro), 0);
    char forged[300];
    snprintf(forged, sizeof forged, "%s/forged", w->tmp);
    uint8_t *bufs[2] = {NULL, NULL};
    size_t lens[2];
    ledger_record_t rec;
    envelope_t e;
    ledger_result_t res;
    ledger_options_t wo = {.no_sync = 1, .apply = policy_apply};
    for (uint64_t i = 0; i < at; i++) {
        assert_int_equal(ledger_get(src, i, &bufs[0], &lens[0]), 0);
        assert_int_equal(ledger_record_decode(&rec, bufs[0], lens[0]), 0);
        assert_int_equal(envelope_open(&e, rec.envelope, rec.envelope_len), 0);
        if (i == 0)
            assert_int_equal(ledger_create_replica(&dst, forged, ledger_origin(src), &rec, &e, &wo), 0);
        else
            assert_int_equal(ledger_replicate(dst, &rec, &e, 1, &res), 0);
        assert_true(i == 0 || res.code == 0);
        free(bufs[0]);
    }
    /* The assign the matcher made, with its factory swapped for another. */
    payload_assign_t *a = malloc(sizeof *a);
    assert_int_equal(ledger_get(src, at, &bufs[1], &lens[1]), 0);
    assert_int_equal(ledger_record_decode(&rec, bufs[1], lens[1]), 0);
    assert_int_equal(envelope_decode(&e, rec.envelope, rec.envelope_len), 0);
    assert_int_equal(payload_assign_decode(a, e.payload, e.payload_len), 0);
    uint8_t io[64] = {0};
    memcpy(io, a->pieces[0].factory, 32);
    assert_int_equal(policy_factories(dst, s_other_factory, io), 0);
    assert_false(sodium_is_zero(io + 32, 32));
    for (uint32_t p = 0; p < a->npieces; p++)
        memcpy(a->pieces[p].factory, io + 32, 32);
    uint8_t *payload = NULL, *env = malloc(ENVELOPE_MAX);
    size_t plen = 0, elen = 0;
    assert_int_equal(payload_assign_encode(a, &payload, &plen), 0);
    envelope_spec_t spec = {.kind = ENVELOPE_ASSIGN, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = plen};
    memcpy(spec.subject, e.subject, 32);
    assert_int_equal(ledger_author_last(dst, keys_sign_pk(w->hub), &spec.author_seq, spec.author_prev), 0);
    spec.author_seq++;
    assert_int_equal(envelope_seal(&spec, w->hub, env, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, env, elen), 0);
    assert_int_equal(ledger_append(dst, &e, 1, rec.time_ms, &res), 0);
    assert_int_equal(res.code, 0); /* the rules alone do not see it */
    s_resign(w, dst, w->nfactories);
    ledger_destroy(&dst);
    ledger_destroy(&src);
    snprintf(w->copy, sizeof w->copy, "%s", forged);

    s_audit(w, 0);
    assert_true(w->r.valid);
    s_audit(w, 1);
    assert_false(w->r.valid);
    assert_int_equal(w->r.code, COFAB_EDECISION);
    assert_int_equal(w->r.bad_record, (int64_t) at);
    snprintf(w->copy, sizeof w->copy, "%s/copy", w->tmp);
    free(a);
    free(payload);
    free(env);
    free(bufs[1]);
}

/* Appends one envelope to the copy without the rules (a rogue hub), then
 * a checkpoint cosigned by `cosigners` witnesses. */
static uint64_t
s_append_raw(s_world_t *w, const keys_t *k, int kind, const uint8_t subject[32], uint8_t *payload,
             size_t len, size_t cosigners)
{
    uint64_t seq = scen_append_raw(w->copy, k, kind, subject, payload, len);
    ledger_t *l = NULL;
    ledger_options_t o = {.no_sync = 1};
    assert_int_equal(ledger_open(&l, w->copy, &o), 0);
    s_resign(w, l, cosigners);
    ledger_destroy(&l);
    return seq;
}

typedef struct {
    ledger_t *l;                /* the copy */
    const uint8_t *factory;     /* who must not hold the order */
    uint8_t found[32];          /* an order assigned to someone else */
    int have;                   /* 1 once found */
} s_pick_t;

static int
s_pick_order(void *ctx, const uint8_t id[32])
{
    s_pick_t *p = ctx;
    policy_order_t o;
    if (p->have || policy_order(p->l, id, &o) != 0)
        return 0;
    for (unsigned i = 0; i < o.nfactories; i++)
        if (memcmp(o.factories[i], p->factory, 32) == 0)
            return 0;
    memcpy(p->found, id, 32);
    p->have = 1;
    return 0;
}

static void
test_status_by_the_wrong_factory(void **state)
{
    s_world_t *w = *state;
    s_copy(w);
    /* An order the first factory does not hold (another's, or waiting for
     * one): it posts a status for it anyway. */
    s_pick_t pick = {.factory = keys_sign_pk(w->factories[0])};
    ledger_options_t ro = {.read_only = 1};
    assert_int_equal(ledger_open(&pick.l, w->copy, &ro), 0);
    assert_int_equal(policy_orders(pick.l, s_pick_order, &pick), 0);
    ledger_destroy(&pick.l);
    if (!pick.have) { /* every open order is the first factory's: ask the second */
        pick.factory = keys_sign_pk(w->factories[1]);
        assert_int_equal(ledger_open(&pick.l, w->copy, &ro), 0);
        assert_int_equal(policy_orders(pick.l, s_pick_order, &pick), 0);
        ledger_destroy(&pick.l);
    }
    assert_true(pick.have);
    const keys_t *wrong = pick.factory == keys_sign_pk(w->factories[0]) ? w->factories[0]
                                                                       : w->factories[1];
    payload_status_t st = {.stage = PAYLOAD_STAGE_SHIPPED};
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(payload_status_encode(&st, &p, &n), 0);
    uint64_t at = s_append_raw(w, wrong, ENVELOPE_STATUS, pick.found, p, n, w->nfactories);
    s_audit(w, 0);
    assert_false(w->r.valid);
    assert_int_equal(w->r.bad_record, (int64_t) at);
    assert_true(w->r.code == COFAB_EPERM || w->r.code == COFAB_ESTATE);
    assert_non_null(strstr(w->r.reason, "status by"));
}

static void
test_checkpoint_without_enough_cosignatures(void **state)
{
    s_world_t *w = *state;
    s_copy(w);
    uint8_t *p = (uint8_t *) strdup("operator notice");
    s_append_raw(w, w->hub, ENVELOPE_NOTE, (const uint8_t[32]){0}, p, 15, 0);
    s_audit(w, 0);
    assert_false(w->r.valid);
    assert_int_equal(w->r.code, COFAB_EWITNESS);
    assert_int_equal(w->r.bad_checkpoint, (int64_t) w->r.latest.size);
    assert_true(w->r.latest_cosigned < w->r.quorum);
}

static int
s_skip_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    (void) ctx, (void) level, (void) index, (void) hash;
    return 0;
}

static int
s_put_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    return fixture_put_tree_node(ctx, level, index, hash);
}

/* A second envelope numbered 1 by the customer, appended with a correct
 * record link and tree: only the author chain gives it away. */
static void
test_forked_author(void **state)
{
    s_world_t *w = *state;
    s_copy(w);
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, w->copy, &o), 0);
    uint64_t size = ledger_size(l), first = 0;
    assert_int_equal(ledger_author_find(l, keys_sign_pk(w->customer), 1, &first), 0);
    merkle_frontier_t f;
    merkle_frontier_init(&f);
    uint8_t head[32];
    for (uint64_t i = 0; i < size; i++) {
        uint8_t *b = NULL;
        size_t n = 0;
        assert_int_equal(ledger_get(l, i, &b, &n), 0);
        merkle_leaf_hash(b, n, head);
        merkle_frontier_append(&f, head, s_skip_node, NULL);
        free(b);
    }
    ledger_destroy(&l);
    uint8_t payload[] = "the same number, another story";
    envelope_spec_t spec = {.kind = ENVELOPE_NOTE, .author_seq = 1, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = sizeof payload};
    uint8_t *env = malloc(ENVELOPE_MAX), *rec = malloc(LEDGER_RECORD_MAX), leaf[32];
    size_t elen = 0;
    assert_int_equal(envelope_seal(&spec, w->customer, env, ENVELOPE_MAX, &elen), 0);
    size_t rlen = ledger_record_encode(rec, LEDGER_RECORD_MAX, size, util_now_ms(), head, env, elen);
    assert_true(rlen > 0);
    assert_int_equal(fixture_put_record(w->copy, size, rec, rlen), 0);
    merkle_leaf_hash(rec, rlen, leaf);
    assert_int_equal(merkle_frontier_append(&f, leaf, s_put_node, w->copy), 0);
    s_audit(w, 0);
    assert_false(w->r.valid);
    assert_int_equal(w->r.code, COFAB_EFORK);
    assert_int_equal(w->r.bad_record, (int64_t) size);
    assert_int_equal(w->r.related_record, (int64_t) first);
    free(env);
    free(rec);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_copy_audits_with_replay),
        cmocka_unit_test(test_changed_byte_dropped_and_reordered_records),
        cmocka_unit_test(test_assign_resigned_for_another_factory),
        cmocka_unit_test(test_status_by_the_wrong_factory),
        cmocka_unit_test(test_checkpoint_without_enough_cosignatures),
        cmocka_unit_test(test_forked_author),
    };
    return cmocka_run_group_tests_name("audit_tamper", tests, s_setup, s_teardown);
}
