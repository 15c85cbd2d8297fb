/* tiles.h — the ledger as a C2SP tlog-tiles bundle: export, and import back for offline audit.
 *
 * A bundle is a directory laid out as a C2SP tlog-tiles log (c2sp.org/tlog-tiles),
 * cut at the tree size of the ledger's latest stored checkpoint:
 *
 *   checkpoint                  that checkpoint's signed note, byte for byte, with
 *                               its witness cosignature lines
 *   checkpoints/<size>          every stored checkpoint note (cosigned copies), one
 *                               file per tree size, decimal, no leading zero
 *   tile/<L>/<N>                full hash tile: 256 hashes of 32 bytes
 *   tile/<L>/<N>.p/<W>          the partial right-most tile of level L, W hashes
 *   tile/entries/<N>[.p/<W>]    entry bundle: the records of level-0 tile N, each a
 *                               big-endian uint16 length then the record bytes
 *   README                      plain text for auditors (not signed)
 *
 * Tiles are 8 Merkle levels high. Hash i of tile N at level L is the hash of
 * the perfect subtree of 256^L leaves starting at leaf (N * 256 + i) * 256^L,
 * that is the ledger's stored tree node (level 8L, index N * 256 + i); level 0
 * holds the leaf hashes SHA-256(0x00 || record). A tree of size s has
 * floor(s / 256^L) hashes at tile level L: that many / 256 full tiles and a
 * partial tile of that many % 256 hashes when it is not zero. A partial tile
 * is never hashed into the level above. <N> is written in groups of three
 * decimal digits, all but the last prefixed with 'x' (1234067 is
 * x001/x234/067); <L> and <W> are plain decimal. The entries are the ledger's
 * record bytes exactly (layout in ledger.h), so an entry may be at most 65535
 * bytes: a ledger holding a longer record cannot be exported (see
 * tiles_export()). docs/bundle.md describes the bundle for auditors.
 *
 * Everything read from a bundle is untrusted: every file has an explicit
 * maximum size, parsing is bounds-checked, and a bad bundle gets an error
 * code and a report naming the file and the record, never a crash.
 */
#ifndef COFAB_TILES_H
#define COFAB_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/ledger.h"
#include "cofab/merkle.h"
#include "cofab/note.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TILES_HEIGHT 8                          /* Merkle levels per tile */
#define TILES_WIDTH 256                         /* hashes in a full tile, entries per bundle */
#define TILES_MAX_LEVELS 8                      /* tile levels a 64-bit tree size can reach */
#define TILES_ENTRY_MAX 65535                   /* longest entry a uint16 length can carry */
#define TILES_TILE_MAX (TILES_WIDTH * MERKLE_HASH_LEN)            /* 8192 bytes */
#define TILES_BUNDLE_MAX (TILES_WIDTH * (2 + TILES_ENTRY_MAX))    /* largest entry bundle */
#define TILES_PATH_MAX 96                       /* longest tile path, with its NUL */
#define TILES_ENTRIES (-1)                      /* tiles_path() level of entry bundles */

/* ---------- pure helpers: paths, level arithmetic, decoders ---------- */

/* Writes the bundle-relative path of a tile (level 0..63) or, with level
 * TILES_ENTRIES, of an entry bundle: "tile/<L>/<N>" or "tile/entries/<N>",
 * with ".p/<W>" appended when width is 1..255 (a partial tile); width 0 or
 * TILES_WIDTH means a full tile. Returns 0, or COFAB_EINVAL (NULL buf,
 * level out of range, width over TILES_WIDTH). */
int tiles_path(int level, uint64_t index, unsigned width, char buf[TILES_PATH_MAX]);

/* Parses a bundle-relative tile or entry-bundle path (untrusted, len bytes,
 * no NUL needed), accepting only the canonical form tiles_path() writes:
 * no leading zeros, no empty or extra elements, N fitting 64 bits. Sets
 * *level (TILES_ENTRIES for entry bundles), *index and *width (TILES_WIDTH
 * for a full tile). Returns 0, COFAB_EMALFORMED or COFAB_EINVAL (NULL). */
int tiles_path_parse(const char *path, size_t len, int *level, uint64_t *index,
                     unsigned *width);

/* Hashes at tile level `level` in a tree of `size` leaves: floor(size /
 * 256^level); 0 when level >= TILES_MAX_LEVELS. Full tiles at that level
 * are this / 256; the partial tile's width is this % 256 (none when 0). */
uint64_t tiles_level_hashes(uint64_t size, unsigned level);

/* Number of tile levels a tree of `size` leaves has (0 for the empty tree,
 * 1 for 1..255 leaves, 2 for 256..65535, at most TILES_MAX_LEVELS). */
