/* test_tiles_import.c — importing altered, forged and malformed tlog-tiles bundles: every failure named. */
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

#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/tiles.h"
#include "support/tfix.h"

/* Imports the bundle, which must fail with code, naming record, path and
 * index (NULL path: not checked). The bundle is blamed. */
static void
s_expect_fail(tfix_group_t *g, const char *bundle, int code, int64_t record, const char *path,
              int64_t index)
{
    char imp[300];
    tfix_subdir(g, "imported", imp);
    tiles_import_report_t rep;
    int rc = tiles_import(bundle, imp, &rep);
    if (rc != code)
        fprintf(stderr, "got %s: %s\n", cofab_errname(rc), rep.reason);
    assert_int_equal(rc, code);
    assert_int_equal(rep.code, code);
    assert_int_equal(rep.bad_bundle, 1);
    assert_int_equal(rep.bad_record, record);
    if (path)
        assert_string_equal(rep.bad_path, path);
    assert_int_equal(rep.bad_index, index);
    assert_true(strlen(rep.reason) > 0);
}

static void
test_tamper_hash_tiles(void **state)
{
    tfix_group_t *g = *state;
    char out[300];
    /* A level-0 hash names the tile, the index and the record. */
    tfix_fresh_bundle(g, out);
    tfix_flip(out, "tile/0/001", 5 * MERKLE_HASH_LEN + 7);
    s_expect_fail(g, out, COFAB_EPROOF, 256 + 5, "tile/0/001", 5);
    /* The level-0 partial tile. */
    tfix_fresh_bundle(g, out);
    tfix_flip(out, "tile/0/003.p/232", 231 * MERKLE_HASH_LEN);
    s_expect_fail(g, out, COFAB_EPROOF, 768 + 231, "tile/0/003.p/232", 231);
    /* A level-1 hash: no single record, but the tile and index. */
    tfix_fresh_bundle(g, out);
    tfix_flip(out, "tile/1/000.p/3", 1 * MERKLE_HASH_LEN + 31);
    s_expect_fail(g, out, COFAB_EPROOF, -1, "tile/1/000.p/3", 1);
    /* A missing tile. */
    tfix_fresh_bundle(g, out);
    char path[400];
    snprintf(path, sizeof path, "%s/tile/0/002", out);
    assert_int_equal(unlink(path), 0);
    s_expect_fail(g, out, COFAB_ENOTFOUND, 512, "tile/0/002", -1);
    tfix_fresh_bundle(g, out);
    snprintf(path, sizeof path, "%s/tile/1/000.p/3", out);
    assert_int_equal(unlink(path), 0);
    s_expect_fail(g, out, COFAB_ENOTFOUND, -1, "tile/1/000.p/3", -1);
    /* A tile cut short, and one with a hash too many. */
    tfix_fresh_bundle(g, out);
    snprintf(path, sizeof path, "%s/tile/0/000", out);
    assert_int_equal(truncate(path, TILES_TILE_MAX - 1), 0);
    s_expect_fail(g, out, COFAB_ETRUNCATED, -1, "tile/0/000", -1);
    tfix_fresh_bundle(g, out);
    snprintf(path, sizeof path, "%s/tile/1/000.p/3", out);
    assert_int_equal(truncate(path, 4 * MERKLE_HASH_LEN), 0);
    s_expect_fail(g, out, COFAB_ETRAILING, -1, "tile/1/000.p/3", -1);
    /* A full tile with garbage after it is over the size limit. */
    tfix_fresh_bundle(g, out);
    snprintf(path, sizeof path, "%s/tile/0/001", out);
    assert_int_equal(truncate(path, TILES_TILE_MAX + 1), 0);
    s_expect_fail(g, out, COFAB_ETOOBIG, 256, "tile/0/001", -1);
}

