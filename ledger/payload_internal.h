/* payload_internal.h — CBOR read/write helpers shared by ledger/payload.c and ledger/payload_work.c.
 *
 * Not a public header. Readers and writers carry a sticky error code: once
 * a call fails, later calls on the same reader/writer do nothing, so a
 * decoder is a flat list of field reads followed by one check. Readers
 * only check types and that a value fits its C type; the rules (ranges,
 * names, distinctness) live in each kind's check function, which the
 * encoder runs too.
 */
#ifndef COFAB_PAYLOAD_INTERNAL_H
#define COFAB_PAYLOAD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include "cofab/note.h"
#include "cofab/payload.h"

/* Character classes for payload_text_ok. */
enum {
    PAYLOAD_CS_NAME = 1,    /* [a-z0-9-] (process, material) */
    PAYLOAD_CS_KEYNAME = 2, /* [A-Za-z0-9._-] (member / key name) */
    PAYLOAD_CS_TEXT = 3,    /* UTF-8 without control characters */
};

/* 1 if s is NUL-terminated within size bytes, min..max bytes long and
 * entirely of class cs; else 0. */
int payload_text_ok(const char *s, size_t size, int cs, size_t min, size_t max);

/* 0 if v's name is valid and its key id matches name and key;
 * COFAB_EKEYMISMATCH if only the key id is wrong; else COFAB_EMALFORMED. */
int payload_verifier_check(const note_verifier_t *v);

/* Reader over one CBOR map. */
typedef struct {
    const cbor_item_t *map;     /* the map read from (borrowed) */
    int rc;                     /* first error, 0 while all is well */
} payload_rd_t;

/* Runs the pre-scan and loads exactly one definite map from data into a
 * new item (*out, caller decrefs). Returns 0 or a decoder code. */
int payload_rd_load(const uint8_t *data, size_t len, cbor_item_t **out);

/* Starts reading item, which must be a definite map (else rc is set). */
void payload_rd_open(payload_rd_t *r, const cbor_item_t *item);

/* 1 if key is present (once; twice sets rc), else 0. */
int payload_rd_has(payload_rd_t *r, const char *key);

/* The value under a required key, or NULL with rc set. */
const cbor_item_t *payload_rd_value(payload_rd_t *r, const char *key);

/* Required fields. On error they set rc and return 0 / leave out alone. */
int64_t payload_rd_int(payload_rd_t *r, const char *key, int64_t min, int64_t max);
uint64_t payload_rd_uint64(payload_rd_t *r, const char *key);
int payload_rd_bool(payload_rd_t *r, const char *key);
void payload_rd_bytes(payload_rd_t *r, const char *key, uint8_t *out, size_t n);
/* Text of at most size-1 bytes without NUL, into out as a C string. */
void payload_rd_text(payload_rd_t *r, const char *key, char *out, size_t size);
/* Text naming an enum value, through parse(); returns the value or 0. */
int payload_rd_enum(payload_rd_t *r, const char *key, int (*parse)(const char *));
/* Verifier text, parsed (COFAB_EMALFORMED / COFAB_EKEYMISMATCH). */
void payload_rd_verifier(payload_rd_t *r, const char *key, note_verifier_t *v);
/* Array of min..max items; returns its items (NULL when empty or on
 * error) and their count in *n. */
cbor_item_t **payload_rd_array(payload_rd_t *r, const char *key, size_t min, size_t max,
                               size_t *n);

/* The same for array elements. */
int64_t payload_rd_int_item(payload_rd_t *r, const cbor_item_t *it, int64_t min, int64_t max);
void payload_rd_text_item(payload_rd_t *r, const cbor_item_t *it, char *out, size_t size);

/* Writer building one definite map. */
typedef struct {
    cbor_item_t *map;           /* the map being built (owned) */
    int rc;                     /* first error (COFAB_ENOMEM), 0 while all is well */
} payload_wr_t;

/* Starts a map of at most npairs pairs. */
void payload_wr_begin(payload_wr_t *w, size_t npairs);
void payload_wr_int(payload_wr_t *w, const char *key, int64_t v);
void payload_wr_uint64(payload_wr_t *w, const char *key, uint64_t v);
void payload_wr_bool(payload_wr_t *w, const char *key, int v);
void payload_wr_bytes(payload_wr_t *w, const char *key, const uint8_t *b, size_t n);
void payload_wr_text(payload_wr_t *w, const char *key, const char *s);
void payload_wr_verifier(payload_wr_t *w, const char *key, const note_verifier_t *v);
/* Adds value under key and drops the caller's reference; NULL value sets
 * rc to COFAB_ENOMEM. */
void payload_wr_put(payload_wr_t *w, const char *key, cbor_item_t *value);

/* A new integer item in the shortest encoding, or NULL. */
cbor_item_t *payload_wr_int_item(int64_t v);

/* Appends value to array and drops the caller's reference. Returns 0 or
 * COFAB_ENOMEM (also for a NULL value). */
int payload_wr_push(cbor_item_t *array, cbor_item_t *value);

/* Ends a nested map: returns it (the caller owns the reference), or NULL
 * after an error (the map is freed). */
cbor_item_t *payload_wr_end(payload_wr_t *w);

/* Serializes the map into a new buffer (*out, *len) and frees the map.
 * Returns w->rc, COFAB_ENOMEM or COFAB_ETOOBIG. */
int payload_wr_finish(payload_wr_t *w, uint8_t **out, size_t *len);

/* The common shape of every decoder: NULL checks, zero *x (size bytes),
 * load the map, read(r, x), then check(x). Returns a decoder code. */
int payload_decode_with(void *x, size_t size, const uint8_t *data, size_t len,
                        void (*read)(payload_rd_t *, void *), int (*check)(const void *));

/* The common shape of every encoder: NULL checks, check(x), a map of at
 * most npairs pairs filled by write(w, x), serialized. Returns an encoder
 * code. */
int payload_encode_with(const void *x, int (*check)(const void *), size_t npairs,
                        void (*write)(payload_wr_t *, const void *), uint8_t **out,
                        size_t *len);

/* Members (ledger/payload_work.c), shared with the genesis. check: 0,
 * COFAB_EMALFORMED or COFAB_EKEYMISMATCH; write adds 4 pairs to w; read
 * fills m from r (and checks that "name" is the key's name). */
int payload_member_check(const payload_member_t *m);
void payload_member_write(payload_wr_t *w, const payload_member_t *m);
void payload_member_read(payload_rd_t *r, payload_member_t *m);

#endif
