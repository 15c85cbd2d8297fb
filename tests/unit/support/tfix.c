/* tfix.c — helpers the tlog-tiles tests share: keys and ledgers, a reference tree, bundle file surgery. */
#include "support/tfix.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/note.h"
#include "support/fixture.h"

int
tfix_group_setup(void **state)
{
    tfix_group_t *g = calloc(1, sizeof *g);
    fixture_tmpdir(g->dir);
    g->hub = keys_generate("hub");
    g->witness = keys_generate("witness");
    g->authors[0] = keys_generate("alice");
    g->authors[1] = keys_generate("bob");
    snprintf(g->big, sizeof g->big, "%s/big", g->dir);
    tfix_make_ledger(g, g->big, TFIX_BIG, 100);
    *state = g;
    return 0;
}

int
tfix_group_teardown(void **state)
{
    tfix_group_t *g = *state;
    keys_destroy(&g->hub);
    keys_destroy(&g->witness);
    keys_destroy(&g->authors[0]);
    keys_destroy(&g->authors[1]);
    fixture_rmtree(g->dir);
    free(g);
    return 0;
}

void
tfix_subdir(tfix_group_t *g, const char *what, char out[300])
{
    snprintf(out, 300, "%s/%s-%d", g->dir, what, g->seq++);
}

/* A ledger of `size` records with checkpoints every cp_every records; the
 * latest checkpoint gets a witness cosignature. */
void
tfix_make_ledger(tfix_group_t *g, const char *dir, uint64_t size, size_t cp_every)
{
    ledger_t *l = fixture_ledger(dir, g->hub, g->authors, 2, size - 1, cp_every);
    char note[LEDGER_CHECKPOINT_MAX], out[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_checkpoint_latest(l, note, sizeof note), 0);
    assert_int_equal(note_cosign(note, strlen(note), "witness", keys_sign_sk(g->witness),
                                 1700000000, out, sizeof out), 0);
    assert_int_equal(ledger_checkpoint_put(l, size, out, strlen(out)), 0);
    ledger_destroy(&l);
}

int
tfix_export(const char *ledger_dir, const char *out, tiles_stats_t *st)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, ledger_dir, &o), 0);
    int rc = tiles_export(l, out, st);
    ledger_destroy(&l);
    return rc;
}

void
tfix_fresh_bundle(tfix_group_t *g, char out[300])
{
    tfix_subdir(g, "bundle", out);
    tiles_stats_t st;
    assert_int_equal(tfix_export(g->big, out, &st), 0);
}

static void
s_ref_leaf(const uint8_t *data, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
    crypto_hash_sha256_state st;
    uint8_t zero = 0;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

static void
s_ref_node(const uint8_t *l, const uint8_t *r, uint8_t out[MERKLE_HASH_LEN])
{
    uint8_t buf[1 + 2 * MERKLE_HASH_LEN];
    buf[0] = 1;
    memcpy(buf + 1, l, MERKLE_HASH_LEN);
    memcpy(buf + 1 + MERKLE_HASH_LEN, r, MERKLE_HASH_LEN);
    crypto_hash_sha256(out, buf, sizeof buf);
}

void
tfix_ref_levels(tfix_ref_t *ref)
{
    ref->nlvl[0] = ref->size;
    ref->lvl[0] = malloc(ref->size * MERKLE_HASH_LEN);
    for (uint64_t i = 0; i < ref->size; i++)
        s_ref_leaf(ref->rec[i], ref->len[i], ref->lvl[0] + i * MERKLE_HASH_LEN);
    for (unsigned k = 1; k < 64 && ref->nlvl[k - 1] >= 2; k++) {
        ref->nlvl[k] = ref->nlvl[k - 1] / 2;
        ref->lvl[k] = malloc(ref->nlvl[k] * MERKLE_HASH_LEN);
        for (uint64_t i = 0; i < ref->nlvl[k]; i++)
            s_ref_node(ref->lvl[k - 1] + 2 * i * MERKLE_HASH_LEN,
                       ref->lvl[k - 1] + (2 * i + 1) * MERKLE_HASH_LEN,
                       ref->lvl[k] + i * MERKLE_HASH_LEN);
    }
}

/* RFC 6962 MTH of leaves [from, from + n). */
void
tfix_ref_mth(const tfix_ref_t *ref, uint64_t from, uint64_t n, uint8_t out[MERKLE_HASH_LEN])
{
    if (n == 1) {
        memcpy(out, ref->lvl[0] + from * MERKLE_HASH_LEN, MERKLE_HASH_LEN);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t l[MERKLE_HASH_LEN], r[MERKLE_HASH_LEN];
    tfix_ref_mth(ref, from, k, l);
    tfix_ref_mth(ref, from + k, n - k, r);
    s_ref_node(l, r, out);
}

void
tfix_ref_load(tfix_ref_t *ref, const char *ledger_dir)
{
    memset(ref, 0, sizeof *ref);
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, ledger_dir, &o), 0);
    ref->size = ledger_size(l);
    ref->rec = calloc(ref->size, sizeof *ref->rec);
    ref->len = calloc(ref->size, sizeof *ref->len);
    for (uint64_t i = 0; i < ref->size; i++)
        assert_int_equal(ledger_get(l, i, &ref->rec[i], &ref->len[i]), 0);
    ledger_destroy(&l);
    tfix_ref_levels(ref);
}

