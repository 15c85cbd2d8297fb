/* test_receipt.c — tlog-proof receipts written by cofab parse and verify, and every tampering is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/receipt.h"
#include "cofab/util.h"
#include "support/fixture.h"
#include "support/scen.h"

typedef struct {
    char dir[256];                    /* temp dir: the ledger and receipt files */
    char ledger[300];                 /* the scenario ledger */
    char path[300];                   /* where receipts are written */
    scen_t s;                         /* the scenario's keys and order ids */
    ledger_t *l;                      /* the ledger, read-only */
    uint64_t size;                    /* its size (= the latest checkpoint's) */
    char note[LEDGER_CHECKPOINT_MAX]; /* the latest checkpoint, cosigned by north */
    size_t note_len;                  /* its length */
    uint64_t order_pos;               /* position of order 0's record */
    note_verifier_t hub;              /* the hub's key */
    witness_policy_t policy;          /* log hub; witnesses north, south; quorum 1 */
    receipt_t *r;                     /* scratch */
    receipt_report_t rep;             /* scratch */
} s_env_t;

/* Record index with its proof against the latest checkpoint. */
typedef struct {
    uint8_t *rec;                       /* malloc'd record bytes */
    size_t rec_len;                     /* their length */
    uint8_t proof[MERKLE_MAX_PROOF][32];/* inclusion proof */
    size_t k;                           /* hashes in it */
} s_item_t;

static int
s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    assert_non_null(env);
    fixture_tmpdir(env->dir);
    snprintf(env->ledger, sizeof env->ledger, "%s/ledger", env->dir);
    snprintf(env->path, sizeof env->path, "%s/r.tlog-proof", env->dir);
    scen_build(&env->s, env->ledger, 0);
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&env->l, env->ledger, &o), 0);
    env->size = ledger_size(env->l);
    assert_int_equal(ledger_checkpoint_latest(env->l, env->note, sizeof env->note), 0);
    env->note_len = strlen(env->note);
    uint64_t seqs[8];
    size_t n = 0;
    assert_int_equal(ledger_subject_records(env->l, env->s.orders[0], 0, seqs, 8, &n), 0);
    assert_true(n > 0);
    env->order_pos = seqs[0];
    keys_verifier(env->s.hub, &env->hub);
    env->policy.has_log = 1;
    env->policy.log = env->hub;
    keys_verifier(env->s.north, &env->policy.witnesses[0]);
    keys_verifier(env->s.south, &env->policy.witnesses[1]);
    env->policy.n = 2;
    env->policy.quorum = 1;
    env->r = malloc(sizeof *env->r);
    assert_non_null(env->r);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    ledger_destroy(&env->l);
    scen_free(&env->s);
    fixture_rmtree(env->dir);
    free(env->r);
    free(env);
    return 0;
}

static void
s_fetch(s_env_t *env, uint64_t index, s_item_t *it)
{
    memset(it, 0, sizeof *it);
    assert_int_equal(ledger_get(env->l, index, &it->rec, &it->rec_len), 0);
    assert_int_equal(ledger_inclusion_proof(env->l, index, env->size, it->proof, &it->k), 0);
}

/* Writes a receipt with cofab's own writer and reads its text back. */
static char *
s_write(s_env_t *env, uint64_t index, const uint8_t *rec, size_t rec_len, const uint8_t *proof,
        size_t k, const char *note, size_t note_len, size_t *len)
{
    uint8_t *text = NULL;
    assert_int_equal(cli_write_tlog_proof(env->path, index, rec, rec_len, proof, k, note, note_len), 0);
    assert_int_equal(util_read_file(env->path, RECEIPT_MAX_LEN + 4096, &text, len), 0);
    return (char *) text;
}

/* The untouched receipt of record index. */
static char *
s_good(s_env_t *env, uint64_t index, size_t *len)
{
    s_item_t it;
    s_fetch(env, index, &it);
    char *t = s_write(env, index, it.rec, it.rec_len, &it.proof[0][0], it.k, env->note,
                      env->note_len, len);
    free(it.rec);
    return t;
}