static void
test_tamper_entry_bundles(void **state)
{
    tfix_group_t *g = *state;
    char out[300], path[400];
    size_t len = 0;
    /* A byte of record 300's envelope: the record is named. */
    tfix_fresh_bundle(g, out);
    uint8_t *buf = tfix_slurp(out, "tile/entries/001", &len);
    size_t off = tfix_entry_offset(buf, len, 300 - 256);
    free(buf);
    tfix_flip(out, "tile/entries/001", off + LEDGER_RECORD_HEADER + 130);
    s_expect_fail(g, out, COFAB_EPROOF, 300, "tile/0/001", 300 - 256);
    /* The last record of the partial bundle. */
    tfix_fresh_bundle(g, out);
    buf = tfix_slurp(out, "tile/entries/003.p/232", &len);
    free(buf);
    tfix_flip(out, "tile/entries/003.p/232", len - 1);
    s_expect_fail(g, out, COFAB_EPROOF, TFIX_BIG - 1, "tile/0/003.p/232", 231);
    /* Truncated: the first record that is not whole is named. */
    tfix_fresh_bundle(g, out);
    buf = tfix_slurp(out, "tile/entries/000", &len);
    free(buf);
    snprintf(path, sizeof path, "%s/tile/entries/000", out);
    assert_int_equal(truncate(path, (off_t) len - 1), 0);
    s_expect_fail(g, out, COFAB_ETRUNCATED, 255, "tile/entries/000", -1);
    /* Trailing garbage after the last entry. */
    tfix_fresh_bundle(g, out);
    buf = tfix_slurp(out, "tile/entries/003.p/232", &len);
    buf = realloc(buf, len + 3);
    memcpy(buf + len, "\x00\x01x", 3);
    tfix_spit(out, "tile/entries/003.p/232", buf, len + 3);
    free(buf);
    s_expect_fail(g, out, COFAB_ETRAILING, -1, "tile/entries/003.p/232", -1);
    /* A missing bundle. */
    tfix_fresh_bundle(g, out);
    snprintf(path, sizeof path, "%s/tile/entries/002", out);
    assert_int_equal(unlink(path), 0);
    s_expect_fail(g, out, COFAB_ENOTFOUND, 512, "tile/entries/002", -1);
    /* Two whole bundles swapped: record 256 is where record 0 should be. */
    tfix_fresh_bundle(g, out);
    size_t l0 = 0, l1 = 0;
    uint8_t *b0 = tfix_slurp(out, "tile/entries/000", &l0);
    uint8_t *b1 = tfix_slurp(out, "tile/entries/001", &l1);
    tfix_spit(out, "tile/entries/000", b1, l1);
    tfix_spit(out, "tile/entries/001", b0, l0);
    free(b0);
    free(b1);
    s_expect_fail(g, out, COFAB_EPROOF, 0, "tile/0/000", 0);
}

static void
test_tamper_checkpoints(void **state)
{
    tfix_group_t *g = *state;
    char out[300], path[400];
    size_t len = 0;
    /* The checkpoint's root changed (its signature no longer matters here). */
    tfix_fresh_bundle(g, out);
    char *text = (char *) tfix_slurp(out, "checkpoint", &len);
    char *root = strchr(strchr(text, '\n') + 1, '\n') + 1;
    root[0] = root[0] == 'A' ? 'B' : 'A';
    tfix_spit(out, "checkpoint", text, len);
    s_expect_fail(g, out, COFAB_EROOT, -1, "checkpoint", -1);
    /* No checkpoint: an interrupted export. */
    tfix_fresh_bundle(g, out);
    snprintf(path, sizeof path, "%s/checkpoint", out);
    assert_int_equal(unlink(path), 0);
    s_expect_fail(g, out, COFAB_ENOTFOUND, -1, "checkpoint", -1);
    /* Not a note at all. */
    tfix_fresh_bundle(g, out);
    tfix_spit(out, "checkpoint", "hello\n", 6);
    s_expect_fail(g, out, COFAB_EMALFORMED, -1, "checkpoint", -1);
    /* A checkpoint of a smaller tree than the files: its partial tiles are
     * not there. */
    tfix_fresh_bundle(g, out);
    free(text);
    text = (char *) tfix_slurp(out, "checkpoints/101", &len);
    tfix_spit(out, "checkpoint", text, len);
    s_expect_fail(g, out, COFAB_ENOTFOUND, 0, "tile/entries/000.p/101", -1);
    /* checkpoints/<size> naming another size, or differing from checkpoint. */
    tfix_fresh_bundle(g, out);
    tfix_spit(out, "checkpoints/201", text, len);
    s_expect_fail(g, out, COFAB_EMALFORMED, -1, "checkpoints/201", -1);
    free(text);
    tfix_fresh_bundle(g, out);
    text = (char *) tfix_slurp(out, "checkpoints/1000", &len);
    char *sig = strstr(text, "— witness ");
    assert_non_null(sig);
    memmove(sig, sig + 1, len - (size_t) (sig + 1 - text)); /* drop the cosignature's dash byte */
    tfix_spit(out, "checkpoints/1000", text, len - 1);
    s_expect_fail(g, out, COFAB_EMALFORMED, -1, "checkpoints/1000", -1);
    tfix_fresh_bundle(g, out);
    free(text);
    text = (char *) tfix_slurp(out, "checkpoint", &len);
    sig = strstr(text, "— witness ");
    *sig = 0; /* keep only the hub's signature line */
    tfix_spit(out, "checkpoints/1000", text, strlen(text));
    s_expect_fail(g, out, COFAB_EINCONSISTENT, -1, "checkpoints/1000", -1);
    /* A stray file name. */
    tfix_fresh_bundle(g, out);
    tfix_spit(out, "checkpoints/0101", text, strlen(text));
    s_expect_fail(g, out, COFAB_EMALFORMED, -1, "checkpoints", -1);
    free(text);
}

