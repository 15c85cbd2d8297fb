/* test_merkle.c — merkle.c against the RFC 6962 vectors, a naive reference tree, error paths. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "cofab/error.h"
#include "cofab/merkle.h"

#define HL MERKLE_HASH_LEN
#define N_MAX 140     /* largest in-memory tree checked against the reference */
#define LEVELS 9      /* 2^8 = 256 > N_MAX */
#define VEC_DIR "tests/vectors/rfc6962"

/* ---------- reference hashing, written from the RFC, not via merkle.c ---------- */

static void
s_ref_node(const uint8_t l[HL], const uint8_t r[HL], uint8_t out[HL])
{
    uint8_t buf[1 + 2 * HL];
    buf[0] = 1;
    memcpy(buf + 1, l, HL);
    memcpy(buf + 1 + HL, r, HL);
    crypto_hash_sha256(out, buf, sizeof buf);
}

/* Leaf i's data: a tag, the index, and i % 5 extra bytes, so lengths vary. */
static size_t
s_leaf_data(uint64_t i, uint8_t *buf)
{
    size_t len = 0;
    buf[len++] = 'L';
    for (int b = 0; b < 8; b++)
        buf[len++] = (uint8_t)(i >> (8 * b));
    for (uint64_t e = 0; e < i % 5; e++)
        buf[len++] = (uint8_t)(0xa0 + e);
    return len;
}

static void
s_ref_leaf(uint64_t i, uint8_t out[HL])
{
    uint8_t buf[1 + 16];
    buf[0] = 0;
    crypto_hash_sha256(out, buf, 1 + s_leaf_data(i, buf + 1));
}