/* Parses text and verifies it; returns verify's code (parse must pass). */
static int
s_verify(s_env_t *env, const char *text, size_t len, const note_verifier_t *hub,
         const witness_policy_t *policy)
{
    assert_int_equal(receipt_parse(env->r, text, len), 0);
    int rc = receipt_verify(env->r, hub, policy, &env->rep);
    assert_int_equal(env->rep.code, rc);
    assert_true(strlen(env->rep.reason) > 0);
    return rc;
}

/* First occurrence of needle in text[0, len), or NULL (memmem is a GNU extension). */
static char *
s_find(const char *text, size_t len, const char *needle, size_t n)
{
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(text + i, needle, n) == 0)
            return (char *) text + i;
    return NULL;
}

/* Replaces the base64 of `bin` (n bytes) found in text by the base64 of
 * the same bytes with byte `at` flipped (same length). */
static void
s_flip_b64(char *text, size_t len, const uint8_t *bin, size_t n, size_t at)
{
    char b64[sodium_base64_ENCODED_LEN(128, sodium_base64_VARIANT_ORIGINAL)];
    uint8_t copy[128];
    assert_true(n <= sizeof copy && at < n);
    sodium_bin2base64(b64, sizeof b64, bin, n, sodium_base64_VARIANT_ORIGINAL);
    char *p = s_find(text, len, b64, strlen(b64));
    assert_non_null(p);
    memcpy(copy, bin, n);
    copy[at] ^= 0x01;
    sodium_bin2base64(b64, sizeof b64, copy, n, sodium_base64_VARIANT_ORIGINAL);
    memcpy(p, b64, strlen(b64));
}

static void
test_good_receipt_verifies(void **state)
{
    s_env_t *env = *state;
    s_item_t it;
    size_t len = 0;
    s_fetch(env, env->order_pos, &it);
    char *text = s_write(env, env->order_pos, it.rec, it.rec_len, &it.proof[0][0], it.k,
                         env->note, env->note_len, &len);
    assert_int_equal(receipt_parse(env->r, text, len), 0);
    assert_int_equal(env->r->index, env->order_pos);
    assert_int_equal(env->r->record_len, it.rec_len);
    assert_memory_equal(env->r->record, it.rec, it.rec_len);
    assert_int_equal(env->r->proof_len, it.k);
    assert_memory_equal(env->r->proof, it.proof, it.k * 32);
    assert_int_equal(env->r->note_len, env->note_len);
    assert_string_equal(env->r->note_text, env->note);
    assert_int_equal(env->r->cp.size, env->size);

    /* Hub key only: the cosignature is a line by a key it does not know. */
    assert_int_equal(receipt_verify(env->r, &env->hub, NULL, &env->rep), 0);
    receipt_report_t *rep = &env->rep;
    assert_int_equal(rep->step, RECEIPT_STEP_NONE);
    assert_int_equal(rep->index, env->order_pos);
    assert_int_equal(rep->tree_size, env->size);
    assert_string_equal(rep->origin, "scenario.example/log");
    assert_string_equal(rep->hub_name, "hub");
    assert_true(rep->has_record);
    assert_int_equal(rep->kind, ENVELOPE_ORDER);
    assert_memory_equal(rep->author, keys_sign_pk(env->s.alice), 32);
    assert_memory_equal(rep->subject, env->s.orders[0], 32);
    uint8_t leaf[32];
    merkle_leaf_hash(it.rec, it.rec_len, leaf);
    assert_memory_equal(rep->leaf, leaf, 32);
    assert_false(rep->has_policy);
    assert_int_equal(rep->other_sigs, 1);
    assert_non_null(strstr(rep->reason, "order"));

    /* With the policy: north's cosignature counts. */
    assert_int_equal(receipt_verify(env->r, &env->hub, &env->policy, &env->rep), 0);
    assert_true(rep->has_policy);
    assert_int_equal(rep->cosigned, 1);
    assert_int_equal(rep->quorum, 1);
    assert_string_equal(rep->cosigners[0], "north");
    assert_int_equal(rep->other_sigs, 0);
    /* The policy's log line alone names the hub. */
    assert_int_equal(receipt_verify(env->r, NULL, &env->policy, &env->rep), 0);
    assert_string_equal(rep->hub_name, "hub");
    /* No key at all is a caller error. */
    assert_int_equal(receipt_verify(env->r, NULL, NULL, &env->rep), COFAB_EINVAL);
    free(it.rec);
    free(text);
}