unsigned tiles_levels(uint64_t size);

/* One entry of a decoded bundle; data borrows from the bundle bytes. */
typedef struct {
    const uint8_t *data;  /* borrowed: the entry's bytes */
    size_t len;           /* their length, at most TILES_ENTRY_MAX */
} tiles_entry_t;

/* Decodes an entry bundle (untrusted) into entries (room TILES_WIDTH).
 * want is the number of entries the bundle must hold (1..TILES_WIDTH), or
 * 0 to take as many as it holds. *n gets the number of entries decoded
 * whole, also on error (so the first bad entry is entries index *n).
 * Returns 0; COFAB_ETRUNCATED (empty bundle, a length or entry cut short,
 * or fewer than want entries); COFAB_ETRAILING (bytes after the want-th
 * entry); COFAB_ETOOBIG (over TILES_BUNDLE_MAX bytes or TILES_WIDTH
 * entries); COFAB_EINVAL (NULL, want over TILES_WIDTH). */
int tiles_entries_decode(const uint8_t *buf, size_t len, size_t want, tiles_entry_t *entries,
                         size_t *n);

/* Appends one entry (uint16 length, bytes) to the bundle in buf (capacity
 * cap, *len bytes so far, advanced on success). Returns 0, COFAB_ETOOBIG
 * (entry over TILES_ENTRY_MAX bytes, or no room), COFAB_EINVAL (NULL). */
int tiles_entries_append(uint8_t *buf, size_t cap, size_t *len, const uint8_t *entry,
                         size_t entry_len);

/* Checks a hash tile's bytes (untrusted): a whole number of 32-byte hashes,
 * exactly want of them (1..TILES_WIDTH), or any count 1..TILES_WIDTH when
 * want is 0. Sets *n to the number of hashes; hash i is buf + 32 * i.
 * Returns 0; COFAB_ETRUNCATED (empty, a hash cut short, fewer than want);
 * COFAB_ETRAILING (more than want); COFAB_ETOOBIG (over TILES_TILE_MAX
 * bytes with want 0); COFAB_EINVAL (NULL, want over TILES_WIDTH). */
int tiles_hashes_decode(const uint8_t *buf, size_t len, unsigned want, unsigned *n);

/* ---------- one tile, read from a ledger ---------- */

/* The bytes of one tile of the tree of the ledger's first `size` records,
 * exactly as tiles_export() writes that file: with level 0..63, the hash
 * tile (level, index) of `width` hashes (the stored tree nodes, see above);
 * with level TILES_ENTRIES, the entry bundle of records [index * 256,
 * index * 256 + width). width is 1..TILES_WIDTH (TILES_WIDTH: the full
 * tile); any width whose hashes all lie inside the tree is served, so a
 * partial tile of an older, smaller tree can still be read. One read
 * transaction; the ledger may be open read-only and shared between
 * threads. On success *out is a new malloc'd buffer of *len bytes that the
 * caller frees. Returns 0; COFAB_ERANGE (size beyond the ledger, or the
 * tile not inside the tree of `size`, level 8 and up included);
 * COFAB_ETOOBIG (a record over TILES_ENTRY_MAX bytes in the bundle);
 * COFAB_ESTORE (the store lacks a record or node the tree needs, or a read
 * transaction could not start); COFAB_ENOMEM; COFAB_EINVAL (NULL, level or
 * width out of range). */
int tiles_read(ledger_t *ledger, uint64_t size, int level, uint64_t index, unsigned width,
               uint8_t **out, size_t *len);

/* ---------- export ---------- */

typedef struct {
    uint64_t size;            /* tree size exported: the latest checkpoint's */
    char origin[NOTE_MAX_ORIGIN + 1]; /* its origin line */
    uint8_t root[MERKLE_HASH_LEN];    /* its root hash */
    unsigned levels;          /* tile levels written */
    uint64_t tiles;           /* hash tiles written, full and partial */
    uint64_t partial_tiles;   /* of which partial */
    uint64_t bundles;         /* entry bundles written, full and partial */
    uint64_t partial_bundles; /* of which partial (0 or 1) */
    uint64_t checkpoints;     /* files written under checkpoints/ */
    uint64_t bytes;           /* bytes written in all files */
    int64_t bad_record;       /* on COFAB_ETOOBIG: the record too long to be an entry; else -1 */
    int incomplete;           /* on failure: 1 if out_dir holds part of a bundle (remove it) */
    char reason[256];         /* on failure: a sentence saying what went wrong */
} tiles_stats_t;

