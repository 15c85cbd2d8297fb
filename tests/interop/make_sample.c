/* make_sample.c — writes signed checkpoints and RFC 6962 proofs for verify_proofs.go to check.
 *
 * Not a unit test: a hand-built driver that exercises ledger/note.c with a
 * naive, separate RFC 6962 Merkle tree (no ledger code) so that Go's
 * sumdb/tlog and sumdb/note can judge the output. Usage:
 *
 *   make_sample DIR [LEAVES [OLD_SIZE [SEED]]]
 *
 * writes into DIR: key.txt (log verifier key), witness.txt (cosignature/v1
 * witness key), wrong_witness.txt, inclusion.json, consistency.json and
 * their tampered_*.json twins (one proof hash bit flipped, or a record
 * changed), which verify_proofs.go must reject. LEAVES defaults to a random
 * 1..40, OLD_SIZE to a random 1..LEAVES; SEED makes the run reproducible.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/note.h"

#define S_MAX_LEAVES 4096
#define S_MAX_LEAF 64
#define S_MAX_PROOF 64

typedef struct {
    uint8_t data[S_MAX_LEAVES][S_MAX_LEAF];   /* leaf bytes */
    size_t len[S_MAX_LEAVES];                 /* leaf lengths */
    size_t n;                                 /* number of leaves */
} s_tree_t;

typedef struct {
    uint8_t h[S_MAX_PROOF][32];               /* hashes, leaf end first */
    size_t n;                                 /* how many */
} s_proof_t;

/* Random bytes: the system generator, or a ChaCha20 stream from SEED. */
typedef struct {
    int deterministic;                        /* 1 when a SEED was given */
    uint8_t key[crypto_stream_chacha20_KEYBYTES]; /* stream key from SEED */
    uint64_t counter;                         /* nonce of the next draw */
} s_rng_t;

static void
s_rng_bytes(s_rng_t *rng, uint8_t *buf, size_t len)
{
    if (!rng->deterministic) {
        randombytes_buf(buf, len);
        return;
    }
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    for (int i = 0; i < 8; i++)
        nonce[i] = (uint8_t) (rng->counter >> (8 * i));
    rng->counter++;
    crypto_stream_chacha20(buf, len, nonce, rng->key);
}

/* Uniform enough in [0, n) for picking sample sizes and victims. */
static size_t
s_rng_below(s_rng_t *rng, size_t n)
{
    uint8_t b[4];
    s_rng_bytes(rng, b, sizeof b);
    uint32_t v = (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 |
                 (uint32_t) b[3] << 24;
    return (size_t) (v % (uint32_t) n);
}

/* ---- naive RFC 6962 tree (recomputes everything; fine for small trees) -- */

static void
s_leaf_hash(const s_tree_t *t, size_t i, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    const uint8_t zero = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, t->data[i], t->len[i]);
    crypto_hash_sha256_final(&st, out);
}

static void
s_node_hash(const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    crypto_hash_sha256_state st;
    const uint8_t one = 0x01;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &one, 1);
    crypto_hash_sha256_update(&st, l, 32);
    crypto_hash_sha256_update(&st, r, 32);
    crypto_hash_sha256_final(&st, out);
}

/* Largest power of two strictly less than n (n >= 2). */
static size_t
s_split_point(size_t n)
{
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(D[lo:hi]), hi > lo. */
static void
s_mth(const s_tree_t *t, size_t lo, size_t hi, uint8_t out[32])
{
    if (hi - lo == 1) {
        s_leaf_hash(t, lo, out);
        return;
    }
    size_t k = s_split_point(hi - lo);
    uint8_t l[32], r[32];
    s_mth(t, lo, lo + k, l);
    s_mth(t, lo + k, hi, r);
    s_node_hash(l, r, out);
}

static void
s_push(s_proof_t *p, const uint8_t h[32])
{
    if (p->n >= S_MAX_PROOF) {
        fprintf(stderr, "proof too long\n");
        exit(1);
    }
    memcpy(p->h[p->n++], h, 32);
}

/* RFC 6962 2.1.1 PATH(m, D[lo:hi]). */
static void
s_path(const s_tree_t *t, size_t m, size_t lo, size_t hi, s_proof_t *p)
{
    if (hi - lo <= 1)
        return;
    size_t k = s_split_point(hi - lo);
    uint8_t h[32];
    if (m < k) {
        s_path(t, m, lo, lo + k, p);
        s_mth(t, lo + k, hi, h);
    } else {
        s_path(t, m - k, lo + k, hi, p);
        s_mth(t, lo, lo + k, h);
    }
    s_push(p, h);
}

/* RFC 6962 2.1.2 SUBPROOF(m, D[lo:hi], b). */
static void
s_subproof(const s_tree_t *t, size_t m, size_t lo, size_t hi, int b, s_proof_t *p)
{
    uint8_t h[32];
    size_t n = hi - lo;
    if (m == n) {
        if (!b) {
            s_mth(t, lo, hi, h);
            s_push(p, h);
        }
        return;
    }
    size_t k = s_split_point(n);
    if (m <= k) {
        s_subproof(t, m, lo, lo + k, b, p);
        s_mth(t, lo + k, hi, h);
    } else {
        s_subproof(t, m - k, lo + k, hi, 0, p);
        s_mth(t, lo, lo + k, h);
    }
    s_push(p, h);
}

/* ---- output helpers ---------------------------------------------------- */

static void
s_json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);    /* UTF-8 passes through */
    }
    fputc('"', f);
}

