/* payload.c — bounded CBOR reading/writing helpers, and the genesis and membership payloads. */
#include "cofab/payload.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "payload_internal.h"

#define S_MAX_DEPTH 8

/* ---- Streaming pre-scan ------------------------------------------------ */

/* What the streaming pre-scan has seen so far. */
typedef struct {
    uint64_t open[S_MAX_DEPTH]; /* items still owed by each open container */
    int depth;                  /* containers open */
    size_t top_items;           /* complete items at the top level */
    uint64_t declared;          /* items promised by all container headers */
    size_t budget;              /* input bytes: each item takes at least one */
    int bad;                    /* set on anything we refuse */
    int short_;                 /* set when more items are promised than bytes remain */
} s_scan_t;

/* One data item (or container header) finished at the current level. */
static void
s_scan_item(s_scan_t *s)
{
    for (;;) {
        if (s->depth == 0) {
            s->top_items++;
            return;
        }
        if (--s->open[s->depth - 1] > 0)
            return;
        s->depth--; /* the container is complete: one item of its parent */
    }
}

static void
s_scan_open(s_scan_t *s, uint64_t items)
{
    if (items == 0) {
        s_scan_item(s);
        return;
    }
    if (items > ENVELOPE_MAX_PAYLOAD - s->declared) {
        s->bad = 1;
        return;
    }
    s->declared += items;
    /* Stop early: no payload holds more items than ENVELOPE_MAX_PAYLOAD
     * (malformed), and this input cannot hold more than its length
     * (it ends before the structure does). */
    if (s->depth == S_MAX_DEPTH) {
        s->bad = 1;
        return;
    }
    if (s->declared > s->budget) {
        s->short_ = 1;
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
/* n is capped first so that 2n cannot wrap to a small number. */
static void
s_cb_map(void *c, size_t n)
{
    s_scan_open(c, n > ENVELOPE_MAX_PAYLOAD ? UINT64_MAX : 2 * (uint64_t) n);
}
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
 * S_MAX_DEPTH, and containers promising more items than any payload could
 * hold; stops as soon as more items are promised than bytes remain. Only a
 * fully seen structure reaches cbor_load(), so everything it allocates is
 * backed by input bytes. */
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
    while (off < len && !scan.bad && !scan.short_) {
        struct cbor_decoder_result res = cbor_stream_decode(data + off, len - off, &cb, &scan);
        if (res.status != CBOR_DECODER_FINISHED || res.read == 0)
            return res.status == CBOR_DECODER_NEDATA ? COFAB_ETRUNCATED : COFAB_EMALFORMED;
        off += res.read;
    }
    if (scan.bad)
        return COFAB_EMALFORMED;
    if (scan.short_ || scan.depth != 0 || scan.top_items == 0)
        return COFAB_ETRUNCATED;
    return scan.top_items == 1 ? 0 : COFAB_ETRAILING;
}

int
payload_rd_load(const uint8_t *data, size_t len, cbor_item_t **out)
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

/* ---- Text rules ---------------------------------------------------------- */

/* Length of the UTF-8 sequence at s[0..n) if it is a valid, shortest-form,
 * non-surrogate, non-control character; else 0. */
static size_t
s_utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return c >= 0x20 && c != 0x7f;
    size_t need;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return need;
}

int
payload_text_ok(const char *s, size_t size, int cs, size_t min, size_t max)
{
    size_t len = strnlen(s, size);
    if (len == size || len < min || len > max)
        return 0;
    const unsigned char *u = (const unsigned char *) s;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        int ok;
        switch (cs) {
        case PAYLOAD_CS_NAME:
            ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
            i++;
            break;
        case PAYLOAD_CS_KEYNAME:
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '.' || c == '_';
            i++;
            break;
        default: {
            size_t k = s_utf8_char(u + i, len - i);
            ok = k != 0;
            i += k;
            break;
        }
        }
        if (!ok)
            return 0;
    }
    return 1;
}

int
payload_verifier_check(const note_verifier_t *v)
{
    note_verifier_t want;
    if (!payload_text_ok(v->name, sizeof v->name, PAYLOAD_CS_KEYNAME, 1, NOTE_MAX_NAME) ||
        note_verifier_init(&want, v->name, v->pk) != 0)
        return COFAB_EMALFORMED;
    return sodium_memcmp(want.keyid, v->keyid, NOTE_KEYID_LEN) == 0 ? 0 : COFAB_EKEYMISMATCH;
}

