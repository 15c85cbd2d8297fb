/* fixture.c — temp dirs, small signed ledgers and LMDB surgery for the tests. */
#define _XOPEN_SOURCE 700
#include "support/fixture.h"

#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/util.h"

#define S_CHECK(cond)                                                               \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "fixture failure at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)

void
fixture_tmpdir(char *out)
{
    snprintf(out, 256, "/tmp/cofab-test-XXXXXX");
    S_CHECK(mkdtemp(out) != NULL);
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return remove(path);
}

void
fixture_rmtree(const char *path)
{
    nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

void
fixture_genesis(const keys_t *hub, const char *origin, uint8_t *buf, envelope_t *e)
{
    payload_genesis_t g;
    payload_genesis_init(&g);
    snprintf(g.origin, sizeof g.origin, "%s", origin);
    keys_verifier(hub, &g.hub);
    g.operator_key = g.hub; /* the hub key also signs membership changes */
    memcpy(g.hub_transport, keys_curve_pk(hub), 32);
    uint8_t *payload = NULL;
    size_t payload_len = 0, len = 0;
    S_CHECK(payload_genesis_encode(&g, &payload, &payload_len) == 0);
    envelope_spec_t spec = {.kind = ENVELOPE_GENESIS, .author_seq = 1, .timestamp_ms = 1,
                            .payload = payload, .payload_len = payload_len};
    S_CHECK(envelope_seal(&spec, hub, buf, ENVELOPE_MAX, &len) == 0);
    free(payload);
    S_CHECK(envelope_open(e, buf, len) == 0);
}

void
fixture_seal(envelope_chain_t *c, const keys_t *author, int kind, const uint8_t *subject,
             const char *payload, uint8_t *buf, envelope_t *e)
{
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = 1000 + c->next_seq,
                            .payload = (const uint8_t *) payload,
                            .payload_len = payload ? strlen(payload) : 0};
    if (subject)
        memcpy(spec.subject, subject, 32);
    size_t len = 0;
    S_CHECK(envelope_chain_seal(c, &spec, author, buf, ENVELOPE_MAX, &len) == 0);
    S_CHECK(envelope_open(e, buf, len) == 0);
}

ledger_t *
fixture_ledger(const char *dir, keys_t *hub, keys_t **authors, size_t nauthors, size_t n,
               size_t cp_every)
{
    uint8_t *buf = malloc(ENVELOPE_MAX);
    envelope_t e;
    ledger_t *l = NULL;
    char note[LEDGER_CHECKPOINT_MAX];
    S_CHECK(buf);
    fixture_genesis(hub, "example.org/test", buf, &e);
    S_CHECK(ledger_create(&l, dir, "example.org/test", &e, NULL) == 0);
    envelope_chain_t *chains = calloc(nauthors ? nauthors : 1, sizeof *chains);
    S_CHECK(chains);
    for (size_t a = 0; a < nauthors; a++)
        envelope_chain_init(&chains[a]);
    for (size_t i = 0; i < n; i++) {
        size_t a = i % nauthors;
        char text[64];
        uint8_t subject[32] = {0};
        subject[0] = (uint8_t) (i % 7 + 1);
        snprintf(text, sizeof text, "note %zu", i);
        fixture_seal(&chains[a], authors[a], ENVELOPE_NOTE, subject, text, buf, &e);
        ledger_result_t r;
        S_CHECK(ledger_append(l, &e, 1, 5000 + i, &r) == 0 && r.code == 0);
        if (cp_every && (i + 1) % cp_every == 0)
            S_CHECK(ledger_checkpoint_sign(l, hub, note, sizeof note) == 0);
    }
    S_CHECK(ledger_checkpoint_sign(l, hub, note, sizeof note) == 0);
    free(chains);
    free(buf);
    return l;
}

/* Opens the ledger's LMDB directly, runs fn on a named database, commits. */
typedef int (*s_surgery_fn)(MDB_txn *txn, MDB_dbi dbi, void *arg);

