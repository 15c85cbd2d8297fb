/* test_ledger.c — appends, author chains, indexes, proofs, reopen and map growth. */
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
#include "cofab/merkle.h"
#include "cofab/note.h"
#include "support/fixture.h"

typedef struct {
    char dir[256];
    keys_t *hub;
    keys_t *alice;
    keys_t *bob;
    ledger_t *ledger;
    uint8_t *buf;      /* scratch envelope buffers, 4 of ENVELOPE_MAX */
} s_state_t;

static int
s_setup(void **state)
{
    s_state_t *s = calloc(1, sizeof *s);
    fixture_tmpdir(s->dir);
    s->hub = keys_generate("hub");
    s->alice = keys_generate("alice");
    s->bob = keys_generate("bob");
    s->buf = malloc(4 * ENVELOPE_MAX);
    envelope_t g;
    fixture_genesis(s->hub, "example.org/ledger", s->buf, &g);
    assert_int_equal(ledger_create(&s->ledger, s->dir, "example.org/ledger", &g, NULL), 0);
    *state = s;
    return 0;
}

static int
s_teardown(void **state)
{
    s_state_t *s = *state;
    ledger_destroy(&s->ledger);
    ledger_destroy(&s->ledger);
    keys_destroy(&s->hub);
    keys_destroy(&s->alice);
    keys_destroy(&s->bob);
    fixture_rmtree(s->dir);
    free(s->buf);
    free(s);
    return 0;
}

static void
test_create_twice_refused(void **state)
{
    s_state_t *s = *state;
    envelope_t g;
    ledger_t *other = NULL;
    fixture_genesis(s->hub, "x", s->buf, &g);
    assert_int_equal(ledger_create(&other, s->dir, "x", &g, NULL), COFAB_EEXIST);
    assert_null(other);
    assert_int_equal(ledger_size(s->ledger), 1);
    assert_string_equal(ledger_origin(s->ledger), "example.org/ledger");
    char empty[300];
    snprintf(empty, sizeof empty, "%s/none", s->dir);
    assert_int_equal(ledger_open(&other, empty, NULL), COFAB_ENOTFOUND);
}