static void
s_json_b64(FILE *f, const uint8_t *bin, size_t len)
{
    char b64[sodium_base64_ENCODED_LEN(S_MAX_LEAF, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(b64, sizeof b64, bin, len, sodium_base64_VARIANT_ORIGINAL);
    fprintf(f, "\"%s\"", b64);
}

static void
s_json_proof(FILE *f, const s_proof_t *p, size_t flip)
{
    fputc('[', f);
    for (size_t i = 0; i < p->n; i++) {
        uint8_t h[32];
        memcpy(h, p->h[i], 32);
        if (i == flip)
            h[7] ^= 0x10;
        fputs(i ? ", " : "", f);
        s_json_b64(f, h, 32);
    }
    fputc(']', f);
}

static FILE *
s_open(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    return f;
}

static void
s_close(FILE *f)
{
    if (fclose(f) != 0) {
        fprintf(stderr, "write failed\n");
        exit(1);
    }
}

static void
s_check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, cofab_strerror(rc));
        exit(1);
    }
}

/* Signed (and witness-cosigned) checkpoint of the first size leaves. */
static void
s_checkpoint(s_rng_t *rng, const s_tree_t *t, size_t size, int with_chain,
             const uint8_t log_sk[64], const uint8_t wit_sk[64], char *out, size_t out_len)
{
    checkpoint_t cp;
    char body[1024], signed_note[2048];
    size_t len = 0;

    memset(&cp, 0, sizeof cp);
    snprintf(cp.origin, sizeof cp.origin, "cofab.example/interop");
    cp.size = size;
    s_mth(t, 0, size, cp.root);
    cp.has_chain = with_chain;
    s_rng_bytes(rng, cp.chain, sizeof cp.chain);  /* opaque to Go */
    s_check(checkpoint_format(&cp, body, sizeof body, &len), "checkpoint_format");
    s_check(note_sign(body, len, "cofab.example", log_sk, signed_note, sizeof signed_note),
            "note_sign");
    s_check(note_cosign(signed_note, strlen(signed_note), "witness.example", wit_sk,
                        1700000000 + size, out, out_len), "note_cosign");
}

static void
s_write_witness_key(const char *dir, const char *file, const char *name, const uint8_t pk[32])
{
    uint8_t key[33], id[NOTE_KEYID_LEN];
    char b64[sodium_base64_ENCODED_LEN(33, sodium_base64_VARIANT_ORIGINAL)];
    key[0] = NOTE_ALG_COSIG_V1;
    memcpy(key + 1, pk, 32);
    note_keyid(name, NOTE_ALG_COSIG_V1, pk, id);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    FILE *f = s_open(dir, file);
    fprintf(f, "%s+%02x%02x%02x%02x+%s\n", name, id[0], id[1], id[2], id[3], b64);
    s_close(f);
}

