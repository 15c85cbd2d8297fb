/* test_tiles.c — tlog-tiles paths and codecs, bundle export and import round trips, export refusals. */
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
#include <unistd.h>

#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/note.h"
#include "cofab/tiles.h"
#include "support/fixture.h"
#include "support/tfix.h"

/* ---------- checks shared by the round trips ---------- */

typedef struct {
    uint64_t sizes[64];   /* stored checkpoint sizes */
    char *notes[64];      /* their texts */
    size_t n;             /* how many */
} s_cps_t;

static int
s_collect_cp(void *ctx, uint64_t size, const char *note, size_t len)
{
    s_cps_t *c = ctx;
    assert_true(c->n < 64);
    c->sizes[c->n] = size;
    c->notes[c->n] = strndup(note, len);
    c->n++;
    return 0;
}

static void
s_cps_load(s_cps_t *c, const char *ledger_dir)
{
    memset(c, 0, sizeof *c);
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, ledger_dir, &o), 0);
    assert_int_equal(ledger_checkpoint_foreach(l, s_collect_cp, c), 0);
    ledger_destroy(&l);
}

static void
s_cps_free(s_cps_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->notes[i]);
}

/* Every file of the bundle against the reference tree and the ledger. */
static void
s_check_bundle(const tfix_ref_t *ref, const char *ledger_dir, const char *bundle,
               const tiles_stats_t *st)
{
    uint64_t size = ref->size;
    size_t files = 0, tiles = 0, partial = 0;
    /* Hash tiles, level by level: hash i of tile n at level l is the node at
     * Merkle level 8l, index 256n + i. */
    uint64_t span = 1;
    unsigned levels = 0;
    for (unsigned l = 0; size / span > 0; l++, span *= 256) {
        uint64_t hashes = size / span;
        levels++;
        for (uint64_t n = 0; n * 256 < hashes; n++) {
            unsigned w = (unsigned) (hashes - n * 256 < 256 ? hashes - n * 256 : 256);
            char rel[TILES_PATH_MAX];
            assert_int_equal(tiles_path((int) l, n, w, rel), 0);
            size_t len = 0;
            uint8_t *buf = tfix_slurp(bundle, rel, &len);
            assert_non_null(buf);
            assert_int_equal(len, (size_t) w * MERKLE_HASH_LEN);
            assert_memory_equal(buf, ref->lvl[8 * l] + n * 256 * MERKLE_HASH_LEN, len);
            free(buf);
            files++;
            tiles++;
            partial += w < 256;
        }
    }
    assert_int_equal(st->levels, levels);
    assert_int_equal(st->tiles, tiles);
    assert_int_equal(st->partial_tiles, partial);
    /* Entry bundles: uint16 length + the ledger's record bytes, in order. */
    size_t bundles = 0;
    for (uint64_t n = 0; n * 256 < size; n++) {
        unsigned w = (unsigned) (size - n * 256 < 256 ? size - n * 256 : 256);
        char rel[TILES_PATH_MAX];
        assert_int_equal(tiles_path(TILES_ENTRIES, n, w, rel), 0);
        size_t len = 0, at = 0;
        uint8_t *buf = tfix_slurp(bundle, rel, &len);
        assert_non_null(buf);
        for (unsigned k = 0; k < w; k++) {
            assert_true(at + 2 <= len);
            size_t elen = (size_t) buf[at] << 8 | buf[at + 1];
            assert_int_equal(elen, ref->len[n * 256 + k]);
            assert_true(at + 2 + elen <= len);
            assert_memory_equal(buf + at + 2, ref->rec[n * 256 + k], elen);
            at += 2 + elen;
        }
        assert_int_equal(at, len);
        free(buf);
        files++;
        bundles++;
    }
    assert_int_equal(st->bundles, bundles);
    /* No other file under tile/, no leftover .tmp anywhere. */
    char tdir[600];
    snprintf(tdir, sizeof tdir, "%s/tile", bundle);
    assert_int_equal(tfix_count_files(tdir), files);
    /* checkpoint = the latest stored note; checkpoints/<size> = every one. */
    s_cps_t cps;
    s_cps_load(&cps, ledger_dir);
    assert_true(cps.n >= 1);
    size_t len = 0;
    char *text = (char *) tfix_slurp(bundle, "checkpoint", &len);
    assert_non_null(text);
    assert_string_equal(text, cps.notes[cps.n - 1]);
    assert_non_null(strstr(text, "— witness "));
    checkpoint_t cp;
    assert_int_equal(checkpoint_from_note(&cp, text, len), 0);
    assert_int_equal(cp.size, size);
    uint8_t root[MERKLE_HASH_LEN];
    tfix_ref_mth(ref, 0, size, root);
    assert_memory_equal(cp.root, root, MERKLE_HASH_LEN);
    assert_memory_equal(st->root, root, MERKLE_HASH_LEN);
    free(text);
    for (size_t i = 0; i < cps.n; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "checkpoints/%llu", (unsigned long long) cps.sizes[i]);
        text = (char *) tfix_slurp(bundle, rel, &len);
        assert_non_null(text);
        assert_string_equal(text, cps.notes[i]);
        free(text);
    }
    snprintf(tdir, sizeof tdir, "%s/checkpoints", bundle);
    assert_int_equal(tfix_count_files(tdir), cps.n);
    assert_int_equal(st->checkpoints, cps.n);
    text = (char *) tfix_slurp(bundle, "README", &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "cofab audit verify --bundle DIR --hub-key HUB.pub"));
    free(text);
    assert_int_equal(tfix_count_files(bundle), files + cps.n + 2);
    s_cps_free(&cps);
    assert_int_equal(st->size, size);
}