static uint64_t
s_ref_split(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* Memoized MTH(D[a:b]) straight from the recursive definition. */
typedef struct {
    uint8_t mth[N_MAX + 1][N_MAX + 1][HL]; /* MTH(D[a:b]) at [a][b] */
    uint8_t known[N_MAX + 1][N_MAX + 1];   /* which mth entries are computed */
} ref_t;

static const uint8_t *
s_ref_mth(ref_t *ref, uint64_t a, uint64_t b)
{
    if (!ref->known[a][b]) {
        if (b - a == 1) {
            s_ref_leaf(a, ref->mth[a][b]);
        } else {
            uint64_t k = s_ref_split(b - a);
            s_ref_node(s_ref_mth(ref, a, a + k), s_ref_mth(ref, a + k, b), ref->mth[a][b]);
        }
        ref->known[a][b] = 1;
    }
    return ref->mth[a][b];
}

static void
s_ref_root(ref_t *ref, uint64_t n, uint8_t out[HL])
{
    if (n == 0)
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
    else
        memcpy(out, s_ref_mth(ref, 0, n), HL);
}

/* RFC 9162 §2.1.3.1 PATH(m, D[a:b]), appended leaf side first. */
static void
s_ref_path(ref_t *ref, uint64_t m, uint64_t a, uint64_t b, uint8_t (*out)[HL], size_t *len)
{
    if (b - a <= 1)
        return;
    uint64_t k = s_ref_split(b - a);
    if (m < k) {
        s_ref_path(ref, m, a, a + k, out, len);
        memcpy(out[(*len)++], s_ref_mth(ref, a + k, b), HL);
    } else {
        s_ref_path(ref, m - k, a + k, b, out, len);
        memcpy(out[(*len)++], s_ref_mth(ref, a, a + k), HL);
    }
}

/* RFC 9162 §2.1.4.1 SUBPROOF(m, D[a:b], complete). */
static void
s_ref_subproof(ref_t *ref, uint64_t m, uint64_t a, uint64_t b, int complete,
               uint8_t (*out)[HL], size_t *len)
{
    if (m == b - a) {
        if (!complete)
            memcpy(out[(*len)++], s_ref_mth(ref, a, b), HL);
        return;
    }
    uint64_t k = s_ref_split(b - a);
    if (m <= k) {
        s_ref_subproof(ref, m, a, a + k, complete, out, len);
        memcpy(out[(*len)++], s_ref_mth(ref, a + k, b), HL);
    } else {
        s_ref_subproof(ref, m - k, a + k, b, 0, out, len);
        memcpy(out[(*len)++], s_ref_mth(ref, a, a + k), HL);
    }
}

/* The shape of PATH(m, D[n]) / SUBPROOF(m, D[n], b): which side each hash
 * joins on, bit by bit above a leading 1 that marks the length; for
 * SUBPROOF also whether the old root is the implicit seed. A proof verifies
 * for other sizes exactly when their shape is the same (the verifier then
 * does the very same hashing), which a "wrong size" need not change. */
static uint64_t
s_ref_path_shape(uint64_t m, uint64_t n)
{
    if (n <= 1)
        return 1;
    uint64_t k = s_ref_split(n);
    return m < k ? s_ref_path_shape(m, k) << 1 : s_ref_path_shape(m - k, n - k) << 1 | 1;
}

static uint64_t
s_ref_sub_shape(uint64_t m, uint64_t n, int complete)
{
    if (m == n)
        return complete ? 2 : 3;
    uint64_t k = s_ref_split(n);
    return m <= k ? s_ref_sub_shape(m, k, complete) << 1
                  : s_ref_sub_shape(m - k, n - k, 0) << 1 | 1;
}

/* ---------- an in-memory store of perfect subtrees ---------- */

typedef struct {
    uint8_t hash[LEVELS][N_MAX + 1][HL]; /* stored subtree hashes */
    uint8_t present[LEVELS][N_MAX + 1];  /* which are stored */
    unsigned gets;                       /* get calls since reset */
    unsigned fail_get_at;                /* 1-based get call to fail, 0 never */
    int emit_fail_level;                 /* level whose emit fails, -1 never */
    int last_level;                      /* last level emitted in this append */
    uint64_t next_leaf;                  /* index of the leaf being appended */
} store_t;

typedef struct {
    store_t store[1]; /* an array so that fx->store reads as a pointer */
    ref_t ref;        /* the reference model of the same leaves */
} fixture_t;

static int
s_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
    store_t *s = ctx;
    s->gets++;
    if (s->fail_get_at && s->gets == s->fail_get_at)
        return COFAB_ESTORE;
    if (level >= LEVELS || index > N_MAX || !s->present[level][index])
        return COFAB_ENOTFOUND;
    memcpy(out, s->hash[level][index], HL);
    return 0;
}

static int
s_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[HL])
{
    store_t *s = ctx;
    if ((int)level == s->emit_fail_level)
        return COFAB_ESTORE;
    /* Levels rise by one per call, and each subtree ends at the new leaf. */
    assert_int_equal((int)level, s->last_level + 1);
    assert_true(((index + 1) << level) == s->next_leaf + 1);
    assert_true(level < LEVELS && index <= N_MAX);
    assert_false(s->present[level][index]);
    memcpy(s->hash[level][index], hash, HL);
    s->present[level][index] = 1;
    s->last_level = (int)level;
    return 0;
}

static int
s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->store->emit_fail_level = -1;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    free(*state);
    return 0;
}

static void
s_append(store_t *s, merkle_frontier_t *f)
{
    uint8_t leaf[HL];
    uint8_t data[16];
    merkle_leaf_hash(data, s_leaf_data(f->size, data), leaf);
    s->last_level = -1;
    s->next_leaf = f->size;
    assert_int_equal(merkle_frontier_append(f, leaf, s_emit, s), 0);
}

static unsigned
s_bitlen(uint64_t n)
{
    return n ? 64 - (unsigned)__builtin_clzll(n) : 0;
}

/* ---------- known answers (values from the RFC 6962 reference tests) ---------- */

static void
s_hex(const char *hex, uint8_t out[HL])
{
    assert_int_equal(sodium_hex2bin(out, HL, hex, strlen(hex), NULL, NULL, NULL), 0);
}

