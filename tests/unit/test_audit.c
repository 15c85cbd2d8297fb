/* test_audit.c — audit_verify accepts a clean ledger and names every kind of tampering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/util.h"
#include "support/fixture.h"

#define S_RECORDS 60

typedef struct {
    char dir[256];
    keys_t *hub;
    keys_t *authors[3];
} s_state_t;

static int
s_setup(void **state)
{
    s_state_t *s = calloc(1, sizeof *s);
    fixture_tmpdir(s->dir);
    s->hub = keys_generate("hub");
    s->authors[0] = keys_generate("a0");
    s->authors[1] = keys_generate("a1");
    s->authors[2] = keys_generate("a2");
    /* Checkpoints at sizes 11, 21, ..., 61 (the final one re-signs 61). */
    ledger_t *l = fixture_ledger(s->dir, s->hub, s->authors, 3, S_RECORDS, 10);
    ledger_destroy(&l);
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    keys_destroy(&s->hub);
    for (int i = 0; i < 3; i++)
        keys_destroy(&s->authors[i]);
    fixture_rmtree(s->dir);
    free(s);
    return 0;
}

static void
s_audit(const s_state_t *s, audit_report_t *r, int threads)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, s->dir, &o), 0);
    audit_options_t opts = {.threads = threads};
    assert_int_equal(audit_verify(l, &opts, r), 0);
    ledger_destroy(&l);
}

static void
test_clean_ledger_is_valid(void **state)
{
    s_state_t *s = *state;
    audit_report_t r;
    for (int threads = 1; threads <= 3; threads++) {
        s_audit(s, &r, threads);
        assert_true(r.valid);
        assert_int_equal(r.records, S_RECORDS + 1);
        assert_int_equal(r.kinds[ENVELOPE_NOTE], S_RECORDS);
        assert_int_equal(r.kinds[ENVELOPE_GENESIS], 1);
        assert_int_equal(r.authors, 4);
        assert_int_equal(r.checkpoints, 6);
        assert_int_equal(r.latest.size, S_RECORDS + 1);
        assert_string_equal(r.origin, "example.org/test");
    }
    /* A pinned hub key that is not the genesis one is refused. */
    keys_t *other = keys_generate("hub");
    note_verifier_t v;
    keys_verifier(other, &v);
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, s->dir, &o), 0);
    audit_options_t opts = {.hub_key = &v};
    assert_int_equal(audit_verify(l, &opts, &r), 0);
    assert_false(r.valid);
    assert_int_equal(r.code, COFAB_EKEYMISMATCH);
    ledger_destroy(&l);
    keys_destroy(&other);
}

/* Flipping any byte of a stored record is caught, at that record. */
static void
test_record_byte_flips(void **state)
{
    s_state_t *s = *state;
    audit_report_t r;
    /* Header fields, the envelope header, payload and signature. */
    const size_t offsets[] = {0, 3, 12, 20, 50, LEDGER_RECORD_HEADER + 1,
                              LEDGER_RECORD_HEADER + 40, LEDGER_RECORD_HEADER + 90,
                              LEDGER_RECORD_HEADER + 121, LEDGER_RECORD_HEADER + 130};
    const uint64_t seqs[] = {5, 33, S_RECORDS};
    for (size_t j = 0; j < sizeof seqs / sizeof seqs[0]; j++) {
        for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
            assert_int_equal(fixture_flip_record_byte(s->dir, seqs[j], offsets[i]), 0);
            s_audit(s, &r, 2);
            assert_false(r.valid);
            assert_int_equal(r.bad_record, (int64_t) seqs[j]);
            char want[32];
            snprintf(want, sizeof want, "record %llu", (unsigned long long) seqs[j]);
            assert_non_null(strstr(r.reason, want));
            /* Flip it back: valid again, so the test really isolates one byte. */
            assert_int_equal(fixture_flip_record_byte(s->dir, seqs[j], offsets[i]), 0);
            s_audit(s, &r, 2);
            assert_true(r.valid);
        }
    }
}

