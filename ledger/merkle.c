/* merkle.c — RFC 9162 §2.1 Merkle tree hashes, roots and proofs over stored perfect subtrees. */
#include "cofab/merkle.h"

#include <string.h>

#include <sodium.h>

#include "cofab/error.h"

/* Largest power of two strictly below n (n > 1): the RFC's split point k. */
static uint64_t
s_split(uint64_t n)
{
    uint64_t x = n - 1;
    while (x & (x - 1))
        x &= x - 1;
    return x;
}

/* log2 of a power of two. */
static unsigned
s_log2(uint64_t pow2)
{
    unsigned l = 0;
    while (pow2 >>= 1)
        l++;
    return l;
}

/* Bits of n above bit `level`, i.e. n with bits 0..level cleared. Written
 * without shifting by 64, which would be undefined for level 63. */
static uint64_t
s_above(uint64_t n, unsigned level)
{
    return n & ~(((uint64_t)2 << level) - 1);
}

void
merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

void
merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN], const uint8_t right[MERKLE_HASH_LEN],
                 uint8_t out[MERKLE_HASH_LEN])
{
    /* Copy first so that out may alias left or right. */
    uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

    buf[0] = 0x01;
    memcpy(buf + 1, left, MERKLE_HASH_LEN);
    memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
    crypto_hash_sha256(out, buf, sizeof buf);
}

void
merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
    static const uint8_t nothing = 0;
    crypto_hash_sha256(out, &nothing, 0);
}

void
merkle_frontier_init(merkle_frontier_t *f)
{
    memset(f, 0, sizeof *f);
}

int
merkle_frontier_append(merkle_frontier_t *f, const uint8_t leaf[MERKLE_HASH_LEN],
                       merkle_emit_fn emit, void *ctx)
{
    uint8_t h[MERKLE_HASH_LEN];
    unsigned level = 0;
    uint64_t n = f->size;
    int rc;

    if (n == UINT64_MAX)
        return COFAB_ERANGE;
    memcpy(h, leaf, MERKLE_HASH_LEN);
    if (emit && (rc = emit(ctx, 0, n, h)) != 0)
        return rc;
    /* Each set low bit of n is a perfect subtree the new leaf completes into
     * one a level higher (binary carry). f is only written once every emit
     * succeeded. */
    while ((n >> level) & 1) {
        merkle_node_hash(f->edge[level], h, h);
        level++;
        if (emit && (rc = emit(ctx, level, n >> level, h)) != 0)
            return rc;
    }
    memcpy(f->edge[level], h, MERKLE_HASH_LEN);
    f->size = n + 1;
    return 0;
}

void
merkle_frontier_root(const merkle_frontier_t *f, uint8_t out[MERKLE_HASH_LEN])
{
    int have = 0;

    if (f->size == 0) {
        merkle_empty_root(out);
        return;
    }
    /* Fold the edge from its smallest (rightmost) subtree leftwards. */
    for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
        if (!((f->size >> l) & 1))
            continue;
        if (have)
            merkle_node_hash(f->edge[l], out, out);
        else
            memcpy(out, f->edge[l], MERKLE_HASH_LEN);
        have = 1;
    }
}

/* MTH(D[start : start + n]) for n > 0, where start is a multiple of the
 * smallest power of two >= n (true of every node of the RFC's recursion).
 * The range splits into one perfect subtree per set bit of n, so this reads
 * popcount(n) stored hashes and folds them right to left. */
static int
s_range_root(merkle_get_fn get, void *ctx, uint64_t start, uint64_t n,
             uint8_t out[MERKLE_HASH_LEN])
{
    uint8_t sub[MERKLE_HASH_LEN];
    int have = 0;
    int rc;

    for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
        if (!((n >> l) & 1))
            continue;
        uint64_t first = start + s_above(n, l);
        if ((rc = get(ctx, l, first >> l, have ? sub : out)) != 0)
            return rc;
        if (have)
            merkle_node_hash(sub, out, out);
        have = 1;
    }
    return 0;
}