static void
test_known_answers(void **state)
{
    static const char *data_hex[8] = {"", "00", "10", "2021", "3031", "40414243",
                                      "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
    static const char *roots_hex[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
    uint8_t want[HL], got[HL], leaf[HL], data[16], a[HL], b[HL];
    merkle_frontier_t f;
    (void)state;

    s_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want);
    merkle_empty_root(got);
    assert_memory_equal(got, want, HL);
    merkle_frontier_init(&f);
    merkle_frontier_root(&f, got);
    assert_memory_equal(got, want, HL);

    for (int i = 0; i < 8; i++) {
        size_t len = 0;
        assert_int_equal(sodium_hex2bin(data, sizeof data, data_hex[i], strlen(data_hex[i]),
                                        NULL, &len, NULL), 0);
        merkle_leaf_hash(data, len, leaf);
        assert_int_equal(merkle_frontier_append(&f, leaf, NULL, NULL), 0);
        merkle_frontier_root(&f, got);
        s_hex(roots_hex[i], want);
        assert_memory_equal(got, want, HL);
    }

    /* In a one-leaf tree the root is the leaf hash and the proof is empty. */
    merkle_leaf_hash((const uint8_t *)"data", 4, leaf);
    assert_int_equal(merkle_verify_inclusion(0, 1, leaf, NULL, 0, leaf), 0);
    memcpy(got, leaf, HL);
    got[HL - 1] ^= 1;
    assert_int_equal(merkle_verify_inclusion(0, 1, leaf, NULL, 0, got), COFAB_EPROOF);

    /* node_hash may write over either input. */
    s_hex(roots_hex[1], a);
    s_hex(roots_hex[2], b);
    s_ref_node(a, b, want);
    memcpy(got, a, HL);
    merkle_node_hash(got, b, got);
    assert_memory_equal(got, want, HL);
    memcpy(got, b, HL);
    merkle_node_hash(a, got, got);
    assert_memory_equal(got, want, HL);
}

/* ---------- transparency-dev/merkle JSON vectors ---------- */

/* Decodes one base64 hash. Our API takes fixed 32-byte hashes, so any other
 * length (or bad base64) sets *bad, and out gets a stand-in that keeps equal
 * inputs equal and matches no real hash: SHA-256 of a tag and the text. */
static void
s_vec_hash(json_t *obj, const char *key, uint8_t out[HL], int *bad)
{
    static const char tag[] = "not a 32-byte hash:";
    const char *s = json_string_value(key ? json_object_get(obj, key) : obj);
    crypto_hash_sha256_state st;
    uint8_t bin[64];
    size_t len = 0;

    assert_non_null(s);
    if (sodium_base642bin(bin, sizeof bin, s, strlen(s), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) == 0 && len == HL) {
        memcpy(out, bin, HL);
        return;
    }
    *bad = 1;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)tag, sizeof tag);
    crypto_hash_sha256_update(&st, (const uint8_t *)s, strlen(s));
    crypto_hash_sha256_final(&st, out);
}

/* The vectors hold sizes up to 2^64 - 1 ("leafIdx": 0 - 1), beyond jansson's
 * signed integers: numbers are parsed as reals, and the exact value is read
 * from the raw text and checked against that real. */
static uint64_t
s_vec_u64(const char *text, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    char pat[32], *end;
    const char *p;

    assert_true(json_is_real(v));
    snprintf(pat, sizeof pat, "\"%s\"", key);
    assert_non_null(p = strstr(text, pat));
    p += strlen(pat) + strspn(p + strlen(pat), " \t\r\n");
    assert_int_equal(*p++, ':');
    p += strspn(p, " \t\r\n");
    assert_true(*p >= '0' && *p <= '9');
    errno = 0;
    unsigned long long u = strtoull(p, &end, 10);
    assert_true(errno == 0 && (double)u == json_real_value(v));
    return (uint64_t)u;
}

