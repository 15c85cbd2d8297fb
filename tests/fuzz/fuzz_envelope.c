/* fuzz_envelope.c — libFuzzer target: envelope and ledger record decoders on hostile bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/ledger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        ready = sodium_init() >= 0;
    envelope_t e;
    int rc = envelope_decode(&e, data, size);
    if (rc == 0) {
        /* A decoded envelope's fields must lie inside the input. */
        if (e.payload + e.payload_len > data + size || e.len != size)
            __builtin_trap();
        envelope_verify(&e);
    } else if (rc > 0 || cofab_strerror(rc) == NULL) {
        __builtin_trap();
    }
    ledger_record_t r;
    if (ledger_record_decode(&r, data, size) == 0) {
        if (r.envelope + r.envelope_len != data + size)
            __builtin_trap();
        envelope_open(&e, r.envelope, r.envelope_len);
    }
    return 0;
}