int
merkle_frontier_load(merkle_frontier_t *f, uint64_t size, merkle_get_fn get, void *ctx)
{
    merkle_frontier_t tmp;
    int rc;

    merkle_frontier_init(&tmp);
    tmp.size = size;
    for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++) {
        if (!((size >> l) & 1))
            continue;
        if ((rc = get(ctx, l, s_above(size, l) >> l, tmp.edge[l])) != 0)
            return rc;
    }
    *f = tmp;
    return 0;
}

int
merkle_root(merkle_get_fn get, void *ctx, uint64_t size, uint8_t out[MERKLE_HASH_LEN])
{
    if (size == 0) {
        merkle_empty_root(out);
        return 0;
    }
    return s_range_root(get, ctx, 0, size, out);
}

/* Proofs are built top-down, which yields the hashes root side first; the RFC
 * lists them leaf side first. */
static void
s_reverse(uint8_t proof[][MERKLE_HASH_LEN], size_t len)
{
    uint8_t t[MERKLE_HASH_LEN];

    for (size_t i = 0, j = len; i + 1 < j; i++, j--) {
        memcpy(t, proof[i], MERKLE_HASH_LEN);
        memcpy(proof[i], proof[j - 1], MERKLE_HASH_LEN);
        memcpy(proof[j - 1], t, MERKLE_HASH_LEN);
    }
}

/* One step down the RFC recursion over D[start : start + n] with split k:
 * the hash of the half we do not descend into. Once we go left, n becomes a
 * power of two and every later sibling is perfect, so a whole proof reads
 * O(log n) stored hashes. */
static int
s_sibling(merkle_get_fn get, void *ctx, uint64_t start, uint64_t n, uint64_t k,
          int go_left, uint8_t out[MERKLE_HASH_LEN])
{
    if (go_left)
        return s_range_root(get, ctx, start + k, n - k, out);
    return get(ctx, s_log2(k), start >> s_log2(k), out);
}

int
merkle_inclusion_proof(merkle_get_fn get, void *ctx, uint64_t index, uint64_t size,
                       uint8_t proof[][MERKLE_HASH_LEN], size_t *proof_len)
{
    uint64_t start = 0, n = size, m = index;
    size_t len = 0;
    int rc;

    if (index >= size)
        return COFAB_ERANGE;
    /* PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])          if m < k
     *               = PATH(m - k, D[k:n]) : MTH(D[0:k])      otherwise */
    while (n > 1) {
        uint64_t k = s_split(n);
        int go_left = m < k;
        if ((rc = s_sibling(get, ctx, start, n, k, go_left, proof[len])) != 0)
            return rc;
        len++;
        if (go_left) {
            n = k;
        } else {
            start += k;
            m -= k;
            n -= k;
        }
    }
    s_reverse(proof, len);
    *proof_len = len;
    return 0;
}

int
merkle_consistency_proof(merkle_get_fn get, void *ctx, uint64_t old_size, uint64_t new_size,
                         uint8_t proof[][MERKLE_HASH_LEN], size_t *proof_len)
{
    uint64_t start = 0, n = new_size, m = old_size;
    int complete = 1; /* the RFC's b: still on the old tree's own root path */
    size_t len = 0;
    int rc;

    if (old_size > new_size)
        return COFAB_ERANGE;
    *proof_len = 0;
    if (old_size == 0 || old_size == new_size)
        return 0;
    /* SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])      if m <= k
     *                      = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) if m > k
     * SUBPROOF(n, D[n], true) = {}, SUBPROOF(n, D[n], false) = {MTH(D[n])} */
    while (m != n) {
        uint64_t k = s_split(n);
        int go_left = m <= k;
        if ((rc = s_sibling(get, ctx, start, n, k, go_left, proof[len])) != 0)
            return rc;
        len++;
        if (go_left) {
            n = k;
        } else {
            start += k;
            m -= k;
            n -= k;
            complete = 0;
        }
    }
    /* Here n is a power of two: we only stop after going left. */
    if (!complete) {
        if ((rc = get(ctx, s_log2(n), start >> s_log2(n), proof[len])) != 0)
            return rc;
        len++;
    }
    s_reverse(proof, len);
    *proof_len = len;
    return 0;
}

