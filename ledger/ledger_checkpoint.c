/* ledger_checkpoint.c — signing, storing and listing the ledger's checkpoints. */
#include "ledger_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"

/* Refuses to sign if the tree stored now does not extend the latest
 * checkpoint: the root at the old size must be the root it signed. */
static int
s_check_latest(ledger_t *self, MDB_txn *txn, uint64_t size)
{
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    int rc = ledger_s_mdb_error(mdb_cursor_open(txn, self->checkpoints, &cur));
    if (rc != 0)
        return rc;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    if (mrc == MDB_NOTFOUND) {
        rc = 0;
        goto out;
    }
    rc = ledger_s_mdb_error(mrc);
    if (rc != 0)
        goto out;
    checkpoint_t old;
    rc = checkpoint_from_note(&old, val.mv_data, val.mv_size);
    if (rc == COFAB_ENOMEM)
        goto out;
    if (rc != 0) {
        rc = COFAB_EINCONSISTENT;
        goto out;
    }
    if (old.size > size) {
        rc = COFAB_EINCONSISTENT;
        goto out;
    }
    uint8_t root[32];
    ledger_s_tree_ctx_t ctx = {self, txn};
    rc = merkle_root(ledger_s_tree_get, &ctx, old.size, root);
    if (rc == 0 && sodium_memcmp(root, old.root, 32) != 0)
        rc = COFAB_EINCONSISTENT;
out:
    mdb_cursor_close(cur);
    return rc;
}

static int
s_put_note(ledger_t *self, uint64_t size, const char *note, size_t len)
{
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc != 0)
            return ledger_s_mdb_error(rc);
        uint8_t k[8];
        util_put_be64(k, size);
        MDB_val key = {8, k}, val = {len, (void *) note};
        rc = mdb_put(txn, self->checkpoints, &key, &val, 0);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        if (rc != MDB_MAP_FULL)
            return ledger_s_mdb_error(rc);
        rc = ledger_s_grow(self);
        if (rc != 0)
            return rc;
    }
}

int
ledger_checkpoint_sign(ledger_t *self, const keys_t *hub, char *out, size_t out_len)
{
    if (!self || !hub || !out)
        return COFAB_EINVAL;
    if (self->opts.read_only)
        return COFAB_EPERM;
    checkpoint_t cp;
    memset(&cp, 0, sizeof cp);
    snprintf(cp.origin, sizeof cp.origin, "%s", self->origin);
    pthread_mutex_lock(&self->state_lock);
    cp.size = self->size;
    merkle_frontier_root(&self->frontier, cp.root);
    memcpy(cp.chain, self->head, 32);
    pthread_mutex_unlock(&self->state_lock);
    cp.has_chain = 1;

    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    rc = s_check_latest(self, txn, cp.size);
    if (rc == 0) {
        /* The frontier must agree with the stored tree, too. */
        uint8_t stored[32];
        ledger_s_tree_ctx_t ctx = {self, txn};
        rc = merkle_root(ledger_s_tree_get, &ctx, cp.size, stored);
        if (rc == 0 && sodium_memcmp(stored, cp.root, 32) != 0)
            rc = COFAB_EINCONSISTENT;
    }
    ledger_s_read_end(self, &txn);
    if (rc != 0)
        return rc;

    char body[NOTE_MAX_LEN];
    size_t body_len = 0;
    rc = checkpoint_format(&cp, body, sizeof body, &body_len);
    if (rc == 0)
        rc = note_sign(body, body_len, keys_name(hub), keys_sign_sk(hub), out, out_len);
    if (rc == 0)
        rc = s_put_note(self, cp.size, out, strlen(out));
    return rc;
}

int
ledger_checkpoint_put(ledger_t *self, uint64_t size, const char *note, size_t len)
{
    if (!self || !note)
        return COFAB_EINVAL;
    if (self->opts.read_only)
        return COFAB_EPERM;
    if (len == 0 || len > LEDGER_CHECKPOINT_MAX)
        return len ? COFAB_ETOOBIG : COFAB_EMALFORMED;
    return s_put_note(self, size, note, len);
}

/* Copies the checkpoint of `size` (or the latest when latest is set). */
static int
s_checkpoint_read(ledger_t *self, int latest, uint64_t size, char *out, size_t out_len)
{
    if (!self || !out || !out_len)
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t k[8];
    util_put_be64(k, size);
    MDB_val key = {8, k}, val;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    rc = ledger_s_mdb_error(mdb_cursor_open(txn, self->checkpoints, &cur));
    if (rc == 0)
        rc = ledger_s_mdb_error(mdb_cursor_get(cur, &key, &val, latest ? MDB_LAST : MDB_SET_KEY));
    if (rc == 0 && val.mv_size + 1 > out_len)
        rc = COFAB_ETOOBIG;
    if (rc == 0) {
        memcpy(out, val.mv_data, val.mv_size);
        out[val.mv_size] = 0;
    }
    if (cur)
        mdb_cursor_close(cur);
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_checkpoint_latest(ledger_t *self, char *out, size_t out_len)
{
    return s_checkpoint_read(self, 1, 0, out, out_len);
}

int
ledger_checkpoint_get(ledger_t *self, uint64_t size, char *out, size_t out_len)
{
    return s_checkpoint_read(self, 0, size, out, out_len);
}

int
ledger_checkpoint_foreach(ledger_t *self, ledger_checkpoint_fn fn, void *ctx)
{
    if (!self || !fn)
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    rc = ledger_s_mdb_error(mdb_cursor_open(txn, self->checkpoints, &cur));
    if (rc != 0)
        goto out;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (mrc == 0) {
        if (key.mv_size != 8) {
            rc = COFAB_ESTORE;
            goto out;
        }
        rc = fn(ctx, util_get_be64(key.mv_data), val.mv_data, val.mv_size);
        if (rc != 0)
            goto out;
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    rc = mrc == MDB_NOTFOUND ? 0 : ledger_s_mdb_error(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    ledger_s_read_end(self, &txn);
    return rc;
}
