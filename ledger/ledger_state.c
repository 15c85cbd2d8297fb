/* ledger_state.c — the derived-state database the apply hook maintains beside the records. */
#include "ledger_internal.h"

#include <string.h>

#include "cofab/error.h"
#include "cofab/util.h"

#define S_MAX_KEY 256

static int
s_key_ok(const void *key, size_t klen)
{
    return key && klen > 0 && klen <= S_MAX_KEY;
}

/* Put/del errors: MAP_FULL must reach the batch loop unchanged to grow. */
static int
s_write_error(int rc)
{
    return rc == MDB_MAP_FULL ? MDB_MAP_FULL : ledger_s_mdb_error(rc);
}

int
ledger_txn_get(ledger_txn_t *t, const void *key, size_t klen, const uint8_t **val, size_t *vlen)
{
    if (!t || !s_key_ok(key, klen) || !val || !vlen)
        return COFAB_EINVAL;
    MDB_val k = {klen, (void *) key}, v;
    int rc = mdb_get(t->txn, t->ledger->state, &k, &v);
    if (rc != 0)
        return ledger_s_mdb_error(rc);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

int
ledger_txn_put(ledger_txn_t *t, const void *key, size_t klen, const void *val, size_t vlen)
{
    if (!t || !s_key_ok(key, klen) || (!val && vlen) || vlen > ENVELOPE_MAX)
        return COFAB_EINVAL;
    MDB_val k = {klen, (void *) key}, v = {vlen, (void *) (val ? val : "")};
    int rc = mdb_put(t->txn, t->ledger->state, &k, &v, 0);
    return rc ? s_write_error(rc) : 0;
}

int
ledger_txn_del(ledger_txn_t *t, const void *key, size_t klen)
{
    if (!t || !s_key_ok(key, klen))
        return COFAB_EINVAL;
    MDB_val k = {klen, (void *) key};
    int rc = mdb_del(t->txn, t->ledger->state, &k, NULL);
    return (rc == 0 || rc == MDB_NOTFOUND) ? 0 : s_write_error(rc);
}

int
ledger_txn_record(ledger_txn_t *t, uint64_t seq, const uint8_t **bytes, size_t *len)
{
    if (!t || !bytes || !len)
        return COFAB_EINVAL;
    uint8_t kb[8];
    util_put_be64(kb, seq);
    MDB_val k = {8, kb}, v;
    int rc = mdb_get(t->txn, t->ledger->records, &k, &v);
    if (rc != 0)
        return ledger_s_mdb_error(rc);
    *bytes = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int
ledger_state_get(ledger_t *self, const void *key, size_t klen, void *out, size_t out_max,
                 size_t *vlen)
{
    if (!self || !s_key_ok(key, klen) || !vlen || (out_max && !out))
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {klen, (void *) key}, v;
    rc = ledger_s_mdb_error(mdb_get(txn, self->state, &k, &v));
    if (rc == 0) {
        *vlen = v.mv_size;
        if (v.mv_size > out_max)
            rc = COFAB_ETOOBIG;
        else if (v.mv_size)
            memcpy(out, v.mv_data, v.mv_size);
    }
    ledger_s_read_end(self, &txn);
    return rc;
}

int
ledger_state_scan(ledger_t *self, const void *prefix, size_t plen, ledger_state_fn fn, void *ctx)
{
    if (!self || !fn || (plen && !prefix) || plen > S_MAX_KEY)
        return COFAB_EINVAL;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = ledger_s_read_begin(self, &txn);
    if (rc != 0)
        return rc;
    rc = ledger_s_mdb_error(mdb_cursor_open(txn, self->state, &cur));
    if (rc != 0)
        goto out;
    MDB_val k = {plen, (void *) prefix}, v;
    int mrc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
    while (mrc == 0) {
        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        rc = fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        if (rc != 0)
            goto out;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    rc = (mrc == 0 || mrc == MDB_NOTFOUND) ? 0 : ledger_s_mdb_error(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    ledger_s_read_end(self, &txn);
    return rc;
}