/* ---- Readers ------------------------------------------------------------- */

void
payload_rd_open(payload_rd_t *r, const cbor_item_t *item)
{
    r->map = item;
    r->rc = item && cbor_isa_map(item) && cbor_map_is_definite(item) ? 0 : COFAB_EMALFORMED;
}

/* The value under text key `key`, or NULL (absent, or repeated: rc set). */
static cbor_item_t *
s_find(payload_rd_t *r, const char *key)
{
    if (r->rc != 0)
        return NULL;
    size_t n = cbor_map_size(r->map), key_len = strlen(key);
    struct cbor_pair *pairs = cbor_map_handle(r->map);
    cbor_item_t *found = NULL;
    for (size_t i = 0; i < n; i++) {
        cbor_item_t *k = pairs[i].key;
        if (cbor_isa_string(k) && cbor_string_is_definite(k) &&
            cbor_string_length(k) == key_len &&
            memcmp(cbor_string_handle(k), key, key_len) == 0) {
            if (found) {
                /* Two readers could pick different copies: refuse. */
                r->rc = COFAB_EMALFORMED;
                return NULL;
            }
            found = pairs[i].value;
        }
    }
    return found;
}

/* The required value under key, or NULL with rc set. */
static cbor_item_t *
s_need(payload_rd_t *r, const char *key)
{
    cbor_item_t *v = s_find(r, key);
    if (!v && r->rc == 0)
        r->rc = COFAB_EMALFORMED;
    return v;
}

const cbor_item_t *
payload_rd_value(payload_rd_t *r, const char *key)
{
    return s_need(r, key);
}

int
payload_rd_has(payload_rd_t *r, const char *key)
{
    return s_find(r, key) != NULL;
}

int64_t
payload_rd_int_item(payload_rd_t *r, const cbor_item_t *it, int64_t min, int64_t max)
{
    if (r->rc != 0)
        return 0;
    int64_t v;
    if (cbor_isa_uint(it)) {
        uint64_t u = cbor_get_int(it);
        if (u > INT64_MAX)
            goto bad;
        v = (int64_t) u;
    } else if (cbor_isa_negint(it)) {
        uint64_t u = cbor_get_int(it); /* the value is -1 - u */
        if (u > INT64_MAX)
            goto bad;
        v = -1 - (int64_t) u;
    } else {
        goto bad;
    }
    if (v < min || v > max)
        goto bad;
    return v;
bad:
    r->rc = COFAB_EMALFORMED;
    return 0;
}

int64_t
payload_rd_int(payload_rd_t *r, const char *key, int64_t min, int64_t max)
{
    cbor_item_t *v = s_need(r, key);
    return v ? payload_rd_int_item(r, v, min, max) : 0;
}

uint64_t
payload_rd_uint64(payload_rd_t *r, const char *key)
{
    cbor_item_t *v = s_need(r, key);
    if (!v)
        return 0;
    if (!cbor_isa_uint(v)) {
        r->rc = COFAB_EMALFORMED;
        return 0;
    }
    return cbor_get_int(v);
}

int
payload_rd_bool(payload_rd_t *r, const char *key)
{
    cbor_item_t *v = s_need(r, key);
    if (!v)
        return 0;
    /* libcbor asserts (aborts) on cbor_is_bool() of a float: only a simple
     * value (width 0) may be asked. */
    if (!cbor_isa_float_ctrl(v) || cbor_float_get_width(v) != CBOR_FLOAT_0 || !cbor_is_bool(v)) {
        r->rc = COFAB_EMALFORMED;
        return 0;
    }
    return cbor_get_bool(v) ? 1 : 0;
}

void
payload_rd_bytes(payload_rd_t *r, const char *key, uint8_t *out, size_t n)
{
    cbor_item_t *v = s_need(r, key);
    if (!v)
        return;
    if (!cbor_isa_bytestring(v) || !cbor_bytestring_is_definite(v) ||
        cbor_bytestring_length(v) != n) {
        r->rc = COFAB_EMALFORMED;
        return;
    }
    memcpy(out, cbor_bytestring_handle(v), n);
}

