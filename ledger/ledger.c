/* ledger.c — opening the LMDB store and appending records in durable group commits. */
#include "ledger_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"

#define S_DEFAULT_MAP ((size_t) 64 << 20)
/* Read transactions tried while another process keeps growing the map. */
#define S_RESIZE_TRIES 8
/* Seconds a reader waits for the others before it may adopt a grown map. */
#define S_RESIZE_WAIT_S 10

int
ledger_s_mdb_error(int mdb_rc)
{
    switch (mdb_rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return COFAB_ENOTFOUND;
    case MDB_MAP_FULL:
    case ENOSPC:
        return COFAB_ENOSPC;
    case ENOMEM:
        return COFAB_ENOMEM;
    case EIO:
    case EACCES:
    case EROFS:
        return COFAB_EIO;
    default:
        return COFAB_ESTORE;
    }
}

void
ledger_s_tree_key(uint8_t key[8], unsigned level, uint64_t index)
{
    util_put_be64(key, ((uint64_t) level << 56) | index);
}

/* Adopts the map size another process (the hub) grew the store to, as
 * LMDB asks after MDB_MAP_RESIZED: only while no transaction of this
 * environment is live in the process, so it holds the map lock exclusively,
 * waiting at most S_RESIZE_WAIT_S for the other readers to finish (a thread
 * that itself holds an iterator would wait for itself: the bound makes that
 * an error instead of a hang). Returns 0, COFAB_ESTORE. */
static int
s_adopt_map(ledger_t *self)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the clock timedwrlock measures */
    until.tv_sec += S_RESIZE_WAIT_S;
    if (pthread_rwlock_timedwrlock(&self->map_lock, &until) != 0)
        return COFAB_ESTORE;
    /* Several readers meet the same growth: the first one remaps, the
     * others find the data inside the map already. */
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(self->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(self->env, &st);
    if (rc == 0 && ((uint64_t) info.me_last_pgno + 1) * st.ms_psize > info.me_mapsize)
        rc = mdb_env_set_mapsize(self->env, 0);
    /* Only read-only ledgers come here, and only writers grow: map_size
     * has one writer either way. */
    if (rc == 0 && mdb_env_info(self->env, &info) == 0)
        self->map_size = info.me_mapsize;
    pthread_rwlock_unlock(&self->map_lock);
    return rc == 0 ? 0 : COFAB_ESTORE;
}

/* Every read of the ledger starts here (see ledger_internal.h). On a
 * read-only ledger, a map the hub grew past ours (MDB_MAP_RESIZED) is
 * adopted and the transaction tried again, so readers of a live ledger
 * never see that as a store error. */
int
ledger_s_read_begin(ledger_t *self, MDB_txn **txn)
{
    for (int attempt = 1;; attempt++) {
        pthread_rwlock_rdlock(&self->map_lock);
        int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&self->map_lock);
        *txn = NULL;
        /* Only a read-only ledger adopts: a writing process grows the map
         * itself, and its write transaction is not under the map lock. A
         * hub growing the map again and again between two attempts is
         * bounded by S_RESIZE_TRIES. */
        if (rc != MDB_MAP_RESIZED || !self->opts.read_only || attempt == S_RESIZE_TRIES)
            return ledger_s_mdb_error(rc);
        rc = s_adopt_map(self);
        if (rc != 0)
            return rc;
    }
}

void
ledger_s_read_end(ledger_t *self, MDB_txn **txn)
{
    if (*txn) {
        mdb_txn_abort(*txn);
        *txn = NULL;
        pthread_rwlock_unlock(&self->map_lock);
    }
}

int
ledger_s_tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    ledger_s_tree_ctx_t *c = ctx;
    uint8_t k[8];
    ledger_s_tree_key(k, level, index);
    MDB_val key = {8, k}, val;
    int rc = mdb_get(c->txn, c->ledger->tree, &key, &val);
    if (rc != 0)
        return ledger_s_mdb_error(rc);
    if (val.mv_size != 32)
        return COFAB_ESTORE;
    memcpy(out, val.mv_data, 32);
    return 0;
}

