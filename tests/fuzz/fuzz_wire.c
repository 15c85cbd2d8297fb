/* fuzz_wire.c — libFuzzer target for the client's decoders of hub replies (ACK, ERR, AUTHOR, RECORDS, SUBJECT) and the SUBJECT verifier.
 *
 * Every reply body comes from the network, so each decoder gets the raw
 * input and must either refuse it with an input-family code or return
 * fields that lie inside it. A decoded SUBJECT reply is then verified: once
 * as sent (the fuzzer cannot forge the hub's signature), and once with its
 * checkpoint body re-signed by a fixed test hub key, so the per-record
 * checks (record layout, positions, envelope signatures, inclusion proofs)
 * see hostile bytes too. Seeds in tests/fuzz/corpus/fuzz_wire are real hub
 * replies.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/client.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
    if (n && (!p || p < data || p + n > data + size))
        abort();
}

static void
s_expect_input_error(int rc)
{
    if (rc != 0 && !cofab_err_is_input(rc))
        abort();
}

/* Verifies s against a fixed trust; with resign, the note body is signed
 * again by the trust's own key first. */
static void
s_verify(client_subject_t *s, int resign)
{
    uint8_t seed[32], pk[32], sk[64];
    memset(seed, 7, sizeof seed); /* fixed: the fuzzer must stay deterministic */
    crypto_sign_seed_keypair(pk, sk, seed);
    client_trust_t *t = calloc(1, sizeof *t);
    client_verified_t *v = malloc(sizeof *v);
    note_t *note = malloc(sizeof *note);
    char *signed_note = malloc(NOTE_MAX_LEN);
    if (!t || !v || !note || !signed_note)
        goto out;
    if (note_verifier_init(&t->hub, "fuzz-hub", pk) != 0)
        abort();
    t->nmembers = 1;
    t->witness_k = 1;
    t->members[0].role = PAYLOAD_ROLE_WITNESS;
    if (note_verifier_init(&t->members[0].key, "fuzz-witness", pk) != 0)
        abort();
    if (resign) {
        if (note_parse(note, (const char *) s->note.bytes, s->note.len) != 0 ||
            note_sign(note->body, note->body_len, "fuzz-hub", sk, signed_note, NOTE_MAX_LEN) != 0)
            goto out;
        s->note.bytes = (const uint8_t *) signed_note;
        s->note.len = strlen(signed_note);
    }
    /* The subject the first record claims, so the check goes past it. */
    uint8_t subject[32] = {0};
    ledger_record_t r;
    envelope_t e;
    if (ledger_record_decode(&r, s->entries[0].record.bytes, s->entries[0].record.len) == 0 &&
        envelope_decode(&e, r.envelope, r.envelope_len) == 0)
        memcpy(subject, e.subject, 32);
    int rc = client_subject_verify(s, t, subject, v);
    if (rc != 0 && v->reason[0] == 0)
        abort(); /* every failure says why */
    if (rc == 0 && (v->n != s->n || v->unproven > v->n || v->cosigned > v->witnesses))
        abort();
out:
    free(signed_note);
    free(note);
    free(v);
    free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t pos = 0;
    int dup = -1, code = 0;
    uint8_t hash[32];
    char reason[WIRE_MAX_REASON + 1];

    int rc = client_ack_decode(data, size, &pos, &dup);
    s_expect_input_error(rc);
    if (rc == 0 && (size != 9 || (dup != 0 && dup != 1)))
        abort();
    rc = client_author_decode(data, size, &pos, hash);
    s_expect_input_error(rc);
    if (rc == 0 && size != 40)
        abort();
    rc = wire_err_decode(data, size, &code, reason);
    s_expect_input_error(rc);
    if (rc == 0 && strlen(reason) > WIRE_MAX_REASON)
        abort();

    client_records_t *recs = malloc(sizeof *recs);
    client_subject_t *s = malloc(sizeof *s);
    if (!recs || !s)
        goto out;
    rc = client_records_decode(recs, data, size);
    s_expect_input_error(rc);
    if (rc == 0) {
        if (recs->n > WIRE_MAX_RANGE)
            abort();
        for (uint32_t i = 0; i < recs->n; i++) {
            ledger_record_t r;
            s_inside(recs->records[i].bytes, recs->records[i].len, data, size);
            if (recs->records[i].len == 0 || recs->records[i].len > LEDGER_RECORD_MAX)
                abort();
            s_expect_input_error(ledger_record_decode(&r, recs->records[i].bytes,
                                                      recs->records[i].len));
        }
    }
    rc = client_subject_decode(s, data, size);
    s_expect_input_error(rc);
    if (rc == 0) {
        if (s->n == 0 || s->n > WIRE_MAX_SUBJECT_RECORDS || s->note.len > NOTE_MAX_LEN)
            abort();
        s_inside(s->note.bytes, s->note.len, data, size);
        for (uint32_t i = 0; i < s->n; i++) {
            s_inside(s->entries[i].record.bytes, s->entries[i].record.len, data, size);
            if (s->entries[i].k > CLIENT_MAX_PROOF)
                abort();
            s_inside(s->entries[i].proof, (size_t) s->entries[i].k * 32, data, size);
        }
        s_verify(s, 0);
        s_verify(s, 1);
    }
out:
    free(recs);
    free(s);
    return 0;
}