static void
test_older_partials(void **state)
{
    tfix_group_t *g = *state;
    char out[300], imp[300], path[400];
    size_t tlen = 0, blen = 0, flen = 0;
    tiles_import_report_t rep;
    /* Partials of earlier tree sizes, as a live log may keep, are checked. */
    tfix_fresh_bundle(g, out);
    uint8_t *t = tfix_slurp(out, "tile/0/003.p/232", &tlen);
    tfix_spit(out, "tile/0/003.p/100", t, 100 * MERKLE_HASH_LEN);
    tfix_spit(out, "tile/0/003.p/1", t, MERKLE_HASH_LEN);
    uint8_t *b = tfix_slurp(out, "tile/entries/003.p/232", &blen);
    size_t b17 = tfix_entry_offset(b, blen, 17) - 2;
    tfix_spit(out, "tile/entries/003.p/17", b, b17);
    uint8_t *full = tfix_slurp(out, "tile/0/001", &flen);
    snprintf(path, sizeof path, "%s/tile/0/001.p", out);
    assert_int_equal(mkdir(path, 0755), 0);
    tfix_spit(out, "tile/0/001.p/200", full, 200 * MERKLE_HASH_LEN);
    tfix_subdir(g, "imported", imp);
    assert_int_equal(tiles_import(out, imp, &rep), 0);
    assert_int_equal(rep.tiles, 5 + 3);
    assert_int_equal(rep.bundles, 4 + 1);
    /* A wrong one fails, named. */
    full[199 * MERKLE_HASH_LEN] ^= 1;
    tfix_spit(out, "tile/0/001.p/200", full, 200 * MERKLE_HASH_LEN);
    s_expect_fail(g, out, COFAB_EPROOF, 256 + 199, "tile/0/001.p/200", 199);
    full[199 * MERKLE_HASH_LEN] ^= 1;
    tfix_spit(out, "tile/0/001.p/200", full, 200 * MERKLE_HASH_LEN);
    /* Wider than the tree there. */
    tfix_spit(out, "tile/0/003.p/240", t, 232 * MERKLE_HASH_LEN);
    s_expect_fail(g, out, COFAB_ERANGE, -1, "tile/0/003.p/240", -1);
    snprintf(path, sizeof path, "%s/tile/0/003.p/240", out);
    unlink(path);
    /* An older bundle with an altered entry. */
    b[5] ^= 1;
    tfix_spit(out, "tile/entries/003.p/17", b, b17);
    s_expect_fail(g, out, COFAB_EPROOF, 768, "tile/entries/003.p/17", -1);
    b[5] ^= 1;
    tfix_spit(out, "tile/entries/003.p/17", b, b17);
    /* Something else in a .p directory. */
    tfix_spit(out, "tile/0/001.p/notes", "x", 1);
    s_expect_fail(g, out, COFAB_EMALFORMED, -1, "tile/0/001.p", -1);
    free(t);
    free(b);
    free(full);
}

static void
test_forged_consistent_bundles(void **state)
{
    tfix_group_t *g = *state;
    char out[300], imp[300];
    tiles_import_report_t rep;
    /* Rebuilding the tiles of an untouched bundle changes nothing. */
    tfix_fresh_bundle(g, out);
    tfix_retile(out, TFIX_BIG);
    tfix_subdir(g, "imported", imp);
    assert_int_equal(tiles_import(out, imp, &rep), 0);
    /* The last record's signature altered, tiles and root made to match:
     * the tree checks pass, the envelope does not open. */
    tfix_fresh_bundle(g, out);
    tfix_alter_record(out, TFIX_BIG, TFIX_BIG - 1, LEDGER_RECORD_HEADER + 130);
    tfix_retile(out, TFIX_BIG);
    s_expect_fail(g, out, COFAB_EBADSIG, TFIX_BIG - 1, "tile/entries/003.p/232", -1);
    /* Record 10's link to record 9. */
    tfix_fresh_bundle(g, out);
    tfix_alter_record(out, TFIX_BIG, 10, 17 + 3);
    tfix_retile(out, TFIX_BIG);
    s_expect_fail(g, out, COFAB_ECHAIN, 10, "tile/entries/000", -1);
    /* Record 10 claiming another position. */
    tfix_fresh_bundle(g, out);
    tfix_alter_record(out, TFIX_BIG, 10, 8);
    tfix_retile(out, TFIX_BIG);
    s_expect_fail(g, out, COFAB_ERANGE, 10, "tile/entries/000", -1);
    /* An unknown record version. */
    tfix_fresh_bundle(g, out);
    tfix_alter_record(out, TFIX_BIG, 600, 0);
    tfix_retile(out, TFIX_BIG);
    s_expect_fail(g, out, COFAB_EVERSION, 600, "tile/entries/002", -1);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tamper_hash_tiles),
        cmocka_unit_test(test_tamper_entry_bundles),
        cmocka_unit_test(test_tamper_checkpoints),
        cmocka_unit_test(test_older_partials),
        cmocka_unit_test(test_forged_consistent_bundles),
    };
    return cmocka_run_group_tests(tests, tfix_group_setup, tfix_group_teardown);
}