size_t
ledger_record_encode(uint8_t *out, size_t out_len, uint64_t seq, uint64_t time_ms,
                     const uint8_t prev[32], const uint8_t *envelope, size_t envelope_len)
{
    size_t total = LEDGER_RECORD_HEADER + envelope_len;
    if (envelope_len > ENVELOPE_MAX || out_len < total)
        return 0;
    out[0] = LEDGER_RECORD_VERSION;
    util_put_be64(out + 1, seq);
    util_put_be64(out + 9, time_ms);
    memcpy(out + 17, prev, 32);
    util_put_be32(out + 49, (uint32_t) envelope_len);
    memcpy(out + LEDGER_RECORD_HEADER, envelope, envelope_len);
    return total;
}

int
ledger_record_decode(ledger_record_t *r, const uint8_t *bytes, size_t len)
{
    if (!r || (!bytes && len))
        return COFAB_EINVAL;
    if (len > LEDGER_RECORD_MAX)
        return COFAB_ETOOBIG;
    if (len < 1)
        return COFAB_ETRUNCATED;
    if (bytes[0] != LEDGER_RECORD_VERSION)
        return COFAB_EVERSION;
    if (len < LEDGER_RECORD_HEADER)
        return COFAB_ETRUNCATED;
    uint32_t env_len = util_get_be32(bytes + 49);
    if (env_len > ENVELOPE_MAX)
        return COFAB_ETOOBIG;
    if (len < LEDGER_RECORD_HEADER + (size_t) env_len)
        return COFAB_ETRUNCATED;
    if (len > LEDGER_RECORD_HEADER + (size_t) env_len)
        return COFAB_ETRAILING;
    r->seq = util_get_be64(bytes + 1);
    r->time_ms = util_get_be64(bytes + 9);
    memcpy(r->prev, bytes + 17, 32);
    r->envelope = bytes + LEDGER_RECORD_HEADER;
    r->envelope_len = env_len;
    r->bytes = bytes;
    r->len = len;
    return 0;
}

static int
s_open_dbs(ledger_t *self, MDB_txn *txn, unsigned flags)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"records", &self->records},   {"tree", &self->tree},
        {"authors", &self->authors},   {"subjects", &self->subjects},
        {"checkpoints", &self->checkpoints}, {"meta", &self->meta},
        {"state", &self->state},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
        if (rc != 0)
            return ledger_s_mdb_error(rc);
    }
    return 0;
}

