/* fuzz_receipt.c — libFuzzer target for the tlog-proof receipt reader and verifier (receipt.h). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/merkle.h"
#include "cofab/note.h"
#include "cofab/receipt.h"
#include "cofab/witness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The keys that signed and cosigned the committed seeds (their secret
 * halves were thrown away). */
#define S_HUB "hub+1ae6d4df+ARhZDIQW2XnQstlnlfaZ88bJoyTjrFkwlQhZ8txazcMn"
#define S_WITNESS "witness1+b382d02e+AbaJ6UVNOG77qEDvNUtO+2ksmcjFIjZ/7dbrsU5NaU/i"

/* Appends n bytes to out at *pos (room cap); 0 if they do not fit. */
static int
s_put(char *out, size_t cap, size_t *pos, const void *p, size_t n)
{
    if (n > cap - *pos)
        return 0;
    memcpy(out + *pos, p, n);
    *pos += n;
    return 1;
}

/* The strict format has one text per receipt: rebuilding it from the
 * parsed fields must give the input back, byte for byte. */
static void
s_check_canonical(const receipt_t *r, const uint8_t *data, size_t size)
{
    size_t cap = RECEIPT_MAX_LEN + 64, pos = 0;
    char *out = malloc(cap);
    char *b64 = malloc(RECEIPT_EXTRA_B64_MAX + 1);
    char num[32];
    if (!out || !b64)
        abort();
    sodium_bin2base64(b64, RECEIPT_EXTRA_B64_MAX + 1, r->record, r->record_len,
                      sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long) r->index);
    int ok = s_put(out, cap, &pos, RECEIPT_HEADER "\nextra ", sizeof RECEIPT_HEADER + 6) &&
             s_put(out, cap, &pos, b64, strlen(b64)) && s_put(out, cap, &pos, "\nindex ", 7) &&
             s_put(out, cap, &pos, num, (size_t) n) && s_put(out, cap, &pos, "\n", 1);
    for (size_t i = 0; ok && i < r->proof_len; i++) {
        sodium_bin2base64(b64, RECEIPT_EXTRA_B64_MAX + 1, r->proof[i], MERKLE_HASH_LEN,
                          sodium_base64_VARIANT_ORIGINAL);
        ok = s_put(out, cap, &pos, b64, strlen(b64)) && s_put(out, cap, &pos, "\n", 1);
    }
    ok = ok && s_put(out, cap, &pos, "\n", 1) &&
         s_put(out, cap, &pos, r->note_text, r->note_len);
    if (!ok || pos != size || memcmp(out, data, size) != 0)
        abort();
    free(out);
    free(b64);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* receipt_t is about 104 KiB: keep it off the fuzzer's stack. */
    receipt_t *r = malloc(sizeof *r);
    receipt_report_t *rep = malloc(sizeof *rep);
    if (!r || !rep)
        abort();
    int rc = receipt_parse(r, (const char *) data, size);
    if (rc == 0) {
        /* Invariants of a parsed receipt. */
        ledger_record_t rec;
        envelope_t e;
        checkpoint_t cp;
        if (r->record_len < LEDGER_RECORD_HEADER || r->record_len > LEDGER_RECORD_MAX ||
            r->proof_len > RECEIPT_MAX_PROOF || r->note_len == 0 ||
            r->note_len > NOTE_MAX_LEN || r->note_text[r->note_len] != '\0' ||
            r->note.nsigs > NOTE_MAX_SIGS ||   /* 0 is possible: over-long names are dropped */
            ledger_record_decode(&rec, r->record, r->record_len) != 0 ||
            envelope_decode(&e, rec.envelope, rec.envelope_len) != 0 ||
            checkpoint_parse(&cp, r->note.body, r->note.body_len) != 0 ||
            cp.size != r->cp.size || memcmp(cp.root, r->cp.root, 32) != 0 ||
            memcmp(r->note.body, r->note_text, r->note.body_len) != 0)
            abort();
        s_check_canonical(r, data, size);

        /* Verification against the key that signed the seed corpus, with
         * its witness: mutants that keep a seed's note run the proof,
         * record, witness and envelope steps on fuzzed data. Only the
         * codes receipt_verify() documents may come back. */
        note_verifier_t hub;
        witness_policy_t *policy = calloc(1, sizeof *policy);
        if (!policy || note_verifier_parse(&hub, S_HUB, strlen(S_HUB)) != 0 ||
            note_verifier_parse(&policy->witnesses[0], S_WITNESS, strlen(S_WITNESS)) != 0)
            abort();
        policy->n = 1;
        policy->quorum = 1;
        rc = receipt_verify(r, &hub, policy, rep);
        if (rc != rep->code || rep->index != r->index || rep->tree_size != r->cp.size ||
            !rep->has_record || (rc == 0) != (rep->step == RECEIPT_STEP_NONE))
            abort();
        switch (rc) {
        case 0:
            /* A receipt that verifies really is proven and really signed. */
            if (merkle_verify_inclusion(r->index, r->cp.size, rep->leaf,
                                        (const uint8_t(*)[MERKLE_HASH_LEN]) r->proof,
                                        r->proof_len, r->cp.root) != 0 ||
                note_verify(&r->note, &hub) != 0 || rep->cosigned < 1 ||
                rec.seq != r->index || envelope_verify(&e) != 0)
                abort();
            break;
        case COFAB_ENOTFOUND: case COFAB_EBADSIG: case COFAB_ERANGE: case COFAB_EPROOF:
        case COFAB_ECHAIN: case COFAB_EWITNESS:
            break;
        default:
            abort();
        }
        free(policy);
    } else if (!cofab_err_is_input(rc)) {
        abort();
    } else {
        /* A failed parse leaves nothing half-filled. */
        if (r->record_len != 0 || r->proof_len != 0 || r->note_len != 0 || r->note.nsigs != 0)
            abort();
    }
    free(r);
    free(rep);
    return 0;
}