static void
test_every_record_verifies(void **state)
{
    s_env_t *env = *state;
    for (uint64_t i = 0; i < env->size; i++) {
        size_t len = 0;
        char *text = s_good(env, i, &len);
        assert_int_equal(s_verify(env, text, len, &env->hub, &env->policy), 0);
        assert_int_equal(env->rep.index, i);
        /* The kind reported is the stored record's. */
        uint8_t *rec = NULL;
        size_t rlen = 0;
        ledger_record_t lr;
        envelope_t e;
        assert_int_equal(ledger_get(env->l, i, &rec, &rlen), 0);
        assert_int_equal(ledger_record_decode(&lr, rec, rlen), 0);
        assert_int_equal(envelope_decode(&e, lr.envelope, lr.envelope_len), 0);
        assert_int_equal(env->rep.kind, e.kind);
        assert_int_equal(env->rep.author_seq, e.author_seq);
        free(rec);
        free(text);
    }
}

static void
test_flipped_record_byte(void **state)
{
    s_env_t *env = *state;
    s_item_t it;
    s_fetch(env, env->order_pos, &it);
    /* The hub time, a payload byte, the envelope signature's last byte:
     * the record still decodes, but it is not the leaf that was logged. */
    size_t offsets[] = {9, LEDGER_RECORD_HEADER + ENVELOPE_HEADER_LEN, it.rec_len - 1};
    for (size_t j = 0; j < sizeof offsets / sizeof offsets[0]; j++) {
        size_t len = 0;
        it.rec[offsets[j]] ^= 0x20;
        char *text = s_write(env, env->order_pos, it.rec, it.rec_len, &it.proof[0][0], it.k,
                             env->note, env->note_len, &len);
        it.rec[offsets[j]] ^= 0x20;
        assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EPROOF);
        assert_int_equal(env->rep.step, RECEIPT_STEP_PROOF);
        free(text);
    }
    free(it.rec);
}

static void
test_flipped_proof_hash(void **state)
{
    s_env_t *env = *state;
    s_item_t it;
    s_fetch(env, env->order_pos, &it);
    assert_true(it.k > 0);
    for (size_t j = 0; j < it.k; j++) {
        size_t len = 0;
        it.proof[j][j % 32] ^= 0x80;
        char *text = s_write(env, env->order_pos, it.rec, it.rec_len, &it.proof[0][0], it.k,
                             env->note, env->note_len, &len);
        it.proof[j][j % 32] ^= 0x80;
        assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EPROOF);
        assert_int_equal(env->rep.step, RECEIPT_STEP_PROOF);
        free(text);
    }
    /* One hash fewer or one more: a proof of the wrong length. */
    for (int extra = -1; extra <= 1; extra += 2) {
        size_t len = 0;
        char *text = s_write(env, env->order_pos, it.rec, it.rec_len, &it.proof[0][0],
                             it.k + (size_t) extra, env->note, env->note_len, &len);
        assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EPROOF);
        free(text);
    }
    free(it.rec);
}

