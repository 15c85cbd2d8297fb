/* fuzz_tiles.c — libFuzzer target for the tlog-tiles entry-bundle, hash-tile and tile-path decoders. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/tiles.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as an entry bundle: whatever decodes re-encodes to the same
 * bytes, and the counts agree with the want argument. */
static void
s_entries(const uint8_t *data, size_t size)
{
    tiles_entry_t *e = malloc(TILES_WIDTH * sizeof *e);
    if (!e)
        return;
    size_t n = 0, m = 0;
    int rc = tiles_entries_decode(data, size, 0, e, &n);
    if (n > TILES_WIDTH)
        abort();
    if (rc == 0) {
        if (n == 0)
            abort();
        uint8_t *out = malloc(size ? size : 1);
        size_t len = 0;
        if (!out)
            goto out;
        for (size_t i = 0; i < n; i++) {
            if (e[i].len > TILES_ENTRY_MAX || e[i].data < data ||
                e[i].data + e[i].len > data + size ||
                tiles_entries_append(out, size, &len, e[i].data, e[i].len) != 0)
                abort();
            /* An entry may be a record; its decoder must cope too. */
            ledger_record_t r;
            (void) ledger_record_decode(&r, e[i].data, e[i].len);
        }
        if (len != size || memcmp(out, data, size) != 0)
            abort();
        free(out);
        /* Exactly n wanted: same result; one more wanted: cut short. */
        if (tiles_entries_decode(data, size, n, e, &m) != 0 || m != n)
            abort();
        if (n < TILES_WIDTH &&
            tiles_entries_decode(data, size, n + 1, e, &m) != COFAB_ETRUNCATED)
            abort();
        if (n > 1 && tiles_entries_decode(data, size, n - 1, e, &m) != COFAB_ETRAILING)
            abort();
    } else if (rc != COFAB_ETRUNCATED && rc != COFAB_ETOOBIG) {
        abort();
    }
    /* A want taken from the input: never anything but these codes. */
    size_t want = size ? (size_t) data[0] + 1 : 1;
    rc = tiles_entries_decode(data, size, want, e, &m);
    if (rc != 0 && rc != COFAB_ETRUNCATED && rc != COFAB_ETRAILING && rc != COFAB_ETOOBIG)
        abort();
    if (rc == 0 && m != want)
        abort();
out:
    free(e);
}

/* The input as a hash tile. */
static void
s_hashes(const uint8_t *data, size_t size)
{
    unsigned n = 0;
    int rc = tiles_hashes_decode(data, size, 0, &n);
    if (rc == 0) {
        if (n == 0 || n > TILES_WIDTH || (size_t) n * MERKLE_HASH_LEN != size)
            abort();
        if (tiles_hashes_decode(data, size, n, &n) != 0)
            abort();
    } else if (rc != COFAB_ETRUNCATED && rc != COFAB_ETOOBIG) {
        abort();
    }
    unsigned want = size ? (unsigned) data[size - 1] % TILES_WIDTH + 1 : 1;
    rc = tiles_hashes_decode(data, size, want, &n);
    if (rc != 0 && rc != COFAB_ETRUNCATED && rc != COFAB_ETRAILING)
        abort();
}

/* The input as a tile path: one that parses is canonical, so it formats
 * back to exactly the input. */
static void
s_path(const uint8_t *data, size_t size)
{
    int level;
    uint64_t index;
    unsigned width;
    int rc = tiles_path_parse((const char *) data, size, &level, &index, &width);
    if (rc == 0) {
        char buf[TILES_PATH_MAX];
        if (tiles_path(level, index, width, buf) != 0 || strlen(buf) != size ||
            memcmp(buf, data, size) != 0)
            abort();
    } else if (rc != COFAB_EMALFORMED) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_entries(data, size);
    s_hashes(data, size);
    s_path(data, size);
    return 0;
}