/* The imported ledger holds the same records, root and checkpoints. */
static void
s_check_imported(const tfix_ref_t *ref, const char *src_dir, const char *imported,
                 const tiles_import_report_t *rep)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, imported, &o), 0);
    assert_int_equal(ledger_size(l), ref->size);
    for (uint64_t i = 0; i < ref->size; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(ledger_get(l, i, &buf, &len), 0);
        assert_int_equal(len, ref->len[i]);
        assert_memory_equal(buf, ref->rec[i], len);
        free(buf);
    }
    uint8_t root[MERKLE_HASH_LEN], want[MERKLE_HASH_LEN];
    tfix_ref_mth(ref, 0, ref->size, want);
    assert_int_equal(ledger_root(l, ref->size, root), 0);
    assert_memory_equal(root, want, MERKLE_HASH_LEN);
    assert_memory_equal(rep->root, want, MERKLE_HASH_LEN);
    ledger_destroy(&l);
    s_cps_t a, b;
    s_cps_load(&a, src_dir);
    s_cps_load(&b, imported);
    assert_int_equal(a.n, b.n);
    assert_int_equal(rep->checkpoints, a.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.sizes[i], b.sizes[i]);
        assert_string_equal(a.notes[i], b.notes[i]);
    }
    s_cps_free(&a);
    s_cps_free(&b);
    assert_int_equal(rep->code, 0);
    assert_int_equal(rep->size, ref->size);
    assert_int_equal(rep->entries, ref->size);
}

static void
s_audit_valid(const char *dir)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    assert_int_equal(ledger_open(&l, dir, &o), 0);
    audit_options_t opts = {.threads = 2};
    audit_report_t *r = malloc(sizeof *r);
    assert_int_equal(audit_verify(l, &opts, r), 0);
    if (!r->valid)
        fprintf(stderr, "audit: %s\n", r->reason);
    assert_true(r->valid);
    free(r);
    ledger_destroy(&l);
}

static void
s_roundtrip(tfix_group_t *g, const char *src, int audit)
{
    char out[300], imp[300];
    tfix_subdir(g, "bundle", out);
    tfix_subdir(g, "imported", imp);
    tiles_stats_t st;
    assert_int_equal(tfix_export(src, out, &st), 0);
    assert_int_equal(st.bad_record, -1);
    tfix_ref_t ref;
    tfix_ref_load(&ref, src);
    s_check_bundle(&ref, src, out, &st);
    tiles_import_report_t rep;
    int rc = tiles_import(out, imp, &rep);
    if (rc != 0)
        fprintf(stderr, "import: %s (%s)\n", rep.reason, rep.bad_path);
    assert_int_equal(rc, 0);
    assert_int_equal(rep.tiles, st.tiles);
    assert_int_equal(rep.bundles, st.bundles);
    s_check_imported(&ref, src, imp, &rep);
    if (audit) {
        s_audit_valid(src);
        s_audit_valid(imp);
    }
    tfix_ref_free(&ref);
}

static void
s_roundtrip_size(void **state, uint64_t size, size_t cp_every, int audit)
{
    tfix_group_t *g = *state;
    char src[300];
    tfix_subdir(g, "ledger", src);
    tfix_make_ledger(g, src, size, cp_every);
    s_roundtrip(g, src, audit);
}