static void
test_flipped_root_and_signature(void **state)
{
    s_env_t *env = *state;
    size_t len = 0;
    checkpoint_t cp;
    assert_int_equal(checkpoint_from_note(&cp, env->note, env->note_len), 0);

    /* The signed root changed: the hub's signature no longer covers it. */
    char *text = s_good(env, env->order_pos, &len);
    s_flip_b64(text, len, cp.root, 32, 7);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EBADSIG);
    assert_int_equal(env->rep.step, RECEIPT_STEP_HUB);
    free(text);

    /* The hub's signature line: a signature byte, then a key id byte. */
    note_t *note = malloc(sizeof *note);
    assert_non_null(note);
    assert_int_equal(note_parse(note, env->note, env->note_len), 0);
    assert_string_equal(note->sigs[0].name, "hub");
    text = s_good(env, env->order_pos, &len);
    s_flip_b64(text, len, note->sigs[0].blob, note->sigs[0].blob_len, 20);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EBADSIG);
    assert_int_equal(env->rep.step, RECEIPT_STEP_HUB);
    free(text);
    text = s_good(env, env->order_pos, &len);
    s_flip_b64(text, len, note->sigs[0].blob, note->sigs[0].blob_len, 0);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_ENOTFOUND);
    assert_int_equal(env->rep.step, RECEIPT_STEP_HUB);
    free(text);

    /* north's cosignature forged: fine for a verifier that does not know
     * north, forgery for one whose policy lists north. */
    assert_string_equal(note->sigs[1].name, "north");
    text = s_good(env, env->order_pos, &len);
    s_flip_b64(text, len, note->sigs[1].blob, note->sigs[1].blob_len, 40);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), 0);
    assert_int_equal(s_verify(env, text, len, &env->hub, &env->policy), COFAB_EBADSIG);
    assert_int_equal(env->rep.step, RECEIPT_STEP_WITNESS);
    assert_non_null(strstr(env->rep.reason, "north"));
    free(text);
    free(note);
}

static void
test_wrong_index(void **state)
{
    s_env_t *env = *state;
    s_item_t it;
    size_t len = 0;
    uint64_t i = env->order_pos;
    assert_true(i + 1 < env->size);
    s_fetch(env, i, &it);
    /* Same record and proof, another position. */
    char *text = s_write(env, i + 1, it.rec, it.rec_len, &it.proof[0][0], it.k, env->note,
                         env->note_len, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EPROOF);
    assert_int_equal(env->rep.step, RECEIPT_STEP_PROOF);
    free(text);
    /* A valid proof of another record does not prove this one. */
    s_item_t other;
    s_fetch(env, i + 1, &other);
    text = s_write(env, i + 1, it.rec, it.rec_len, &other.proof[0][0], other.k, env->note,
                   env->note_len, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EPROOF);
    free(text);
    /* Beyond the checkpoint. */
    text = s_write(env, env->size, it.rec, it.rec_len, &it.proof[0][0], it.k, env->note,
                   env->note_len, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_ERANGE);
    assert_int_equal(env->rep.step, RECEIPT_STEP_PROOF);
    free(text);
    free(other.rec);
    free(it.rec);
}

static void
test_truncated(void **state)
{
    s_env_t *env = *state;
    size_t len = 0;
    char *text = s_good(env, env->order_pos, &len);
    /* Only a cut right after the hub's signature line (dropping north's
     * whole line) leaves a complete receipt; every other cut is truncation. */
    const char *hubline = strstr(text, "\xe2\x80\x94 hub ");
    assert_non_null(hubline);
    size_t whole = (size_t) (strchr(hubline, '\n') - text) + 1;
    size_t complete = 0;
    for (size_t cut = 0; cut < len; cut++) {
        int rc = receipt_parse(env->r, text, cut);
        if (rc == 0) {
            assert_int_equal(cut, whole);
            complete++;
            /* Still a valid receipt for the hub key, short of the quorum. */
            assert_int_equal(receipt_verify(env->r, &env->hub, NULL, &env->rep), 0);
            assert_int_equal(receipt_verify(env->r, &env->hub, &env->policy, &env->rep),
                             COFAB_EWITNESS);
            assert_int_equal(env->rep.step, RECEIPT_STEP_WITNESS);
        } else {
            if (rc != COFAB_ETRUNCATED)
                fail_msg("cut at %zu of %zu: %s", cut, len, cofab_errname(rc));
            /* A failed parse leaves nothing behind. */
            assert_int_equal(env->r->record_len, 0);
            assert_int_equal(env->r->proof_len, 0);
        }
    }
    assert_int_equal(complete, 1);
    assert_int_equal(receipt_parse(env->r, text, len), 0);
    free(text);
}

