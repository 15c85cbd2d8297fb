/* tiles.c — tlog-tiles paths, level arithmetic, bundle codecs, and the bundle export. */
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
#include "cofab/util.h"

/* ---------- paths ---------- */

int
tiles_path(int level, uint64_t index, unsigned width, char buf[TILES_PATH_MAX])
{
    if (!buf || level < TILES_ENTRIES || level > 63 || width > TILES_WIDTH)
        return COFAB_EINVAL;
    /* Three-digit groups, most significant first; at least one. */
    unsigned groups[8];
    size_t ng = 0;
    do {
        groups[ng++] = (unsigned) (index % 1000);
        index /= 1000;
    } while (index > 0);
    size_t at = 0;
    int n = level == TILES_ENTRIES ? snprintf(buf, TILES_PATH_MAX, "tile/entries/")
                                   : snprintf(buf, TILES_PATH_MAX, "tile/%d/", level);
    at = (size_t) n;
    for (size_t g = ng; g-- > 0;) {
        n = snprintf(buf + at, TILES_PATH_MAX - at, g ? "x%03u/" : "%03u", groups[g]);
        at += (size_t) n;
    }
    if (width > 0 && width < TILES_WIDTH)
        snprintf(buf + at, TILES_PATH_MAX - at, ".p/%u", width);
    return 0;
}

/* Parses a canonical decimal (no sign, no leading zero) of at most max
 * digits from p[0..len); *used gets the digits consumed. */
static int
s_parse_dec(const char *p, size_t len, size_t max_digits, uint64_t *out, size_t *used)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < len && i < max_digits && p[i] >= '0' && p[i] <= '9') {
        v = v * 10 + (uint64_t) (p[i] - '0');
        i++;
    }
    if (i == 0 || (i > 1 && p[0] == '0'))
        return COFAB_EMALFORMED;
    *out = v;
    *used = i;
    return 0;
}

int
tiles_path_parse(const char *path, size_t len, int *level, uint64_t *index, unsigned *width)
{
    if (!path || !level || !index || !width)
        return COFAB_EINVAL;
    const char *p = path, *end = path + len;
    size_t used;
    uint64_t v;
    if (len < 5 || memcmp(p, "tile/", 5) != 0)
        return COFAB_EMALFORMED;
    p += 5;
    if ((size_t) (end - p) >= 8 && memcmp(p, "entries/", 8) == 0) {
        *level = TILES_ENTRIES;
        p += 8;
    } else {
        if (s_parse_dec(p, (size_t) (end - p), 2, &v, &used) != 0 || v > 63)
            return COFAB_EMALFORMED;
        p += used;
        if (p >= end || *p != '/')
            return COFAB_EMALFORMED;
        p++;
        *level = (int) v;
    }
    /* N: "xDDD/"* then "DDD"; the first group may not be x000 (not canonical). */
    uint64_t n = 0;
    int first = 1;
    for (;;) {
        int more = p < end && *p == 'x';
        if (more)
            p++;
        if (end - p < 3)
            return COFAB_EMALFORMED;
        unsigned g = 0;
        for (int i = 0; i < 3; i++) {
            if (p[i] < '0' || p[i] > '9')
                return COFAB_EMALFORMED;
            g = g * 10 + (unsigned) (p[i] - '0');
        }
        p += 3;
        if (first && more && g == 0)
            return COFAB_EMALFORMED;
        if (n > (UINT64_MAX - g) / 1000)
            return COFAB_EMALFORMED;
        n = n * 1000 + g;
        first = 0;
        if (!more)
            break;
        if (p >= end || *p != '/')
            return COFAB_EMALFORMED;
        p++;
    }
    *index = n;
    *width = TILES_WIDTH;
    if (p == end)
        return 0;
    if (end - p < 4 || memcmp(p, ".p/", 3) != 0)
        return COFAB_EMALFORMED;
    p += 3;
    if (s_parse_dec(p, (size_t) (end - p), 3, &v, &used) != 0 || v == 0 || v >= TILES_WIDTH ||
        p + used != end)
        return COFAB_EMALFORMED;
    *width = (unsigned) v;
    return 0;
}

/* ---------- level arithmetic ---------- */

uint64_t
tiles_level_hashes(uint64_t size, unsigned level)
{
    if (level >= TILES_MAX_LEVELS)
        return 0;
    return size >> (TILES_HEIGHT * level);
}

