/* ledger_internal.h — the ledger's private state, shared by its .c files only. */
#ifndef COFAB_LEDGER_INTERNAL_H
#define COFAB_LEDGER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <lmdb.h>

#include "cofab/ledger.h"
#include "cofab/note.h"

struct ledger_t {
    MDB_env *env;                 /* the LMDB environment */
    MDB_dbi records;              /* seq -> record bytes */
    MDB_dbi tree;                 /* (level, index) -> perfect subtree hash */
    MDB_dbi authors;              /* author || author_seq -> seq || envelope hash */
    MDB_dbi subjects;             /* subject || seq -> empty */
    MDB_dbi checkpoints;          /* tree size -> signed note */
    MDB_dbi meta;                 /* small named values (origin) */
    MDB_dbi state;                /* derived state written by the apply hook */
    ledger_options_t opts;        /* as given at open, defaults filled in */
    size_t map_size;              /* current LMDB map size */
    char origin[NOTE_MAX_ORIGIN + 1]; /* checkpoint origin line */
    merkle_frontier_t frontier;   /* right edge of the committed tree (writer) */
    pthread_mutex_t state_lock;   /* guards head and size for readers */
    uint8_t head[32];             /* hash of the last committed record */
    uint64_t size;                /* committed records */
    /* Readers hold it shared while their transaction is open; growing the
     * map takes it exclusively, as LMDB requires no live transaction then. */
    pthread_rwlock_t map_lock;
};

/* The handle an apply hook gets: the batch's write transaction. */
struct ledger_txn_t {
    ledger_t *ledger;             /* whose databases */
    MDB_txn *txn;                 /* the batch's write transaction */
};

/* Maps an LMDB return code to a cofab error. */
int ledger_s_mdb_error(int mdb_rc);

/* Opens a read transaction under the shared map lock. On success the caller
 * must end it with ledger_s_read_end(). */
int ledger_s_read_begin(ledger_t *self, MDB_txn **txn);
void ledger_s_read_end(ledger_t *self, MDB_txn **txn);

/* Doubles the LMDB map (bounded by map_max) once no transaction is live.
 * Returns 0 or COFAB_ENOSPC when it may not grow further. */
int ledger_s_grow(ledger_t *self);

/* Key for a tree node: level in the top byte, index below, big-endian. */
void ledger_s_tree_key(uint8_t key[8], unsigned level, uint64_t index);

/* Context for merkle_get_fn over a transaction. */
typedef struct {
    ledger_t *ledger;  /* whose tree */
    MDB_txn *txn;      /* transaction to read in */
} ledger_s_tree_ctx_t;

int ledger_s_tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]);

#endif