int
main(int argc, char **argv)
{
    static s_tree_t tree;
    uint8_t log_pk[32], log_sk[64], wit_pk[32], wit_sk[64], bad_pk[32], bad_sk[64];
    char new_cp[4096], old_cp[4096], vkey[NOTE_VERIFIER_MAX];
    note_verifier_t v;

    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: make_sample DIR [LEAVES [OLD_SIZE [SEED]]]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    s_rng_t rng = {.deterministic = argc == 5, .counter = 0};
    if (argc == 5)
        crypto_generichash(rng.key, sizeof rng.key, (const uint8_t *) argv[4], strlen(argv[4]),
                           NULL, 0);
    uint8_t seed[32];
    s_rng_bytes(&rng, seed, sizeof seed);
    crypto_sign_seed_keypair(log_pk, log_sk, seed);
    s_rng_bytes(&rng, seed, sizeof seed);
    crypto_sign_seed_keypair(wit_pk, wit_sk, seed);
    s_rng_bytes(&rng, seed, sizeof seed);
    crypto_sign_seed_keypair(bad_pk, bad_sk, seed);

    tree.n = argc >= 3 ? (size_t) strtoul(argv[2], NULL, 10) : 1 + s_rng_below(&rng, 40);
    if (tree.n < 1 || tree.n > S_MAX_LEAVES) {
        fprintf(stderr, "LEAVES must be 1..%d\n", S_MAX_LEAVES);
        return 2;
    }
    size_t old_size = argc >= 4 ? (size_t) strtoul(argv[3], NULL, 10)
                                : 1 + s_rng_below(&rng, tree.n);
    if (old_size < 1 || old_size > tree.n) {
        fprintf(stderr, "OLD_SIZE must be 1..LEAVES\n");
        return 2;
    }
    for (size_t i = 0; i < tree.n; i++) {
        tree.len[i] = i == 0 ? 0 : s_rng_below(&rng, S_MAX_LEAF + 1);   /* leaf 0 is empty */
        s_rng_bytes(&rng, tree.data[i], tree.len[i]);
    }

    s_check(note_verifier_init(&v, "cofab.example", log_pk), "note_verifier_init");
    s_check(note_verifier_format(&v, vkey, sizeof vkey), "note_verifier_format");
    FILE *f = s_open(argv[1], "key.txt");
    fprintf(f, "%s\n", vkey);
    s_close(f);
    s_write_witness_key(argv[1], "witness.txt", "witness.example", wit_pk);
    s_write_witness_key(argv[1], "wrong_witness.txt", "witness.example", bad_pk);

    s_checkpoint(&rng, &tree, tree.n, 1, log_sk, wit_sk, new_cp, sizeof new_cp);
    s_checkpoint(&rng, &tree, old_size, 0, log_sk, wit_sk, old_cp, sizeof old_cp);

    /* Inclusion of every leaf; the tampered twin breaks one entry. */
    size_t victim = s_rng_below(&rng, tree.n);
    for (int tampered = 0; tampered <= 1; tampered++) {
        f = s_open(argv[1], tampered ? "tampered_inclusion.json" : "inclusion.json");
        fputs("{\"checkpoint\": ", f);
        s_json_string(f, new_cp, strlen(new_cp));
        fputs(",\n \"entries\": [\n", f);
        for (size_t i = 0; i < tree.n; i++) {
            s_proof_t p = {.n = 0};
            uint8_t rec[S_MAX_LEAF + 1];
            size_t rec_len = tree.len[i];
            s_path(&tree, i, 0, tree.n, &p);
            memcpy(rec, tree.data[i], rec_len);
            size_t flip = SIZE_MAX;
            if (tampered && i == victim) {
                if (p.n > 0)
                    flip = s_rng_below(&rng, p.n);
                else
                    rec[rec_len++] = 'x';     /* one-leaf tree: change the record */
            }
            fprintf(f, "  {\"index\": %zu, \"record\": ", i);
            s_json_b64(f, rec, rec_len);
            fputs(", \"proof\": ", f);
            s_json_proof(f, &p, flip);
            fputs(i + 1 < tree.n ? "},\n" : "}\n", f);
        }
        fputs(" ]}\n", f);
        s_close(f);
    }

    /* Consistency old_size -> n; the tampered twin flips a bit or adds a hash. */
    s_proof_t cp = {.n = 0};
    s_subproof(&tree, old_size, 0, tree.n, 1, &cp);
    for (int tampered = 0; tampered <= 1; tampered++) {
        s_proof_t p = cp;
        size_t flip = SIZE_MAX;
        if (tampered) {
            if (p.n > 0)
                flip = s_rng_below(&rng, p.n);
            else    /* old == new needs an empty proof: any hash breaks it */
                s_push(&p, (const uint8_t *) "0123456789abcdef0123456789abcdef");
        }
        f = s_open(argv[1], tampered ? "tampered_consistency.json" : "consistency.json");
        fputs("{\"old\": ", f);
        s_json_string(f, old_cp, strlen(old_cp));
        fputs(",\n \"new\": ", f);
        s_json_string(f, new_cp, strlen(new_cp));
        fputs(",\n \"proof\": ", f);
        s_json_proof(f, &p, flip);
        fputs("}\n", f);
        s_close(f);
    }
    printf("tree of %zu leaves, old size %zu, inclusion victim %zu, "
           "consistency proof of %zu hashes\n", tree.n, old_size, victim, cp.n);
    return 0;
}