/* ---------- pure helpers ---------- */

static void
test_path_format(void **state)
{
    (void) state;
    char buf[TILES_PATH_MAX];
    /* The spec's own example: index 1234067 is x001/x234/067. */
    assert_int_equal(tiles_path(0, 1234067, 0, buf), 0);
    assert_string_equal(buf, "tile/0/x001/x234/067");
    assert_int_equal(tiles_path(TILES_ENTRIES, 1234067, 8, buf), 0);
    assert_string_equal(buf, "tile/entries/x001/x234/067.p/8");
    assert_int_equal(tiles_path(0, 0, TILES_WIDTH, buf), 0);
    assert_string_equal(buf, "tile/0/000");
    assert_int_equal(tiles_path(1, 999, 255, buf), 0);
    assert_string_equal(buf, "tile/1/999.p/255");
    assert_int_equal(tiles_path(2, 1000, 1, buf), 0);
    assert_string_equal(buf, "tile/2/x001/000.p/1");
    assert_int_equal(tiles_path(63, UINT64_MAX, 255, buf), 0);
    assert_string_equal(buf, "tile/63/x018/x446/x744/x073/x709/x551/615.p/255");
    assert_int_equal(tiles_path(TILES_ENTRIES, UINT64_MAX, 255, buf), 0);
    assert_true(strlen(buf) < TILES_PATH_MAX);
    assert_int_equal(tiles_path(64, 0, 0, buf), COFAB_EINVAL);
    assert_int_equal(tiles_path(-2, 0, 0, buf), COFAB_EINVAL);
    assert_int_equal(tiles_path(0, 0, 257, buf), COFAB_EINVAL);
    assert_int_equal(tiles_path(0, 0, 0, NULL), COFAB_EINVAL);

    /* Every formatted path parses back to what made it. */
    const uint64_t idx[] = {0, 1, 9, 10, 999, 1000, 1001, 65535, 999999, 1000000,
                            1234067, 1000000000000000000ull, UINT64_MAX - 1, UINT64_MAX};
    const int levels[] = {TILES_ENTRIES, 0, 1, 7, 63};
    const unsigned widths[] = {0, 1, 17, 255, 256};
    for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++)
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++)
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
                int pl;
                uint64_t pi;
                unsigned pw;
                assert_int_equal(tiles_path(levels[l], idx[i], widths[w], buf), 0);
                assert_int_equal(tiles_path_parse(buf, strlen(buf), &pl, &pi, &pw), 0);
                assert_int_equal(pl, levels[l]);
                assert_int_equal(pi, idx[i]);
                assert_int_equal(pw, widths[w] ? widths[w] : TILES_WIDTH);
            }
}

