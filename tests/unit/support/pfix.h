/* pfix.h — payload test fixtures: sample payloads of every kind and CBOR surgery on encoded bytes. */
#ifndef COFAB_TEST_PFIX_H
#define COFAB_TEST_PFIX_H

#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include "cofab/payload.h"

/* Encoded bytes, malloc'd; the caller frees p. */
typedef struct {
    uint8_t *p;   /* bytes */
    size_t n;     /* their length */
} pfix_buf_t;

/* cbor_load / cbor_serialize_alloc that fail the test on error. */
cbor_item_t *pfix_load(pfix_buf_t b);
pfix_buf_t pfix_ser(const cbor_item_t *it);

/* A copy of it with the item at dotted path ("offers.0.moq") replaced by
 * value, or deleted when value is NULL; a missing last map key is added.
 * Returns a new reference (NULL when it itself is deleted). */
cbor_item_t *pfix_edit(cbor_item_t *it, const char *path, cbor_item_t *value);

/* The item at dotted path (borrowed), or NULL. */
cbor_item_t *pfix_get(cbor_item_t *it, const char *path);

/* in's bytes with path set to value (NULL: deleted); consumes value. */
pfix_buf_t pfix_mut(pfix_buf_t in, const char *path, cbor_item_t *value);

/* New items: an integer, a text, a text of n copies of c. */
cbor_item_t *pfix_int(int64_t v);
cbor_item_t *pfix_str(const char *s);
cbor_item_t *pfix_str_n(char c, size_t n);

/* An array of n copies of tmpl, each with path `vary` set to "v<i>" (no
 * change when vary is NULL; "" replaces the whole element). */
cbor_item_t *pfix_array_of(cbor_item_t *tmpl, size_t n, const char *vary);

/* A new value of another CBOR type than orig. */
cbor_item_t *pfix_wrong(const cbor_item_t *orig);

/* Deterministic keys and sample structs (realistic values). */
void pfix_verifier(note_verifier_t *v, const char *name, uint8_t seed);
void pfix_member(payload_member_t *m, const char *name, uint8_t seed, payload_role_t role);
void pfix_genesis(payload_genesis_t *g);           /* 3 members, witness_k 1 */
payload_capacity_t *pfix_capacity(void);           /* calloc'd: 2 offers */
void pfix_order(payload_order_t *o);               /* 2 items */
void pfix_assign(payload_assign_t *a);             /* 2 pieces, runner-up */

/* A valid encoded payload of kind (every optional key present). */
pfix_buf_t pfix_sample(int kind);

/* payload_check(kind) of pfix_sample(kind) with path set to value
 * (consumed; NULL deletes). */
int pfix_check_mut(int kind, const char *path, cbor_item_t *value);

#endif