/* Checks one vector file; counts[kind][wantErr] counts it. */
static void
s_vec_case(const char *path, int consistency, unsigned counts[2][2])
{
    enum { MAX_FILE = 1 << 16 };
    char *text = calloc(1, MAX_FILE + 1);
    FILE *fp = fopen(path, "rb");
    uint8_t proof[MERKLE_MAX_PROOF][HL], h1[HL], h2[HL];
    const uint8_t(*cp)[HL] = (const uint8_t(*)[HL])proof;
    json_error_t jerr;
    json_t *item;
    size_t i, len;
    int bad = 0, rc;

    assert_true(text && fp);
    len = fread(text, 1, MAX_FILE + 1, fp);
    fclose(fp);
    assert_true(len <= MAX_FILE);
    json_t *root = json_loadb(text, len, JSON_DECODE_INT_AS_REAL, &jerr);
    if (!root)
        fail_msg("%s: %s", path, jerr.text);
    json_t *want_err = json_object_get(root, "wantErr"), *jproof = json_object_get(root, "proof");
    assert_true(json_is_boolean(want_err) && (json_is_null(jproof) || json_is_array(jproof)));
    len = json_array_size(jproof); /* 0 for null */
    assert_true(len <= MERKLE_MAX_PROOF);
    json_array_foreach(jproof, i, item)
        s_vec_hash(item, NULL, proof[i], &bad);

    if (!consistency) {
        s_vec_hash(root, "leafHash", h1, &bad);
        s_vec_hash(root, "root", h2, &bad);
        rc = merkle_verify_inclusion(s_vec_u64(text, root, "leafIdx"),
                                     s_vec_u64(text, root, "treeSize"), h1, cp, len, h2);
    } else {
        uint64_t size1 = s_vec_u64(text, root, "size1"), size2 = s_vec_u64(text, root, "size2");
        s_vec_hash(root, "root1", h1, &bad);
        s_vec_hash(root, "root2", h2, &bad);
        rc = merkle_verify_consistency(size1, size2, h1, h2, cp, len);
        /* With equal sizes the roots are only compared, never hashed, and
         * the reference accepts equal placeholder roots of any length. */
        if (size1 == size2 && len == 0)
            bad = 0;
    }
    /* A wrong-length hash is refused when decoded, before any verifier. */
    if (bad && rc == 0)
        rc = COFAB_EMALFORMED;
    if (json_is_true(want_err) != (rc != 0))
        fail_msg("%s: %s", path, rc ? cofab_errname(rc) : "accepted a case that must fail");
    if (rc)
        assert_true(rc == COFAB_EPROOF || rc == COFAB_ERANGE || rc == COFAB_EMALFORMED);
    counts[consistency][json_is_true(want_err)]++;
    json_decref(root);
    free(text);
}

static void
s_vec_walk(const char *dir, int consistency, unsigned counts[2][2])
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];
    struct stat st;

    if (!d)
        fail_msg("cannot open %s (run from the repository root)", dir);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_true(snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path);
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode))
            s_vec_walk(path, consistency, counts);
        else if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
            s_vec_case(path, consistency, counts);
    }
    closedir(d);
}

static void
test_rfc6962_vectors(void **state)
{
    unsigned c[2][2] = {{0, 0}, {0, 0}};
    (void)state;

    s_vec_walk(VEC_DIR "/inclusion", 0, c);
    s_vec_walk(VEC_DIR "/consistency", 1, c);
    printf("rfc6962 vectors: inclusion %u valid + %u invalid, consistency %u valid + %u invalid\n",
           c[0][0], c[0][1], c[1][0], c[1][1]);
    assert_true(c[0][0] > 0 && c[0][1] > 0 && c[1][0] > 0 && c[1][1] > 0);
}

/* ---------- in-memory trees vs the reference ---------- */

typedef struct {
    unsigned proofs, wrong_size_rejected, wrong_size_accepted;
} tree_counts_t;