static void
test_batch_and_author_rules(void **state)
{
    s_state_t *s = *state;
    envelope_chain_t ca, cb;
    envelope_chain_init(&ca);
    envelope_chain_init(&cb);
    envelope_t e[4];
    ledger_result_t r[4];
    fixture_seal(&ca, s->alice, ENVELOPE_NOTE, NULL, "a1", s->buf, &e[0]);
    fixture_seal(&ca, s->alice, ENVELOPE_NOTE, NULL, "a2", s->buf + ENVELOPE_MAX, &e[1]);
    fixture_seal(&cb, s->bob, ENVELOPE_NOTE, NULL, "b1", s->buf + 2 * ENVELOPE_MAX, &e[2]);
    /* The same author twice in one batch, then bob. */
    assert_int_equal(ledger_append(s->ledger, e, 3, 100, r), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].code, 0);
        assert_int_equal(r[i].seq, (uint64_t) i + 1);
    }
    assert_int_equal(ledger_size(s->ledger), 4);

    /* Resubmitting identical envelopes returns the original positions. */
    assert_int_equal(ledger_append(s->ledger, e, 3, 101, r), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r[i].code, COFAB_EEXIST);
        assert_int_equal(r[i].seq, (uint64_t) i + 1);
    }
    assert_int_equal(ledger_size(s->ledger), 4);

    /* A different envelope reusing alice's sequence 2: a replay. */
    envelope_chain_t fork = ca;
    fork.next_seq = 2;
    memcpy(fork.prev, e[0].hash, 32);
    fixture_seal(&fork, s->alice, ENVELOPE_NOTE, NULL, "a2-forged", s->buf + 3 * ENVELOPE_MAX, &e[3]);
    assert_int_equal(ledger_append(s->ledger, &e[3], 1, 102, r), 0);
    assert_int_equal(r[0].code, COFAB_EREPLAY);

    /* Skipping a sequence number: a gap. */
    envelope_chain_t gap = ca;
    gap.next_seq = 5;
    fixture_seal(&gap, s->alice, ENVELOPE_NOTE, NULL, "a5", s->buf + 3 * ENVELOPE_MAX, &e[3]);
    assert_int_equal(ledger_append(s->ledger, &e[3], 1, 102, r), 0);
    assert_int_equal(r[0].code, COFAB_EGAP);

    /* Right sequence, wrong previous hash. */
    envelope_chain_t bad = ca;
    bad.prev[0] ^= 1;
    fixture_seal(&bad, s->alice, ENVELOPE_NOTE, NULL, "a3", s->buf + 3 * ENVELOPE_MAX, &e[3]);
    assert_int_equal(ledger_append(s->ledger, &e[3], 1, 102, r), 0);
    assert_int_equal(r[0].code, COFAB_ECHAIN);

    /* A second genesis is refused. */
    envelope_t g;
    fixture_genesis(s->bob, "again", s->buf + 3 * ENVELOPE_MAX, &g);
    assert_int_equal(ledger_append(s->ledger, &g, 1, 103, r), 0);
    assert_int_equal(r[0].code, COFAB_EPERM);

    /* Nothing refused touched the store. */
    assert_int_equal(ledger_size(s->ledger), 4);
    uint64_t aseq;
    uint8_t h[32];
    assert_int_equal(ledger_author_last(s->ledger, keys_sign_pk(s->alice), &aseq, h), 0);
    assert_int_equal(aseq, 2);
    assert_memory_equal(h, e[1].hash, 32);
    uint64_t pos;
    assert_int_equal(ledger_author_find(s->ledger, keys_sign_pk(s->bob), 1, &pos), 0);
    assert_int_equal(pos, 3);
    assert_int_equal(ledger_author_find(s->ledger, keys_sign_pk(s->bob), 2, &pos), COFAB_ENOTFOUND);
    assert_int_equal(ledger_author_last(s->ledger, keys_sign_pk(s->hub), &aseq, h), 0);
    assert_int_equal(aseq, 1);
}

