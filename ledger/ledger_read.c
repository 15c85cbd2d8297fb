/* ledger_read.c — reading records, proofs and indexes from the ledger. */
#include "ledger_internal.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/util.h"

/* Record seq's bytes in txn, borrowed from the map. */
static int
s_get(ledger_t *self, MDB_txn *txn, uint64_t seq, MDB_val *val)
{
    uint8_t k[8];
    util_put_be64(k, seq);
    MDB_val key = {8, k};
    return ledger_s_mdb_error(mdb_get(txn, self->records, &key, val));
}

/* Position of the author's envelope number author_seq, in txn. */
static int
s_author_find(ledger_t *self, MDB_txn *txn, const uint8_t author[32], uint64_t author_seq,
              uint64_t *seq)
{
    uint8_t k[40];
    memcpy(k, author, 32);
    util_put_be64(k + 32, author_seq);
    MDB_val key = {40, k}, val;
    int rc = ledger_s_mdb_error(mdb_get(txn, self->authors, &key, &val));
    if (rc == 0 && val.mv_size != 40)
        rc = COFAB_ESTORE;
    if (rc == 0)
        *seq = util_get_be64(val.mv_data);
    return rc;
}

int
ledger_get(ledger_t *self, uint64_t seq, uint8_t **buf, size_t *len)
{
    if (!self || !buf || !len)
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    MDB_val val;
    rc = s_get(self, txn, seq, &val);
    if (rc == 0) {
        uint8_t *copy = malloc(val.mv_size ? val.mv_size : 1);
        if (!copy) {
            rc = COFAB_ENOMEM;
        } else {
            memcpy(copy, val.mv_data, val.mv_size);
            *buf = copy;
            *len = val.mv_size;
        }
    }
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_tree_node(ledger_t *self, unsigned level, uint64_t index, uint8_t out[32])
{
    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    ledger_s_tree_ctx_t ctx = {self, txn};
    rc = ledger_s_tree_get(&ctx, level, index, out);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_root(ledger_t *self, uint64_t size, uint8_t out[32])
{
    if (!self || !out)
        return COFAB_EINVAL;
    if (size > ledger_size(self))
        return COFAB_ERANGE;
    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    ledger_s_tree_ctx_t ctx = {self, txn};
    rc = merkle_root(ledger_s_tree_get, &ctx, size, out);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_inclusion_proof(ledger_t *self, uint64_t index, uint64_t size,
                       uint8_t proof[][MERKLE_HASH_LEN], size_t *proof_len)
{
    if (!self || !proof || !proof_len)
        return COFAB_EINVAL;
    if (size > ledger_size(self) || index >= size)
        return COFAB_ERANGE;
    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    ledger_s_tree_ctx_t ctx = {self, txn};
    rc = merkle_inclusion_proof(ledger_s_tree_get, &ctx, index, size, proof, proof_len);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_consistency_proof(ledger_t *self, uint64_t old_size, uint64_t new_size,
                         uint8_t proof[][MERKLE_HASH_LEN], size_t *proof_len)
{
    if (!self || !proof || !proof_len)
        return COFAB_EINVAL;
    if (new_size > ledger_size(self) || old_size > new_size)
        return COFAB_ERANGE;
    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    ledger_s_tree_ctx_t ctx = {self, txn};
    rc = merkle_consistency_proof(ledger_s_tree_get, &ctx, old_size, new_size, proof, proof_len);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_author_find(ledger_t *self, const uint8_t author[32], uint64_t author_seq, uint64_t *seq)
{
    if (!self || !author || !seq)
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    rc = s_author_find(self, txn, author, author_seq, seq);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_author_last(ledger_t *self, const uint8_t author[32], uint64_t *author_seq,
                   uint8_t hash[32])
{
    if (!self || !author || !author_seq || !hash)
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    *author_seq = 0;
    memset(hash, 0, 32);
    rc = ledger_s_mdb_error(mdb_cursor_open(txn, self->authors, &cur));
    if (rc != 0)
        goto out;
    /* Seek just past this author's range, then step back one entry. */
    uint8_t k[40];
    memcpy(k, author, 32);
    memset(k + 32, 0xff, 8);
    MDB_val key = {40, k}, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    if (mrc == 0)
        mrc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    else if (mrc == MDB_NOTFOUND)
        mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    if (mrc == MDB_NOTFOUND) {
        rc = 0;
        goto out;
    }
    rc = ledger_s_mdb_error(mrc);
    if (rc != 0)
        goto out;
    if (key.mv_size != 40 || val.mv_size != 40) {
        rc = COFAB_ESTORE;
        goto out;
    }
    if (memcmp(key.mv_data, author, 32) == 0) {
        *author_seq = util_get_be64((const uint8_t *) key.mv_data + 32);
        memcpy(hash, (const uint8_t *) val.mv_data + 8, 32);
    }
out:
    if (cur)
        mdb_cursor_close(cur);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_subject_records(ledger_t *self, const uint8_t subject[32], uint64_t from, uint64_t *seqs,
                       size_t max, size_t *n)
{
    if (!self || !subject || !n || (max && !seqs))
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    *n = 0;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    rc = ledger_s_mdb_error(mdb_cursor_open(txn, self->subjects, &cur));
    if (rc != 0)
        goto out;
    uint8_t k[40];
    memcpy(k, subject, 32);
    util_put_be64(k + 32, from);
    MDB_val key = {40, k}, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && *n < max) {
        if (key.mv_size != 40 || memcmp(key.mv_data, subject, 32) != 0)
            break;
        seqs[(*n)++] = util_get_be64((const uint8_t *) key.mv_data + 32);
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    rc = (mrc == 0 || mrc == MDB_NOTFOUND) ? 0 : ledger_s_mdb_error(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    ledger_s_read_end(self, &txn);
    return rc;
}

struct ledger_iter_t {
    ledger_t *ledger;     /* whose records */
    MDB_txn *txn;         /* the read transaction held for the whole walk */
    MDB_cursor *cur;      /* position in the records database */
    uint64_t from;        /* first position wanted */
    int started;          /* 0 until the first call positioned the cursor */
    /* ledger_iter_tree_next(): one cursor per tree level, opened on first
     * use, and where it sits (index + 1; 0 when not on a known node). */
    MDB_cursor *tree_cur[MERKLE_MAX_LEVELS];
    uint64_t tree_at[MERKLE_MAX_LEVELS];
};

ledger_iter_t *
ledger_iter_new(ledger_t *self, uint64_t from)
{
    if (!self)
        return NULL;
    ledger_iter_t *it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->ledger = self;
    it->from = from;
    if (ledger_s_read_begin(self, &it->txn) != 0) {
        free(it);
        return NULL;
    }
    if (mdb_cursor_open(it->txn, self->records, &it->cur) != 0) {
        ledger_iter_destroy(&it);
        return NULL;
    }
    return it;
}

int
ledger_iter_next(ledger_iter_t *it, uint64_t *seq, const uint8_t **bytes, size_t *len)
{
    if (!it || !seq || !bytes || !len)
        return COFAB_EINVAL;
    uint8_t k[8];
    MDB_val key, val;
    int mrc;
    if (!it->started) {
        util_put_be64(k, it->from);
        key.mv_size = 8;
        key.mv_data = k;
        mrc = mdb_cursor_get(it->cur, &key, &val, MDB_SET_RANGE);
        it->started = 1;
    } else {
        mrc = mdb_cursor_get(it->cur, &key, &val, MDB_NEXT);
    }
    if (mrc != 0)
        return ledger_s_mdb_error(mrc);
    if (key.mv_size != 8)
        return COFAB_ESTORE;
    *seq = util_get_be64(key.mv_data);
    *bytes = val.mv_data;
    *len = val.mv_size;
    return 0;
}

int
ledger_iter_size(ledger_iter_t *it, uint64_t *size)
{
    if (!it || !size)
        return COFAB_EINVAL;
    /* A cursor of its own: the walk's position stays where it is. */
    MDB_cursor *cur = NULL;
    int rc = ledger_s_mdb_error(mdb_cursor_open(it->txn, it->ledger->records, &cur));
    if (rc != 0)
        return rc;
    MDB_val key, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    mdb_cursor_close(cur);
    if (mrc == MDB_NOTFOUND) {
        *size = 0;
        return 0;
    }
    if (mrc != 0)
        return ledger_s_mdb_error(mrc);
    if (key.mv_size != 8 || util_get_be64(key.mv_data) == UINT64_MAX)
        return COFAB_ESTORE;
    *size = util_get_be64(key.mv_data) + 1;
    return 0;
}

int
ledger_iter_get(ledger_iter_t *it, uint64_t seq, const uint8_t **bytes, size_t *len)
{
    if (!it || !bytes || !len)
        return COFAB_EINVAL;
    MDB_val val;
    int rc = s_get(it->ledger, it->txn, seq, &val);
    if (rc == 0) {
        *bytes = val.mv_data;
        *len = val.mv_size;
    }
    return rc;
}

int
ledger_iter_author_find(ledger_iter_t *it, const uint8_t author[32], uint64_t author_seq,
                        uint64_t *seq)
{
    if (!it || !author || !seq)
        return COFAB_EINVAL;
    return s_author_find(it->ledger, it->txn, author, author_seq, seq);
}

int
ledger_iter_checkpoints(ledger_iter_t *it, ledger_checkpoint_fn fn, void *ctx)
{
    if (!it || !fn)
        return COFAB_EINVAL;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    int rc = ledger_s_mdb_error(mdb_cursor_open(it->txn, it->ledger->checkpoints, &cur));
    if (rc != 0)
        return rc;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (mrc == 0 && rc == 0) {
        if (key.mv_size != 8)
            rc = COFAB_ESTORE;
        else
            rc = fn(ctx, util_get_be64(key.mv_data), val.mv_data, val.mv_size);
        if (rc == 0)
            mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == 0 && mrc != MDB_NOTFOUND)
        rc = ledger_s_mdb_error(mrc);
    mdb_cursor_close(cur);
    return rc;
}

int
ledger_iter_tree_node(ledger_iter_t *it, unsigned level, uint64_t index, uint8_t out[32])
{
    if (!it || !out)
        return COFAB_EINVAL;
    ledger_s_tree_ctx_t ctx = {it->ledger, it->txn};
    return ledger_s_tree_get(&ctx, level, index, out);
}

int
ledger_iter_tree_next(ledger_iter_t *it, unsigned level, uint64_t index, uint8_t out[32])
{
    if (!it || !out || level >= MERKLE_MAX_LEVELS || index >> 56)
        return COFAB_EINVAL;
    MDB_cursor **cur = &it->tree_cur[level];
    if (!*cur) {
        int rc = ledger_s_mdb_error(mdb_cursor_open(it->txn, it->ledger->tree, cur));
        if (rc != 0) {
            *cur = NULL;
            return rc;
        }
        it->tree_at[level] = 0;
    }
    uint8_t k[8];
    ledger_s_tree_key(k, level, index);
    MDB_val key = {8, k}, val;
    int mrc = MDB_NOTFOUND;
    /* The next index is usually the cursor's next entry: one step instead
     * of a search from the root. Anything else (a gap, another order)
     * falls back to seeking the exact key. */
    if (it->tree_at[level] && it->tree_at[level] == index) {
        MDB_val got;
        mrc = mdb_cursor_get(*cur, &got, &val, MDB_NEXT);
        if (mrc == 0 && (got.mv_size != 8 || memcmp(got.mv_data, k, 8) != 0))
            mrc = MDB_NOTFOUND;
    }
    if (mrc != 0)
        mrc = mdb_cursor_get(*cur, &key, &val, MDB_SET_KEY);
    if (mrc != 0) {
        it->tree_at[level] = 0;
        return ledger_s_mdb_error(mrc);
    }
    it->tree_at[level] = index + 1;
    if (val.mv_size != 32)
        return COFAB_ESTORE;
    memcpy(out, val.mv_data, 32);
    return 0;
}

void
ledger_iter_destroy(ledger_iter_t **it_p)
{
    if (!it_p || !*it_p)
        return;
    ledger_iter_t *it = *it_p;
    for (unsigned l = 0; l < MERKLE_MAX_LEVELS; l++)
        if (it->tree_cur[l])
            mdb_cursor_close(it->tree_cur[l]);
    if (it->cur)
        mdb_cursor_close(it->cur);
    ledger_s_read_end(it->ledger, &it->txn);
    free(it);
    *it_p = NULL;
}