static void
s_check_inclusion(fixture_t *fx, uint64_t index, uint64_t size, tree_counts_t *tc)
{
    uint8_t proof[MERKLE_MAX_PROOF][HL], want[MERKLE_MAX_PROOF][HL], leaf[HL], root[HL];
    const uint8_t(*cp)[HL] = (const uint8_t(*)[HL])proof;
    size_t len = 0, want_len = 0;

    fx->store->gets = 0;
    assert_int_equal(merkle_inclusion_proof(s_get, fx->store, index, size, proof, &len), 0);
    assert_true(fx->store->gets <= 2 * s_bitlen(size));
    s_ref_path(&fx->ref, index, 0, size, want, &want_len);
    assert_int_equal(len, want_len);
    if (len)
        assert_memory_equal(proof, want, len * HL);

    s_ref_leaf(index, leaf);
    s_ref_root(&fx->ref, size, root);
    assert_int_equal(merkle_verify_inclusion(index, size, leaf, cp, len, root), 0);

    for (size_t i = 0; i < len; i++) { /* every hash matters */
        proof[i][i % HL] ^= 0x20;
        assert_int_equal(merkle_verify_inclusion(index, size, leaf, cp, len, root), COFAB_EPROOF);
        proof[i][i % HL] ^= 0x20;
    }
    if (len)
        assert_int_equal(merkle_verify_inclusion(index, size, leaf, cp, len - 1, root),
                         COFAB_EPROOF);
    memcpy(proof[len], root, HL);
    assert_int_equal(merkle_verify_inclusion(index, size, leaf, cp, len + 1, root), COFAB_EPROOF);
    /* A trailing hash is refused for its position, even when folding it in
     * would reach the root it is checked against. */
    uint8_t above[HL];
    s_ref_node(proof[len], root, above);
    assert_int_equal(merkle_verify_inclusion(index, size, leaf, cp, len + 1, above), COFAB_EPROOF);
    leaf[0] ^= 1;
    assert_int_equal(merkle_verify_inclusion(index, size, leaf, cp, len, root), COFAB_EPROOF);
    leaf[0] ^= 1;
    /* In a tree of a given size each index has its own path. */
    for (uint64_t j = (index >= 2 ? index - 2 : 0); j < index + 3 && j < size; j++)
        if (j != index)
            assert_int_equal(merkle_verify_inclusion(j, size, leaf, cp, len, root), COFAB_EPROOF);
    /* A different size can share the path's shape (index 0 of 5 and of 6
     * leaves, say); then the proof still verifies. */
    uint64_t sizes[4] = {size - 1, size + 1, size * 2, size / 2};
    for (int s = 0; s < 4; s++) {
        if (sizes[s] <= index || sizes[s] == size)
            continue;
        int ok = s_ref_path_shape(index, sizes[s]) == s_ref_path_shape(index, size);
        assert_int_equal(merkle_verify_inclusion(index, sizes[s], leaf, cp, len, root),
                         ok ? 0 : COFAB_EPROOF);
        ok ? tc->wrong_size_accepted++ : tc->wrong_size_rejected++;
    }
    tc->proofs++;
}