static void
test_trailing_garbage(void **state)
{
    s_env_t *env = *state;
    const char *tails[] = {"x", "\n", "garbage\n", "\n\xe2\x80\x94 hub AAAA\n", "\r\n"};
    for (size_t j = 0; j < sizeof tails / sizeof tails[0]; j++) {
        size_t len = 0, n = strlen(tails[j]);
        char *text = s_good(env, env->order_pos, &len);
        char *more = realloc(text, len + n);
        assert_non_null(more);
        memcpy(more + len, tails[j], n);
        assert_int_equal(receipt_parse(env->r, more, len + n), COFAB_ETRAILING);
        free(more);
    }
    /* Two receipts in one file. */
    size_t len = 0;
    char *text = s_good(env, env->order_pos, &len);
    char *two = malloc(2 * len);
    assert_non_null(two);
    memcpy(two, text, len);
    memcpy(two + len, text, len);
    assert_int_equal(receipt_parse(env->r, two, 2 * len), COFAB_ETRAILING);
    free(two);
    free(text);
}

static void
test_proof_line_limit(void **state)
{
    s_env_t *env = *state;
    s_item_t it;
    s_fetch(env, env->order_pos, &it);
    uint8_t(*many)[32] = calloc(RECEIPT_MAX_PROOF + 1, 32);
    assert_non_null(many);
    memcpy(many, it.proof, it.k * 32);
    size_t len = 0;
    char *text = s_write(env, env->order_pos, it.rec, it.rec_len, &many[0][0],
                         RECEIPT_MAX_PROOF + 1, env->note, env->note_len, &len);
    assert_int_equal(receipt_parse(env->r, text, len), COFAB_ETOOBIG);
    free(text);
    /* At the limit it parses; the proof is then simply wrong. */
    text = s_write(env, env->order_pos, it.rec, it.rec_len, &many[0][0], RECEIPT_MAX_PROOF,
                   env->note, env->note_len, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EPROOF);
    assert_int_equal(env->r->proof_len, RECEIPT_MAX_PROOF);
    free(text);
    free(many);
    free(it.rec);
}

static void
test_oversize_extra(void **state)
{
    s_env_t *env = *state;
    uint8_t *big = calloc(1, LEDGER_RECORD_MAX + 1);
    assert_non_null(big);
    big[0] = LEDGER_RECORD_VERSION;
    size_t len = 0;
    char *text = s_write(env, 0, big, LEDGER_RECORD_MAX + 1, NULL, 0, env->note, env->note_len,
                         &len);
    assert_int_equal(receipt_parse(env->r, text, len), COFAB_ETOOBIG);
    free(text);
    /* At exactly the maximum the size passes; these bytes then fail as a
     * record (an envelope length of 0 leaves bytes over). */
    text = s_write(env, 0, big, LEDGER_RECORD_MAX, NULL, 0, env->note, env->note_len, &len);
    assert_int_equal(receipt_parse(env->r, text, len), COFAB_ETRAILING);
    free(text);
    /* A whole text over the maximum is refused before anything is read. */
    char *huge = malloc(RECEIPT_MAX_LEN + 1);
    assert_non_null(huge);
    memset(huge, 'A', RECEIPT_MAX_LEN + 1);
    assert_int_equal(receipt_parse(env->r, huge, RECEIPT_MAX_LEN + 1), COFAB_ETOOBIG);
    free(huge);
    free(big);
}

static void
test_other_hub_key(void **state)
{
    s_env_t *env = *state;
    size_t len = 0;
    char *text = s_good(env, env->order_pos, &len);
    /* Another key under the same name, and another name. */
    const char *names[] = {"hub", "other-hub"};
    for (int j = 0; j < 2; j++) {
        keys_t *k = keys_generate(names[j]);
        note_verifier_t v;
        assert_non_null(k);
        keys_verifier(k, &v);
        assert_int_equal(s_verify(env, text, len, &v, NULL), COFAB_ENOTFOUND);
        assert_int_equal(env->rep.step, RECEIPT_STEP_HUB);
        /* A policy pinning that key while --hub-key names ours. */
        witness_policy_t p = env->policy;
        p.log = v;
        assert_int_equal(s_verify(env, text, len, &env->hub, &p), COFAB_EKEYMISMATCH);
        assert_int_equal(s_verify(env, text, len, NULL, &p), COFAB_ENOTFOUND);
        keys_destroy(&k);
    }
    free(text);
}