static void
test_records_and_subject_index(void **state)
{
    s_state_t *s = *state;
    envelope_chain_t c;
    envelope_chain_init(&c);
    uint8_t order_a[32], order_b[32];
    memset(order_a, 0xaa, 32);
    memset(order_b, 0xbb, 32);
    for (int i = 0; i < 6; i++) {
        envelope_t e;
        ledger_result_t r;
        fixture_seal(&c, s->alice, ENVELOPE_NOTE, i % 2 ? order_b : order_a, "x", s->buf, &e);
        assert_int_equal(ledger_append(s->ledger, &e, 1, 200 + (uint64_t) i, &r), 0);
        assert_int_equal(r.code, 0);
    }
    uint64_t seqs[8];
    size_t n;
    assert_int_equal(ledger_subject_records(s->ledger, order_a, 0, seqs, 8, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 3);
    assert_int_equal(seqs[2], 5);
    assert_int_equal(ledger_subject_records(s->ledger, order_b, 3, seqs, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(seqs[0], 4);

    /* Records hold the envelope as signed and chain to each other. */
    uint8_t *a = NULL, *b = NULL;
    size_t alen, blen;
    ledger_record_t ra, rb;
    assert_int_equal(ledger_get(s->ledger, 2, &a, &alen), 0);
    assert_int_equal(ledger_get(s->ledger, 3, &b, &blen), 0);
    assert_int_equal(ledger_record_decode(&ra, a, alen), 0);
    assert_int_equal(ledger_record_decode(&rb, b, blen), 0);
    assert_int_equal(ra.seq, 2);
    assert_int_equal(ra.time_ms, 201);
    uint8_t leaf[32];
    merkle_leaf_hash(a, alen, leaf);
    assert_memory_equal(rb.prev, leaf, 32);
    envelope_t e;
    assert_int_equal(envelope_open(&e, ra.envelope, ra.envelope_len), 0);
    assert_int_equal(e.author_seq, 2);
    /* Record decoding refuses bad bytes. */
    assert_int_equal(ledger_record_decode(&ra, a, alen - 1), COFAB_ETRUNCATED);
    assert_int_equal(ledger_record_decode(&ra, a, 20), COFAB_ETRUNCATED);
    a[0] = 9;
    assert_int_equal(ledger_record_decode(&ra, a, alen), COFAB_EVERSION);
    free(a);
    free(b);
    assert_int_equal(ledger_get(s->ledger, 99, &a, &alen), COFAB_ENOTFOUND);

    uint8_t head[32];
    ledger_head(s->ledger, head);
    assert_int_equal(ledger_get(s->ledger, 6, &a, &alen), 0);
    merkle_leaf_hash(a, alen, leaf);
    assert_memory_equal(head, leaf, 32);
    free(a);
}

static void
test_proofs_and_checkpoints(void **state)
{
    s_state_t *s = *state;
    envelope_chain_t c;
    envelope_chain_init(&c);
    char note_text[LEDGER_CHECKPOINT_MAX];
    uint8_t roots[40][32];
    assert_int_equal(ledger_root(s->ledger, 1, roots[1]), 0);
    for (int i = 2; i < 40; i++) {
        envelope_t e;
        ledger_result_t r;
        fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "p", s->buf, &e);
        assert_int_equal(ledger_append(s->ledger, &e, 1, 1, &r), 0);
        assert_int_equal(ledger_root(s->ledger, (uint64_t) i, roots[i]), 0);
    }
    assert_int_equal(ledger_root(s->ledger, 41, roots[0]), COFAB_ERANGE);
    uint8_t proof[MERKLE_MAX_PROOF][32];
    size_t n;
    for (uint64_t size = 1; size < 40; size++) {
        for (uint64_t i = 0; i < size; i++) {
            uint8_t *rec;
            size_t len;
            uint8_t leaf[32];
            assert_int_equal(ledger_get(s->ledger, i, &rec, &len), 0);
            merkle_leaf_hash(rec, len, leaf);
            free(rec);
            assert_int_equal(ledger_inclusion_proof(s->ledger, i, size, proof, &n), 0);
            assert_int_equal(merkle_verify_inclusion(i, size, leaf,
                                                     (const uint8_t(*)[32]) proof, n, roots[size]), 0);
        }
        for (uint64_t old = 1; old <= size; old++) {
            assert_int_equal(ledger_consistency_proof(s->ledger, old, size, proof, &n), 0);
            assert_int_equal(merkle_verify_consistency(old, size, roots[old], roots[size],
                                                       (const uint8_t(*)[32]) proof, n), 0);
        }
    }
    /* A signed checkpoint names the current size, root and chain head. */
    assert_int_equal(ledger_checkpoint_sign(s->ledger, s->hub, note_text, sizeof note_text), 0);
    note_t *note = malloc(sizeof *note);
    checkpoint_t cp;
    note_verifier_t v;
    keys_verifier(s->hub, &v);
    assert_int_equal(note_parse(note, note_text, strlen(note_text)), 0);
    assert_int_equal(note_verify(note, &v), 0);
    assert_int_equal(checkpoint_parse(&cp, note->body, note->body_len), 0);
    assert_int_equal(cp.size, 39);
    assert_memory_equal(cp.root, roots[39], 32);
    uint8_t head[32];
    ledger_head(s->ledger, head);
    assert_true(cp.has_chain);
    assert_memory_equal(cp.chain, head, 32);
    char latest[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_checkpoint_latest(s->ledger, latest, sizeof latest), 0);
    assert_string_equal(latest, note_text);
    free(note);
}

static void
test_reopen_keeps_everything(void **state)
{
    s_state_t *s = *state;
    envelope_chain_t c;
    envelope_chain_init(&c);
    for (int i = 0; i < 37; i++) {
        envelope_t e;
        ledger_result_t r;
        fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "r", s->buf, &e);
        assert_int_equal(ledger_append(s->ledger, &e, 1, 1, &r), 0);
    }
    uint8_t root[32], head[32], root2[32], head2[32];
    assert_int_equal(ledger_root(s->ledger, 38, root), 0);
    ledger_head(s->ledger, head);
    ledger_destroy(&s->ledger);
    assert_int_equal(ledger_open(&s->ledger, s->dir, NULL), 0);
    assert_int_equal(ledger_size(s->ledger), 38);
    ledger_head(s->ledger, head2);
    assert_memory_equal(head, head2, 32);
    assert_int_equal(ledger_root(s->ledger, 38, root2), 0);
    assert_memory_equal(root, root2, 32);
    /* The author's chain continues after reopening. */
    envelope_t e;
    ledger_result_t r;
    fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "after", s->buf, &e);
    assert_int_equal(ledger_append(s->ledger, &e, 1, 1, &r), 0);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.seq, 38);
    /* A read-only ledger refuses appends. */
    ledger_t *ro = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&ro, s->dir, &o), 0);
    fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "ro", s->buf, &e);
    assert_int_equal(ledger_append(ro, &e, 1, 1, &r), COFAB_EPERM);
    ledger_destroy(&ro);
}