static void
s_check_consistency(fixture_t *fx, uint64_t m, uint64_t n, tree_counts_t *tc)
{
    uint8_t proof[MERKLE_MAX_PROOF][HL], want[MERKLE_MAX_PROOF][HL], r1[HL], r2[HL];
    const uint8_t(*cp)[HL] = (const uint8_t(*)[HL])proof;
    size_t len = 99, want_len = 0;

    fx->store->gets = 0;
    assert_int_equal(merkle_consistency_proof(s_get, fx->store, m, n, proof, &len), 0);
    assert_true(fx->store->gets <= 2 * s_bitlen(n) + 1);
    if (m > 0 && m < n)
        s_ref_subproof(&fx->ref, m, 0, n, 1, want, &want_len);
    assert_int_equal(len, want_len);
    if (len)
        assert_memory_equal(proof, want, len * HL);

    s_ref_root(&fx->ref, m, r1);
    s_ref_root(&fx->ref, n, r2);
    if (m == 0) { /* nothing to prove: always rejected */
        assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len), COFAB_EPROOF);
        return;
    }
    assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len), 0);
    if (m == n) {
        memcpy(proof[0], r1, HL);
        assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, 1), COFAB_EPROOF);
        assert_int_equal(merkle_verify_consistency(m, n, r1, r2, NULL, 0), 0);
        r2[3] ^= 1;
        assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, 0), COFAB_EPROOF);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        proof[i][(i * 7) % HL] ^= 0x10;
        assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len), COFAB_EPROOF);
        proof[i][(i * 7) % HL] ^= 0x10;
    }
    assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len - 1), COFAB_EPROOF);
    assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, 0), COFAB_EPROOF);
    assert_int_equal(merkle_verify_consistency(m, n, r1, r2, NULL, 0), COFAB_EPROOF);
    memcpy(proof[len], r2, HL);
    assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len + 1), COFAB_EPROOF);
    assert_int_equal(merkle_verify_consistency(m, n, r2, r1, cp, len), COFAB_EPROOF);
    r1[0] ^= 1;
    assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len), COFAB_EPROOF);
    r1[0] ^= 1;
    r2[31] ^= 1;
    assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len), COFAB_EPROOF);
    r2[31] ^= 1;
    uint64_t sz[6][2] = {{m - 1, n}, {m + 1, n}, {m ^ 2, n}, {m, n + 1}, {m, n * 2}, {m, n / 2}};
    for (int s = 0; s < 6; s++) {
        if (sz[s][0] == 0 || sz[s][0] > sz[s][1])
            continue;
        int ok = s_ref_sub_shape(sz[s][0], sz[s][1], 1) == s_ref_sub_shape(m, n, 1);
        assert_int_equal(merkle_verify_consistency(sz[s][0], sz[s][1], r1, r2, cp, len),
                         ok ? 0 : COFAB_EPROOF);
        ok ? tc->wrong_size_accepted++ : tc->wrong_size_rejected++;
    }
    tc->proofs++;
}

static void
test_trees_vs_reference(void **state)
{
    fixture_t *fx = *state;
    merkle_frontier_t f, loaded;
    uint8_t want[HL], got[HL];
    tree_counts_t tc = {0, 0, 0};
    unsigned emitted_want = 0, emitted = 0;

    merkle_frontier_init(&f);
    for (uint64_t size = 0; size <= N_MAX; size++) {
        if (size > 0)
            s_append(fx->store, &f);
        assert_int_equal(f.size, size);
        /* The store holds exactly the perfect subtrees inside [0, size). */
        emitted_want = 0;
        emitted = 0;
        for (unsigned l = 0; l < LEVELS; l++) {
            emitted_want += (unsigned)(size >> l);
            for (unsigned i = 0; i <= N_MAX; i++)
                emitted += fx->store->present[l][i];
        }
        assert_int_equal(emitted, emitted_want);

        s_ref_root(&fx->ref, size, want);
        merkle_frontier_root(&f, got);
        assert_memory_equal(got, want, HL);
        fx->store->gets = 0;
        assert_int_equal(merkle_root(s_get, fx->store, size, got), 0);
        assert_memory_equal(got, want, HL);
        assert_int_equal(fx->store->gets, (unsigned)__builtin_popcountll(size));

        memset(&loaded, 0xee, sizeof loaded);
        fx->store->gets = 0;
        assert_int_equal(merkle_frontier_load(&loaded, size, s_get, fx->store), 0);
        assert_int_equal(fx->store->gets, (unsigned)__builtin_popcountll(size));
        assert_int_equal(loaded.size, size);
        for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++)
            if ((size >> l) & 1)
                assert_memory_equal(loaded.edge[l], f.edge[l], HL);
        merkle_frontier_root(&loaded, got);
        assert_memory_equal(got, want, HL);

        for (uint64_t i = 0; i < size; i++)
            s_check_inclusion(fx, i, size, &tc);
        for (uint64_t m = 0; m <= size; m++)
            s_check_consistency(fx, m, size, &tc);
    }
    printf("trees 0..%d: %u proofs checked; wrong sizes: %u rejected, %u fit the proof\n",
           N_MAX, tc.proofs, tc.wrong_size_rejected, tc.wrong_size_accepted);
    assert_true(tc.wrong_size_rejected > 0);
}

