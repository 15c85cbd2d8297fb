/* payload.c — CBOR encoding and bounded decoding of envelope payloads. */
#include "cofab/payload.h"

#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cofab/envelope.h"
#include "cofab/error.h"

/* Loads exactly one CBOR map from data. */
static int
s_load_map(const uint8_t *data, size_t len, cbor_item_t **out)
{
    if (!data && len)
        return COFAB_EINVAL;
    if (len > ENVELOPE_MAX_PAYLOAD)
        return COFAB_ETOOBIG;
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(data, len, &res);
    if (!item)
        return res.error.code == CBOR_ERR_MEMERROR ? COFAB_ENOMEM : COFAB_EMALFORMED;
    if (res.read != len) {
        cbor_decref(&item);
        return COFAB_ETRAILING;
    }
    if (!cbor_isa_map(item) || !cbor_map_is_definite(item)) {
        cbor_decref(&item);
        return COFAB_EMALFORMED;
    }
    *out = item;
    return 0;
}

/* The value under text key `name`, or NULL. */
static cbor_item_t *
s_map_get(const cbor_item_t *map, const char *name)
{
    size_t n = cbor_map_size(map), name_len = strlen(name);
    struct cbor_pair *pairs = cbor_map_handle(map);
    for (size_t i = 0; i < n; i++) {
        cbor_item_t *k = pairs[i].key;
        if (cbor_isa_string(k) && cbor_string_is_definite(k) &&
            cbor_string_length(k) == name_len &&
            memcmp(cbor_string_handle(k), name, name_len) == 0)
            return pairs[i].value;
    }
    return NULL;
}

/* Copies text field `name` (1..max bytes, no NUL) into out as a C string. */
static int
s_get_text(const cbor_item_t *map, const char *name, char *out, size_t max)
{
    cbor_item_t *v = s_map_get(map, name);
    if (!v || !cbor_isa_string(v) || !cbor_string_is_definite(v))
        return COFAB_EMALFORMED;
    size_t len = cbor_string_length(v);
    if (len == 0 || len > max || memchr(cbor_string_handle(v), 0, len))
        return COFAB_EMALFORMED;
    memcpy(out, cbor_string_handle(v), len);
    out[len] = 0;
    return 0;
}

/* Copies a byte-string field of exactly len bytes. */
static int
s_get_bytes(const cbor_item_t *map, const char *name, uint8_t *out, size_t len)
{
    cbor_item_t *v = s_map_get(map, name);
    if (!v || !cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v) ||
        cbor_bytestring_length(v) != len)
        return COFAB_EMALFORMED;
    memcpy(out, cbor_bytestring_handle(v), len);
    return 0;
}

static int
s_add(cbor_item_t *map, const char *key, cbor_item_t *value)
{
    if (!value)
        return COFAB_ENOMEM;
    cbor_item_t *k = cbor_build_string(key);
    if (!k) {
        cbor_decref(&value);
        return COFAB_ENOMEM;
    }
    bool ok = cbor_map_add(map, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(value)});
    return ok ? 0 : COFAB_ENOMEM;
}

static int
s_serialize(cbor_item_t *map, uint8_t **out, size_t *len)
{
    unsigned char *buf = NULL;
    size_t cap = 0;
    size_t n = cbor_serialize_alloc(map, &buf, &cap);
    if (n == 0) {
        free(buf);
        return COFAB_ENOMEM;
    }
    *out = buf;
    *len = n;
    return 0;
}

int
payload_genesis_encode(const payload_genesis_t *g, uint8_t **out, size_t *len)
{
    if (!g || !out || !len)
        return COFAB_EINVAL;
    size_t origin_len = strnlen(g->origin, sizeof g->origin);
    if (origin_len == 0 || origin_len > NOTE_MAX_ORIGIN)
        return COFAB_EMALFORMED;
    char verifier[NOTE_VERIFIER_MAX];
    int rc = note_verifier_format(&g->hub, verifier, sizeof verifier);
    if (rc != 0)
        return rc;
    cbor_item_t *map = cbor_new_definite_map(3);
    if (!map)
        return COFAB_ENOMEM;
    rc = s_add(map, "origin", cbor_build_string(g->origin));
    if (rc == 0)
        rc = s_add(map, "hub", cbor_build_string(verifier));
    if (rc == 0)
        rc = s_add(map, "hub_transport", cbor_build_bytestring(g->hub_transport, 32));
    if (rc == 0)
        rc = s_serialize(map, out, len);
    cbor_decref(&map);
    return rc;
}

int
payload_genesis_decode(payload_genesis_t *g, const uint8_t *data, size_t len)
{
    if (!g)
        return COFAB_EINVAL;
    cbor_item_t *map = NULL;
    int rc = s_load_map(data, len, &map);
    if (rc != 0)
        return rc;
    char verifier[NOTE_VERIFIER_MAX];
    memset(g, 0, sizeof *g);
    rc = s_get_text(map, "origin", g->origin, NOTE_MAX_ORIGIN);
    if (rc == 0)
        rc = s_get_text(map, "hub", verifier, sizeof verifier - 1);
    if (rc == 0)
        rc = note_verifier_parse(&g->hub, verifier, strlen(verifier));
    if (rc == 0)
        rc = s_get_bytes(map, "hub_transport", g->hub_transport, 32);
    cbor_decref(&map);
    return rc;
}