/* Creates the environment object and opens the files; no databases yet. */
static int
s_env_open(ledger_t **out, const char *dir, const ledger_options_t *opts)
{
    ledger_t *self = calloc(1, sizeof *self);
    if (!self)
        return COFAB_ENOMEM;
    if (opts)
        self->opts = *opts;
    if (!self->opts.map_size)
        self->opts.map_size = S_DEFAULT_MAP;
    if (self->opts.map_max && self->opts.map_size > self->opts.map_max)
        self->opts.map_size = self->opts.map_max;
    pthread_mutex_init(&self->state_lock, NULL);
    pthread_rwlock_init(&self->map_lock, NULL);
    merkle_frontier_init(&self->frontier);

    /* A scratch ledger is thrown away: write straight into the map, never
     * flush it (the pages stay in memory until the directory is removed),
     * and no readahead: faulting in a page of the sparse file would
     * otherwise zero-fill a whole readahead window of holes. */
    unsigned flags = MDB_NOTLS | (self->opts.read_only ? MDB_RDONLY : 0) |
                     (self->opts.no_sync ? MDB_NOSYNC : 0) |
                     (self->opts.scratch ? MDB_WRITEMAP | MDB_MAPASYNC | MDB_NOSYNC | MDB_NORDAHEAD
                                         : 0);
    int rc = mdb_env_create(&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(self->env, 8);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(self->env, 256);
    if (rc == 0)
        rc = mdb_env_set_mapsize(self->env, self->opts.map_size);
    if (rc == 0)
        rc = mdb_env_open(self->env, dir, flags, 0600);
    if (rc != 0) {
        int err = rc == ENOENT ? COFAB_ENOTFOUND : ledger_s_mdb_error(rc);
        ledger_destroy(&self);
        return err;
    }
    /* Stale slots of crashed readers would pin old pages forever. */
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    self->map_size = info.me_mapsize;
    *out = self;
    return 0;
}

/* Loads origin, size, head and frontier from the store. */
static int
s_load_state(ledger_t *self)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    MDB_val key = {6, "origin"}, val;
    rc = mdb_get(txn, self->meta, &key, &val);
    if (rc != 0 || val.mv_size == 0 || val.mv_size > NOTE_MAX_ORIGIN) {
        rc = rc == MDB_NOTFOUND ? COFAB_ENOTFOUND : COFAB_ESTORE;
        goto out;
    }
    memcpy(self->origin, val.mv_data, val.mv_size);
    self->origin[val.mv_size] = 0;

    rc = ledger_s_mdb_error(mdb_cursor_open(txn, self->records, &cur));
    if (rc != 0)
        goto out;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    if (mrc == MDB_NOTFOUND) {
        self->size = 0;
        memset(self->head, 0, 32);
        merkle_frontier_init(&self->frontier);
        rc = 0;
        goto out;
    }
    rc = COFAB_ESTORE;
    if (mrc != 0 || key.mv_size != 8)
        goto out;
    self->size = util_get_be64(key.mv_data) + 1;
    ledger_s_tree_ctx_t ctx = {self, txn};
    rc = merkle_frontier_load(&self->frontier, self->size, ledger_s_tree_get, &ctx);
    if (rc == 0)
        rc = ledger_s_tree_get(&ctx, 0, self->size - 1, self->head);
out:
    if (cur)
        mdb_cursor_close(cur);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_open(ledger_t **out, const char *dir, const ledger_options_t *opts)
{
    if (!out || !dir)
        return COFAB_EINVAL;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int) sizeof path)
        return COFAB_EINVAL;
    if (access(path, F_OK) != 0)
        return COFAB_ENOTFOUND;
    ledger_t *self = NULL;
    int rc = s_env_open(&self, dir, opts);
    if (rc != 0)
        return rc;
    MDB_txn *txn = NULL;
    rc = ledger_s_read_begin(self, &txn); /* the hub may grow the map meanwhile */
    if (rc == 0) {
        rc = s_open_dbs(self, txn, 0);
        mdb_txn_commit(txn); /* keeps the dbi handles open */
        pthread_rwlock_unlock(&self->map_lock); /* as ledger_s_read_end() would */
    }
    if (rc == 0)
        rc = s_load_state(self);
    if (rc != 0) {
        ledger_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
ledger_destroy(ledger_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ledger_t *self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    pthread_mutex_destroy(&self->state_lock);
    pthread_rwlock_destroy(&self->map_lock);
    free(self);
    *self_p = NULL;
}

const char *
ledger_origin(const ledger_t *self)
{
    return self->origin;
}

uint64_t
ledger_size(ledger_t *self)
{
    pthread_mutex_lock(&self->state_lock);
    uint64_t size = self->size;
    pthread_mutex_unlock(&self->state_lock);
    return size;
}

void
ledger_head(ledger_t *self, uint8_t out[32])
{
    pthread_mutex_lock(&self->state_lock);
    memcpy(out, self->head, 32);
    pthread_mutex_unlock(&self->state_lock);
}

/* The state one write transaction builds up before it commits. */
typedef struct {
    MDB_txn *txn;                /* the write transaction */
    merkle_frontier_t frontier;  /* tree edge including this batch */
    uint8_t head[32];            /* chain head including this batch */
    uint64_t size;               /* size including this batch */
} s_batch_t;

static int
s_emit_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct {
        ledger_t *ledger;
        MDB_txn *txn;
    } *c = ctx;
    uint8_t k[8];
    ledger_s_tree_key(k, level, index);
    MDB_val key = {8, k}, val = {32, (void *) hash};
    int rc = mdb_put(c->txn, c->ledger->tree, &key, &val, MDB_NOOVERWRITE);
    return rc == 0 ? 0 : rc == MDB_MAP_FULL ? MDB_MAP_FULL : ledger_s_mdb_error(rc);
}

/* Where an author's envelope fits: 0 (next in the chain), COFAB_EEXIST (the
 * same envelope is stored; *seq gets its position) or a refusal. */
