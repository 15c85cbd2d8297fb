/* fuzz_payload.c — libFuzzer target: every CBOR payload decoder and .pub key text on hostile bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/envelope.h"
#include "cofab/keys.h"
#include "cofab/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whatever decodes must encode again and decode to the same struct. */
#define S_ROUNDTRIP(type, dec, enc)                                                   \
    do {                                                                              \
        type *a = malloc(sizeof *a), *b = malloc(sizeof *b);                          \
        if (a && b && dec(a, data, size) == 0) {                                      \
            uint8_t *out = NULL;                                                      \
            size_t n = 0;                                                             \
            if (enc(a, &out, &n) != 0 || dec(b, out, n) != 0 ||                       \
                memcmp(a, b, sizeof *a) != 0)                                         \
                abort();                                                              \
            free(out);                                                                \
        }                                                                             \
        free(a);                                                                      \
        free(b);                                                                      \
    } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int kind = 0; kind <= ENVELOPE_KIND_MAX + 1; kind++)
        payload_check(kind, data, size);
    S_ROUNDTRIP(payload_genesis_t, payload_genesis_decode, payload_genesis_encode);
    S_ROUNDTRIP(payload_member_t, payload_member_add_decode, payload_member_add_encode);
    S_ROUNDTRIP(payload_member_remove_t, payload_member_remove_decode,
                payload_member_remove_encode);
    S_ROUNDTRIP(payload_capacity_t, payload_capacity_decode, payload_capacity_encode);
    S_ROUNDTRIP(payload_order_t, payload_order_decode, payload_order_encode);
    S_ROUNDTRIP(payload_assign_t, payload_assign_decode, payload_assign_encode);
    S_ROUNDTRIP(payload_accept_t, payload_accept_decode, payload_accept_encode);
    S_ROUNDTRIP(payload_decline_t, payload_decline_decode, payload_decline_encode);
    S_ROUNDTRIP(payload_status_t, payload_status_decode, payload_status_encode);
    S_ROUNDTRIP(payload_cancel_t, payload_cancel_decode, payload_cancel_encode);
    S_ROUNDTRIP(payload_reassign_t, payload_reassign_decode, payload_reassign_encode);
    keys_public_t p;
    keys_public_parse(&p, (const char *) data, size);
    return 0;
}