void
payload_rd_text_item(payload_rd_t *r, const cbor_item_t *it, char *out, size_t size)
{
    if (r->rc != 0)
        return;
    if (!cbor_isa_string(it) || !cbor_string_is_definite(it)) {
        r->rc = COFAB_EMALFORMED;
        return;
    }
    size_t len = cbor_string_length(it);
    /* A NUL inside would hide the rest of the text from every later check. */
    if (len >= size || (len && memchr(cbor_string_handle(it), 0, len))) {
        r->rc = COFAB_EMALFORMED;
        return;
    }
    if (len)
        memcpy(out, cbor_string_handle(it), len);
    out[len] = 0;
}

void
payload_rd_text(payload_rd_t *r, const char *key, char *out, size_t size)
{
    cbor_item_t *v = s_need(r, key);
    if (v)
        payload_rd_text_item(r, v, out, size);
}

int
payload_rd_enum(payload_rd_t *r, const char *key, int (*parse)(const char *))
{
    char name[32];
    payload_rd_text(r, key, name, sizeof name);
    if (r->rc != 0)
        return 0;
    int v = parse(name);
    if (v < 0) {
        r->rc = COFAB_EMALFORMED;
        return 0;
    }
    return v;
}

void
payload_rd_verifier(payload_rd_t *r, const char *key, note_verifier_t *v)
{
    char text[NOTE_VERIFIER_MAX];
    payload_rd_text(r, key, text, sizeof text);
    if (r->rc == 0)
        r->rc = note_verifier_parse(v, text, strlen(text));
}

cbor_item_t **
payload_rd_array(payload_rd_t *r, const char *key, size_t min, size_t max, size_t *n)
{
    *n = 0;
    cbor_item_t *v = s_need(r, key);
    if (!v)
        return NULL;
    if (!cbor_isa_array(v) || !cbor_array_is_definite(v) || cbor_array_size(v) < min ||
        cbor_array_size(v) > max) {
        r->rc = COFAB_EMALFORMED;
        return NULL;
    }
    *n = cbor_array_size(v);
    return *n ? cbor_array_handle(v) : NULL;
}

/* ---- Writers ------------------------------------------------------------- */

void
payload_wr_begin(payload_wr_t *w, size_t npairs)
{
    w->map = cbor_new_definite_map(npairs);
    w->rc = w->map ? 0 : COFAB_ENOMEM;
}

void
payload_wr_put(payload_wr_t *w, const char *key, cbor_item_t *value)
{
    cbor_item_t *k = NULL;
    if (w->rc == 0 && value && (k = cbor_build_string(key)) != NULL &&
        cbor_map_add(w->map, (struct cbor_pair){.key = k, .value = value})) {
        /* cbor_map_add took its own references. */
    } else if (w->rc == 0) {
        w->rc = COFAB_ENOMEM;
    }
    if (k)
        cbor_decref(&k);
    if (value)
        cbor_decref(&value);
}

cbor_item_t *
payload_wr_int_item(int64_t v)
{
    uint64_t u = v >= 0 ? (uint64_t) v : (uint64_t) (-1 - v);
    if (u <= UINT8_MAX)
        return v >= 0 ? cbor_build_uint8((uint8_t) u) : cbor_build_negint8((uint8_t) u);
    if (u <= UINT16_MAX)
        return v >= 0 ? cbor_build_uint16((uint16_t) u) : cbor_build_negint16((uint16_t) u);
    if (u <= UINT32_MAX)
        return v >= 0 ? cbor_build_uint32((uint32_t) u) : cbor_build_negint32((uint32_t) u);
    return v >= 0 ? cbor_build_uint64(u) : cbor_build_negint64(u);
}

void
payload_wr_int(payload_wr_t *w, const char *key, int64_t v)
{
    if (w->rc == 0)
        payload_wr_put(w, key, payload_wr_int_item(v));
}

void
payload_wr_uint64(payload_wr_t *w, const char *key, uint64_t v)
{
    if (w->rc != 0)
        return;
    payload_wr_put(w, key, v <= INT64_MAX ? payload_wr_int_item((int64_t) v) : cbor_build_uint64(v));
}