static int
s_check_author(ledger_t *self, MDB_txn *txn, const envelope_t *e, uint64_t *seq)
{
    uint8_t k[40];
    memcpy(k, e->author, 32);
    util_put_be64(k + 32, e->author_seq);
    MDB_val key = {40, k}, val;
    int rc = mdb_get(txn, self->authors, &key, &val);
    if (rc == 0) {
        if (val.mv_size != 40)
            return COFAB_ESTORE;
        if (sodium_memcmp((const uint8_t *) val.mv_data + 8, e->hash, 32) != 0)
            return COFAB_EREPLAY;
        *seq = util_get_be64(val.mv_data);
        return COFAB_EEXIST;
    }
    if (rc != MDB_NOTFOUND)
        return ledger_s_mdb_error(rc);
    if (e->author_seq == 1)
        return 0;
    util_put_be64(k + 32, e->author_seq - 1);
    rc = mdb_get(txn, self->authors, &key, &val);
    if (rc == MDB_NOTFOUND)
        return COFAB_EGAP;
    if (rc != 0 || val.mv_size != 40)
        return rc ? ledger_s_mdb_error(rc) : COFAB_ESTORE;
    if (sodium_memcmp((const uint8_t *) val.mv_data + 8, e->author_prev, 32) != 0)
        return COFAB_ECHAIN;
    return 0;
}

/* Writes one record and its indexes. Returns 0, MDB_MAP_FULL or a cofab error. */
static int
s_put_record(ledger_t *self, s_batch_t *b, const envelope_t *e, uint64_t time_ms,
             const ledger_record_t *given)
{
    uint8_t kbuf[8];
    util_put_be64(kbuf, b->size);
    MDB_val key = {8, kbuf}, val = {LEDGER_RECORD_HEADER + e->len, NULL};
    int rc = mdb_put(b->txn, self->records, &key, &val, MDB_APPEND | MDB_RESERVE);
    if (rc != 0)
        return rc == MDB_MAP_FULL ? rc : ledger_s_mdb_error(rc);
    if (given) /* a replica stores the hub's bytes exactly */
        memcpy(val.mv_data, given->bytes, given->len);
    else
        ledger_record_encode(val.mv_data, val.mv_size, b->size, time_ms, b->head, e->bytes,
                             e->len);
    if (self->opts.scratch) { /* records and state only: see ledger_options_t */
        b->size++;
        return 0;
    }
    uint8_t leaf[32];
    merkle_leaf_hash(val.mv_data, val.mv_size, leaf);

    struct {
        ledger_t *ledger;
        MDB_txn *txn;
    } ctx = {self, b->txn};
    rc = merkle_frontier_append(&b->frontier, leaf, s_emit_node, &ctx);
    if (rc != 0)
        return rc;

    uint8_t ak[40], av[40];
    memcpy(ak, e->author, 32);
    util_put_be64(ak + 32, e->author_seq);
    util_put_be64(av, b->size);
    memcpy(av + 8, e->hash, 32);
    MDB_val akey = {40, ak}, aval = {40, av};
    rc = mdb_put(b->txn, self->authors, &akey, &aval, MDB_NOOVERWRITE);
    if (rc != 0)
        return rc == MDB_MAP_FULL ? rc : ledger_s_mdb_error(rc);

    if (!sodium_is_zero(e->subject, 32)) {
        uint8_t sk[40];
        memcpy(sk, e->subject, 32);
        util_put_be64(sk + 32, b->size);
        MDB_val skey = {40, sk}, sval = {0, ""};
        rc = mdb_put(b->txn, self->subjects, &skey, &sval, 0);
        if (rc != 0)
            return rc == MDB_MAP_FULL ? rc : ledger_s_mdb_error(rc);
    }
    memcpy(b->head, leaf, 32);
    b->size++;
    return 0;
}

/* Checks that a hub-sequenced record fits at the end of the batch. */
static int
s_check_given(const s_batch_t *b, const ledger_record_t *r, const envelope_t *e, int scratch)
{
    if (r->seq != b->size)
        return COFAB_ERANGE;
    if (!scratch && sodium_memcmp(r->prev, b->head, 32) != 0)
        return COFAB_ECHAIN;
    if (r->envelope_len != e->len || memcmp(r->envelope, e->bytes, e->len) != 0)
        return COFAB_EINVAL;
    return 0;
}