unsigned
tiles_levels(uint64_t size)
{
    unsigned l = 0;
    while (l < TILES_MAX_LEVELS && tiles_level_hashes(size, l) > 0)
        l++;
    return l;
}

/* ---------- codecs ---------- */

int
tiles_entries_decode(const uint8_t *buf, size_t len, size_t want, tiles_entry_t *entries,
                     size_t *n)
{
    if (n)
        *n = 0;
    if ((!buf && len) || !entries || !n || want > TILES_WIDTH)
        return COFAB_EINVAL;
    if (len > TILES_BUNDLE_MAX)
        return COFAB_ETOOBIG;
    if (len == 0)
        return COFAB_ETRUNCATED;
    size_t at = 0, count = 0;
    while (at < len) {
        if (want && count == want)
            return COFAB_ETRAILING;
        if (count == TILES_WIDTH)
            return COFAB_ETOOBIG;
        if (len - at < 2)
            return COFAB_ETRUNCATED;
        size_t elen = (size_t) buf[at] << 8 | buf[at + 1];
        if (len - at - 2 < elen)
            return COFAB_ETRUNCATED;
        entries[count].data = buf + at + 2;
        entries[count].len = elen;
        at += 2 + elen;
        *n = ++count;
    }
    return want && count < want ? COFAB_ETRUNCATED : 0;
}

int
tiles_entries_append(uint8_t *buf, size_t cap, size_t *len, const uint8_t *entry,
                     size_t entry_len)
{
    if (!buf || !len || (!entry && entry_len) || *len > cap)
        return COFAB_EINVAL;
    if (entry_len > TILES_ENTRY_MAX || cap - *len < 2 || cap - *len - 2 < entry_len)
        return COFAB_ETOOBIG;
    buf[*len] = (uint8_t) (entry_len >> 8);
    buf[*len + 1] = (uint8_t) entry_len;
    if (entry_len)
        memcpy(buf + *len + 2, entry, entry_len);
    *len += 2 + entry_len;
    return 0;
}

int
tiles_hashes_decode(const uint8_t *buf, size_t len, unsigned want, unsigned *n)
{
    if (n)
        *n = 0;
    if ((!buf && len) || !n || want > TILES_WIDTH)
        return COFAB_EINVAL;
    if (!want && len > TILES_TILE_MAX)
        return COFAB_ETOOBIG;
    if (len == 0 || len % MERKLE_HASH_LEN != 0)
        return COFAB_ETRUNCATED;
    size_t count = len / MERKLE_HASH_LEN;
    if (want && count < want)
        return COFAB_ETRUNCATED;
    if (want && count > want)
        return COFAB_ETRAILING;
    *n = (unsigned) count;
    return 0;
}

/* ---------- export ---------- */

typedef struct {
    const char *dir;          /* bundle directory */
    tiles_stats_t *stats;     /* what was written */
    char last_parent[4096];   /* last directory created, to skip repeated mkdirs */
} s_export_t;