static void
test_tree_node_flip(void **state)
{
    s_state_t *s = *state;
    audit_report_t r;
    /* A leaf, an interior node and the biggest perfect subtree (32 leaves). */
    const struct {
        unsigned level;
        uint64_t index;
        int64_t record;
    } nodes[] = {{0, 7, 7}, {2, 3, 15}, {5, 0, 31}};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        assert_int_equal(fixture_flip_tree_byte(s->dir, nodes[i].level, nodes[i].index), 0);
        s_audit(s, &r, 2);
        assert_false(r.valid);
        assert_int_equal(r.bad_record, nodes[i].record);
        assert_non_null(strstr(r.reason, "stored Merkle node"));
        assert_int_equal(fixture_flip_tree_byte(s->dir, nodes[i].level, nodes[i].index), 0);
    }
}

static void
test_checkpoint_flip(void **state)
{
    s_state_t *s = *state;
    audit_report_t r;
    /* Body bytes (origin, size, root) and the signature line. */
    const size_t offsets[] = {2, 20, 30, 60, 120};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        assert_int_equal(fixture_flip_checkpoint_byte(s->dir, 31, offsets[i]), 0);
        s_audit(s, &r, 2);
        assert_false(r.valid);
        assert_int_equal(r.bad_checkpoint, 31);
        assert_non_null(strstr(r.reason, "checkpoint 31"));
        assert_int_equal(fixture_flip_checkpoint_byte(s->dir, 31, offsets[i]), 0);
    }
}

static void
test_dropped_and_reordered_records(void **state)
{
    s_state_t *s = *state;
    audit_report_t r;
    assert_int_equal(fixture_swap_records(s->dir, 20, 21), 0);
    s_audit(s, &r, 2);
    assert_false(r.valid);
    assert_int_equal(r.bad_record, 20);
    assert_non_null(strstr(r.reason, "moved"));
    assert_int_equal(fixture_swap_records(s->dir, 20, 21), 0);

    /* Keep a copy of the record to put it back later. */
    ledger_t *l = NULL;
    uint8_t *rec = NULL;
    size_t len;
    assert_int_equal(ledger_open(&l, s->dir, NULL), 0);
    assert_int_equal(ledger_get(l, 40, &rec, &len), 0);
    ledger_destroy(&l);
    assert_int_equal(fixture_drop_record(s->dir, 40), 0);
    s_audit(s, &r, 2);
    assert_false(r.valid);
    assert_int_equal(r.bad_record, 40);
    assert_non_null(strstr(r.reason, "record 40 is missing"));

    /* Dropping the last record: the checkpoint claims more than exists. */
    assert_int_equal(fixture_put_record(s->dir, 40, rec, len), 0);
    free(rec);
    s_audit(s, &r, 2);
    assert_true(r.valid);
    assert_int_equal(fixture_drop_record(s->dir, S_RECORDS), 0);
    s_audit(s, &r, 2);
    assert_false(r.valid);
    assert_non_null(strstr(r.reason, "checkpoint 61"));
}

/* A record re-wrapped with a valid chain link but a forged envelope: the
 * signature check names it even though every hash matches. */
static void
test_resigned_record_with_bad_signature(void **state)
{
    s_state_t *s = *state;
    ledger_t *l = NULL;
    uint8_t *rec = NULL;
    size_t len;
    assert_int_equal(ledger_open(&l, s->dir, NULL), 0);
    assert_int_equal(ledger_get(l, S_RECORDS, &rec, &len), 0);
    ledger_destroy(&l);
    rec[len - 1] ^= 0x80; /* last signature byte of the last record */
    assert_int_equal(fixture_put_record(s->dir, S_RECORDS, rec, len), 0);
    free(rec);
    audit_report_t r;
    s_audit(s, &r, 2);
    assert_false(r.valid);
    /* The checkpoint and tree catch it too; the record comes first. */
    assert_int_equal(r.bad_record, S_RECORDS);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean_ledger_is_valid, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_record_byte_flips, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tree_node_flip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_flip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dropped_and_reordered_records, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_resigned_record_with_bad_signature, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
