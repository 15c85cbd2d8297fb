/* test_audit_rules.c — the full audit on an alliance history: clean with --replay, and each kind of tampering named. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/audit_rules.h"
#include "cofab/error.h"
#include "cofab/merkle.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "cofab/witness.h"
#include "support/fixture.h"
#include "support/scen.h"

typedef struct {
    char dir[256];              /* the ledger under test */
    scen_t s;                   /* how it was made */
    audit_report_t r;           /* the last verdict */
    audit_rules_summary_t sum;  /* the last replay summary */
} s_state_t;

static int
s_setup(void **state)
{
    s_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    fixture_tmpdir(st->dir);
    *state = st;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *st = *state;
    scen_free(&st->s);
    fixture_rmtree(st->dir);
    free(st);
    return 0;
}

/* Runs the audit with the rules (and the replay when asked). */
static void
s_audit(s_state_t *st, int replay, const witness_policy_t *policy)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, st->dir, &o), 0);
    audit_rules_t *rules = NULL;
    audit_rules_options_t ro = {.replay = replay};
    assert_int_equal(audit_rules_new(&rules, &ro), 0);
    audit_options_t ao = {.threads = 2, .hook = audit_rules_hook(rules), .policy = policy};
    assert_int_equal(audit_verify(l, &ao, &st->r), 0);
    int rc = audit_rules_summary(rules, &st->sum);
    assert_true(rc == 0 || rc == COFAB_ENOTFOUND);
    audit_rules_destroy(&rules);
    audit_rules_destroy(&rules); /* safe twice */
    ledger_destroy(&l);
}

static void
test_clean_history_replays(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 0);
    s_audit(st, 1, NULL);
    if (!st->r.valid)
        fail_msg("clean history refused: %s", st->r.reason);
    /* Everything the story did is seen by the replay. */
    assert_int_equal(st->sum.orders, SCEN_ORDERS);
    assert_int_equal(st->sum.by_state[POLICY_DELIVERED], 1);
    assert_int_equal(st->sum.by_state[POLICY_CANCELLED], 1);
    assert_true(st->sum.rounds >= 2);
    assert_true(st->sum.assigns >= SCEN_ORDERS);
    assert_int_equal(st->sum.reassigns, 1);
    assert_int_equal(st->sum.nfactories, 2);
    assert_int_equal(st->r.quorum, 1);
    assert_int_equal(st->r.latest_cosigned, 1);
    assert_true(st->r.witnessed_size > 0);
}

static void
test_forged_assign_caught_only_by_replay(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 1);
    assert_true(st->s.forged_at > 0);
    /* Signed by the hub and allowed by the rules: only the replay sees it. */
    s_audit(st, 0, NULL);
    assert_true(st->r.valid);
    s_audit(st, 1, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.code, COFAB_EDECISION);
    assert_int_equal(st->r.bad_record, (int64_t) st->s.forged_at);
    assert_non_null(strstr(st->r.reason, "differs from the matcher replayed"));
}

static void
test_byte_drop_and_reorder_named(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 0);
    uint64_t at = st->s.first_assign + 1;
    assert_int_equal(fixture_flip_record_byte(st->dir, at, 80), 0);
    s_audit(st, 1, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.bad_record, (int64_t) at);
    assert_int_equal(fixture_flip_record_byte(st->dir, at, 80), 0); /* undo */
    s_audit(st, 1, NULL);
    assert_true(st->r.valid);

    assert_int_equal(fixture_swap_records(st->dir, at, at + 1), 0);
    s_audit(st, 1, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.bad_record, (int64_t) at);
    assert_int_equal(st->r.code, COFAB_ECHAIN);
    assert_int_equal(fixture_swap_records(st->dir, at, at + 1), 0);

    assert_int_equal(fixture_drop_record(st->dir, at), 0);
    s_audit(st, 1, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.bad_record, (int64_t) at);
    assert_non_null(strstr(st->r.reason, "missing"));
}