static void
test_path_parse_rejects(void **state)
{
    (void) state;
    static const char *const bad[] = {
        "", "tile", "tile/", "tile/0", "tile/0/", "tile/0/00", "tile/0/0000", "tile/00/000",
        "tile/64/000", "tile/-1/000", "tile/0/x000/001", "tile/0/x001", "tile/0/x001/",
        "tile/0/001/", "tile/0/001.p", "tile/0/001.p/", "tile/0/001.p/0", "tile/0/001.p/256",
        "tile/0/001.p/017", "tile/0/001.p/1x", "tile/0/001.q/1", "tile/0/x1/001",
        "tile/0/x018/x446/x744/x073/x709/x551/616", "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
        "tile/entries", "tile/entries/", "tile/entries/00a", "tile/entrie/000", "Tile/0/000",
        "tile/0//000", "tile/0/000\n", "tile/1/000.p/1/2",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int l;
        uint64_t n;
        unsigned w;
        if (tiles_path_parse(bad[i], strlen(bad[i]), &l, &n, &w) != COFAB_EMALFORMED)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* Length is honoured: a valid prefix with the rest cut off is not read. */
    int l;
    uint64_t n;
    unsigned w;
    assert_int_equal(tiles_path_parse("tile/0/001.p/17", 10, &l, &n, &w), 0);
    assert_int_equal(n, 1);
    assert_int_equal(w, TILES_WIDTH);
    assert_int_equal(tiles_path_parse(NULL, 0, &l, &n, &w), COFAB_EINVAL);
}

static void
test_level_arithmetic(void **state)
{
    (void) state;
    /* The spec's example: a tree of 70,000 has 273 full level-0 tiles and a
     * partial of 112, one full level-1 tile and a partial of 17, and a
     * level-2 partial of 1. */
    assert_int_equal(tiles_level_hashes(70000, 0) / 256, 273);
    assert_int_equal(tiles_level_hashes(70000, 0) % 256, 112);
    assert_int_equal(tiles_level_hashes(70000, 1) / 256, 1);
    assert_int_equal(tiles_level_hashes(70000, 1) % 256, 17);
    assert_int_equal(tiles_level_hashes(70000, 2), 1);
    assert_int_equal(tiles_level_hashes(70000, 3), 0);
    assert_int_equal(tiles_levels(70000), 3);
    /* A tree of 256: one full level-0 tile, a level-1 partial of width 1. */
    assert_int_equal(tiles_level_hashes(256, 0), 256);
    assert_int_equal(tiles_level_hashes(256, 1), 1);
    assert_int_equal(tiles_levels(256), 2);
    assert_int_equal(tiles_levels(0), 0);
    assert_int_equal(tiles_levels(1), 1);
    assert_int_equal(tiles_levels(255), 1);
    assert_int_equal(tiles_levels(65535), 2);
    assert_int_equal(tiles_levels(65536), 3);
    /* Against a plain division loop on big sizes. */
    const uint64_t sizes[] = {65536, 16777215, 16777216, 4294967296ull, 1ull << 56,
                              (1ull << 56) - 1, UINT64_MAX, 1234567890123456789ull};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t v = sizes[i];
        unsigned levels = 0;
        for (unsigned l = 0; l < 12; l++) {
            assert_int_equal(tiles_level_hashes(sizes[i], l), v);
            if (v)
                levels++;
            v /= 256;
        }
        assert_int_equal(tiles_levels(sizes[i]), levels);
    }
    assert_int_equal(tiles_levels(UINT64_MAX), TILES_MAX_LEVELS);
    assert_int_equal(tiles_level_hashes(UINT64_MAX, 7), 255);
    assert_int_equal(tiles_level_hashes(UINT64_MAX, 8), 0);
}