static void
test_witness_quorum(void **state)
{
    s_env_t *env = *state;
    size_t len = 0;
    char *text = s_good(env, env->order_pos, &len);
    witness_policy_t p = env->policy;
    p.quorum = 2;
    assert_int_equal(s_verify(env, text, len, &env->hub, &p), COFAB_EWITNESS);
    assert_int_equal(env->rep.step, RECEIPT_STEP_WITNESS);
    assert_int_equal(env->rep.cosigned, 1);
    /* Only south counts: north's line is by a key the policy ignores. */
    p.witnesses[0] = p.witnesses[1];
    p.n = 1;
    p.quorum = 1;
    assert_int_equal(s_verify(env, text, len, &env->hub, &p), COFAB_EWITNESS);
    assert_int_equal(env->rep.cosigned, 0);
    free(text);
}

/* Replaces the first occurrence of `from` in a receipt text by `to`. */
static char *
s_replace(const char *text, size_t len, const char *from, const char *to, size_t *out_len)
{
    const char *p = s_find(text, len, from, strlen(from));
    assert_non_null(p);
    size_t head = (size_t) (p - text), fl = strlen(from), tl = strlen(to);
    char *out = malloc(len - fl + tl);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, to, tl);
    memcpy(out + head + tl, p + fl, len - head - fl);
    *out_len = len - fl + tl;
    return out;
}

static void
test_malformed_fields(void **state)
{
    s_env_t *env = *state;
    size_t len = 0, n = 0;
    char *text = s_good(env, 1, &len);   /* index 1: "index 1\n" is unique */
    assert_int_equal(receipt_parse(env->r, text, len), 0);
    static const struct {
        const char *from, *to;
        int code;
    } cases[] = {
        {"c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v2\n", COFAB_EVERSION},
        {"c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof@v1\r\n", COFAB_EMALFORMED},
        {"c2sp.org/tlog-proof@v1\n", "c2sp.org/tlog-proof\n", COFAB_EMALFORMED},
        {"c2sp.org/tlog-proof@v1\n", "", COFAB_EMALFORMED},
        {"extra ", "extra  ", COFAB_EMALFORMED},
        {"extra ", "xtra ", COFAB_EMALFORMED},
        {"extra ", "extra =", COFAB_EMALFORMED},
        {"index 1\n", "index 01\n", COFAB_EMALFORMED},
        {"index 1\n", "index -1\n", COFAB_EMALFORMED},
        {"index 1\n", "index \n", COFAB_EMALFORMED},
        {"index 1\n", "index 1 \n", COFAB_EMALFORMED},
        {"index 1\n", "index 99999999999999999999\n", COFAB_EMALFORMED},
        {"index 1\n", "index 1\nAAAA\n", COFAB_EMALFORMED},          /* a 3-byte proof hash */
        {"index 1\n", "index 1\n\n", COFAB_EMALFORMED},              /* a blank line before the proof */
        {"scenario.example/log\n", "scenario.example/log\n\n", COFAB_EMALFORMED},
    };
    for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
        char *bad = s_replace(text, len, cases[j].from, cases[j].to, &n);
        int rc = receipt_parse(env->r, bad, n);
        if (rc != cases[j].code)
            fail_msg("case %zu: %s, wanted %s", j, cofab_errname(rc), cofab_errname(cases[j].code));
        free(bad);
    }
    /* A byte outside the base64 alphabet in a proof line and in the record
     * (libsodium 1.0.18 alone would take bytes >= 0x80 as digits). */
    const char *marks[] = {"index 1\n", "extra "};
    for (size_t j = 0; j < 2; j++) {
        char *bad = malloc(len);
        assert_non_null(bad);
        memcpy(bad, text, len);
        char *at = s_find(bad, len, marks[j], strlen(marks[j]));
        assert_non_null(at);
        at[strlen(marks[j]) + 1] = (char) 0xc3;
        assert_int_equal(receipt_parse(env->r, bad, len), COFAB_EMALFORMED);
        free(bad);
    }
    /* A record whose envelope is cut short. */
    s_item_t it;
    s_fetch(env, 1, &it);
    uint8_t *rec = malloc(it.rec_len);
    assert_non_null(rec);
    memcpy(rec, it.rec, it.rec_len);
    util_put_be32(rec + 49, (uint32_t) (it.rec_len - LEDGER_RECORD_HEADER - 1));
    char *t2 = s_write(env, 1, rec, it.rec_len - 1, &it.proof[0][0], it.k, env->note,
                       env->note_len, &n);
    assert_int_equal(receipt_parse(env->r, t2, n), COFAB_ETRUNCATED);
    free(t2);
    assert_int_equal(receipt_parse(env->r, "", 0), COFAB_ETRUNCATED);
    assert_int_equal(receipt_parse(NULL, text, len), COFAB_EINVAL);
    assert_int_equal(receipt_parse(env->r, NULL, 5), COFAB_EINVAL);
    free(rec);
    free(it.rec);
    free(text);
}