void
payload_wr_bool(payload_wr_t *w, const char *key, int v)
{
    if (w->rc == 0)
        payload_wr_put(w, key, cbor_build_bool(v != 0));
}

void
payload_wr_bytes(payload_wr_t *w, const char *key, const uint8_t *b, size_t n)
{
    if (w->rc == 0)
        payload_wr_put(w, key, cbor_build_bytestring(b, n));
}

void
payload_wr_text(payload_wr_t *w, const char *key, const char *s)
{
    if (w->rc == 0)
        payload_wr_put(w, key, cbor_build_string(s));
}

void
payload_wr_verifier(payload_wr_t *w, const char *key, const note_verifier_t *v)
{
    char text[NOTE_VERIFIER_MAX];
    if (w->rc == 0 && note_verifier_format(v, text, sizeof text) != 0)
        w->rc = COFAB_EMALFORMED;
    payload_wr_text(w, key, text);
}

int
payload_wr_push(cbor_item_t *array, cbor_item_t *value)
{
    if (!value)
        return COFAB_ENOMEM;
    bool ok = cbor_array_push(array, value);
    cbor_decref(&value);
    return ok ? 0 : COFAB_ENOMEM;
}

cbor_item_t *
payload_wr_end(payload_wr_t *w)
{
    if (w->rc != 0 && w->map)
        cbor_decref(&w->map);
    cbor_item_t *m = w->map;
    w->map = NULL;
    return m;
}

int
payload_wr_finish(payload_wr_t *w, uint8_t **out, size_t *len)
{
    int rc = w->rc;
    if (rc == 0) {
        unsigned char *buf = NULL;
        size_t cap = 0;
        size_t n = cbor_serialize_alloc(w->map, &buf, &cap);
        if (n == 0) {
            free(buf);
            rc = COFAB_ENOMEM;
        } else if (n > ENVELOPE_MAX_PAYLOAD) {
            free(buf);
            rc = COFAB_ETOOBIG;
        } else {
            *out = buf;
            *len = n;
        }
    }
    if (w->map)
        cbor_decref(&w->map);
    return rc;
}

/* ---- Decoder / encoder frames --------------------------------------------- */

int
payload_decode_with(void *x, size_t size, const uint8_t *data, size_t len,
                    void (*read)(payload_rd_t *, void *), int (*check)(const void *))
{
    if (!x)
        return COFAB_EINVAL;
    memset(x, 0, size);
    cbor_item_t *map = NULL;
    int rc = payload_rd_load(data, len, &map);
    if (rc != 0)
        return rc;
    payload_rd_t r;
    payload_rd_open(&r, map);
    read(&r, x);
    rc = r.rc ? r.rc : check(x);
    cbor_decref(&map);
    return rc;
}

int
payload_encode_with(const void *x, int (*check)(const void *), size_t npairs,
                    void (*write)(payload_wr_t *, const void *), uint8_t **out, size_t *len)
{
    if (!x || !out || !len)
        return COFAB_EINVAL;
    int rc = check(x);
    if (rc != 0)
        return rc;
    payload_wr_t w;
    payload_wr_begin(&w, npairs);
    write(&w, x);
    return payload_wr_finish(&w, out, len);
}

/* ---- Genesis ------------------------------------------------------------- */

enum { S_I32, S_U32, S_I64, S_U64 };

/* Every field of matcher_params_t, under its C name. */
static const struct {
    const char *name;  /* wire key = C field name */
    size_t off;        /* offsetof in matcher_params_t */
    int type;          /* S_I32 ... */
} s_params[] = {
    {"ship_per_km", offsetof(matcher_params_t, ship_per_km), S_I64},
    {"ship_per_unit_km_milli", offsetof(matcher_params_t, ship_per_unit_km_milli), S_I64},
    {"km_per_day", offsetof(matcher_params_t, km_per_day), S_I64},
    {"late_per_day", offsetof(matcher_params_t, late_per_day), S_I64},
    {"reliability_pm", offsetof(matcher_params_t, reliability_pm), S_I32},
    {"reliability_full", offsetof(matcher_params_t, reliability_full), S_U32},
    {"reserve_pm", offsetof(matcher_params_t, reserve_pm), S_I32},
    {"batch_window", offsetof(matcher_params_t, batch_window), S_U32},
    {"min_capable", offsetof(matcher_params_t, min_capable), S_U32},
    {"max_candidates", offsetof(matcher_params_t, max_candidates), S_U32},
    {"max_split", offsetof(matcher_params_t, max_split), S_U32},
    {"unplaced_penalty", offsetof(matcher_params_t, unplaced_penalty), S_I64},
    {"lagr_iters", offsetof(matcher_params_t, lagr_iters), S_U32},
    {"ls_budget", offsetof(matcher_params_t, ls_budget), S_U64},
    {"bnb_nodes", offsetof(matcher_params_t, bnb_nodes), S_U64},
};
#define S_NPARAMS (sizeof s_params / sizeof s_params[0])