/* Adds the batch to b's transaction, filling results. `given` holds the
 * hub's records when replicating, else NULL. */
static int
s_append_in_txn(ledger_t *self, s_batch_t *b, const envelope_t *envs,
                const ledger_record_t *given, size_t n, uint64_t time_ms,
                ledger_result_t *results)
{
    int stopped = 0;
    for (size_t i = 0; i < n; i++) {
        const envelope_t *e = &envs[i];
        uint64_t seq = 0, rec_time = given ? given[i].time_ms : time_ms;
        int code = 0;
        if (stopped)
            code = COFAB_ERANGE;
        else if (given)
            code = s_check_given(b, &given[i], e, self->opts.scratch);
        if (code == 0 && (b->size == 0) != (e->kind == ENVELOPE_GENESIS))
            code = COFAB_EPERM;
        if (code == 0 && !self->opts.scratch)
            code = s_check_author(self, b->txn, e, &seq);
        if (code == 0 && self->opts.apply) {
            ledger_txn_t t = {self, b->txn};
            code = self->opts.apply(self->opts.apply_ctx, &t, e, b->size, rec_time);
        }
        if (code == 0) {
            seq = b->size;
            int rc = s_put_record(self, b, e, rec_time, given ? &given[i] : NULL);
            if (rc != 0)
                return rc;
        } else if (code <= COFAB_EIO || code == MDB_MAP_FULL) {
            return code; /* the store failed, not the envelope */
        } else if (given && !stopped) {
            stopped = 1; /* a replica cannot skip a hub record */
        }
        results[i].code = code;
        results[i].seq = (code == 0 || code == COFAB_EEXIST) ? seq : 0;
    }
    return 0;
}

/* Doubles the map (bounded by map_max). Needs no live transaction, so it
 * waits for readers to finish. */
int
ledger_s_grow(ledger_t *self)
{
    size_t next = self->map_size * 2;
    if (self->opts.map_max && next > self->opts.map_max)
        next = self->opts.map_max;
    if (next <= self->map_size)
        return COFAB_ENOSPC;
    pthread_rwlock_wrlock(&self->map_lock);
    int rc = mdb_env_set_mapsize(self->env, next);
    pthread_rwlock_unlock(&self->map_lock);
    if (rc != 0)
        return ledger_s_mdb_error(rc);
    self->map_size = next;
    return 0;
}

/* 1 when the filesystem holding the ledger has (almost) no room left. */
static int
s_fs_full(ledger_t *self)
{
    const char *path = NULL;
    struct statvfs st;
    if (mdb_env_get_path(self->env, &path) != 0 || !path || statvfs(path, &st) != 0)
        return 0;
    return (uint64_t) st.f_bavail * st.f_frsize < ((uint64_t) 1 << 20);
}

/* One attempt at a batch: begin, add, commit. MDB_MAP_FULL means retry. */
static int
s_commit_batch(ledger_t *self, const char *origin, const envelope_t *envs,
               const ledger_record_t *given, size_t n, uint64_t time_ms,
               ledger_result_t *results)
{
    s_batch_t b;
    b.txn = NULL;
    pthread_mutex_lock(&self->state_lock);
    b.frontier = self->frontier;
    memcpy(b.head, self->head, 32);
    b.size = self->size;
    pthread_mutex_unlock(&self->state_lock);
    uint64_t start_size = b.size;

    int rc = mdb_txn_begin(self->env, NULL, 0, &b.txn);
    if (rc != 0)
        return rc == MDB_MAP_RESIZED ? MDB_MAP_FULL : ledger_s_mdb_error(rc);
    if (origin) {
        MDB_val key = {6, "origin"}, val = {strlen(origin), (void *) origin};
        rc = mdb_put(b.txn, self->meta, &key, &val, MDB_NOOVERWRITE);
        if (rc != 0)
            goto fail;
    }
    rc = s_append_in_txn(self, &b, envs, given, n, time_ms, results);
    if (rc != 0)
        goto fail;
    if (b.size == start_size && !origin) {
        mdb_txn_abort(b.txn); /* nothing new: no need to touch the disk */
        return 0;
    }
    rc = mdb_txn_commit(b.txn);
    b.txn = NULL;
    if (rc == EIO && s_fs_full(self))
        rc = ENOSPC; /* LMDB reports a short write (the disk filled mid-commit) as EIO */
    if (rc != 0)
        goto fail;
    pthread_mutex_lock(&self->state_lock);
    self->frontier = b.frontier;
    memcpy(self->head, b.head, 32);
    self->size = b.size;
    pthread_mutex_unlock(&self->state_lock);
    return 0;
fail:
    if (b.txn)
        mdb_txn_abort(b.txn);
    if (rc == MDB_MAP_FULL)
        return rc;
    return rc < 0 && rc > -1000 ? rc : ledger_s_mdb_error(rc);
}

