/* payload.h — CBOR payloads of the envelope kinds (encoded with libcbor).
 *
 * Every payload is a CBOR map with short text keys. Decoders treat their
 * input as hostile: at most ENVELOPE_MAX_PAYLOAD bytes, exactly one CBOR
 * item with nothing after it, every field type- and length-checked.
 * Unknown keys are ignored so later versions can add fields.
 *
 * genesis: {"origin": text, "hub": text (note verifier of the hub key),
 *           "hub_transport": bytes(32)}
 */
#ifndef COFAB_PAYLOAD_H
#define COFAB_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/keys.h"
#include "cofab/note.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char origin[NOTE_MAX_ORIGIN + 1];  /* checkpoint origin line */
    note_verifier_t hub;               /* key that signs checkpoints and hub records */
    uint8_t hub_transport[32];         /* hub's CurveZMQ public key */
} payload_genesis_t;

/* Encodes g into a new malloc'd buffer (*out, *len); caller frees.
 * Returns 0, COFAB_ENOMEM, COFAB_EMALFORMED (bad origin). */
int payload_genesis_encode(const payload_genesis_t *g, uint8_t **out, size_t *len);

/* Decodes untrusted bytes. Returns 0, COFAB_ETOOBIG, COFAB_EMALFORMED,
 * COFAB_ETRAILING, COFAB_EKEYMISMATCH (hub verifier key id wrong). */
int payload_genesis_decode(payload_genesis_t *g, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