static int s_fail(tiles_stats_t *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(tiles_stats_t *st, int code, const char *fmt, ...)
{
    if (st->reason[0] == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->reason, sizeof st->reason, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Writes rel (inside the bundle) as rel.tmp, fsync'd, then renames it into
 * place, so no file ever holds part of its content under its final name. */
static int
s_write(s_export_t *x, const char *rel, const void *data, size_t len)
{
    char path[4096], tmp[4200];
    if (snprintf(path, sizeof path, "%s/%s", x->dir, rel) >= (int) sizeof path)
        return s_fail(x->stats, COFAB_EINVAL, "path too long under %s", x->dir);
    char *slash = strrchr(path, '/');
    *slash = 0;
    if (strcmp(path, x->last_parent) != 0) {
        if (util_mkdir_p(path, 0755) != 0)
            return s_fail(x->stats, COFAB_EIO, "cannot create directory %s: %s", path,
                          strerror(errno));
        snprintf(x->last_parent, sizeof x->last_parent, "%s", path);
    }
    *slash = '/';
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = util_write_file_excl(tmp, data, len, 0644);
    if (rc != 0)
        return s_fail(x->stats, rc, "cannot write %s: %s", tmp, cofab_strerror(rc));
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return s_fail(x->stats, COFAB_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    }
    x->stats->bytes += len;
    return 0;
}

static int
s_write_tile(s_export_t *x, int level, uint64_t index, unsigned width, const void *data,
             size_t len)
{
    char rel[TILES_PATH_MAX];
    tiles_path(level, index, width, rel);
    int rc = s_write(x, rel, data, len);
    if (rc != 0)
        return rc;
    int partial = width < TILES_WIDTH;
    if (level == TILES_ENTRIES) {
        x->stats->bundles++;
        x->stats->partial_bundles += (uint64_t) partial;
    } else {
        x->stats->tiles++;
        x->stats->partial_tiles += (uint64_t) partial;
    }
    return 0;
}

static int
s_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return COFAB_EIO;
    int rc = fsync(fd) == 0 ? 0 : COFAB_EIO;
    close(fd);
    return rc;
}

/* fsyncs dir and every directory below it: the renames become durable.
 * The bundle is a few levels deep; depth bounds the walk anyway. */
static int
s_fsync_tree(const char *dir, int depth)
{
    int rc = s_fsync_dir(dir);
    DIR *d = rc == 0 && depth < 16 ? opendir(dir) : NULL;
    if (!d)
        return rc;
    struct dirent *ent;
    while (rc == 0 && (ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        char sub[4096];
        struct stat st;
        if (snprintf(sub, sizeof sub, "%s/%s", dir, ent->d_name) >= (int) sizeof sub)
            continue;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            rc = s_fsync_tree(sub, depth + 1);
    }
    closedir(d);
    return rc;
}

/* Makes a directory we created durable in its parent (best effort: the
 * parent may not be ours to open). */
static void
s_fsync_parent(const char *dir)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = 0;
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = 0;
    else
        *slash = 0;
    (void) s_fsync_dir(parent);
}

/* out_dir must not exist or be empty. Sets *exists. */
static int
s_check_out_dir(const char *dir, int *exists)
{
    struct stat st;
    *exists = 0;
    if (lstat(dir, &st) != 0)
        return errno == ENOENT ? 0 : COFAB_EIO;
    if (!S_ISDIR(st.st_mode))
        return COFAB_EEXIST;
    DIR *d = opendir(dir);
    if (!d)
        return COFAB_EIO;
    struct dirent *ent;
    int rc = 0;
    while ((ent = readdir(d)) != NULL)
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) {
            rc = COFAB_EEXIST;
            break;
        }
    closedir(d);
    *exists = 1;
    return rc;
}

/* Every record the checkpoint covers must exist and fit an entry; checked
 * before anything is written so a refused export leaves nothing behind. */
static int
s_prescan(ledger_t *ledger, uint64_t size, tiles_stats_t *st)
{
    ledger_iter_t *it = ledger_iter_new(ledger, 0);
    if (!it)
        return s_fail(st, COFAB_ESTORE, "cannot read the ledger");
    int rc = 0;
    for (uint64_t pos = 0; pos < size && rc == 0; pos++) {
        uint64_t seq;
        const uint8_t *bytes;
        size_t len;
        rc = ledger_iter_next(it, &seq, &bytes, &len);
        if (rc == 0 && seq != pos)
            rc = COFAB_ENOTFOUND;
        if (rc != 0) {
            st->bad_record = (int64_t) pos;
            rc = s_fail(st, COFAB_ESTORE, "record %llu is missing from the store",
                        (unsigned long long) pos);
        } else if (len > TILES_ENTRY_MAX) {
            st->bad_record = (int64_t) pos;
            rc = s_fail(st, COFAB_ETOOBIG,
                        "record %llu is %zu bytes; a tlog-tiles entry holds at most %u",
                        (unsigned long long) pos, len, (unsigned) TILES_ENTRY_MAX);
        }
    }
    ledger_iter_destroy(&it);
    return rc;
}

/* ---------- one tile's bytes, shared by the export and tiles_read() ---------- */

/* Appends the records [first, first + width) read from `it` (positioned at
 * first) to the entry bundle in *buf (capacity *cap, grown as needed; *len
 * bytes so far). On failure *bad is the record involved. Returns 0,
 * COFAB_ENOTFOUND (a record is missing or out of place), COFAB_ETOOBIG (a
 * record too long for an entry), COFAB_ESTORE, COFAB_ENOMEM. */
static int
s_fill_entries(ledger_iter_t *it, uint64_t first, unsigned width, uint8_t **buf, size_t *cap,
               size_t *len, uint64_t *bad)
{
    for (unsigned k = 0; k < width; k++) {
        uint64_t seq, pos = first + k;
        const uint8_t *bytes;
        size_t rlen;
        *bad = pos;
        int rc = ledger_iter_next(it, &seq, &bytes, &rlen);
        if (rc == 0 && seq != pos)
            rc = COFAB_ENOTFOUND;
        if (rc != 0)
            return rc;
        if (rlen > TILES_ENTRY_MAX)
            return COFAB_ETOOBIG;
        while (*cap - *len < 2 + rlen) {
            size_t grown_cap = *cap ? *cap * 2 : 65536;
            uint8_t *grown = realloc(*buf, grown_cap);
            if (!grown)
                return COFAB_ENOMEM;
            *buf = grown;
            *cap = grown_cap;
        }
        rc = tiles_entries_append(*buf, *cap, len, bytes, rlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Reads hash tile (level, index) of the given width: the stored tree nodes
 * (TILES_HEIGHT * level, index * TILES_WIDTH + i). On failure *bad is the
 * node index involved. Returns 0 or the store's code. */
static int
s_fill_hashes(ledger_iter_t *it, unsigned level, uint64_t index, unsigned width,
              uint8_t tile[TILES_TILE_MAX], uint64_t *bad)
{
    for (unsigned k = 0; k < width; k++) {
        uint64_t node = index * TILES_WIDTH + k;
        *bad = node;
        int rc = ledger_iter_tree_next(it, TILES_HEIGHT * level, node,
                                       tile + (size_t) k * MERKLE_HASH_LEN);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
tiles_read(ledger_t *ledger, uint64_t size, int level, uint64_t index, unsigned width,
           uint8_t **out, size_t *len)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!ledger || !out || !len || level < TILES_ENTRIES || level > 63 || width == 0 ||
        width > TILES_WIDTH)
        return COFAB_EINVAL;
    if (size > ledger_size(ledger))
        return COFAB_ERANGE;
    unsigned hl = level == TILES_ENTRIES ? 0 : (unsigned) level;
    uint64_t have = tiles_level_hashes(size, hl);
    /* The tile's hashes [index * 256, index * 256 + width) must all exist. */
    if (index > have / TILES_WIDTH || index * TILES_WIDTH + width > have)
        return COFAB_ERANGE;
    ledger_iter_t *it = ledger_iter_new(ledger, index * TILES_WIDTH);
    if (!it)
        return COFAB_ESTORE;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    uint64_t bad = 0;
    int rc;
    if (level == TILES_ENTRIES) {
        rc = s_fill_entries(it, index * TILES_WIDTH, width, &buf, &cap, &n, &bad);
        if (rc == COFAB_ENOTFOUND)
            rc = COFAB_ESTORE; /* inside the tree: the store lacks it */
    } else {
        buf = malloc(TILES_TILE_MAX);
        rc = buf ? s_fill_hashes(it, hl, index, width, buf, &bad) : COFAB_ENOMEM;
        if (rc == COFAB_ENOTFOUND)
            rc = COFAB_ESTORE;
        n = (size_t) width * MERKLE_HASH_LEN;
    }
    ledger_iter_destroy(&it);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Entry bundles and level-0 tiles, 256 records at a time. */
static int
s_export_entries(s_export_t *x, ledger_iter_t *it, uint64_t size)
{
    size_t cap = 0, len = 0;
    uint8_t *bundle = NULL, tile[TILES_TILE_MAX];
    int rc = 0;
    for (uint64_t n = 0; n * TILES_WIDTH < size && rc == 0; n++) {
        uint64_t first = n * TILES_WIDTH, bad = 0;
        unsigned w = size - first < TILES_WIDTH ? (unsigned) (size - first) : TILES_WIDTH;
        len = 0;
        rc = s_fill_entries(it, first, w, &bundle, &cap, &len, &bad);
        if (rc == COFAB_ENOMEM)
            return s_fail(x->stats, rc, "out of memory");
        if (rc == COFAB_ETOOBIG) {
            x->stats->bad_record = (int64_t) bad;
            rc = s_fail(x->stats, rc, "record %llu cannot be an entry", (unsigned long long) bad);
            break;
        }
        if (rc == 0)
            rc = s_fill_hashes(it, 0, n, w, tile, &bad);
        if (rc != 0) {
            x->stats->bad_record = (int64_t) bad;
            rc = s_fail(x->stats, COFAB_ESTORE, "record %llu or its leaf hash is missing: %s",
                        (unsigned long long) bad, cofab_strerror(rc));
            break;
        }
        rc = s_write_tile(x, TILES_ENTRIES, n, w, bundle, len);
        if (rc == 0)
            rc = s_write_tile(x, 0, n, w, tile, (size_t) w * MERKLE_HASH_LEN);
    }
    free(bundle);
    return rc;
}

/* Hash tiles of levels 1 and up, from the stored nodes at Merkle level 8L. */
static int
s_export_levels(s_export_t *x, ledger_iter_t *it, uint64_t size)
{
    uint8_t tile[TILES_TILE_MAX];
    for (unsigned l = 1; l < tiles_levels(size); l++) {
        uint64_t count = tiles_level_hashes(size, l);
        for (uint64_t n = 0; n * TILES_WIDTH < count; n++) {
            uint64_t bad = 0;
            unsigned w = count - n * TILES_WIDTH < TILES_WIDTH ? (unsigned) (count - n * TILES_WIDTH)
                                                               : TILES_WIDTH;
            int rc = s_fill_hashes(it, l, n, w, tile, &bad);
            if (rc != 0)
                return s_fail(x->stats, COFAB_ESTORE, "tree node (%u, %llu) is missing: %s",
                              TILES_HEIGHT * l, (unsigned long long) bad, cofab_strerror(rc));
            rc = s_write_tile(x, (int) l, n, w, tile, (size_t) w * MERKLE_HASH_LEN);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

typedef struct {
    s_export_t *x;            /* the export */
    uint64_t size;            /* exported tree size */
    const char *latest;       /* the checkpoint note the bundle is cut at */
} s_cp_ctx_t;

static int
s_export_checkpoint(void *ctx, uint64_t size, const char *note, size_t len)
{
    s_cp_ctx_t *c = ctx;
    /* Checkpoints signed after the snapshot belong to a later bundle; the
     * cut's own is written from the copy `checkpoint` gets, so the two match
     * even if a cosignature arrived meanwhile. */
    if (size > c->size)
        return 0;
    if (size == c->size) {
        note = c->latest;
        len = strlen(c->latest);
    }
    char rel[64];
    snprintf(rel, sizeof rel, "checkpoints/%llu", (unsigned long long) size);
    int rc = s_write(c->x, rel, note, len);
    if (rc == 0)
        c->x->stats->checkpoints++;
    return rc;
}

static int
s_export_readme(s_export_t *x)
{
    const tiles_stats_t *st = x->stats;
    char root[sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(root, sizeof root, st->root, MERKLE_HASH_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return s_fail(x->stats, COFAB_ENOMEM, "out of memory");
    fprintf(f,
            "cofab ledger bundle\n"
            "===================\n\n"
            "This directory is a cofab ledger laid out as a C2SP tlog-tiles log\n"
            "(https://c2sp.org/tlog-tiles), cut at the latest checkpoint:\n\n"
            "  origin     %s\n  tree size  %llu records\n  root       %s (base64)\n\n"
            "This README is not signed: check everything it says against the files.\n\n"
            "Files\n-----\n"
            "checkpoint               the hub-signed checkpoint the tiles are cut at (C2SP\n"
            "                         tlog-checkpoint in a signed note), with its witness\n"
            "                         cosignature lines (C2SP tlog-cosignature)\n"
            "checkpoints/<size>       every checkpoint the ledger stored, cosigned copies\n"
            "tile/<L>/<N>             hash tiles: 256 SHA-256 hashes of 32 bytes; level 0\n"
            "                         holds leaf hashes SHA-256(0x00 || record), level L the\n"
            "                         hashes of subtrees of 256^L records (RFC 6962)\n"
            "tile/<L>/<N>.p/<W>       the partial right-most tile of a level, W hashes\n"
            "tile/entries/<N>[.p/<W>] entry bundles: the records of level-0 tile N, each a\n"
            "                         big-endian uint16 length then the record bytes\n\n"
            "<N> is written in groups of three digits, all but the last prefixed with\n"
            "'x' (tile 1234067 is x001/x234/067).\n\n"
            "A record is: version (1 byte, 1), position (8), hub time in ms (8), hash of\n"
            "the previous record (32), envelope length (4), then the author's signed\n"
            "envelope exactly as received. All integers are big-endian.\n\n"
            "Checking with cofab (offline)\n-----------------------------\n"
            "  cofab audit verify --bundle DIR --hub-key HUB.pub\n\n"
            "HUB.pub is the hub's public key file; get it from the alliance operator\n"
            "through a channel you trust, not from this bundle. The command rebuilds the\n"
            "tree from the entries, compares every hash of every tile and the root with\n"
            "the checkpoint, then audits every record: signatures, hash chain, author\n"
            "chains, authorizations, the order state machine, checkpoint signatures and\n"
            "witness cosignatures. It prints VALID, or the first bad record and why.\n\n"
            "Checking with other tlog-tiles tools\n------------------------------------\n"
            "Serve or read this directory as a tlog-tiles log prefix (for example with any\n"
            "static file server). Verify the checkpoint's signature with the hub's verifier\n"
            "key, the first line of HUB.pub (name+keyid+base64, the form Go's\n"
            "golang.org/x/mod/sumdb/note reads), then recompute the root from the entry\n"
            "bundles or check inclusion and consistency proofs built from the tiles.\n",
            st->origin, (unsigned long long) st->size, root);
    if (fclose(f) != 0 || !text) {
        free(text);
        return s_fail(x->stats, COFAB_ENOMEM, "out of memory");
    }
    int rc = s_write(x, "README", text, len);
    free(text);
    return rc;
}

int
tiles_export(ledger_t *ledger, const char *out_dir, tiles_stats_t *stats)
{
    tiles_stats_t local;
    tiles_stats_t *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    st->bad_record = -1;
    if (!ledger || !out_dir || !*out_dir)
        return s_fail(st, COFAB_EINVAL, "no ledger or output directory");

    int exists = 0, rc = s_check_out_dir(out_dir, &exists);
    if (rc != 0)
        return s_fail(st, rc, rc == COFAB_EEXIST ? "%s exists and is not an empty directory"
                                                 : "cannot read %s", out_dir);
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    ledger_iter_t *it = NULL;
    if (!note)
        return s_fail(st, COFAB_ENOMEM, "out of memory");
    checkpoint_t cp;
    rc = ledger_checkpoint_latest(ledger, note, LEDGER_CHECKPOINT_MAX);
    if (rc == 0)
        rc = checkpoint_from_note(&cp, note, strlen(note));
    if (rc == 0 && (cp.size == 0 || cp.size > ledger_size(ledger)))
        rc = cp.size ? COFAB_ESTORE : COFAB_ENOTFOUND;
    if (rc != 0) {
        rc = s_fail(st, rc, "no usable checkpoint to cut the bundle at: %s", cofab_strerror(rc));
        goto out;
    }
    st->size = cp.size;
    snprintf(st->origin, sizeof st->origin, "%s", cp.origin);
    memcpy(st->root, cp.root, MERKLE_HASH_LEN);
    st->levels = tiles_levels(cp.size);

    rc = s_prescan(ledger, cp.size, st);
    if (rc != 0)
        goto out;
    if (!exists && util_mkdir_p(out_dir, 0755) != 0) {
        rc = s_fail(st, COFAB_EIO, "cannot create %s: %s", out_dir, strerror(errno));
        goto out;
    }
    st->incomplete = 1;
    s_export_t x = {.dir = out_dir, .stats = st};
    /* One read transaction for records and nodes: a consistent snapshot. */
    it = ledger_iter_new(ledger, 0);
    if (!it) {
        rc = s_fail(st, COFAB_ESTORE, "cannot read the ledger");
        goto out;
    }
    rc = s_export_entries(&x, it, cp.size);
    if (rc == 0)
        rc = s_export_levels(&x, it, cp.size);
    ledger_iter_destroy(&it);
    s_cp_ctx_t cc = {&x, cp.size, note};
    if (rc == 0)
        rc = ledger_checkpoint_foreach(ledger, s_export_checkpoint, &cc);
    if (rc == 0)
        rc = s_export_readme(&x);
    if (rc == 0 && s_fsync_tree(out_dir, 0) != 0)
        rc = s_fail(st, COFAB_EIO, "cannot fsync %s", out_dir);
    /* Last: the checkpoint marks the bundle complete. */
    if (rc == 0)
        rc = s_write(&x, "checkpoint", note, strlen(note));
    if (rc == 0 && s_fsync_dir(out_dir) != 0)
        rc = s_fail(st, COFAB_EIO, "cannot fsync %s", out_dir);
    if (rc == 0 && !exists)
        s_fsync_parent(out_dir);
    if (rc != 0)
        s_fail(st, rc, "export failed: %s", cofab_strerror(rc));
    else
        st->incomplete = 0;
out:
    ledger_iter_destroy(&it);
    free(note);
    return rc;
}
