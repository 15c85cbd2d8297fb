/* fuzz_merkle_verify.c — libFuzzer: verifiers never crash; real proofs pass only unmodified. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/merkle.h"

#define HL MERKLE_HASH_LEN
#define SMALL 64       /* leaves of the largest real tree built per input */
#define SMALL_LEVELS 7 /* 2^6 = SMALL */
#define MAX_IN (MERKLE_MAX_PROOF + 4) /* a few more hashes than any verifier takes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    const uint8_t *p; /* next unread input byte */
    size_t left;      /* input bytes not yet read */
} reader_t;

/* Copies n input bytes to out; past the end of the input, zeros. */
static void
s_take(reader_t *r, uint8_t *out, size_t n)
{
    size_t k = n < r->left ? n : r->left;
    memcpy(out, r->p, k);
    memset(out + k, 0, n - k);
    r->p += k;
    r->left -= k;
}

static uint64_t
s_u64(reader_t *r)
{
    uint8_t b[8];
    uint64_t v = 0;
    s_take(r, b, sizeof b);
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

typedef struct {
    uint8_t h[SMALL_LEVELS][SMALL][HL]; /* perfect subtree hashes by level, index */
    uint64_t size;                      /* leaves appended so far */
} store_t;

static int
s_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[HL])
{
    store_t *s = ctx;
    if (level >= SMALL_LEVELS || index >= SMALL)
        abort(); /* a tree of SMALL leaves has no such subtree */
    memcpy(s->h[level][index], hash, HL);
    return 0;
}

static int
s_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
    store_t *s = ctx;
    if (level >= SMALL_LEVELS || index >= (s->size >> level))
        return COFAB_ENOTFOUND; /* only subtrees wholly inside the tree */
    memcpy(out, s->h[level][index], HL);
    return 0;
}

/* XORs the mask into the first len hashes; returns whether any byte changed. */
static int
s_tamper(uint8_t (*proof)[HL], const uint8_t (*mask)[HL], size_t len)
{
    int changed = 0;
    for (size_t i = 0; i < len; i++)
        for (size_t j = 0; j < HL; j++) {
            proof[i][j] ^= mask[i][j];
            changed |= mask[i][j] != 0;
        }
    return changed;
}

/* Builds a real tree from the input's sizes and checks its proofs verify;
 * then alters them by the rest of the input: any change must be refused. */
static void
s_real_tree(reader_t *r, uint64_t a, uint64_t b, uint64_t c)
{
    store_t store;
    merkle_frontier_t f;
    uint8_t proof[MAX_IN][HL], mask[MAX_IN][HL], leaf[HL], r1[HL], r2[HL];
    const uint8_t(*cp)[HL] = (const uint8_t(*)[HL])proof;
    uint64_t n = b % SMALL + 1, m = a % (n + 1), idx = c % n;
    size_t len;
    uint8_t seed, d[2];
    int changed, rc;

    s_take(r, &seed, 1);
    memset(proof, 0, sizeof proof); /* the hash past a proof's end is read too */
    store.size = 0;
    merkle_frontier_init(&f);
    for (uint64_t i = 0; i < n; i++) {
        d[0] = (uint8_t)i;
        d[1] = seed;
        merkle_leaf_hash(d, sizeof d, leaf);
        if (merkle_frontier_append(&f, leaf, s_emit, &store) != 0)
            abort();
        store.size = f.size;
    }
    merkle_frontier_root(&f, r2);
    s_take(r, &mask[0][0], sizeof mask);

    d[0] = (uint8_t)idx;
    merkle_leaf_hash(d, sizeof d, leaf);
    if (merkle_inclusion_proof(s_get, &store, idx, n, proof, &len) != 0 ||
        merkle_verify_inclusion(idx, n, leaf, cp, len, r2) != 0)
        abort();
    if (merkle_verify_inclusion(idx, n, leaf, cp, len + 1, r2) == 0 ||
        (len > 0 && merkle_verify_inclusion(idx, n, leaf, cp, len - 1, r2) == 0))
        abort();
    changed = s_tamper(proof, (const uint8_t(*)[HL])mask, len);
    rc = merkle_verify_inclusion(idx, n, leaf, cp, len, r2);
    if (changed == (rc == 0))
        abort();

    if (merkle_root(s_get, &store, m, r1) != 0 ||
        merkle_consistency_proof(s_get, &store, m, n, proof, &len) != 0)
        abort();
    rc = merkle_verify_consistency(m, n, r1, r2, cp, len);
    if (rc != (m == 0 ? COFAB_EPROOF : 0))
        abort();
    if (merkle_verify_consistency(m, n, r1, r2, cp, len + 1) == 0)
        abort();
    changed = s_tamper(proof, (const uint8_t(*)[HL])mask, len);
    rc = merkle_verify_consistency(m, n, r1, r2, cp, len);
    if (m > 0 && changed == (rc == 0))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_t r = {data, size};
    uint8_t mode, leaf[HL], r1[HL], r2[HL], proof[MAX_IN][HL];
    uint64_t a, b, c;
    size_t n;

    s_take(&r, &mode, 1);
    a = s_u64(&r);
    b = s_u64(&r);
    c = s_u64(&r);
    if (mode & 1) { /* small sizes reach the interesting shapes more often */
        a &= 0xff;
        b &= 0xff;
        c &= 0xff;
    }
    if (mode & 2) {
        s_real_tree(&r, a, b, c);
        return 0;
    }
    s_take(&r, leaf, HL);
    s_take(&r, r1, HL);
    s_take(&r, r2, HL);
    n = r.left / HL < MAX_IN ? r.left / HL : MAX_IN;
    s_take(&r, &proof[0][0], n * HL);
    (void)merkle_verify_inclusion(c, b, leaf, (const uint8_t(*)[HL])proof, n, r1);
    (void)merkle_verify_consistency(a, b, r1, r2, (const uint8_t(*)[HL])proof, n);
    (void)merkle_verify_inclusion(c, b, leaf, NULL, 0, r1);
    (void)merkle_verify_consistency(a, b, r1, r2, NULL, 0);
    return 0;
}