/* A one-record log built by hand, as a rogue hub could sign it: the
 * envelope's signature broken, or the record's position or the chain head
 * not what the checkpoint says. */
static char *
s_rogue(s_env_t *env, int bad_sig, uint64_t seq, int bad_chain, size_t *len)
{
    static const char payload[] = "a note";
    envelope_spec_t spec = {.kind = ENVELOPE_NOTE, .author_seq = 1, .timestamp_ms = 1000,
                            .payload = (const uint8_t *) payload, .payload_len = sizeof payload - 1};
    uint8_t *env_buf = malloc(ENVELOPE_MAX), *rec = malloc(LEDGER_RECORD_MAX);
    uint8_t zero[32] = {0};
    size_t elen = 0;
    assert_true(env_buf && rec);
    assert_int_equal(envelope_seal(&spec, env->s.alice, env_buf, ENVELOPE_MAX, &elen), 0);
    if (bad_sig)
        env_buf[elen - 1] ^= 0x04;
    size_t rlen = ledger_record_encode(rec, LEDGER_RECORD_MAX, seq, 2000, zero, env_buf, elen);
    assert_true(rlen > 0);
    checkpoint_t cp = {.size = 1, .has_chain = 1};
    snprintf(cp.origin, sizeof cp.origin, "rogue.example/log");
    merkle_leaf_hash(rec, rlen, cp.root);
    memcpy(cp.chain, bad_chain ? zero : cp.root, 32);
    char body[1024], note[2048];
    size_t blen = 0;
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &blen), 0);
    assert_int_equal(note_sign(body, blen, "hub", keys_sign_sk(env->s.hub), note, sizeof note), 0);
    char *text = s_write(env, 0, rec, rlen, NULL, 0, note, strlen(note), len);
    free(env_buf);
    free(rec);
    return text;
}

static void
test_rogue_hub(void **state)
{
    s_env_t *env = *state;
    size_t len = 0;
    char *text = s_rogue(env, 0, 0, 0, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), 0);
    free(text);
    text = s_rogue(env, 1, 0, 0, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_EBADSIG);
    assert_int_equal(env->rep.step, RECEIPT_STEP_ENVELOPE);
    free(text);
    text = s_rogue(env, 0, 5, 0, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_ECHAIN);
    assert_int_equal(env->rep.step, RECEIPT_STEP_RECORD);
    free(text);
    text = s_rogue(env, 0, 0, 1, &len);
    assert_int_equal(s_verify(env, text, len, &env->hub, NULL), COFAB_ECHAIN);
    assert_int_equal(env->rep.step, RECEIPT_STEP_RECORD);
    free(text);
}

/* Runs `cofab audit ...` in-process with its output thrown away. */
static int
s_cli(int argc, char **argv)
{
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2), null = open("/dev/null", O_WRONLY);
    assert_true(saved_out >= 0 && saved_err >= 0 && null >= 0);
    dup2(null, 1);
    dup2(null, 2);
    int rc = audit_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(null);
    return rc;
}