/* The fields of matcher_params_t in order: a field added there must be
 * added to s_params too (the genesis carries every matcher parameter), and
 * this mirror makes the build say so. */
struct s_params_mirror {
    int64_t ship_per_km, ship_per_unit_km_milli, km_per_day, late_per_day;
    int32_t reliability_pm;
    uint32_t reliability_full;
    int32_t reserve_pm;
    uint32_t batch_window, min_capable, max_candidates, max_split;
    int64_t unplaced_penalty;
    uint32_t lagr_iters;
    uint64_t ls_budget, bnb_nodes;
};
_Static_assert(sizeof(matcher_params_t) == sizeof(struct s_params_mirror),
               "matcher_params_t changed: update s_params in ledger/payload.c");

/* Parameter i of p, widened (every value the matcher accepts fits). */
static int64_t
s_param_get(const matcher_params_t *p, size_t i)
{
    const unsigned char *f = (const unsigned char *) p + s_params[i].off;
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
    switch (s_params[i].type) {
    case S_I32: memcpy(&i32, f, sizeof i32); return i32;
    case S_U32: memcpy(&u32, f, sizeof u32); return u32;
    case S_I64: memcpy(&i64, f, sizeof i64); return i64;
    default: memcpy(&u64, f, sizeof u64); return u64 > INT64_MAX ? -1 : (int64_t) u64;
    }
}

/* Sets parameter i of p to v, which payload_rd_int bounded to its type. */
static void
s_param_set(matcher_params_t *p, size_t i, int64_t v)
{
    unsigned char *f = (unsigned char *) p + s_params[i].off;
    int32_t i32 = (int32_t) v;
    uint32_t u32 = (uint32_t) v;
    uint64_t u64 = (uint64_t) v;
    switch (s_params[i].type) {
    case S_I32: memcpy(f, &i32, sizeof i32); break;
    case S_U32: memcpy(f, &u32, sizeof u32); break;
    case S_I64: memcpy(f, &v, sizeof v); break;
    default: memcpy(f, &u64, sizeof u64); break;
    }
}

static cbor_item_t *
s_params_build(const matcher_params_t *p)
{
    payload_wr_t w;
    payload_wr_begin(&w, S_NPARAMS);
    for (size_t i = 0; i < S_NPARAMS; i++)
        payload_wr_int(&w, s_params[i].name, s_param_get(p, i));
    return payload_wr_end(&w);
}

static void
s_params_read(payload_rd_t *parent, const char *key, matcher_params_t *p)
{
    static const int64_t lo[] = {[S_I32] = INT32_MIN, [S_U32] = 0, [S_I64] = INT64_MIN, [S_U64] = 0};
    static const int64_t hi[] = {[S_I32] = INT32_MAX, [S_U32] = UINT32_MAX, [S_I64] = INT64_MAX,
                                 [S_U64] = INT64_MAX};
    const cbor_item_t *v = payload_rd_value(parent, key);
    if (!v)
        return;
    payload_rd_t r;
    payload_rd_open(&r, v);
    for (size_t i = 0; i < S_NPARAMS && r.rc == 0; i++) {
        int t = s_params[i].type;
        s_param_set(p, i, payload_rd_int(&r, s_params[i].name, lo[t], hi[t]));
    }
    parent->rc = r.rc;
}

