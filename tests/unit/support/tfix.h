/* tfix.h — helpers the tlog-tiles tests share: keys and ledgers, a reference tree, bundle file surgery. */
#ifndef COFAB_TEST_TFIX_H
#define COFAB_TEST_TFIX_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/keys.h"
#include "cofab/merkle.h"
#include "cofab/tiles.h"

#define TFIX_BIG 1000  /* records in the shared ledger: 3 full level-0 tiles + 232, level 1 of 3 */

/* A cmocka group's state: keys and a ledger of TFIX_BIG records. */
typedef struct {
    char dir[256];        /* scratch root for the whole group */
    char big[300];        /* a ledger of TFIX_BIG records, checkpoints every 100 */
    keys_t *hub;          /* hub (and operator) key */
    keys_t *witness;      /* cosigns the latest checkpoint */
    keys_t *authors[2];   /* write the note records */
    int seq;              /* for fresh sub-directory names */
} tfix_group_t;

/* cmocka group setup/teardown making and removing a tfix_group_t. */
int tfix_group_setup(void **state);
int tfix_group_teardown(void **state);

/* A fresh path "<group dir>/<what>-<n>" (not created) into out. */
void tfix_subdir(tfix_group_t *g, const char *what, char out[300]);

/* Makes a ledger of `size` records in dir (checkpoints every cp_every; 0:
 * only at the end); the latest checkpoint gets the witness's cosignature. */
void tfix_make_ledger(tfix_group_t *g, const char *dir, uint64_t size, size_t cp_every);

/* Opens ledger_dir read-only and runs tiles_export() into out. */
int tfix_export(const char *ledger_dir, const char *out, tiles_stats_t *st);

/* Exports the group's big ledger into a fresh directory (path to out). */
void tfix_fresh_bundle(tfix_group_t *g, char out[300]);

/* A reference Merkle tree computed with SHA-256 alone (not merkle.c). */
typedef struct {
    uint64_t size;        /* records */
    uint8_t **rec;        /* record bytes, malloc'd */
    size_t *len;          /* their lengths */
    uint8_t *lvl[64];     /* perfect-subtree hashes per Merkle level */
    uint64_t nlvl[64];    /* how many at each level */
} tfix_ref_t;

/* Fills ref with a ledger's records and their tree. */
void tfix_ref_load(tfix_ref_t *ref, const char *ledger_dir);
/* Computes the levels from ref's size, rec and len. */
void tfix_ref_levels(tfix_ref_t *ref);
/* RFC 6962 MTH of leaves [from, from + n). */
void tfix_ref_mth(const tfix_ref_t *ref, uint64_t from, uint64_t n, uint8_t out[MERKLE_HASH_LEN]);
void tfix_ref_free(tfix_ref_t *ref);

/* Bundle files by bundle-relative path. slurp returns malloc'd bytes (one
 * NUL after them) or NULL; spit replaces the file; flip XORs one bit. */
uint8_t *tfix_slurp(const char *bundle, const char *rel, size_t *len);
void tfix_spit(const char *bundle, const char *rel, const void *data, size_t len);
void tfix_flip(const char *bundle, const char *rel, size_t offset);

/* Regular files below dir, recursively; fails the test on a ".tmp" file. */
size_t tfix_count_files(const char *dir);

/* Offset of entry k's bytes (after its length) inside an entry bundle. */
size_t tfix_entry_offset(const uint8_t *buf, size_t len, unsigned k);

/* Rebuilds every hash tile of the bundle (tree of `size`) from its entry
 * bundles and puts the new root into checkpoint and checkpoints/<size>, as
 * a forger would. Signatures are left as they are. */
void tfix_retile(const char *bundle, uint64_t size);

/* Flips byte `at` of record pos in its entry bundle. */
void tfix_alter_record(const char *bundle, uint64_t size, uint64_t pos, size_t at);

#endif
