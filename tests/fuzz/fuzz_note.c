/* fuzz_note.c — libFuzzer target for the signed-note, checkpoint and verifier-key parsers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* note_t is 20 KiB: keep it off the fuzzer's stack. */
    note_t *note = malloc(sizeof *note);
    checkpoint_t cp;
    note_verifier_t v;
    const char *text = (const char *) data;

    if (!note)
        return 0;
    int rc = note_parse(note, text, size);
    if (rc == 0) {
        /* Invariants of a parsed note. */
        if (note->body_len == 0 || note->body_len >= size ||
            note->body[note->body_len - 1] != '\n' || note->body[note->body_len] != '\0' ||
            memcmp(note->body, data, note->body_len) != 0 || note->nsigs > NOTE_MAX_SIGS)
            abort();
        for (size_t i = 0; i < note->nsigs; i++)
            if (note->sigs[i].blob_len > sizeof note->sigs[i].blob ||
                (note->sigs[i].blob_len != 0 && note->sigs[i].blob_len < 5) ||
                strlen(note->sigs[i].name) == 0)
                abort();
        if (checkpoint_parse(&cp, note->body, note->body_len) == 0) {
            /* A parsed checkpoint formats and parses back to itself. */
            char out[NOTE_MAX_LEN];
            size_t len = 0;
            checkpoint_t back;
            if (checkpoint_format(&cp, out, sizeof out, &len) != 0 ||
                checkpoint_parse(&back, out, len) != 0 ||
                strcmp(back.origin, cp.origin) != 0 || back.size != cp.size ||
                memcmp(back.root, cp.root, 32) != 0 || back.has_chain != cp.has_chain ||
                memcmp(back.chain, cp.chain, 32) != 0)
                abort();
        }
        const uint8_t *pk = (const uint8_t *) "0123456789abcdef0123456789abcdef";
        if (note_verifier_init(&v, "fuzz", pk) != 0)
            abort();
        rc = note_verify(note, &v);
        if (rc != COFAB_ENOTFOUND && rc != COFAB_EBADSIG && rc != 0)
            abort();
        rc = note_verify_cosignature(note, "fuzz", v.pk, NULL);
        if (rc != COFAB_ENOTFOUND && rc != COFAB_EBADSIG && rc != 0)
            abort();
    } else if (rc != COFAB_EMALFORMED && rc != COFAB_ETOOBIG) {
        abort();
    }
    /* The raw input as a checkpoint body and as verifier key text. */
    rc = checkpoint_parse(&cp, text, size);
    if (rc != 0 && rc != COFAB_EMALFORMED && rc != COFAB_ETOOBIG)
        abort();
    rc = note_verifier_parse(&v, text, size);
    if (rc == 0) {
        char out[NOTE_VERIFIER_MAX];
        /* A key that parses formats back to the same text, up to hex case. */
        if (note_verifier_format(&v, out, sizeof out) != 0 || strlen(out) != size)
            abort();
    } else if (rc != COFAB_EMALFORMED && rc != COFAB_EKEYMISMATCH) {
        abort();
    }
    free(note);
    return 0;
}