/* Writes the bundle of `ledger` (open, read-only is enough) to out_dir,
 * which must not exist (it is created, mode 0755) or be an empty directory.
 * The tree is cut at the size of the latest stored checkpoint, and hash
 * tiles are copies of the ledger's STORED tree nodes (the import is what
 * recomputes). Every file is written as NAME.tmp (O_EXCL, fsync) and
 * renamed into place, directories are fsync'd, and `checkpoint` is written
 * last: a bundle without it is an interrupted or failed export, which
 * tiles_import() refuses (on failure stats->incomplete says whether out_dir
 * holds part of a bundle to delete). stats may be NULL. Returns 0;
 * COFAB_EEXIST (out_dir exists and is not an empty directory);
 * COFAB_ENOTFOUND (no stored checkpoint, or it covers no
 * record); COFAB_ETOOBIG (a record longer than TILES_ENTRY_MAX bytes:
 * stats->bad_record names it, and nothing is written); COFAB_ESTORE (the
 * store lacks a record or tree node the checkpoint covers); COFAB_EIO;
 * COFAB_ENOMEM; COFAB_EINVAL. */
int tiles_export(ledger_t *ledger, const char *out_dir, tiles_stats_t *stats);

/* ---------- import ---------- */

typedef struct {
    uint64_t size;            /* tree size of the bundle's checkpoint */
    char origin[NOTE_MAX_ORIGIN + 1]; /* its origin line */
    uint8_t root[MERKLE_HASH_LEN];    /* root recomputed from the entries */
    uint64_t entries;         /* entries checked */
    uint64_t bundles;         /* entry bundle files read (older partials included) */
    uint64_t tiles;           /* hash tile files checked (older partials included) */
    uint64_t hashes;          /* tile hashes compared */
    uint64_t checkpoints;     /* checkpoint notes stored in the new ledger */
    /* First failure (code 0 when the import succeeded). */
    int code;                 /* cofab error code, as returned */
    int bad_bundle;           /* 1: the bundle is at fault (malformed, missing, altered);
                                 0: the environment or the arguments are */
    int64_t bad_record;       /* ledger position involved, or -1 */
    int64_t bad_index;        /* hash index inside bad_path's tile, or -1 */
    char bad_path[TILES_PATH_MAX + 32]; /* bundle-relative file involved, or "" */
    char reason[256];         /* human sentence naming what is wrong */
} tiles_import_report_t;

/* Checks the bundle in bundle_dir and writes its records into a new ledger
 * in ledger_dir. Trusts nothing: parses `checkpoint` (its signature is left
 * to audit_verify()), reads the entry bundles for [0, size) (each must hold
 * records decoding at their positions, hash-chained), recomputes the whole
 * tree and compares every hash of every hash tile the tree needs, full and
 * partial, and of the older partial tiles and bundles found in their .p/
 * directories; a missing or altered tile or hash is named (bad_path,
 * bad_index, and bad_record for level 0). The recomputed root must equal
 * the checkpoint's. Files for tiles outside the checkpoint's tree are not
 * read. Only then is the ledger written (ledger_create_replica() for
 * record 0, which must be a genesis record, then ledger_replicate() in
 * batches; no fsync: it is a scratch copy), each envelope opened and its
 * signature verified on the way (a failure names the record), and every
 * checkpoints/<size> note and `checkpoint` stored after checking that it
 * parses, matches its file name, has the bundle's origin and a size within
 * the tree; checkpoints/<size> of the bundle's own size must equal
 * `checkpoint` byte for byte. audit_verify() on the result is the full audit.
 * rep must not be NULL. Returns 0 (rep->code 0), or the first failure's code,
 * also in rep->code with rep->reason, rep->bad_bundle and the position:
 * bundle faults COFAB_ENOTFOUND (missing file), COFAB_EMALFORMED,
 * COFAB_ETRUNCATED, COFAB_ETRAILING, COFAB_ETOOBIG, COFAB_EVERSION,
 * COFAB_ERANGE (entry at the wrong position, file beyond the tree),
 * COFAB_ECHAIN, COFAB_EPROOF (tile hash mismatch), COFAB_EROOT,
 * COFAB_EINCONSISTENT, envelope and replication refusals (COFAB_EBADSIG,
 * COFAB_EPERM, ...); environment failures COFAB_EEXIST (ledger_dir already
 * holds a ledger), COFAB_EIO, COFAB_ENOMEM, COFAB_ESTORE, COFAB_ENOSPC,
 * COFAB_EINVAL. ledger_dir may exist if it holds no ledger (an empty
 * mkdtemp() directory, say). On failure it may hold a partial ledger: use a
 * fresh scratch directory and remove it. This is what `cofab audit verify
 * --bundle` runs before auditing the result. */
int tiles_import(const char *bundle_dir, const char *ledger_dir, tiles_import_report_t *rep);

#ifdef __cplusplus
}
#endif
#endif