void
tfix_ref_free(tfix_ref_t *ref)
{
    for (uint64_t i = 0; i < ref->size; i++)
        free(ref->rec[i]);
    free(ref->rec);
    free(ref->len);
    for (unsigned k = 0; k < 64; k++)
        free(ref->lvl[k]);
}

uint8_t *
tfix_slurp(const char *bundle, const char *rel, size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", bundle, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t) n + 1);
    assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
    fclose(f);
    buf[n] = 0;
    *len = (size_t) n;
    return buf;
}

void
tfix_spit(const char *bundle, const char *rel, const void *data, size_t len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", bundle, rel);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

void
tfix_flip(const char *bundle, const char *rel, size_t offset)
{
    size_t len = 0;
    uint8_t *buf = tfix_slurp(bundle, rel, &len);
    assert_non_null(buf);
    assert_true(offset < len);
    buf[offset] ^= 0x01;
    tfix_spit(bundle, rel, buf, len);
    free(buf);
}

/* Counts regular files below dir (recursively); any ".tmp" fails. */
size_t
tfix_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        char sub[1024];
        struct stat st;
        snprintf(sub, sizeof sub, "%s/%s", dir, ent->d_name);
        assert_int_equal(lstat(sub, &st), 0);
        size_t nl = strlen(ent->d_name);
        assert_false(nl > 4 && !strcmp(ent->d_name + nl - 4, ".tmp"));
        n += S_ISDIR(st.st_mode) ? tfix_count_files(sub) : 1;
    }
    closedir(d);
    return n;
}

/* Offset of entry k's bytes inside an entry bundle. */
size_t
tfix_entry_offset(const uint8_t *buf, size_t len, unsigned k)
{
    size_t at = 0;
    for (unsigned i = 0; i < k; i++) {
        assert_true(at + 2 <= len);
        at += 2 + ((size_t) buf[at] << 8 | buf[at + 1]);
    }
    return at + 2;
}

/* Rebuilds every hash tile of the bundle from its entry bundles and puts
 * the new root into checkpoint and checkpoints/<size>: a forger who
 * recomputes everything. Signatures are left as they are. */
void
tfix_retile(const char *bundle, uint64_t size)
{
    tfix_ref_t ref;
    memset(&ref, 0, sizeof ref);
    ref.size = size;
    ref.rec = calloc(size, sizeof *ref.rec);
    ref.len = calloc(size, sizeof *ref.len);
    for (uint64_t n = 0; n * 256 < size; n++) {
        unsigned w = (unsigned) (size - n * 256 < 256 ? size - n * 256 : 256);
        char rel[TILES_PATH_MAX];
        tiles_path(TILES_ENTRIES, n, w, rel);
        size_t len = 0;
        uint8_t *buf = tfix_slurp(bundle, rel, &len);
        assert_non_null(buf);
        for (unsigned k = 0; k < w; k++) {
            size_t off = tfix_entry_offset(buf, len, k);
            size_t elen = (size_t) buf[off - 2] << 8 | buf[off - 1];
            ref.rec[n * 256 + k] = malloc(elen);
            memcpy(ref.rec[n * 256 + k], buf + off, elen);
            ref.len[n * 256 + k] = elen;
        }
        free(buf);
    }
    tfix_ref_levels(&ref);
    uint64_t span = 1;
    for (unsigned l = 0; size / span > 0; l++, span *= 256) {
        uint64_t hashes = size / span;
        for (uint64_t n = 0; n * 256 < hashes; n++) {
            unsigned w = (unsigned) (hashes - n * 256 < 256 ? hashes - n * 256 : 256);
            char rel[TILES_PATH_MAX];
            tiles_path((int) l, n, w, rel);
            tfix_spit(bundle, rel, ref.lvl[8 * l] + n * 256 * MERKLE_HASH_LEN,
                      (size_t) w * MERKLE_HASH_LEN);
        }
    }
    uint8_t root[MERKLE_HASH_LEN];
    char b64[64];
    tfix_ref_mth(&ref, 0, size, root);
    sodium_bin2base64(b64, sizeof b64, root, MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL);
    char rels[2][64];
    snprintf(rels[0], sizeof rels[0], "checkpoint");
    snprintf(rels[1], sizeof rels[1], "checkpoints/%llu", (unsigned long long) size);
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        char *text = (char *) tfix_slurp(bundle, rels[i], &len);
        char *line = strchr(strchr(text, '\n') + 1, '\n') + 1;
        assert_int_equal(strchr(line, '\n') - line, strlen(b64));
        memcpy(line, b64, strlen(b64));
        tfix_spit(bundle, rels[i], text, len);
        free(text);
    }
    tfix_ref_free(&ref);
}

/* Alters byte `at` of record pos in its entry bundle. */
void
tfix_alter_record(const char *bundle, uint64_t size, uint64_t pos, size_t at)
{
    char rel[TILES_PATH_MAX];
    uint64_t n = pos / 256;
    unsigned w = (unsigned) (size - n * 256 < 256 ? size - n * 256 : 256);
    tiles_path(TILES_ENTRIES, n, w, rel);
    size_t len = 0;
    uint8_t *buf = tfix_slurp(bundle, rel, &len);
    size_t off = tfix_entry_offset(buf, len, (unsigned) (pos % 256));
    free(buf);
    tfix_flip(bundle, rel, off + at);
}