static int
s_surgery(const char *dir, const char *db, s_surgery_fn fn, void *arg)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 8);
    if (rc == 0)
        rc = mdb_env_open(env, dir, 0, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, db, 0, &dbi);
    if (rc == 0)
        rc = fn(txn, dbi, arg);
    if (txn)
        rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
    mdb_env_close(env);
    return rc;
}

typedef struct {
    uint8_t key[8];       /* database key */
    size_t offset;        /* byte to flip */
    const uint8_t *data;  /* replacement value, for puts */
    size_t len;           /* its length */
    uint8_t key2[8];      /* second key, for swaps */
} s_edit_t;

static int
s_flip(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    s_edit_t *ed = arg;
    MDB_val k = {8, ed->key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc != 0)
        return rc;
    if (ed->offset >= v.mv_size)
        return -1;
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[ed->offset] ^= 0x01;
    MDB_val nv = {v.mv_size, copy};
    rc = mdb_put(txn, dbi, &k, &nv, 0);
    free(copy);
    return rc;
}

int
fixture_flip_record_byte(const char *dir, uint64_t seq, size_t offset)
{
    s_edit_t ed = {.offset = offset};
    util_put_be64(ed.key, seq);
    return s_surgery(dir, "records", s_flip, &ed);
}

int
fixture_flip_tree_byte(const char *dir, unsigned level, uint64_t index)
{
    s_edit_t ed = {.offset = 7};
    util_put_be64(ed.key, ((uint64_t) level << 56) | index);
    return s_surgery(dir, "tree", s_flip, &ed);
}

int
fixture_flip_checkpoint_byte(const char *dir, uint64_t size, size_t offset)
{
    s_edit_t ed = {.offset = offset};
    util_put_be64(ed.key, size);
    return s_surgery(dir, "checkpoints", s_flip, &ed);
}

static int
s_swap(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    s_edit_t *ed = arg;
    MDB_val ka = {8, ed->key}, kb = {8, ed->key2}, va, vb;
    int rc = mdb_get(txn, dbi, &ka, &va);
    if (rc == 0)
        rc = mdb_get(txn, dbi, &kb, &vb);
    if (rc != 0)
        return rc;
    uint8_t *a = malloc(va.mv_size), *b = malloc(vb.mv_size);
    memcpy(a, va.mv_data, va.mv_size);
    memcpy(b, vb.mv_data, vb.mv_size);
    MDB_val na = {vb.mv_size, b}, nb = {va.mv_size, a};
    rc = mdb_put(txn, dbi, &ka, &na, 0);
    if (rc == 0)
        rc = mdb_put(txn, dbi, &kb, &nb, 0);
    free(a);
    free(b);
    return rc;
}

int
fixture_swap_records(const char *dir, uint64_t a, uint64_t b)
{
    s_edit_t ed = {0};
    util_put_be64(ed.key, a);
    util_put_be64(ed.key2, b);
    return s_surgery(dir, "records", s_swap, &ed);
}

static int
s_del(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    s_edit_t *ed = arg;
    MDB_val k = {8, ed->key};
    return mdb_del(txn, dbi, &k, NULL);
}

int
fixture_drop_record(const char *dir, uint64_t seq)
{
    s_edit_t ed = {0};
    util_put_be64(ed.key, seq);
    return s_surgery(dir, "records", s_del, &ed);
}

static int
s_put(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    s_edit_t *ed = arg;
    MDB_val k = {8, ed->key}, v = {ed->len, (void *) ed->data};
    return mdb_put(txn, dbi, &k, &v, 0);
}

int
fixture_put_record(const char *dir, uint64_t seq, const uint8_t *bytes, size_t len)
{
    s_edit_t ed = {.data = bytes, .len = len};
    util_put_be64(ed.key, seq);
    return s_surgery(dir, "records", s_put, &ed);
}

int
fixture_put_tree_node(const char *dir, unsigned level, uint64_t index, const uint8_t hash[32])
{
    s_edit_t ed = {.data = hash, .len = 32};
    util_put_be64(ed.key, ((uint64_t) level << 56) | index);
    return s_surgery(dir, "tree", s_put, &ed);
}