static void
test_entries_codec(void **state)
{
    (void) state;
    size_t cap = 3 * (2 + TILES_ENTRY_MAX) + 64, len = 0;
    uint8_t *buf = malloc(cap), *big = calloc(1, TILES_ENTRY_MAX + 1);
    tiles_entry_t e[TILES_WIDTH];
    size_t n = 99;
    big[0] = 7;
    big[TILES_ENTRY_MAX - 1] = 9;
    assert_int_equal(tiles_entries_append(buf, cap, &len, (const uint8_t *) "abc", 3), 0);
    assert_int_equal(tiles_entries_append(buf, cap, &len, NULL, 0), 0);
    assert_int_equal(tiles_entries_append(buf, cap, &len, big, TILES_ENTRY_MAX), 0);
    assert_int_equal(len, 5 + 2 + 2 + TILES_ENTRY_MAX);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 3);
    assert_int_equal(buf[7], 0xff);
    assert_int_equal(buf[8], 0xff);
    assert_int_equal(tiles_entries_append(buf, cap, &len, big, TILES_ENTRY_MAX + 1),
                     COFAB_ETOOBIG);
    size_t small = 4;
    assert_int_equal(tiles_entries_append(buf, 5, &small, big, 2), COFAB_ETOOBIG);
    assert_int_equal(small, 4);

    for (size_t want = 0; want <= 3; want += 3) {
        assert_int_equal(tiles_entries_decode(buf, len, want, e, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(e[0].len, 3);
        assert_memory_equal(e[0].data, "abc", 3);
        assert_int_equal(e[1].len, 0);
        assert_int_equal(e[2].len, TILES_ENTRY_MAX);
        assert_memory_equal(e[2].data, big, TILES_ENTRY_MAX);
    }
    /* Every cut is truncation; the entries before the cut are counted. */
    for (size_t cut = 0; cut < len; cut += (cut < 16 ? 1 : 4099)) {
        int rc = tiles_entries_decode(buf, cut, 0, e, &n);
        if (cut == 5 || cut == 7) {
            assert_int_equal(rc, 0); /* a whole number of entries */
            continue;
        }
        assert_int_equal(rc, COFAB_ETRUNCATED);
        assert_int_equal(n, cut < 5 ? 0 : cut < 7 ? 1 : 2);
        assert_int_equal(tiles_entries_decode(buf, cut, 3, e, &n), COFAB_ETRUNCATED);
    }
    assert_int_equal(tiles_entries_decode(buf, 5, 2, e, &n), COFAB_ETRUNCATED);
    assert_int_equal(n, 1);
    assert_int_equal(tiles_entries_decode(buf, len, 2, e, &n), COFAB_ETRAILING);
    assert_int_equal(n, 2);
    buf[len] = 0;
    assert_int_equal(tiles_entries_decode(buf, len + 1, 3, e, &n), COFAB_ETRAILING);
    assert_int_equal(tiles_entries_decode(buf, len + 1, 0, e, &n), COFAB_ETRUNCATED);
    assert_int_equal(tiles_entries_decode(buf, len, TILES_WIDTH + 1, e, &n), COFAB_EINVAL);
    free(big);
    free(buf);

    /* 256 entries fit; a 257th is too many. */
    uint8_t many[2 * (TILES_WIDTH + 1)];
    memset(many, 0, sizeof many);
    assert_int_equal(tiles_entries_decode(many, 2 * TILES_WIDTH, 0, e, &n), 0);
    assert_int_equal(n, TILES_WIDTH);
    assert_int_equal(tiles_entries_decode(many, sizeof many, 0, e, &n), COFAB_ETOOBIG);
    assert_int_equal(tiles_entries_decode(many, sizeof many, TILES_WIDTH, e, &n),
                     COFAB_ETRAILING);
}

static void
test_hashes_decode(void **state)
{
    (void) state;
    uint8_t *buf = calloc(1, TILES_TILE_MAX + MERKLE_HASH_LEN);
    unsigned n = 99;
    assert_int_equal(tiles_hashes_decode(buf, TILES_TILE_MAX, 256, &n), 0);
    assert_int_equal(n, 256);
    assert_int_equal(tiles_hashes_decode(buf, TILES_TILE_MAX, 0, &n), 0);
    assert_int_equal(n, 256);
    assert_int_equal(tiles_hashes_decode(buf, 3 * MERKLE_HASH_LEN, 0, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(tiles_hashes_decode(buf, 3 * MERKLE_HASH_LEN, 4, &n), COFAB_ETRUNCATED);
    assert_int_equal(tiles_hashes_decode(buf, 3 * MERKLE_HASH_LEN, 2, &n), COFAB_ETRAILING);
    assert_int_equal(tiles_hashes_decode(buf, 3 * MERKLE_HASH_LEN - 1, 3, &n), COFAB_ETRUNCATED);
    assert_int_equal(tiles_hashes_decode(buf, 3 * MERKLE_HASH_LEN + 1, 0, &n), COFAB_ETRUNCATED);
    assert_int_equal(tiles_hashes_decode(buf, 0, 0, &n), COFAB_ETRUNCATED);
    size_t over = TILES_TILE_MAX + MERKLE_HASH_LEN;
    assert_int_equal(tiles_hashes_decode(buf, over, 0, &n), COFAB_ETOOBIG);
    assert_int_equal(tiles_hashes_decode(buf, over, 256, &n), COFAB_ETRAILING);
    assert_int_equal(tiles_hashes_decode(buf, MERKLE_HASH_LEN, 257, &n), COFAB_EINVAL);
    free(buf);
}

static void
test_roundtrip_1(void **state)
{
    s_roundtrip_size(state, 1, 0, 0);
}

static void
test_roundtrip_255(void **state)
{
    s_roundtrip_size(state, 255, 50, 0);
}

static void
test_roundtrip_256(void **state)
{
    s_roundtrip_size(state, 256, 64, 0);
}

static void
test_roundtrip_257(void **state)
{
    s_roundtrip_size(state, 257, 128, 1);
}

static void
test_roundtrip_1000(void **state)
{
    tfix_group_t *g = *state;
    s_roundtrip(g, g->big, 1);
}

static void
test_export_refusals(void **state)
{
    tfix_group_t *g = *state;
    char src[300], out[300], path[400];
    tiles_stats_t st;
    /* Not an empty directory. */
    tfix_subdir(g, "bundle", out);
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(path, sizeof path, "%s/x", out);
    tfix_spit(out, "x", "x", 1);
    assert_int_equal(tfix_export(g->big, out, &st), COFAB_EEXIST);
    assert_int_equal(tfix_count_files(out), 1);
    tfix_spit(out, "checkpoint", "x", 1);
    snprintf(path, sizeof path, "%s/x", out);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof path, "%s/checkpoint", out);
    assert_int_equal(tfix_export(g->big, path, &st), COFAB_EEXIST);
    assert_int_equal(unlink(path), 0);
    /* An existing empty directory is fine. */
    assert_int_equal(tfix_export(g->big, out, &st), 0);
    assert_int_equal(st.size, TFIX_BIG);

    /* A record over 65535 bytes cannot be an entry: refused, named, and
     * nothing written. */
    tfix_subdir(g, "ledger", src);
    ledger_t *l = fixture_ledger(src, g->hub, g->authors, 2, 3, 0);
    keys_t *big = keys_generate("big");
    envelope_chain_t chain;
    envelope_chain_init(&chain);
    char *payload = malloc(ENVELOPE_MAX_PAYLOAD + 1);
    memset(payload, 'p', ENVELOPE_MAX_PAYLOAD);
    payload[ENVELOPE_MAX_PAYLOAD] = 0;
    uint8_t *buf = malloc(ENVELOPE_MAX);
    envelope_t e;
    ledger_result_t r;
    fixture_seal(&chain, big, ENVELOPE_NOTE, NULL, payload, buf, &e);
    assert_int_equal(ledger_append(l, &e, 1, 9000, &r), 0);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.seq, 4);
    char note[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_checkpoint_sign(l, g->hub, note, sizeof note), 0);
    tfix_subdir(g, "bundle", out);
    assert_int_equal(tiles_export(l, out, &st), COFAB_ETOOBIG);
    assert_int_equal(st.bad_record, 4);
    assert_int_equal(st.incomplete, 0);
    assert_non_null(strstr(st.reason, "record 4"));
    struct stat sb;
    assert_int_equal(stat(out, &sb), -1);
    ledger_destroy(&l);
    keys_destroy(&big);
    free(payload);
    free(buf);

    /* No checkpoint at all. */
    tfix_subdir(g, "ledger", src);
    buf = malloc(ENVELOPE_MAX);
    fixture_genesis(g->hub, "example.org/test", buf, &e);
    assert_int_equal(ledger_create(&l, src, "example.org/test", &e, NULL), 0);
    tfix_subdir(g, "bundle", out);
    assert_int_equal(tiles_export(l, out, &st), COFAB_ENOTFOUND);
    assert_int_equal(stat(out, &sb), -1);
    assert_int_equal(tiles_export(l, NULL, &st), COFAB_EINVAL);
    assert_int_equal(tiles_export(NULL, out, NULL), COFAB_EINVAL);
    ledger_destroy(&l);
    free(buf);

    /* The import refuses a ledger directory that already holds one. */
    tiles_import_report_t rep;
    tfix_fresh_bundle(g, out);
    assert_int_equal(tiles_import(out, g->big, &rep), COFAB_EEXIST);
    assert_int_equal(rep.bad_bundle, 0);
    assert_int_equal(tiles_import(out, NULL, &rep), COFAB_EINVAL);
    assert_int_equal(tiles_import(out, g->big, NULL), COFAB_EINVAL);
}

/* What `audit verify --bundle` does: import into a fresh mkdtemp()
 * directory, audit the result, remove it. */
static void
test_import_into_empty_dir(void **state)
{
    tfix_group_t *g = *state;
    char out[300], tmp[300];
    tfix_subdir(g, "tmp", tmp);
    assert_int_equal(mkdir(tmp, 0700), 0);
    tfix_fresh_bundle(g, out);
    tiles_import_report_t rep;
    assert_int_equal(tiles_import(out, tmp, &rep), 0);
    assert_int_equal(rep.size, TFIX_BIG);
    assert_int_equal(rep.bad_record, -1);
    assert_string_equal(rep.bad_path, "");
    assert_string_equal(rep.origin, "example.org/test");
    s_audit_valid(tmp);
    /* A second import into the same directory is refused, not merged. */
    assert_int_equal(tiles_import(out, tmp, &rep), COFAB_EEXIST);
    assert_int_equal(rep.bad_bundle, 0);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_format),
        cmocka_unit_test(test_path_parse_rejects),
        cmocka_unit_test(test_level_arithmetic),
        cmocka_unit_test(test_entries_codec),
        cmocka_unit_test(test_hashes_decode),
        cmocka_unit_test(test_roundtrip_1),
        cmocka_unit_test(test_roundtrip_255),
        cmocka_unit_test(test_roundtrip_256),
        cmocka_unit_test(test_roundtrip_257),
        cmocka_unit_test(test_roundtrip_1000),
        cmocka_unit_test(test_export_refusals),
        cmocka_unit_test(test_import_into_empty_dir),
    };
    return cmocka_run_group_tests(tests, tfix_group_setup, tfix_group_teardown);
}