static void
test_map_grows_and_bounded_map_refuses(void **state)
{
    s_state_t *s = *state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/small", s->dir);
    envelope_t g;
    ledger_t *l = NULL;
    /* 256 KiB to start: a few hundred 8 KiB records force several doublings. */
    ledger_options_t o = {.map_size = 256 << 10};
    fixture_genesis(s->hub, "grow", s->buf, &g);
    assert_int_equal(ledger_create(&l, dir, "grow", &g, &o), 0);
    envelope_chain_t c;
    envelope_chain_init(&c);
    char *payload = malloc(8193);
    memset(payload, 'x', 8192);
    payload[8192] = 0;
    for (int i = 0; i < 300; i++) {
        envelope_t e;
        ledger_result_t r;
        fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, payload, s->buf, &e);
        assert_int_equal(ledger_append(l, &e, 1, 1, &r), 0);
        assert_int_equal(r.code, 0);
    }
    assert_int_equal(ledger_size(l), 301);
    ledger_destroy(&l);

    /* With a hard limit the append is refused, and nothing is lost. */
    snprintf(dir, sizeof dir, "%s/bounded", s->dir);
    ledger_options_t b = {.map_size = 256 << 10, .map_max = 1 << 20};
    assert_int_equal(ledger_create(&l, dir, "bounded", &g, &b), 0);
    envelope_chain_init(&c);
    int rc = 0, appended = 0;
    for (int i = 0; i < 400 && rc == 0; i++) {
        envelope_t e;
        ledger_result_t r;
        fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, payload, s->buf, &e);
        rc = ledger_append(l, &e, 1, 1, &r);
        if (rc == 0)
            appended++;
        else
            c.next_seq--; /* not stored: the chain does not advance */
    }
    assert_int_equal(rc, COFAB_ENOSPC);
    assert_true(appended > 10);
    assert_int_equal(ledger_size(l), (uint64_t) appended + 1);
    ledger_destroy(&l);
    assert_int_equal(ledger_open(&l, dir, &b), 0);
    assert_int_equal(ledger_size(l), (uint64_t) appended + 1);
    uint8_t *rec;
    size_t len;
    assert_int_equal(ledger_get(l, (uint64_t) appended, &rec, &len), 0);
    free(rec);
    ledger_destroy(&l);
    free(payload);
}