/* ---------- huge trees: all leaves equal, so subtree hashes depend on level only ---------- */

typedef struct {
    uint8_t z[MERKLE_MAX_LEVELS][HL]; /* hash of a perfect subtree per level */
    uint64_t size;                    /* tree size the store represents */
} uniform_t;

static int
s_uniform_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
    uniform_t *u = ctx;
    /* Only subtrees wholly inside the tree exist. */
    if (level >= MERKLE_MAX_LEVELS || index >= (u->size >> level))
        return COFAB_ENOTFOUND;
    memcpy(out, u->z[level], HL);
    return 0;
}

static void
test_huge_sizes(void **state)
{
    static const uint64_t sizes[] = {(uint64_t)1 << 63, ((uint64_t)1 << 63) + 1,
                                     UINT64_MAX - 1, UINT64_MAX, 0x0123456789abcdefULL};
    uint8_t proof[MERKLE_MAX_PROOF][HL], r1[HL], r2[HL];
    const uint8_t(*cp)[HL] = (const uint8_t(*)[HL])proof;
    uniform_t u;
    merkle_frontier_t f;
    size_t len;
    (void)state;

    merkle_leaf_hash((const uint8_t *)"x", 1, u.z[0]);
    for (unsigned l = 1; l < MERKLE_MAX_LEVELS; l++)
        merkle_node_hash(u.z[l - 1], u.z[l - 1], u.z[l]);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t n = sizes[s];
        u.size = n;
        assert_int_equal(merkle_root(s_uniform_get, &u, n, r2), 0);
        assert_int_equal(merkle_frontier_load(&f, n, s_uniform_get, &u), 0);
        merkle_frontier_root(&f, r1);
        assert_memory_equal(r1, r2, HL);
        uint64_t idx[] = {0, 1, n / 3, n / 2, n - 2, n - 1};
        for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
            assert_int_equal(merkle_inclusion_proof(s_uniform_get, &u, idx[i], n, proof, &len), 0);
            assert_true(len <= MERKLE_MAX_LEVELS);
            assert_int_equal(merkle_verify_inclusion(idx[i], n, u.z[0], cp, len, r2), 0);
            if (idx[i] == 0)
                continue;
            assert_int_equal(
                merkle_consistency_proof(s_uniform_get, &u, idx[i], n, proof, &len), 0);
            assert_true(len <= MERKLE_MAX_PROOF);
            assert_int_equal(merkle_root(s_uniform_get, &u, idx[i], r1), 0);
            assert_int_equal(merkle_verify_consistency(idx[i], n, r1, r2, cp, len), 0);
        }
    }
    /* The last leaf a frontier can take, then a full tree. */
    u.size = UINT64_MAX;
    assert_int_equal(merkle_frontier_load(&f, UINT64_MAX - 1, s_uniform_get, &u), 0);
    assert_int_equal(merkle_frontier_append(&f, u.z[0], NULL, NULL), 0);
    merkle_frontier_root(&f, r1);
    assert_int_equal(merkle_root(s_uniform_get, &u, UINT64_MAX, r2), 0);
    assert_memory_equal(r1, r2, HL);
    assert_int_equal(merkle_frontier_append(&f, u.z[0], NULL, NULL), COFAB_ERANGE);
    assert_int_equal(f.size, UINT64_MAX);
}

/* ---------- error paths ---------- */