/* Shifts fn and sn right together until fn's low bit is set or fn is 0. */
static void
s_shift_to_odd(uint64_t *fn, uint64_t *sn)
{
    while (*fn != 0 && !(*fn & 1)) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

int
merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[MERKLE_HASH_LEN],
                        const uint8_t proof[][MERKLE_HASH_LEN], size_t proof_len,
                        const uint8_t root[MERKLE_HASH_LEN])
{
    uint8_t r[MERKLE_HASH_LEN];
    uint64_t fn = index, sn;

    if (index >= size)
        return COFAB_ERANGE;
    if (proof_len > MERKLE_MAX_PROOF)
        return COFAB_EPROOF;
    sn = size - 1;
    memcpy(r, leaf_hash, MERKLE_HASH_LEN);
    for (size_t i = 0; i < proof_len; i++) {
        if (sn == 0)
            return COFAB_EPROOF; /* trailing hashes */
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(proof[i], r, r);
            if (!(fn & 1))
                s_shift_to_odd(&fn, &sn);
        } else {
            merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return COFAB_EPROOF; /* proof too short */
    return sodium_memcmp(r, root, MERKLE_HASH_LEN) == 0 ? 0 : COFAB_EPROOF;
}

int
merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
                          const uint8_t old_root[MERKLE_HASH_LEN],
                          const uint8_t new_root[MERKLE_HASH_LEN],
                          const uint8_t proof[][MERKLE_HASH_LEN], size_t proof_len)
{
    uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
    uint64_t fn, sn;
    size_t i = 0;
    int ok;

    if (old_size > new_size)
        return COFAB_ERANGE;
    /* The empty tree is a prefix of every tree: there is nothing to prove,
     * and RFC 9162 defines proofs only for 0 < old_size. */
    if (old_size == 0 || proof_len > MERKLE_MAX_PROOF)
        return COFAB_EPROOF;
    if (old_size == new_size) {
        if (proof_len != 0)
            return COFAB_EPROOF;
        return sodium_memcmp(old_root, new_root, MERKLE_HASH_LEN) == 0 ? 0 : COFAB_EPROOF;
    }
    if (proof_len == 0)
        return COFAB_EPROOF;
    /* When old_size is a power of two its root is the proof's implicit first
     * element (RFC 9162 step 2); we read it in place rather than copying. */
    fn = old_size - 1;
    sn = new_size - 1;
    while (fn & 1) { /* RFC 9162 step 4 */
        fn >>= 1;
        sn >>= 1;
    }
    if ((old_size & (old_size - 1)) == 0) {
        memcpy(fr, old_root, MERKLE_HASH_LEN);
    } else {
        memcpy(fr, proof[0], MERKLE_HASH_LEN);
        i = 1;
    }
    memcpy(sr, fr, MERKLE_HASH_LEN);
    for (; i < proof_len; i++) {
        if (sn == 0)
            return COFAB_EPROOF; /* trailing hashes */
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(proof[i], fr, fr);
            merkle_node_hash(proof[i], sr, sr);
            if (!(fn & 1))
                s_shift_to_odd(&fn, &sn);
        } else {
            merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* Evaluate both comparisons so timing does not say which root failed. */
    ok = sodium_memcmp(fr, old_root, MERKLE_HASH_LEN) == 0;
    ok &= sodium_memcmp(sr, new_root, MERKLE_HASH_LEN) == 0;
    return (sn == 0 && ok) ? 0 : COFAB_EPROOF;
}
