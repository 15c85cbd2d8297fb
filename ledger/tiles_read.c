/* tiles_read.c — importing a tlog-tiles bundle: recompute and compare every tile, then rebuild a ledger. */
#include "cofab/tiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"

/* A ledger_replicate() batch is at most this many bundles (4096 records) or
 * this many bytes of bundle files, whichever comes first. */
#define S_BATCH_BUNDLES 16
#define S_BATCH_BYTES (16u << 20)

typedef struct {
    uint8_t *data;            /* malloc'd, grown on demand */
    size_t cap;               /* its size */
    size_t len;               /* bytes of the last file read */
} s_buf_t;

typedef struct {
    const char *bundle;                 /* bundle directory */
    tiles_import_report_t *rep;         /* outcome */
    checkpoint_t cp;                    /* the bundle's checkpoint, parsed, untrusted */
    char note[LEDGER_CHECKPOINT_MAX];   /* its text (not NUL-terminated) */
    size_t note_len;                    /* its length */
    merkle_frontier_t frontier;         /* tree recomputed from the entries so far */
    /* Hashes of the tile being filled at each tile level >= 1 (level 0 is
     * checked bundle by bundle from `leaves`), how many, and its index. */
    uint8_t acc[TILES_MAX_LEVELS][TILES_WIDTH][MERKLE_HASH_LEN];
    unsigned count[TILES_MAX_LEVELS];
    uint64_t next_tile[TILES_MAX_LEVELS];
    uint8_t leaves[TILES_WIDTH][MERKLE_HASH_LEN]; /* leaf hashes of the current bundle */
    uint8_t prev[MERKLE_HASH_LEN];      /* leaf hash of the previous record */
    tiles_entry_t entries[TILES_WIDTH]; /* the current bundle, decoded */
    tiles_entry_t old_entries[TILES_WIDTH]; /* an older partial bundle, decoded */
    s_buf_t file;                       /* bundle file read buffer */
    s_buf_t small;                      /* tile and checkpoint read buffer */
} s_import_t;