/* The four operations that read the store, over its first `size` leaves. */
static int
s_store_op(store_t *st, int op, uint64_t size, merkle_frontier_t *f)
{
    uint8_t proof[MERKLE_MAX_PROOF][HL], h[HL];
    size_t len;

    switch (op) {
    case 0: return merkle_root(s_get, st, size, h);
    case 1: return merkle_frontier_load(f, size, s_get, st);
    case 2: return merkle_inclusion_proof(s_get, st, size * 2 / 3, size, proof, &len);
    default: return merkle_consistency_proof(s_get, st, size / 3, size, proof, &len);
    }
}

static void
test_errors(void **state)
{
    fixture_t *fx = *state;
    store_t *st = fx->store;
    uint8_t proof[MERKLE_MAX_PROOF][HL], h[HL];
    const uint8_t(*cp)[HL] = (const uint8_t(*)[HL])proof;
    merkle_frontier_t f, copy, before;
    size_t len;
    const uint64_t size = 123;

    merkle_frontier_init(&f);
    while (f.size < size)
        s_append(st, &f);
    memset(h, 7, HL);

    assert_int_equal(merkle_inclusion_proof(s_get, st, size, size, proof, &len), COFAB_ERANGE);
    assert_int_equal(merkle_inclusion_proof(s_get, st, 0, 0, proof, &len), COFAB_ERANGE);
    assert_int_equal(merkle_verify_inclusion(size, size, h, cp, 0, h), COFAB_ERANGE);
    assert_int_equal(merkle_verify_inclusion(0, 0, h, cp, 0, h), COFAB_ERANGE);
    assert_int_equal(merkle_consistency_proof(s_get, st, 5, 4, proof, &len), COFAB_ERANGE);
    assert_int_equal(merkle_verify_consistency(5, 4, h, h, cp, 0), COFAB_ERANGE);
    assert_int_equal(merkle_verify_consistency(3, 7, h, h, cp, MERKLE_MAX_PROOF + 1),
                     COFAB_EPROOF);

    /* The store's own errors come back unchanged: past the stored size,
     * and at every lookup of each operation. */
    for (int op = 0; op < 4; op++) {
        st->gets = 0;
        st->fail_get_at = 0;
        assert_int_equal(s_store_op(st, op, size + 1, &copy), COFAB_ENOTFOUND);
        st->gets = 0;
        assert_int_equal(s_store_op(st, op, size, &copy), 0);
        unsigned calls = st->gets;
        assert_true(calls > 1);
        for (unsigned k = 1; k <= calls; k++) {
            st->gets = 0;
            st->fail_get_at = k;
            memset(&copy, 0x5a, sizeof copy);
            before = copy;
            assert_int_equal(s_store_op(st, op, size, &copy), COFAB_ESTORE);
            assert_memory_equal(&copy, &before, sizeof copy); /* load leaves f alone */
        }
    }
    st->fail_get_at = 0;

    /* An emit failure leaves the frontier as it was. Appending leaf 127
     * emits levels 0 (the leaf) to 7. */
    while (f.size < 127)
        s_append(st, &f);
    for (int lvl = 0; lvl <= 7; lvl++) {
        copy = f;
        st->emit_fail_level = lvl;
        st->last_level = -1;
        st->next_leaf = f.size;
        memset(h, 0x11, HL);
        assert_int_equal(merkle_frontier_append(&f, h, s_emit, st), COFAB_ESTORE);
        assert_memory_equal(&f, &copy, sizeof f);
        /* Roll back what the store took before the failure. */
        for (int l = 0; l < lvl; l++)
            st->present[l][127 >> l] = 0;
    }
    st->emit_fail_level = -1;
    s_append(st, &f);
    assert_int_equal(f.size, 128);

    f.size = UINT64_MAX;
    copy = f;
    assert_int_equal(merkle_frontier_append(&f, h, s_emit, st), COFAB_ERANGE);
    assert_memory_equal(&f, &copy, sizeof f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_rfc6962_vectors),
        cmocka_unit_test_setup_teardown(test_trees_vs_reference, s_setup, s_teardown),
        cmocka_unit_test(test_huge_sizes),
        cmocka_unit_test_setup_teardown(test_errors, s_setup, s_teardown),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