static int
s_genesis_check(const void *x)
{
    const payload_genesis_t *g = x;
    int rc;
    if (!payload_text_ok(g->origin, sizeof g->origin, PAYLOAD_CS_TEXT, 1, NOTE_MAX_ORIGIN) ||
        g->nmembers > PAYLOAD_MAX_MEMBERS || g->witness_k > g->nmembers ||
        !payload_customers_name((int) g->customers) || g->ack_timeout_s < 1 ||
        g->ack_timeout_s > PAYLOAD_MAX_ACK_TIMEOUT || matcher_params_check(&g->params) != 0)
        return COFAB_EMALFORMED;
    if ((rc = payload_verifier_check(&g->hub)) != 0 ||
        (rc = payload_verifier_check(&g->operator_key)) != 0)
        return rc;
    for (uint32_t i = 0; i < g->nmembers; i++) {
        const payload_member_t *m = &g->members[i];
        if ((rc = payload_member_check(m)) != 0)
            return rc;
        /* Keys and names identify members: each must name one. */
        for (uint32_t j = 0; j < i; j++)
            if (!memcmp(g->members[j].key.pk, m->key.pk, 32) ||
                !strcmp(g->members[j].key.name, m->key.name) ||
                !memcmp(g->members[j].transport, m->transport, 32))
                return COFAB_EMALFORMED;
    }
    return 0;
}

void
payload_genesis_init(payload_genesis_t *g)
{
    if (!g)
        return;
    memset(g, 0, sizeof *g);
    matcher_params_default(&g->params);
    g->witness_k = 0;
    g->customers = PAYLOAD_CUSTOMERS_OPEN;
    g->ack_timeout_s = PAYLOAD_DEFAULT_ACK_TIMEOUT;
}

static void
s_genesis_write(payload_wr_t *w, const void *x)
{
    const payload_genesis_t *g = x;
    payload_wr_text(w, "origin", g->origin);
    payload_wr_verifier(w, "hub", &g->hub);
    payload_wr_bytes(w, "hub_transport", g->hub_transport, 32);
    payload_wr_verifier(w, "operator", &g->operator_key);
    cbor_item_t *members = w->rc == 0 ? cbor_new_definite_array(g->nmembers) : NULL;
    for (uint32_t i = 0; members && i < g->nmembers; i++) {
        payload_wr_t mw;
        payload_wr_begin(&mw, 4);
        payload_member_write(&mw, &g->members[i]);
        if (payload_wr_push(members, payload_wr_end(&mw)) != 0)
            w->rc = COFAB_ENOMEM;
    }
    payload_wr_put(w, "members", members);
    payload_wr_put(w, "params", w->rc == 0 ? s_params_build(&g->params) : NULL);
    payload_wr_int(w, "witness_k", g->witness_k);
    payload_wr_text(w, "customers", payload_customers_name((int) g->customers));
    payload_wr_int(w, "ack_timeout_s", g->ack_timeout_s);
}

static void
s_genesis_read(payload_rd_t *r, void *x)
{
    payload_genesis_t *g = x;
    payload_rd_text(r, "origin", g->origin, sizeof g->origin);
    payload_rd_verifier(r, "hub", &g->hub);
    payload_rd_bytes(r, "hub_transport", g->hub_transport, 32);
    payload_rd_verifier(r, "operator", &g->operator_key);
    size_t n = 0;
    cbor_item_t **members = payload_rd_array(r, "members", 0, PAYLOAD_MAX_MEMBERS, &n);
    for (size_t i = 0; i < n && r->rc == 0; i++) {
        payload_rd_t mr;
        payload_rd_open(&mr, members[i]);
        payload_member_read(&mr, &g->members[i]);
        r->rc = mr.rc;
    }
    g->nmembers = (uint32_t) n;
    s_params_read(r, "params", &g->params);
    g->witness_k = (uint32_t) payload_rd_int(r, "witness_k", 0, UINT32_MAX);
    g->customers = (payload_customers_t) payload_rd_enum(r, "customers", payload_customers_parse);
    g->ack_timeout_s = (uint32_t) payload_rd_int(r, "ack_timeout_s", 0, UINT32_MAX);
}

int
payload_genesis_encode(const payload_genesis_t *g, uint8_t **out, size_t *len)
{
    return payload_encode_with(g, s_genesis_check, 9, s_genesis_write, out, len);
}

int
payload_genesis_decode(payload_genesis_t *g, const uint8_t *data, size_t len)
{
    return payload_decode_with(g, sizeof *g, data, len, s_genesis_read, s_genesis_check);
}