/* A hook that refuses payloads starting "deny" and counts the others. */
static int
s_count_apply(void *ctx, ledger_txn_t *txn, const envelope_t *e, uint64_t seq, uint64_t time_ms)
{
    (void) ctx;
    (void) seq;
    (void) time_ms;
    if (e->payload_len >= 4 && memcmp(e->payload, "deny", 4) == 0)
        return COFAB_EPERM;
    const uint8_t *v;
    size_t vlen;
    uint64_t count = 0;
    int rc = ledger_txn_get(txn, "count", 5, &v, &vlen);
    if (rc == 0 && vlen == 8)
        memcpy(&count, v, 8);
    else if (rc != COFAB_ENOTFOUND)
        return rc;
    count++;
    return ledger_txn_put(txn, "count", 5, &count, 8);
}

static uint64_t
s_count(ledger_t *l)
{
    uint64_t count = 0;
    size_t vlen = 0;
    assert_int_equal(ledger_state_get(l, "count", 5, &count, sizeof count, &vlen), 0);
    assert_int_equal(vlen, 8);
    return count;
}

static void
test_apply_hook_and_replica(void **state)
{
    s_state_t *s = *state;
    char dir[300], rdir[300];
    snprintf(dir, sizeof dir, "%s/hooked", s->dir);
    snprintf(rdir, sizeof rdir, "%s/replica", s->dir);
    ledger_options_t o = {.apply = s_count_apply};
    envelope_t g, e[3];
    ledger_result_t r[3];
    ledger_t *l = NULL, *rep = NULL;
    fixture_genesis(s->hub, "hooked", s->buf, &g);
    assert_int_equal(ledger_create(&l, dir, "hooked", &g, &o), 0);
    assert_int_equal(s_count(l), 1); /* the genesis went through the hook */
    envelope_chain_t c;
    envelope_chain_init(&c);
    fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "ok-1", s->buf + ENVELOPE_MAX, &e[0]);
    fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "deny this", s->buf + 2 * ENVELOPE_MAX, &e[1]);
    assert_int_equal(ledger_append(l, e, 2, 7, r), 0);
    assert_int_equal(r[0].code, 0);
    assert_int_equal(r[1].code, COFAB_EPERM);
    assert_int_equal(ledger_size(l), 2);
    assert_int_equal(s_count(l), 2);

    /* A replica fed the hub's records stores identical bytes. */
    uint8_t *rec0, *rec1;
    size_t len0, len1;
    ledger_record_t r0, r1;
    envelope_t e0, e1;
    assert_int_equal(ledger_get(l, 0, &rec0, &len0), 0);
    assert_int_equal(ledger_get(l, 1, &rec1, &len1), 0);
    assert_int_equal(ledger_record_decode(&r0, rec0, len0), 0);
    assert_int_equal(ledger_record_decode(&r1, rec1, len1), 0);
    assert_int_equal(envelope_open(&e0, r0.envelope, r0.envelope_len), 0);
    assert_int_equal(envelope_open(&e1, r1.envelope, r1.envelope_len), 0);
    /* Out of order first: refused, nothing stored. */
    assert_int_equal(ledger_create_replica(&rep, rdir, "hooked", &r1, &e1, &o), COFAB_EPERM);
    assert_null(rep);
    assert_int_equal(ledger_create_replica(&rep, rdir, "hooked", &r0, &e0, &o), 0);
    assert_int_equal(ledger_replicate(rep, &r1, &e1, 1, r), 0);
    assert_int_equal(r[0].code, 0);
    /* The same record again does not fit at position 2. */
    assert_int_equal(ledger_replicate(rep, &r1, &e1, 1, r), 0);
    assert_int_equal(r[0].code, COFAB_ERANGE);
    uint8_t h1[32], h2[32];
    ledger_head(l, h1);
    ledger_head(rep, h2);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(s_count(rep), 2);
    free(rec0);
    free(rec1);
    ledger_destroy(&rep);
    ledger_destroy(&l);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_twice_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_batch_and_author_rules, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_records_and_subject_index, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_proofs_and_checkpoints, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_grows_and_bounded_map_refuses, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_apply_hook_and_replica, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
