/* fuzz_payload.c — libFuzzer target: CBOR payload decoders and .pub key text on hostile bytes. */
#include <stddef.h>
#include <stdint.h>

#include "cofab/keys.h"
#include "cofab/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    payload_genesis_t g;
    payload_genesis_decode(&g, data, size);
    keys_public_t p;
    keys_public_parse(&p, (const char *) data, size);
    return 0;
}