static int s_fail(s_import_t *c, int code, int64_t record, const char *path, int64_t index,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Records the first failure; later ones are consequences. */
static int
s_fail(s_import_t *c, int code, int64_t record, const char *path, int64_t index,
       const char *fmt, ...)
{
    tiles_import_report_t *rep = c->rep;
    if (rep->code != 0)
        return rep->code;
    rep->code = code;
    rep->bad_bundle = !(code <= COFAB_EIO || code == COFAB_EINVAL || code == COFAB_EEXIST);
    rep->bad_record = record;
    rep->bad_index = index;
    snprintf(rep->bad_path, sizeof rep->bad_path, "%s", path ? path : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->reason, sizeof rep->reason, fmt, ap);
    va_end(ap);
    return code;
}

/* Reads bundle file rel (untrusted) into b: at most max bytes, a regular
 * file (O_NONBLOCK so a FIFO cannot hang us). Returns 0, COFAB_ENOTFOUND,
 * COFAB_EMALFORMED (not a regular file), COFAB_ETOOBIG, COFAB_EIO,
 * COFAB_ENOMEM. */
static int
s_read(s_import_t *c, const char *rel, size_t max, s_buf_t *b)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", c->bundle, rel) >= (int) sizeof path)
        return COFAB_EINVAL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? COFAB_ENOTFOUND : COFAB_EIO;
    struct stat st;
    int rc = COFAB_EIO;
    if (fstat(fd, &st) != 0)
        goto out;
    rc = COFAB_EMALFORMED;
    if (!S_ISREG(st.st_mode))
        goto out;
    rc = COFAB_ETOOBIG;
    if ((uint64_t) st.st_size > max)
        goto out;
    /* One spare byte shows a file that grew under us. */
    size_t want = (size_t) st.st_size + 1;
    if (b->cap < want) {
        uint8_t *grown = realloc(b->data, want);
        rc = COFAB_ENOMEM;
        if (!grown)
            goto out;
        b->data = grown;
        b->cap = want;
    }
    size_t got = 0;
    rc = COFAB_EIO;
    while (got < want) {
        ssize_t n = read(fd, b->data + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        got += (size_t) n;
    }
    if (got == want)
        goto out; /* changed while read */
    b->len = got;
    rc = 0;
out:
    close(fd);
    return rc;
}

/* Reports a failed s_read() of rel. */
static int
s_read_fail(s_import_t *c, int rc, int64_t record, const char *rel, size_t max)
{
    switch (rc) {
    case COFAB_ENOTFOUND:
        return s_fail(c, rc, record, rel, -1, "%s is missing from the bundle", rel);
    case COFAB_EMALFORMED:
        return s_fail(c, rc, record, rel, -1, "%s is not a regular file", rel);
    case COFAB_ETOOBIG:
        return s_fail(c, rc, record, rel, -1, "%s is larger than %zu bytes", rel, max);
    default:
        return s_fail(c, rc, record, rel, -1, "cannot read %s: %s", rel, cofab_strerror(rc));
    }
}

/* Canonical decimal uint64 that is the whole of text. */
static int
s_parse_u64(const char *text, uint64_t *out)
{
    size_t len = strlen(text);
    uint64_t v = 0;
    if (len == 0 || len > 20 || (len > 1 && text[0] == '0'))
        return COFAB_EMALFORMED;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned) (text[i] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return COFAB_EMALFORMED;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Compares a tile or partial tile file with the recomputed hashes. */
static int
s_check_hashes(s_import_t *c, int level, uint64_t n, unsigned w,
               const uint8_t hashes[][MERKLE_HASH_LEN])
{
    char rel[TILES_PATH_MAX];
    tiles_path(level, n, w, rel);
    int64_t first = level == 0 ? (int64_t) (n * TILES_WIDTH) : -1;
    int rc = s_read(c, rel, TILES_TILE_MAX, &c->small);
    if (rc != 0)
        return s_read_fail(c, rc, first, rel, TILES_TILE_MAX);
    unsigned got = 0;
    rc = tiles_hashes_decode(c->small.data, c->small.len, w, &got);
    if (rc != 0)
        return s_fail(c, rc, -1, rel, -1, "%s is %zu bytes; a tile of %u hashes is %u", rel,
                      c->small.len, w, w * MERKLE_HASH_LEN);
    for (unsigned i = 0; i < w; i++) {
        if (sodium_memcmp(c->small.data + (size_t) i * MERKLE_HASH_LEN, hashes[i],
                          MERKLE_HASH_LEN) == 0)
            continue;
        uint64_t span = (uint64_t) 1 << (TILES_HEIGHT * level);
        uint64_t start = (n * TILES_WIDTH + i) * span;
        if (level == 0)
            return s_fail(c, COFAB_EPROOF, (int64_t) start, rel, i,
                          "record %llu does not hash to hash %u of %s: the entry or the tile "
                          "was altered", (unsigned long long) start, i, rel);
        return s_fail(c, COFAB_EPROOF, -1, rel, i,
                      "hash %u of %s is not the hash of records %llu..%llu recomputed from "
                      "the entries", i, rel, (unsigned long long) start,
                      (unsigned long long) (start + span - 1));
    }
    c->rep->tiles++;
    c->rep->hashes += w;
    return 0;
}

/* Compares an older partial entry bundle with the leaf hashes. */
static int
s_check_old_bundle(s_import_t *c, uint64_t n, unsigned w)
{
    char rel[TILES_PATH_MAX];
    tiles_path(TILES_ENTRIES, n, w, rel);
    int rc = s_read(c, rel, TILES_BUNDLE_MAX, &c->small);
    if (rc != 0)
        return s_read_fail(c, rc, (int64_t) (n * TILES_WIDTH), rel, TILES_BUNDLE_MAX);
    size_t got = 0;
    rc = tiles_entries_decode(c->small.data, c->small.len, w, c->old_entries, &got);
    if (rc != 0)
        return s_fail(c, rc, -1, rel, -1, "%s does not hold exactly %u entries: %s", rel, w,
                      cofab_strerror(rc));
    for (unsigned k = 0; k < w; k++) {
        uint8_t leaf[MERKLE_HASH_LEN];
        merkle_leaf_hash(c->old_entries[k].data, c->old_entries[k].len, leaf);
        if (sodium_memcmp(leaf, c->leaves[k], MERKLE_HASH_LEN) != 0)
            return s_fail(c, COFAB_EPROOF, (int64_t) (n * TILES_WIDTH + k), rel, -1,
                          "entry %u of %s is not record %llu", k, rel,
                          (unsigned long long) (n * TILES_WIDTH + k));
    }
    c->rep->bundles++;
    return 0;
}

/* A log may keep the partial tiles of earlier tree sizes next to a tile
 * (<tile>.p/<W>). Each one present must agree with the tree: its W must be
 * below the hashes the tree has there (avail), its hashes the first W. */
static int
s_check_partials(s_import_t *c, int level, uint64_t n, unsigned avail,
                 const uint8_t hashes[][MERKLE_HASH_LEN])
{
    char rel[TILES_PATH_MAX + 8], path[4096];
    tiles_path(level, n, 0, rel);
    strcat(rel, ".p");
    if (snprintf(path, sizeof path, "%s/%s", c->bundle, rel) >= (int) sizeof path)
        return s_fail(c, COFAB_EINVAL, -1, rel, -1, "bundle path too long");
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        if (errno == ENOTDIR)
            return s_fail(c, COFAB_EMALFORMED, -1, rel, -1, "%s is not a directory", rel);
        return s_fail(c, COFAB_EIO, -1, rel, -1, "cannot list %s: %s", rel, strerror(errno));
    }
    uint8_t seen[TILES_WIDTH / 8] = {0};
    struct dirent *ent;
    int rc = 0;
    while (rc == 0 && (ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        /* Only a canonical partial path of this very tile is expected. */
        char cand[4096];
        int plevel;
        uint64_t pindex;
        unsigned w = 0;
        int len = snprintf(cand, sizeof cand, "%s/%s", rel, ent->d_name);
        if (len >= (int) sizeof cand ||
            tiles_path_parse(cand, (size_t) len, &plevel, &pindex, &w) != 0 ||
            plevel != level || pindex != n || w >= TILES_WIDTH)
            rc = s_fail(c, COFAB_EMALFORMED, -1, rel, -1, "unexpected file %s/%s", rel,
                        ent->d_name);
        else
            seen[w / 8] |= (uint8_t) (1u << (w % 8));
    }
    closedir(d);
    for (unsigned w = 1; rc == 0 && w < TILES_WIDTH; w++) {
        if (!(seen[w / 8] & (1u << (w % 8))) || w == avail)
            continue;
        if (w > avail) {
            char p[TILES_PATH_MAX];
            tiles_path(level, n, w, p);
            return s_fail(c, COFAB_ERANGE, -1, p, -1,
                          "%s covers more than the checkpoint's tree (%u there)", p, avail);
        }
        rc = level == TILES_ENTRIES ? s_check_old_bundle(c, n, w)
                                    : s_check_hashes(c, level, n, w, hashes);
    }
    return rc;
}

/* merkle_frontier_append() hands over every perfect subtree it completes;
 * those at Merkle level 8L (L >= 1) are the hashes of tile level L. */
static int
s_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[MERKLE_HASH_LEN])
{
    s_import_t *c = ctx;
    (void) index;
    if (level == 0 || level % TILES_HEIGHT != 0)
        return 0;
    unsigned l = level / TILES_HEIGHT;
    memcpy(c->acc[l][c->count[l]], hash, MERKLE_HASH_LEN);
    if (++c->count[l] < TILES_WIDTH)
        return 0;
    int rc = s_check_hashes(c, (int) l, c->next_tile[l], TILES_WIDTH,
                            (const uint8_t(*)[MERKLE_HASH_LEN]) c->acc[l]);
    if (rc == 0)
        rc = s_check_partials(c, (int) l, c->next_tile[l], TILES_WIDTH,
                              (const uint8_t(*)[MERKLE_HASH_LEN]) c->acc[l]);
    c->count[l] = 0;
    c->next_tile[l]++;
    return rc;
}

/* Entries in bundle b of a tree of `size`. */
static unsigned
s_bundle_width(uint64_t size, uint64_t b)
{
    uint64_t full = size / TILES_WIDTH;
    return b < full ? TILES_WIDTH : (unsigned) (size % TILES_WIDTH);
}

static uint64_t
s_bundle_count(uint64_t size)
{
    return size / TILES_WIDTH + (size % TILES_WIDTH != 0);
}

/* Reads and decodes entry bundle b into c->entries (buffer b). */
static int
s_load_bundle(s_import_t *c, uint64_t b, s_buf_t *buf, char rel[TILES_PATH_MAX])
{
    unsigned w = s_bundle_width(c->cp.size, b);
    int64_t first = (int64_t) (b * TILES_WIDTH);
    tiles_path(TILES_ENTRIES, b, w, rel);
    int rc = s_read(c, rel, TILES_BUNDLE_MAX, buf);
    if (rc != 0)
        return s_read_fail(c, rc, first, rel, TILES_BUNDLE_MAX);
    size_t got = 0;
    rc = tiles_entries_decode(buf->data, buf->len, w, c->entries, &got);
    if (rc == COFAB_ETRAILING)
        return s_fail(c, rc, -1, rel, -1, "%s holds bytes after its %u entries", rel, w);
    if (rc != 0)
        return s_fail(c, rc, first + (int64_t) got, rel, -1,
                      "%s: entry %zu (record %llu) is cut short or missing", rel, got,
                      (unsigned long long) (b * TILES_WIDTH + got));
    return 0;
}

/* Pass 1: every entry, every tile hash the tree needs, the root. */
static int
s_check_tree(s_import_t *c)
{
    uint64_t size = c->cp.size, nb = s_bundle_count(size);
    char rel[TILES_PATH_MAX];
    for (uint64_t b = 0; b < nb; b++) {
        unsigned w = s_bundle_width(size, b);
        int rc = s_load_bundle(c, b, &c->file, rel);
        if (rc != 0)
            return rc;
        for (unsigned k = 0; k < w; k++)
            merkle_leaf_hash(c->entries[k].data, c->entries[k].len, c->leaves[k]);
        /* The leaf tile first, so an altered entry is named as itself rather
         * than as the broken link of the record after it. */
        rc = s_check_hashes(c, 0, b, w, (const uint8_t(*)[MERKLE_HASH_LEN]) c->leaves);
        if (rc == 0)
            rc = s_check_partials(c, 0, b, w, (const uint8_t(*)[MERKLE_HASH_LEN]) c->leaves);
        if (rc == 0)
            rc = s_check_partials(c, TILES_ENTRIES, b, w,
                                  (const uint8_t(*)[MERKLE_HASH_LEN]) c->leaves);
        if (rc != 0)
            return rc;
        for (unsigned k = 0; rc == 0 && k < w; k++) {
            uint64_t pos = b * TILES_WIDTH + k;
            ledger_record_t r;
            rc = ledger_record_decode(&r, c->entries[k].data, c->entries[k].len);
            if (rc != 0)
                return s_fail(c, rc, (int64_t) pos, rel, -1,
                              "record %llu (entry %u of %s) does not decode: %s",
                              (unsigned long long) pos, k, rel, cofab_strerror(rc));
            if (r.seq != pos)
                return s_fail(c, COFAB_ERANGE, (int64_t) pos, rel, -1,
                              "entry %u of %s says it is record %llu, not %llu", k, rel,
                              (unsigned long long) r.seq, (unsigned long long) pos);
            static const uint8_t zero[MERKLE_HASH_LEN];
            if (sodium_memcmp(r.prev, pos ? c->prev : zero, MERKLE_HASH_LEN) != 0)
                return s_fail(c, COFAB_ECHAIN, (int64_t) pos, rel, -1,
                              "record %llu does not carry the hash of the record before it",
                              (unsigned long long) pos);
            memcpy(c->prev, c->leaves[k], MERKLE_HASH_LEN);
            rc = merkle_frontier_append(&c->frontier, c->leaves[k], s_emit, c);
        }
        if (rc != 0)
            return c->rep->code ? c->rep->code : s_fail(c, rc, -1, NULL, -1, "tree: %s",
                                                         cofab_strerror(rc));
        c->rep->entries += w;
        c->rep->bundles++;
    }
    /* The partial tile of each level above 0 (level 0's came with the last
     * bundle). A partial tile is never hashed into the level above. */
    for (unsigned l = 1; l < tiles_levels(size); l++) {
        unsigned w = c->count[l];
        if (w == 0)
            continue;
        int rc = s_check_hashes(c, (int) l, c->next_tile[l], w,
                                (const uint8_t(*)[MERKLE_HASH_LEN]) c->acc[l]);
        if (rc == 0)
            rc = s_check_partials(c, (int) l, c->next_tile[l], w,
                                  (const uint8_t(*)[MERKLE_HASH_LEN]) c->acc[l]);
        if (rc != 0)
            return rc;
    }
    merkle_frontier_root(&c->frontier, c->rep->root);
    if (sodium_memcmp(c->rep->root, c->cp.root, MERKLE_HASH_LEN) != 0)
        return s_fail(c, COFAB_EROOT, -1, "checkpoint", -1,
                      "the root recomputed from the entries is not the checkpoint's root");
    return 0;
}

/* Replicates the batch recs[0..n) (positions base..) into l. */
static int
s_flush(s_import_t *c, ledger_t *l, const ledger_record_t *recs, const envelope_t *envs,
        ledger_result_t *results, size_t n, uint64_t base)
{
    if (n == 0)
        return 0;
    int rc = ledger_replicate(l, recs, envs, n, results);
    if (rc != 0)
        return s_fail(c, rc, -1, NULL, -1, "cannot write the ledger: %s", cofab_strerror(rc));
    for (size_t i = 0; i < n; i++)
        if (results[i].code != 0) {
            uint64_t pos = base + i;
            char rel[TILES_PATH_MAX];
            tiles_path(TILES_ENTRIES, pos / TILES_WIDTH, s_bundle_width(c->cp.size,
                                                                        pos / TILES_WIDTH), rel);
            return s_fail(c, results[i].code, (int64_t) pos, rel, -1,
                          "record %llu does not fit the ledger: %s", (unsigned long long) pos,
                          cofab_strerror(results[i].code));
        }
    return 0;
}

/* Pass 2: every record, its envelope opened (signature verified), into a
 * new ledger. Returns with *out open on success. */
static int
s_write_records(s_import_t *c, const char *ledger_dir, ledger_t **out)
{
    size_t max = (size_t) S_BATCH_BUNDLES * TILES_WIDTH, n = 0, nbuf = 0, bytes = 0;
    ledger_record_t *recs = calloc(max, sizeof *recs);
    envelope_t *envs = calloc(max, sizeof *envs);
    ledger_result_t *results = calloc(max, sizeof *results);
    s_buf_t bufs[S_BATCH_BUNDLES];
    memset(bufs, 0, sizeof bufs);
    ledger_t *l = NULL;
    ledger_options_t opts = {.no_sync = 1};
    uint64_t nb = s_bundle_count(c->cp.size), base = 1;
    char rel[TILES_PATH_MAX];
    int rc = 0;
    if (!recs || !envs || !results) {
        rc = s_fail(c, COFAB_ENOMEM, -1, NULL, -1, "out of memory");
        goto out;
    }
    for (uint64_t b = 0; b < nb; b++) {
        unsigned w = s_bundle_width(c->cp.size, b);
        /* Records and envelopes borrow from the bundle's buffer until the
         * batch is written. */
        rc = s_load_bundle(c, b, &bufs[nbuf], rel);
        if (rc != 0)
            goto out;
        bytes += bufs[nbuf].len;
        nbuf++;
        for (unsigned k = 0; k < w; k++) {
            uint64_t pos = b * TILES_WIDTH + k;
            ledger_record_t *r = &recs[n];
            envelope_t *e = &envs[n];
            rc = ledger_record_decode(r, c->entries[k].data, c->entries[k].len);
            if (rc == 0)
                rc = envelope_open(e, r->envelope, r->envelope_len);
            if (rc != 0) {
                rc = s_fail(c, rc, (int64_t) pos, rel, -1, "the envelope of record %llu: %s",
                            (unsigned long long) pos, cofab_strerror(rc));
                goto out;
            }
            if (pos > 0) {
                n++;
                continue;
            }
            rc = ledger_create_replica(&l, ledger_dir, c->cp.origin, r, e, &opts);
            if (rc != 0) {
                rc = rc == COFAB_EEXIST
                         ? s_fail(c, rc, -1, NULL, -1, "%s already holds a ledger", ledger_dir)
                         : s_fail(c, rc, 0, rel, -1, "record 0 cannot start a ledger: %s",
                                  cofab_strerror(rc));
                goto out;
            }
        }
        if (nbuf == S_BATCH_BUNDLES || bytes >= S_BATCH_BYTES || b + 1 == nb) {
            rc = s_flush(c, l, recs, envs, results, n, base);
            if (rc != 0)
                goto out;
            base += n;
            n = nbuf = bytes = 0;
        }
    }
    /* The files could have changed since pass 1: the ledger's own tree is
     * what the checkpoint must match. */
    uint8_t root[MERKLE_HASH_LEN];
    rc = ledger_size(l) == c->cp.size ? ledger_root(l, c->cp.size, root) : COFAB_ERANGE;
    if (rc != 0 || sodium_memcmp(root, c->cp.root, MERKLE_HASH_LEN) != 0) {
        rc = s_fail(c, COFAB_EROOT, -1, "checkpoint", -1,
                    "the imported ledger's root is not the checkpoint's: did the bundle "
                    "change during the import?");
        goto out;
    }
    *out = l;
    l = NULL;
out:
    ledger_destroy(&l);
    for (size_t i = 0; i < S_BATCH_BUNDLES; i++)
        free(bufs[i].data);
    free(recs);
    free(envs);
    free(results);
    return rc;
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* Lists checkpoints/ into a sorted array of sizes (*sizes malloc'd). */
static int
s_list_checkpoints(s_import_t *c, uint64_t **sizes, size_t *count)
{
    char path[4096];
    *sizes = NULL;
    *count = 0;
    if (snprintf(path, sizeof path, "%s/checkpoints", c->bundle) >= (int) sizeof path)
        return s_fail(c, COFAB_EINVAL, -1, NULL, -1, "bundle path too long");
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            return 0; /* a bundle may carry only `checkpoint` */
        return s_fail(c, errno == ENOTDIR ? COFAB_EMALFORMED : COFAB_EIO, -1, "checkpoints",
                      -1, "cannot list checkpoints/: %s", strerror(errno));
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *ent;
    while (rc == 0 && (ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        uint64_t v;
        if (s_parse_u64(ent->d_name, &v) != 0) {
            rc = s_fail(c, COFAB_EMALFORMED, -1, "checkpoints", -1,
                        "unexpected file checkpoints/%.64s", ent->d_name);
            break;
        }
        if (*count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            uint64_t *grown = realloc(*sizes, ncap * sizeof *grown);
            if (!grown) {
                rc = s_fail(c, COFAB_ENOMEM, -1, NULL, -1, "out of memory");
                break;
            }
            *sizes = grown;
            cap = ncap;
        }
        (*sizes)[(*count)++] = v;
    }
    closedir(d);
    if (rc == 0 && *count)
        qsort(*sizes, *count, sizeof **sizes, s_cmp_u64);
    return rc;
}

/* Stores checkpoints/<size> notes and `checkpoint` into l. */
static int
s_store_checkpoints(s_import_t *c, ledger_t *l)
{
    uint64_t *sizes = NULL;
    size_t count = 0;
    int rc = s_list_checkpoints(c, &sizes, &count), have_top = 0;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char rel[48];
        checkpoint_t cp;
        snprintf(rel, sizeof rel, "checkpoints/%llu", (unsigned long long) sizes[i]);
        rc = s_read(c, rel, LEDGER_CHECKPOINT_MAX, &c->small);
        if (rc != 0) {
            rc = s_read_fail(c, rc, -1, rel, LEDGER_CHECKPOINT_MAX);
            break;
        }
        const char *text = (const char *) c->small.data;
        size_t len = c->small.len;
        rc = checkpoint_from_note(&cp, text, len);
        if (rc == 0 && (cp.size != sizes[i] || strcmp(cp.origin, c->cp.origin) != 0))
            rc = COFAB_EMALFORMED;
        if (rc != 0) {
            rc = s_fail(c, rc, -1, rel, -1,
                        "%s is not a checkpoint of size %llu for origin \"%s\"", rel,
                        (unsigned long long) sizes[i], c->cp.origin);
            break;
        }
        if (cp.size > c->cp.size) {
            rc = s_fail(c, COFAB_ERANGE, -1, rel, -1, "%s is beyond the bundle's tree size %llu",
                        rel, (unsigned long long) c->cp.size);
            break;
        }
        if (cp.size == c->cp.size) {
            if (len != c->note_len || memcmp(text, c->note, len) != 0) {
                rc = s_fail(c, COFAB_EINCONSISTENT, -1, rel, -1,
                            "%s differs from checkpoint", rel);
                break;
            }
            have_top = 1;
        }
        rc = ledger_checkpoint_put(l, cp.size, text, len);
        if (rc != 0)
            rc = s_fail(c, rc, -1, rel, -1, "cannot store %s: %s", rel, cofab_strerror(rc));
        else
            c->rep->checkpoints++;
    }
    if (rc == 0 && !have_top) {
        rc = ledger_checkpoint_put(l, c->cp.size, c->note, c->note_len);
        if (rc != 0)
            rc = s_fail(c, rc, -1, "checkpoint", -1, "cannot store the checkpoint: %s",
                        cofab_strerror(rc));
        else
            c->rep->checkpoints++;
    }
    free(sizes);
    return rc;
}

static int
s_read_checkpoint(s_import_t *c)
{
    int rc = s_read(c, "checkpoint", LEDGER_CHECKPOINT_MAX, &c->small);
    if (rc == COFAB_ENOTFOUND)
        return s_fail(c, rc, -1, "checkpoint", -1,
                      "no checkpoint: not a bundle, or an interrupted export");
    if (rc != 0)
        return s_read_fail(c, rc, -1, "checkpoint", LEDGER_CHECKPOINT_MAX);
    memcpy(c->note, c->small.data, c->small.len);
    c->note_len = c->small.len;
    rc = checkpoint_from_note(&c->cp, c->note, c->note_len);
    if (rc != 0)
        return s_fail(c, rc, -1, "checkpoint", -1, "checkpoint is not a signed checkpoint: %s",
                      cofab_strerror(rc));
    if (c->cp.size == 0)
        return s_fail(c, COFAB_EMALFORMED, -1, "checkpoint", -1,
                      "checkpoint is of the empty tree: a ledger starts with its genesis");
    c->rep->size = c->cp.size;
    snprintf(c->rep->origin, sizeof c->rep->origin, "%s", c->cp.origin);
    return 0;
}

int
tiles_import(const char *bundle_dir, const char *ledger_dir, tiles_import_report_t *rep)
{
    if (!rep)
        return COFAB_EINVAL;
    memset(rep, 0, sizeof *rep);
    rep->bad_record = rep->bad_index = -1;
    s_import_t *c = calloc(1, sizeof *c);
    if (!c) {
        rep->code = COFAB_ENOMEM;
        snprintf(rep->reason, sizeof rep->reason, "out of memory");
        return COFAB_ENOMEM;
    }
    c->bundle = bundle_dir;
    c->rep = rep;
    merkle_frontier_init(&c->frontier);
    ledger_t *l = NULL;
    int rc = !bundle_dir || !ledger_dir
                 ? s_fail(c, COFAB_EINVAL, -1, NULL, -1, "no bundle or ledger directory")
                 : s_read_checkpoint(c);
    if (rc == 0)
        rc = s_check_tree(c);
    if (rc == 0)
        rc = s_write_records(c, ledger_dir, &l);
    if (rc == 0)
        rc = s_store_checkpoints(c, l);
    ledger_destroy(&l);
    free(c->file.data);
    free(c->small.data);
    free(c);
    return rc;
}
