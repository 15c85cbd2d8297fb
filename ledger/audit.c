/* audit.c — recomputes and checks everything a ledger claims, signatures in parallel. */
#include "cofab/audit.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/payload.h"

#define S_CHUNK 2048

/* Last envelope seen per author: an open-addressing table keyed by pk. */
typedef struct {
    uint8_t pk[32];       /* author key; all zero = empty slot */
    uint64_t last_seq;    /* last author sequence seen */
    uint64_t last_pos;    /* its ledger position */
    uint8_t last_hash[32];/* its envelope hash */
    int used;             /* 1 if the slot holds an author */
} s_author_t;

typedef struct {
    s_author_t *slots;    /* table of cap slots */
    size_t cap;           /* power of two */
    size_t count;         /* authors stored */
    uint8_t key[crypto_shorthash_KEYBYTES]; /* random: hostile keys cannot collide on purpose */
} s_authors_t;

/* One chunk of records handed to the signature threads. */
typedef struct {
    envelope_t *envs;     /* decoded envelopes (borrowing the map) */
    int *ok;              /* 1 if envs[i] decoded and should be verified */
    int *sig_rc;          /* per-envelope verify result */
    size_t n;             /* envelopes in the chunk */
} s_chunk_t;

typedef struct {
    s_chunk_t *chunk;     /* shared chunk */
    size_t first, step;   /* this thread verifies first, first+step, ... */
} s_worker_t;

/* A stored checkpoint waiting for the tree to reach its size. */
typedef struct {
    uint64_t size;        /* tree size the note claims (database key) */
    char *note;           /* note text, NUL-terminated, malloc'd */
    size_t len;           /* its length */
} s_cp_t;

typedef struct {
    s_cp_t *items;        /* in increasing size order */
    size_t n, cap;        /* used and allocated */
} s_cps_t;

static void
s_fail(audit_report_t *r, int code, int64_t record, int64_t cp, const char *fmt, ...)
{
    if (!r->valid)
        return; /* keep the first failure */
    r->valid = 0;
    r->code = code;
    r->bad_record = record;
    r->bad_checkpoint = cp;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
}

static s_author_t *
s_author_slot(s_authors_t *t, const uint8_t pk[32])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, pk, 32, t->key);
    uint64_t i;
    memcpy(&i, h, sizeof i);
    for (i &= t->cap - 1;; i = (i + 1) & (t->cap - 1)) {
        s_author_t *s = &t->slots[i];
        if (!s->used || memcmp(s->pk, pk, 32) == 0)
            return s;
    }
}

static int
s_author_grow(s_authors_t *t)
{
    s_authors_t bigger = *t;
    bigger.cap = t->cap ? t->cap * 2 : 1024;
    bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
    if (!bigger.slots)
        return COFAB_ENOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i].used)
            *s_author_slot(&bigger, t->slots[i].pk) = t->slots[i];
    free(t->slots);
    *t = bigger;
    return 0;
}

static void *
s_verify_worker(void *arg)
{
    s_worker_t *w = arg;
    for (size_t i = w->first; i < w->chunk->n; i += w->step)
        w->chunk->sig_rc[i] = w->chunk->ok[i] ? envelope_verify(&w->chunk->envs[i]) : 0;
    return NULL;
}

