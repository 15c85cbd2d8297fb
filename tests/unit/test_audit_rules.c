/* test_audit_rules.c — the rules and the replay on an alliance history: clean, a forged decision, witness policies. */
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
    assert_int_equal(st->r.witnesses, 2);
    assert_string_equal(st->r.witness_names[0], "north");
    assert_int_equal(st->r.latest_witnesses, 1); /* north cosigned, south did not */
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
    assert_int_equal(st->r.failures[AUDIT_DECISION].code, COFAB_EDECISION);

    /* A second, unrelated fault: the audit goes on and names both, each
     * under its own kind, the earlier one as the verdict. */
    scen_append_raw(st->dir, st->s.hub, ENVELOPE_NOTE, (uint8_t[32]){0}, (uint8_t *) strdup("later"), 5);
    scen_checkpoint(&st->s, st->dir, 0);
    s_audit(st, 1, NULL);
    assert_int_equal(st->r.code, COFAB_EDECISION);
    assert_int_equal(st->r.bad_record, (int64_t) st->s.forged_at);
    assert_int_equal(st->r.failures[AUDIT_DECISION].record, (int64_t) st->s.forged_at);
    assert_int_equal(st->r.failures[AUDIT_WITNESS].code, COFAB_EWITNESS);
    assert_int_equal(st->r.failures[AUDIT_SIGNATURE].code, 0);
    assert_int_equal(st->r.failures[AUDIT_RECORD].code, 0);
    assert_string_equal(audit_kind_name(AUDIT_WITNESS), "witness");
}


static void
test_checkpoint_short_of_witnesses_named(void **state)
{
    s_state_t *st = *state;
    scen_build(&st->s, st->dir, 0);
    /* A newer checkpoint that no witness cosigned. */
    scen_append_raw(st->dir, st->s.hub, ENVELOPE_NOTE, (uint8_t[32]){0}, (uint8_t *) strdup("hello"), 5);
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
        cmocka_unit_test_setup_teardown(test_checkpoint_short_of_witnesses_named, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_forged_cosignature_named, s_setup, s_teardown),
        cmocka_unit_test(test_policy_file_parsing),
    };
    return cmocka_run_group_tests_name("audit_rules", tests, NULL, NULL);
}