/* Appends one envelope without the rules (as a rogue hub would). */
static uint64_t
s_append_raw(s_state_t *st, const keys_t *k, int kind, const uint8_t subject[32], uint8_t *payload,
             size_t len)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.no_sync = 1};
    assert_int_equal(ledger_open(&l, st->dir, &o), 0);
    envelope_spec_t spec = {.kind = kind, .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = len};
    memcpy(spec.subject, subject, 32);
    assert_int_equal(ledger_author_last(l, keys_sign_pk(k), &spec.author_seq, spec.author_prev), 0);
    spec.author_seq++;
    uint8_t *buf = malloc(ENVELOPE_MAX);
    size_t elen = 0;
    envelope_t e;
    ledger_result_t res;
    assert_int_equal(envelope_seal(&spec, k, buf, ENVELOPE_MAX, &elen), 0);
    assert_int_equal(envelope_open(&e, buf, elen), 0);
    assert_int_equal(ledger_append(l, &e, 1, util_now_ms(), &res), 0);
    assert_int_equal(res.code, 0);
    ledger_destroy(&l);
    free(buf);
    free(payload);
    return res.seq;
}

static void
test_status_by_wrong_factory_named(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 0);
    /* Order 3 is assigned to one factory; the other posts its status. */
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    policy_order_t po;
    assert_int_equal(ledger_open(&l, st->dir, &o), 0);
    assert_int_equal(policy_order(l, st->s.orders[3], &po), 0);
    ledger_destroy(&l);
    const keys_t *other =
        memcmp(po.factories[0], keys_sign_pk(st->s.north), 32) == 0 ? st->s.south : st->s.north;
    payload_status_t s = {.stage = PAYLOAD_STAGE_IN_PRODUCTION};
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(payload_status_encode(&s, &p, &n), 0);
    uint64_t at = s_append_raw(st, other, ENVELOPE_STATUS, st->s.orders[3], p, n);
    scen_checkpoint(&st->s, st->dir, 1);
    s_audit(st, 0, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.bad_record, (int64_t) at);
    assert_int_equal(st->r.code, COFAB_EPERM);
    assert_non_null(strstr(st->r.reason, "status by"));
    assert_non_null(strstr(st->r.reason, keys_name(other)));
}

static void
test_checkpoint_short_of_witnesses_named(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 0);
    /* A newer checkpoint that no witness cosigned. */
    s_append_raw(st, st->s.hub, ENVELOPE_NOTE, (uint8_t[32]){0}, (uint8_t *) strdup("hello"), 5);
    scen_checkpoint(&st->s, st->dir, 0);
    s_audit(st, 0, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.code, COFAB_EWITNESS);
    assert_int_equal(st->r.bad_checkpoint, (int64_t) st->r.latest.size);
    assert_int_equal(st->r.latest_cosigned, 0);

    /* The auditor's own policy may ask for less (quorum 0)... */
    witness_policy_t *p = calloc(1, sizeof *p);
    char text[512];
    note_verifier_t v;
    keys_verifier(st->s.north, &v);
    char vk[NOTE_VERIFIER_MAX];
    assert_int_equal(note_verifier_format(&v, vk, sizeof vk), 0);
    snprintf(text, sizeof text, "# north only\nwitness %s\nquorum 0\n", vk);
    assert_int_equal(witness_policy_parse(p, text, strlen(text), NULL, 0), 0);
    s_audit(st, 0, p);
    assert_true(st->r.valid);
    /* ...or name a witness the hub never had cosign: then even the old
     * cosigned checkpoints do not count. */
    keys_t *stranger = keys_generate("stranger");
    keys_verifier(stranger, &v);
    assert_int_equal(note_verifier_format(&v, vk, sizeof vk), 0);
    snprintf(text, sizeof text, "witness %s\nquorum 1\n", vk);
    assert_int_equal(witness_policy_parse(p, text, strlen(text), NULL, 0), 0);
    s_audit(st, 0, p);
    assert_false(st->r.valid);
    assert_int_equal(st->r.code, COFAB_EWITNESS);
    assert_int_equal(st->r.witnessed_size, 0);
    keys_destroy(&stranger);
    free(p);
}

static void
test_forged_cosignature_named(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 0);
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    char note[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_open(&l, st->dir, &o), 0);
    assert_int_equal(ledger_checkpoint_latest(l, note, sizeof note), 0);
    uint64_t size = ledger_size(l);
    ledger_destroy(&l);
    /* The cosignature is the last line: change a character of its
     * signature's base64 into another valid one. */
    size_t at = strlen(note) - 8;
    while (!isalnum((unsigned char) (note[at] ^ 1)) || (note[at] | 0x20) == 'a' ||
           (note[at] | 0x20) == 'z')
        at--;
    assert_int_equal(fixture_flip_checkpoint_byte(st->dir, size, at), 0);
    s_audit(st, 0, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.code, COFAB_EBADSIG);
    assert_non_null(strstr(st->r.reason, "cosignature by witness north"));
}