static int
s_collect_cp(void *ctx, uint64_t size, const char *note, size_t len)
{
    s_cps_t *cps = ctx;
    if (cps->n == cps->cap) {
        size_t cap = cps->cap ? cps->cap * 2 : 16;
        s_cp_t *items = realloc(cps->items, cap * sizeof *items);
        if (!items)
            return COFAB_ENOMEM;
        cps->items = items;
        cps->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return COFAB_ENOMEM;
    memcpy(copy, note, len);
    copy[len] = 0;
    cps->items[cps->n++] = (s_cp_t){size, copy, len};
    return 0;
}

/* Checks one stored checkpoint against the tree recomputed up to its size. */
static void
s_check_checkpoint(audit_report_t *r, const s_cp_t *cp, const merkle_frontier_t *f,
                   const uint8_t head[32], note_t *note)
{
    checkpoint_t c;
    int64_t at = (int64_t) cp->size;
    int64_t rec = cp->size ? (int64_t) cp->size - 1 : -1;
    int rc = note_parse(note, cp->note, cp->len);
    if (rc != 0) {
        s_fail(r, rc, rec, at, "checkpoint %llu: not a valid signed note",
               (unsigned long long) cp->size);
        return;
    }
    rc = note_verify(note, &r->hub);
    if (rc != 0) {
        s_fail(r, rc == COFAB_ENOTFOUND ? COFAB_EBADSIG : rc, rec, at,
               "checkpoint %llu: no valid signature by hub key %s", (unsigned long long) cp->size,
               r->hub.name);
        return;
    }
    rc = checkpoint_parse(&c, note->body, note->body_len);
    if (rc != 0 || c.size != cp->size || strcmp(c.origin, r->origin) != 0) {
        s_fail(r, rc ? rc : COFAB_EMALFORMED, rec, at,
               "checkpoint %llu: body does not match its size or the ledger's origin",
               (unsigned long long) cp->size);
        return;
    }
    uint8_t root[32];
    merkle_frontier_root(f, root);
    if (sodium_memcmp(root, c.root, 32) != 0) {
        s_fail(r, COFAB_EROOT, rec, at,
               "checkpoint %llu: signed root differs from the root of the records",
               (unsigned long long) cp->size);
        return;
    }
    if (c.has_chain && sodium_memcmp(head, c.chain, 32) != 0) {
        s_fail(r, COFAB_ECHAIN, rec, at,
               "checkpoint %llu: signed chain head differs from the last record's hash",
               (unsigned long long) cp->size);
        return;
    }
    r->checkpoints++;
    r->latest = c;
}

typedef struct {
    ledger_iter_t *it;        /* whose read transaction the tree is read in */
    audit_report_t *report;   /* where mismatches go */
    uint64_t pos;             /* record being added */
} s_tree_check_t;

static int
s_compare_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    s_tree_check_t *t = ctx;
    uint8_t stored[32];
    int rc = ledger_iter_tree_node(t->it, level, index, stored);
    if (rc != 0 || sodium_memcmp(stored, hash, 32) != 0)
        s_fail(t->report, rc ? rc : COFAB_EPROOF, (int64_t) t->pos, -1,
               "record %llu: stored Merkle node (level %u, index %llu) %s",
               (unsigned long long) t->pos, level, (unsigned long long) index,
               rc ? "is missing" : "does not match the records");
    return 0;
}

/* Sequential checks of one record; fills *e for the signature threads.
 * Returns 1 if the envelope decoded and its signature should be checked. */
static int
s_check_record(audit_report_t *r, ledger_iter_t *it, s_authors_t *authors, uint64_t pos,
               uint64_t key_seq, const uint8_t *bytes, size_t len, merkle_frontier_t *f,
               uint8_t head[32], envelope_t *e)
{
    ledger_record_t rec;
    int64_t at = (int64_t) pos;
    if (key_seq != pos) {
        s_fail(r, COFAB_ECHAIN, at, -1, "record %llu is missing (next stored is %llu)",
               (unsigned long long) pos, (unsigned long long) key_seq);
        return 0;
    }
    int rc = ledger_record_decode(&rec, bytes, len);
    if (rc != 0) {
        s_fail(r, rc, at, -1, "record %llu: %s", (unsigned long long) pos, cofab_strerror(rc));
        return 0;
    }
    if (rec.seq != pos) {
        s_fail(r, COFAB_ECHAIN, at, -1, "record %llu: says it is record %llu (moved)",
               (unsigned long long) pos, (unsigned long long) rec.seq);
        return 0;
    }
    if (sodium_memcmp(rec.prev, head, 32) != 0) {
        s_fail(r, COFAB_ECHAIN, at, -1,
               "record %llu: previous-record hash does not match record %lld",
               (unsigned long long) pos, (long long) pos - 1);
        return 0;
    }
    uint8_t leaf[32];
    merkle_leaf_hash(bytes, len, leaf);
    s_tree_check_t tc = {it, r, pos};
    merkle_frontier_append(f, leaf, s_compare_node, &tc);
    memcpy(head, leaf, 32);

    rc = envelope_decode(e, rec.envelope, rec.envelope_len);
    if (rc != 0) {
        s_fail(r, rc, at, -1, "record %llu: envelope %s", (unsigned long long) pos,
               cofab_strerror(rc));
        return 0;
    }
    r->kinds[e->kind]++;
    if ((pos == 0) != (e->kind == ENVELOPE_GENESIS)) {
        s_fail(r, COFAB_EPERM, at, -1, "record %llu: %s", (unsigned long long) pos,
               pos == 0 ? "first record is not the genesis" : "a second genesis record");
        return 1;
    }
    if (authors->count * 2 >= authors->cap && s_author_grow(authors) != 0) {
        s_fail(r, COFAB_ENOMEM, at, -1, "out of memory tracking authors");
        return 1;
    }
    s_author_t *a = s_author_slot(authors, e->author);
    if (!a->used) {
        memcpy(a->pk, e->author, 32);
        a->used = 1;
        authors->count++;
    }
    if (e->author_seq != a->last_seq + 1) {
        int code = e->author_seq <= a->last_seq ? COFAB_EFORK : COFAB_EGAP;
        if (code == COFAB_EFORK)
            r->related_record = (int64_t) a->last_pos;
        s_fail(r, code, at, -1, "record %llu: author sequence %llu after %llu (%s)",
               (unsigned long long) pos, (unsigned long long) e->author_seq,
               (unsigned long long) a->last_seq,
               code == COFAB_EFORK ? "the author's sequence was reused: forked author"
                                   : "a gap in the author's chain");
        return 1;
    }
    if (a->last_seq && sodium_memcmp(e->author_prev, a->last_hash, 32) != 0) {
        r->related_record = (int64_t) a->last_pos;
        s_fail(r, COFAB_ECHAIN, at, -1,
               "record %llu: author's previous-envelope hash does not match record %llu",
               (unsigned long long) pos, (unsigned long long) a->last_pos);
        return 1;
    }
    a->last_seq = e->author_seq;
    a->last_pos = pos;
    memcpy(a->last_hash, e->hash, 32);
    return 1;
}