static void
test_cli_exit_codes(void **state)
{
    s_env_t *env = *state;
    char pub[320], good[320], bad[320], policy[320];
    char kdir[300];
    snprintf(kdir, sizeof kdir, "%s/keys", env->dir);
    assert_int_equal(util_mkdir_p(kdir, 0700), 0);
    {
        /* The scenario hub's .pub file and a policy naming north. */
        char line[NOTE_VERIFIER_MAX];
        assert_int_equal(note_verifier_format(&env->hub, line, sizeof line), 0);
        char transport[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(transport, sizeof transport, keys_curve_pk(env->s.hub), 32,
                          sodium_base64_VARIANT_ORIGINAL);
        snprintf(pub, sizeof pub, "%s/hub.pub", kdir);
        FILE *f = fopen(pub, "w");
        assert_non_null(f);
        fprintf(f, "%s\ntransport %s\n", line, transport);
        fclose(f);
        snprintf(policy, sizeof policy, "%s/policy", kdir);
        f = fopen(policy, "w");
        assert_non_null(f);
        char w[NOTE_VERIFIER_MAX];
        assert_int_equal(note_verifier_format(&env->policy.witnesses[0], w, sizeof w), 0);
        fprintf(f, "log %s\nwitness %s\nquorum 1\n", line, w);
        fclose(f);
    }
    size_t len = 0;
    char *text = s_good(env, env->order_pos, &len);
    snprintf(good, sizeof good, "%s/good.tlog-proof", kdir);
    snprintf(bad, sizeof bad, "%s/bad.tlog-proof", kdir);
    FILE *f = fopen(good, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    /* north's cosignature forged: only a verifier with the policy sees it. */
    note_t *note = malloc(sizeof *note);
    assert_non_null(note);
    assert_int_equal(note_parse(note, env->note, env->note_len), 0);
    s_flip_b64(text, len, note->sigs[1].blob, note->sigs[1].blob_len, 50);
    free(note);
    f = fopen(bad, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    free(text);

    char *ok1[] = {"audit", "receipt", good, "--hub-key", pub, NULL};
    assert_int_equal(s_cli(5, ok1), CLI_OK);
    char *ok2[] = {"audit", "receipt", "--json", "--policy", policy, good, NULL};
    assert_int_equal(s_cli(6, ok2), CLI_OK);
    char *ok3[] = {"audit", "receipt", good, bad, "--hub-key", pub, NULL};
    assert_int_equal(s_cli(6, ok3), CLI_OK);
    char *fail1[] = {"audit", "receipt", good, bad, "--hub-key", pub, "--policy", policy, NULL};
    assert_int_equal(s_cli(8, fail1), CLI_FAIL);
    char *fail2[] = {"audit", "receipt", good, kdir, "--hub-key", pub, NULL};   /* unreadable */
    assert_int_equal(s_cli(6, fail2), CLI_FAIL);
    char *use1[] = {"audit", "receipt", "--hub-key", pub, NULL};
    assert_int_equal(s_cli(4, use1), CLI_USAGE);
    char *use2[] = {"audit", "receipt", good, NULL};
    assert_int_equal(s_cli(3, use2), CLI_USAGE);
    char *use3[] = {"audit", "receipt", good, "--hub-key", good, NULL};
    assert_int_equal(s_cli(5, use3), CLI_USAGE);
    char *use4[] = {"audit", "receipt", good, "--hub-key", pub, "--bogus", NULL};
    assert_int_equal(s_cli(6, use4), CLI_USAGE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_receipt_verifies),
        cmocka_unit_test(test_every_record_verifies),
        cmocka_unit_test(test_flipped_record_byte),
        cmocka_unit_test(test_flipped_proof_hash),
        cmocka_unit_test(test_flipped_root_and_signature),
        cmocka_unit_test(test_wrong_index),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_proof_line_limit),
        cmocka_unit_test(test_oversize_extra),
        cmocka_unit_test(test_other_hub_key),
        cmocka_unit_test(test_witness_quorum),
        cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_rogue_hub),
        cmocka_unit_test(test_cli_exit_codes),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests_name("receipt", tests, s_setup, s_teardown);
}