static int
s_put_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    const char *dir = ctx;
    return fixture_put_tree_node(dir, level, index, hash);
}

static int
s_skip_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    (void) ctx, (void) level, (void) index, (void) hash;
    return 0;
}

static void
test_forked_author_named_with_both_envelopes(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 0);
    /* A second envelope by alice numbered 1, appended with a correct
     * record link and tree: only the author chain gives it away. */
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, st->dir, &o), 0);
    uint64_t size = ledger_size(l), first = 0;
    assert_int_equal(ledger_author_find(l, keys_sign_pk(st->s.alice), 1, &first), 0);
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
    uint8_t payload[] = "a different order";
    envelope_spec_t spec = {.kind = ENVELOPE_NOTE, .author_seq = 1, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = sizeof payload};
    uint8_t *env = malloc(ENVELOPE_MAX), *rec = malloc(LEDGER_RECORD_MAX), leaf[32];
    size_t elen = 0;
    assert_int_equal(envelope_seal(&spec, st->s.alice, env, ENVELOPE_MAX, &elen), 0);
    size_t rlen = ledger_record_encode(rec, LEDGER_RECORD_MAX, size, util_now_ms(), head, env, elen);
    assert_true(rlen > 0);
    assert_int_equal(fixture_put_record(st->dir, size, rec, rlen), 0);
    merkle_leaf_hash(rec, rlen, leaf);
    assert_int_equal(merkle_frontier_append(&f, leaf, s_put_node, st->dir), 0);
    s_audit(st, 0, NULL);
    assert_false(st->r.valid);
    assert_int_equal(st->r.code, COFAB_EFORK);
    assert_int_equal(st->r.bad_record, (int64_t) size);
    assert_int_equal(st->r.related_record, (int64_t) first);
    free(env);
    free(rec);
}

static void
test_policy_file_parsing(void **state)
{
    (void) state;
    witness_policy_t *p = calloc(1, sizeof *p);
    char why[160];
    keys_t *w = keys_generate("w1");
    note_verifier_t v;
    char vk[NOTE_VERIFIER_MAX], text[1024];
    keys_verifier(w, &v);
    assert_int_equal(note_verifier_format(&v, vk, sizeof vk), 0);
    snprintf(text, sizeof text, "log %s\n  witness\t%s  \r\nquorum 1", vk, vk);
    assert_int_equal(witness_policy_parse(p, text, strlen(text), why, sizeof why), 0);
    assert_int_equal(p->n, 1);
    assert_int_equal(p->quorum, 1);
    assert_true(p->has_log);
    const char *bad[] = {"quorum 1\n",                     /* more than witnesses */
                         "witness nobody+1234+AAAA\nquorum 0\n",
                         "frobnicate 3\nquorum 0\n",
                         "",                               /* no quorum */
                         "quorum x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_true(witness_policy_parse(p, bad[i], strlen(bad[i]), why, sizeof why) < 0);
    snprintf(text, sizeof text, "witness %s\nwitness %s\nquorum 1\n", vk, vk);
    assert_int_equal(witness_policy_parse(p, text, strlen(text), why, sizeof why), COFAB_EMALFORMED);
    assert_non_null(strstr(why, "twice"));
    char *huge = malloc(WITNESS_POLICY_MAX + 2);
    memset(huge, '#', WITNESS_POLICY_MAX + 1);
    assert_int_equal(witness_policy_parse(p, huge, WITNESS_POLICY_MAX + 1, why, sizeof why),
                     COFAB_ETOOBIG);
    free(huge);
    keys_destroy(&w);
    free(p);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_history_replays, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_forged_assign_caught_only_by_replay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_byte_drop_and_reorder_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_status_by_wrong_factory_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_short_of_witnesses_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_forged_cosignature_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_forked_author_named_with_both_envelopes, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_policy_file_parsing),
    };
    return cmocka_run_group_tests_name("audit_rules", tests, NULL, NULL);
}