/* Reads the hub key and origin from the genesis record. */
static int
s_read_genesis(audit_report_t *r, ledger_t *ledger, const audit_options_t *opts)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ledger_record_t rec;
    envelope_t e;
    payload_genesis_t g;
    int rc = ledger_get(ledger, 0, &buf, &len);
    if (rc == COFAB_ENOTFOUND) {
        s_fail(r, rc, 0, -1, "the ledger has no genesis record");
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = ledger_record_decode(&rec, buf, len);
    if (rc == 0)
        rc = envelope_decode(&e, rec.envelope, rec.envelope_len);
    if (rc == 0 && e.kind != ENVELOPE_GENESIS)
        rc = COFAB_EPERM;
    if (rc == 0)
        rc = payload_genesis_decode(&g, e.payload, e.payload_len);
    if (rc == 0 && sodium_memcmp(g.hub.pk, e.author, 32) != 0 && opts->hub_key == NULL)
        rc = 0; /* an operator may sign genesis for a separate hub key */
    free(buf);
    if (rc != 0) {
        s_fail(r, rc, 0, -1, "record 0: not a readable genesis (%s)", cofab_strerror(rc));
        return 0;
    }
    snprintf(r->origin, sizeof r->origin, "%s", g.origin);
    r->hub = g.hub;
    if (opts->hub_key && (sodium_memcmp(opts->hub_key->pk, g.hub.pk, 32) != 0 ||
                          strcmp(opts->hub_key->name, g.hub.name) != 0)) {
        s_fail(r, COFAB_EKEYMISMATCH, 0, -1,
               "record 0: genesis names hub key %s, not the pinned key %s", g.hub.name,
               opts->hub_key->name);
    }
    if (strcmp(g.origin, ledger_origin(ledger)) != 0)
        s_fail(r, COFAB_EMALFORMED, 0, -1, "record 0: origin differs from the ledger's");
    return 0;
}