static int
s_append(ledger_t *self, const char *origin, const envelope_t *envs,
         const ledger_record_t *given, size_t n, uint64_t time_ms, ledger_result_t *results)
{
    if (self->opts.read_only)
        return COFAB_EPERM;
    for (;;) {
        int rc = s_commit_batch(self, origin, envs, given, n, time_ms, results);
        if (rc != MDB_MAP_FULL)
            return rc;
        rc = ledger_s_grow(self);
        if (rc != 0)
            return rc;
    }
}

int
ledger_append(ledger_t *self, const envelope_t *envs, size_t n, uint64_t time_ms,
              ledger_result_t *results)
{
    if (!self || (n && (!envs || !results)))
        return COFAB_EINVAL;
    return s_append(self, NULL, envs, NULL, n, time_ms, results);
}

int
ledger_replicate(ledger_t *self, const ledger_record_t *records, const envelope_t *envs,
                 size_t n, ledger_result_t *results)
{
    if (!self || (n && (!records || !envs || !results)))
        return COFAB_EINVAL;
    return s_append(self, NULL, envs, records, n, 0, results);
}

static int
s_origin_ok(const char *origin)
{
    size_t len = origin ? strlen(origin) : 0;
    if (len == 0 || len > NOTE_MAX_ORIGIN)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) origin[i] < 0x20 || origin[i] == 0x7f)
            return 0;
    return 1;
}

static int
s_create(ledger_t **out, const char *dir, const char *origin, const envelope_t *genesis,
         const ledger_record_t *given, const ledger_options_t *opts)
{
    if (!out || !dir || !genesis)
        return COFAB_EINVAL;
    if (!s_origin_ok(origin))
        return COFAB_EMALFORMED;
    if (genesis->kind != ENVELOPE_GENESIS)
        return COFAB_EPERM;
    if (opts && opts->read_only)
        return COFAB_EINVAL;
    if (util_mkdir_p(dir, 0700) != 0)
        return COFAB_EIO;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int) sizeof path)
        return COFAB_EINVAL;
    if (access(path, F_OK) == 0)
        return COFAB_EEXIST;

    ledger_t *self = NULL;
    int rc = s_env_open(&self, dir, opts);
    if (rc != 0)
        return rc;
    MDB_txn *txn = NULL;
    rc = ledger_s_mdb_error(mdb_txn_begin(self->env, NULL, 0, &txn));
    if (rc == 0)
        rc = s_open_dbs(self, txn, MDB_CREATE);
    if (rc == 0)
        rc = ledger_s_mdb_error(mdb_txn_commit(txn));
    else if (txn)
        mdb_txn_abort(txn);
    ledger_result_t result = {0, 0};
    if (rc == 0)
        rc = s_append(self, origin, genesis, given, 1, util_now_ms(), &result);
    if (rc == 0 && result.code != 0)
        rc = result.code;
    if (rc != 0) {
        ledger_destroy(&self);
        return rc;
    }
    snprintf(self->origin, sizeof self->origin, "%s", origin);
    *out = self;
    return 0;
}

int
ledger_create(ledger_t **out, const char *dir, const char *origin, const envelope_t *genesis,
              const ledger_options_t *opts)
{
    return s_create(out, dir, origin, genesis, NULL, opts);
}

int
ledger_create_replica(ledger_t **out, const char *dir, const char *origin,
                      const ledger_record_t *genesis_record, const envelope_t *genesis,
                      const ledger_options_t *opts)
{
    if (!genesis_record)
        return COFAB_EINVAL;
    return s_create(out, dir, origin, genesis, genesis_record, opts);
}
