/* payload.c — CBOR encoding and bounded decoding of envelope payloads. */
#include "cofab/payload.h"

#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cofab/envelope.h"
#include "cofab/error.h"

#define S_MAX_DEPTH 8

/* What the streaming pre-scan has seen so far. */
typedef struct {
    uint64_t open[S_MAX_DEPTH]; /* items still owed by each open container */
    int depth;                  /* containers open */
    size_t top_items;           /* complete items at the top level */
    uint64_t declared;          /* items promised by all container headers */
    size_t budget;              /* input bytes: no honest input promises more */
    int bad;                    /* set on anything we refuse */
} s_scan_t;

/* One data item (or container header) finished at the current level. */
static void
s_scan_item(s_scan_t *s)
{
    if (s->depth == 0) {
        s->top_items++;
        return;
    }
    s->open[s->depth - 1]--;
    while (s->depth > 0 && s->open[s->depth - 1] == 0)
        s->depth--;
    if (s->depth == 0)
        s->top_items++;
}

static void
s_scan_open(s_scan_t *s, uint64_t items)
{
    if (items == 0) {
        s_scan_item(s);
        return;
    }
    s->declared += items;
    if (s->depth == S_MAX_DEPTH || s->declared > s->budget) {
        s->bad = 1;
        return;
    }
    s->open[s->depth++] = items;
}

static void s_cb_u8(void *c, uint8_t v) { (void) v; s_scan_item(c); }
static void s_cb_u16(void *c, uint16_t v) { (void) v; s_scan_item(c); }
static void s_cb_u32(void *c, uint32_t v) { (void) v; s_scan_item(c); }
static void s_cb_u64(void *c, uint64_t v) { (void) v; s_scan_item(c); }
static void s_cb_str(void *c, cbor_data d, size_t n) { (void) d; (void) n; s_scan_item(c); }
static void s_cb_array(void *c, size_t n) { s_scan_open(c, n); }
static void s_cb_map(void *c, size_t n) { s_scan_open(c, 2 * (uint64_t) n); }
static void s_cb_refuse(void *c) { ((s_scan_t *) c)->bad = 1; }
static void s_cb_tag(void *c, uint64_t v) { (void) v; ((s_scan_t *) c)->bad = 1; }
static void s_cb_float(void *c, float v) { (void) v; s_scan_item(c); }
static void s_cb_double(void *c, double v) { (void) v; s_scan_item(c); }
static void s_cb_simple(void *c) { s_scan_item(c); }
static void s_cb_bool(void *c, bool v) { (void) v; s_scan_item(c); }

/* Walks the input with libcbor's allocation-free streaming decoder before
 * cbor_load() sees it: cbor_load() trusts declared container sizes and
 * would allocate gigabytes for a 10-byte input. Refuses indefinite-length
 * items and tags (cofab never writes them), nesting deeper than
 * S_MAX_DEPTH, and more promised items than there are bytes. */
static int
s_prescan(const uint8_t *data, size_t len)
{
    struct cbor_callbacks cb = cbor_empty_callbacks;
    cb.uint8 = cb.negint8 = s_cb_u8;
    cb.uint16 = cb.negint16 = s_cb_u16;
    cb.uint32 = cb.negint32 = s_cb_u32;
    cb.uint64 = cb.negint64 = s_cb_u64;
    cb.byte_string = cb.string = s_cb_str;
    cb.byte_string_start = cb.string_start = s_cb_refuse;
    cb.indef_array_start = cb.indef_map_start = cb.indef_break = s_cb_refuse;
    cb.array_start = s_cb_array;
    cb.map_start = s_cb_map;
    cb.tag = s_cb_tag;
    cb.float2 = cb.float4 = s_cb_float;
    cb.float8 = s_cb_double;
    cb.undefined = cb.null = s_cb_simple;
    cb.boolean = s_cb_bool;
    s_scan_t scan = {.budget = len};
    size_t off = 0;
    while (off < len && !scan.bad) {
        struct cbor_decoder_result res = cbor_stream_decode(data + off, len - off, &cb, &scan);
        if (res.status != CBOR_DECODER_FINISHED || res.read == 0)
            return res.status == CBOR_DECODER_NEDATA ? COFAB_ETRUNCATED : COFAB_EMALFORMED;
        off += res.read;
    }
    if (scan.bad)
        return COFAB_EMALFORMED;
    if (scan.depth != 0 || scan.top_items == 0)
        return COFAB_ETRUNCATED;
    return scan.top_items == 1 ? 0 : COFAB_ETRAILING;
}

/* Loads exactly one CBOR map from data. */
static int
s_load_map(const uint8_t *data, size_t len, cbor_item_t **out)
{
    if (!data && len)
        return COFAB_EINVAL;
    if (len > ENVELOPE_MAX_PAYLOAD)
        return COFAB_ETOOBIG;
    int rc = s_prescan(data, len);
    if (rc != 0)
        return rc;
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