int
audit_verify(ledger_t *ledger, const audit_options_t *opts_in, audit_report_t *r)
{
    if (!ledger || !r)
        return COFAB_EINVAL;
    audit_options_t opts = {0};
    if (opts_in)
        opts = *opts_in;
    int threads = opts.threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int) n : 1;
    }
    if (threads > AUDIT_MAX_THREADS)
        threads = AUDIT_MAX_THREADS;

    memset(r, 0, sizeof *r);
    r->valid = 1;
    r->bad_record = r->bad_checkpoint = r->related_record = -1;

    int rc = 0;
    s_authors_t authors = {0};
    s_cps_t cps = {0};
    s_chunk_t chunk = {0};
    ledger_iter_t *it = NULL;
    note_t *note = malloc(sizeof *note);
    merkle_frontier_t f;
    uint8_t head[32] = {0};
    uint64_t total = ledger_size(ledger), pos = 0;
    size_t next_cp = 0;

    randombytes_buf(authors.key, sizeof authors.key);
    chunk.envs = calloc(S_CHUNK, sizeof *chunk.envs);
    chunk.ok = calloc(S_CHUNK, sizeof *chunk.ok);
    chunk.sig_rc = calloc(S_CHUNK, sizeof *chunk.sig_rc);
    if (!note || !chunk.envs || !chunk.ok || !chunk.sig_rc || s_author_grow(&authors) != 0) {
        rc = COFAB_ENOMEM;
        goto out;
    }
    merkle_frontier_init(&f);
    rc = s_read_genesis(r, ledger, &opts);
    if (rc != 0 || !r->valid)
        goto out;
    rc = ledger_checkpoint_foreach(ledger, s_collect_cp, &cps);
    if (rc != 0)
        goto out;
    it = ledger_iter_new(ledger, 0);
    if (!it) {
        rc = COFAB_ESTORE;
        goto out;
    }

    int more = 1;
    while (more && r->valid) {
        /* Sequential checks for up to S_CHUNK records, stopping early at a
         * checkpoint boundary so its root is taken at the right size. */
        uint64_t chunk_start = pos;
        chunk.n = 0;
        while (chunk.n < S_CHUNK && r->valid) {
            while (next_cp < cps.n && cps.items[next_cp].size == pos && chunk.n == 0) {
                s_check_checkpoint(r, &cps.items[next_cp], &f, head, note);
                next_cp++;
            }
            if (next_cp < cps.n && cps.items[next_cp].size == pos)
                break; /* verify this chunk's signatures before the checkpoint */
            uint64_t seq;
            const uint8_t *bytes;
            size_t len;
            int irc = ledger_iter_next(it, &seq, &bytes, &len);
            if (irc == COFAB_ENOTFOUND) {
                more = 0;
                break;
            }
            if (irc != 0) {
                rc = irc;
                goto out;
            }
            size_t i = chunk.n++;
            chunk.ok[i] = s_check_record(r, it, &authors, pos, seq, bytes, len, &f, head,
                                         &chunk.envs[i]);
            pos++;
        }
        /* Signatures of the chunk, in parallel. */
        pthread_t tids[AUDIT_MAX_THREADS];
        s_worker_t workers[AUDIT_MAX_THREADS];
        int spawned = 0;
        for (int t = 0; t < threads - 1; t++) {
            workers[t] = (s_worker_t){&chunk, (size_t) t, (size_t) threads};
            if (pthread_create(&tids[t], NULL, s_verify_worker, &workers[t]) != 0)
                break;
            spawned++;
        }
        /* The calling thread takes the remaining shares itself. */
        for (int t = spawned; t < threads; t++) {
            workers[t] = (s_worker_t){&chunk, (size_t) t, (size_t) threads};
            s_verify_worker(&workers[t]);
        }
        for (int t = 0; t < spawned; t++)
            pthread_join(tids[t], NULL);
        for (size_t i = 0; i < chunk.n; i++) {
            if (chunk.ok[i] && chunk.sig_rc[i] != 0) {
                uint64_t at = chunk_start + i;
                /* A signature failure earlier than the recorded one wins. */
                if (r->valid || (r->bad_record >= 0 && (uint64_t) r->bad_record > at)) {
                    r->valid = 1;
                    r->related_record = -1;
                    s_fail(r, COFAB_EBADSIG, (int64_t) at, -1,
                           "record %llu: %s envelope's signature does not verify",
                           (unsigned long long) at,
                           envelope_kind_name(chunk.envs[i].kind));
                }
                break;
            }
        }
        r->records = pos;
        if (opts.progress)
            opts.progress(opts.progress_ctx, pos, total);
    }
    /* Checkpoints at the final size, and any that claim more than exists. */
    for (; r->valid && next_cp < cps.n; next_cp++) {
        if (cps.items[next_cp].size != pos) {
            s_fail(r, COFAB_ERANGE, (int64_t) pos, (int64_t) cps.items[next_cp].size,
                   "checkpoint %llu: claims more records than the ledger holds (%llu)",
                   (unsigned long long) cps.items[next_cp].size, (unsigned long long) pos);
            break;
        }
        s_check_checkpoint(r, &cps.items[next_cp], &f, head, note);
    }
    if (r->valid && pos != total)
        s_fail(r, COFAB_ECHAIN, (int64_t) pos, -1, "ledger size changed during the audit");
    merkle_frontier_root(&f, r->root);
    r->authors = authors.count;
    rc = 0;
out:
    ledger_iter_destroy(&it);
    for (size_t i = 0; i < cps.n; i++)
        free(cps.items[i].note);
    free(cps.items);
    free(authors.slots);
    free(chunk.envs);
    free(chunk.ok);
    free(chunk.sig_rc);
    free(note);
    return rc;
}
