/* audit.c — checks everything a ledger claims: in-order checks here, per-record work on workers. */
#include "cofab/audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_internal.h"
#include "cofab/error.h"
#include "cofab/payload.h"

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

/* The attribute lets the compiler check every call's format (and accept
 * the non-literal one passed on to vsnprintf). */
__attribute__((format(printf, 7, 8))) static void
s_fail_at(audit_report_t *r, int kind, int code, int64_t record, int64_t cp, int64_t related,
          const char *fmt, ...);

/* Whether a failure at record comes before one at than (-1: no position,
 * which never displaces one). The hook judges records in batches, so a
 * failure it finds may arrive after one at a later position. */
static int
s_earlier(int64_t record, int64_t than)
{
    return record >= 0 && (than < 0 || record < than);
}

/* Records a failure as the first of its kind and, if it is the earliest of
 * all, as the audit's verdict. */
static void
s_fail_at(audit_report_t *r, int kind, int code, int64_t record, int64_t cp, int64_t related,
          const char *fmt, ...)
{
    char reason[sizeof r->reason];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    audit_failure_t *f = &r->failures[kind];
    if (f->code == 0 || s_earlier(record, f->record)) {
        *f = (audit_failure_t){code, record, cp, related, ""};
        memcpy(f->reason, reason, sizeof reason);
    }
    if (!r->valid && !s_earlier(record, r->bad_record))
        return;
    r->valid = 0;
    r->code = code;
    r->bad_record = record;
    r->bad_checkpoint = cp;
    r->related_record = related;
    memcpy(r->reason, reason, sizeof reason);
}

const char *
audit_kind_name(int kind)
{
    static const char *const names[AUDIT_KINDS] = {
        "record", "signature", "author", "tree", "checkpoint", "witness", "rules", "decision"};
    return kind >= 0 && kind < AUDIT_KINDS ? names[kind] : "unknown";
}

#define s_fail(r, kind, code, record, cp, ...) s_fail_at(r, kind, code, record, cp, -1, __VA_ARGS__)

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

/* Checks one stored checkpoint against the tree recomputed up to its size,
 * and its witnesses' cosignatures against the policy. */
static void
s_check_checkpoint(audit_report_t *r, const s_cp_t *cp, const merkle_frontier_t *f,
                   const uint8_t head[32], note_t *note, const witness_policy_t *policy,
                   int tree_broken)
{
    checkpoint_t c;
    int64_t at = (int64_t) cp->size;
    int64_t rec = cp->size ? (int64_t) cp->size - 1 : -1;
    int rc = note_parse(note, cp->note, cp->len);
    if (rc != 0) {
        s_fail(r, AUDIT_CHECKPOINT, rc, rec, at, "checkpoint %llu: not a valid signed note",
               (unsigned long long) cp->size);
        return;
    }
    rc = note_verify(note, &r->hub);
    if (rc != 0) {
        s_fail(r, AUDIT_CHECKPOINT, rc == COFAB_ENOTFOUND ? COFAB_EBADSIG : rc, rec, at,
               "checkpoint %llu: no valid signature by hub key %s", (unsigned long long) cp->size,
               r->hub.name);
        return;
    }
    rc = checkpoint_parse(&c, note->body, note->body_len);
    if (rc != 0 || c.size != cp->size || strcmp(c.origin, r->origin) != 0) {
        s_fail(r, AUDIT_CHECKPOINT, rc ? rc : COFAB_EMALFORMED, rec, at,
               "checkpoint %llu: body does not match its size or the ledger's origin",
               (unsigned long long) cp->size);
        return;
    }
    uint8_t root[32];
    merkle_frontier_root(f, root);
    if (!tree_broken && sodium_memcmp(root, c.root, 32) != 0) {
        s_fail(r, AUDIT_CHECKPOINT, COFAB_EROOT, rec, at,
               "checkpoint %llu: signed root differs from the root of the records",
               (unsigned long long) cp->size);
        return;
    }
    if (!tree_broken && c.has_chain && sodium_memcmp(head, c.chain, 32) != 0) {
        s_fail(r, AUDIT_CHECKPOINT, COFAB_ECHAIN, rec, at,
               "checkpoint %llu: signed chain head differs from the last record's hash",
               (unsigned long long) cp->size);
        return;
    }
    uint32_t cosigned = 0;
    uint64_t which = 0;
    int forged = -1;
    if (witness_policy_count(policy, note, &cosigned, &which, &forged) != 0) {
        s_fail(r, AUDIT_CHECKPOINT, COFAB_EBADSIG, rec, at, "checkpoint %llu: cosignature by witness %s does not verify",
               (unsigned long long) cp->size, policy->witnesses[forged].name);
        return;
    }
    if (r->checkpoints && r->latest_cosigned < policy->quorum)
        r->below_quorum++; /* the one before this: no longer the latest */
    if (cosigned >= policy->quorum)
        r->witnessed_size = c.size;
    r->checkpoints++;
    r->latest = c;
    r->latest_cosigned = cosigned;
    r->latest_witnesses = which;
}

/* What the in-order pass carries from one record to the next. */
typedef struct {
    audit_report_t *r;        /* the verdict being built */
    const audit_hook_t *hook; /* caller's in-order checks, or NULL */
    witness_policy_t policy;  /* witnesses and quorum */
    ledger_iter_t *it;        /* records and stored tree, one read transaction */
    s_authors_t authors;      /* last envelope per author */
    s_cps_t cps;              /* stored checkpoints, by increasing size */
    size_t next_cp;           /* first checkpoint not yet checked */
    note_t *note;             /* scratch for parsing checkpoints */
    merkle_frontier_t f;      /* the tree recomputed so far */
    uint8_t head[32];         /* hash of the last record checked */
    uint64_t pos;             /* next ledger position */
    int tree_broken;          /* a record is missing or unreadable: roots can't be compared */
    int hook_live;            /* 1 while the hook has seen every record so far */
} s_audit_t;

/* Compares a node the recomputed tree completed with the stored one. */
static int
s_compare_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    s_audit_t *a = ctx;
    uint8_t stored[32];
    int rc = ledger_iter_tree_next(a->it, level, index, stored);
    if (rc != 0 || sodium_memcmp(stored, hash, 32) != 0)
        s_fail(a->r, AUDIT_TREE, rc ? rc : COFAB_EPROOF, (int64_t) a->pos, -1,
               "record %llu: stored Merkle node (level %u, index %llu) %s",
               (unsigned long long) a->pos, level, (unsigned long long) index,
               rc ? "is missing" : "does not match the records");
    return 0;
}

/* Checks the checkpoints of the tree size reached so far: every record
 * below it has had all its checks, its signature included. */
static void
s_check_checkpoints_here(s_audit_t *a)
{
    while (a->next_cp < a->cps.n && a->cps.items[a->next_cp].size == a->pos)
        s_check_checkpoint(a->r, &a->cps.items[a->next_cp++], &a->f, a->head, a->note,
                           &a->policy, a->tree_broken);
}

/* Position of the earlier envelope an author's reused sequence number
 * points at, as evidence of a fork: the author index says where, and the
 * record there must really be that author's envelope of that number. Read
 * in the audit's snapshot (a new read transaction could have to wait for
 * the audit's own to end, see ledger.h). */
static int64_t
s_author_find(s_audit_t *a, const uint8_t author[32], uint64_t author_seq)
{
    uint64_t seq;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    ledger_record_t rec;
    envelope_t e;
    if (ledger_iter_author_find(a->it, author, author_seq, &seq) == 0 && seq < a->pos &&
        ledger_iter_get(a->it, seq, &bytes, &len) == 0 &&
        ledger_record_decode(&rec, bytes, len) == 0 &&
        envelope_decode(&e, rec.envelope, rec.envelope_len) == 0 &&
        sodium_memcmp(e.author, author, 32) == 0 && e.author_seq == author_seq)
        return (int64_t) seq;
    return -1;
}

/* The checks of record a->pos that depend on the records before it, in
 * the order the first failure is chosen by, the signature (verified by a
 * worker) last. Record and envelope were decoded and hashed by a worker.
 * Returns 1 if the record passed them all. */
static int
s_check_record(s_audit_t *a, const audit_s_item_t *item)
{
    audit_report_t *r = a->r;
    uint64_t pos = a->pos;
    int64_t at = (int64_t) pos;
    const envelope_t *e = &item->env;
    if (item->key_seq != pos) {
        s_fail(r, AUDIT_RECORD, COFAB_ECHAIN, at, -1, "record %llu is missing (next stored is %llu)",
               (unsigned long long) pos, (unsigned long long) item->key_seq);
        a->tree_broken = 1;
        return 0;
    }
    if (item->rec_rc != 0) {
        s_fail(r, AUDIT_RECORD, item->rec_rc, at, -1, "record %llu: %s", (unsigned long long) pos,
               cofab_strerror(item->rec_rc));
        a->tree_broken = 1;
        return 0;
    }
    if (item->rec.seq != pos) {
        s_fail(r, AUDIT_RECORD, COFAB_ECHAIN, at, -1, "record %llu: says it is record %llu (moved)",
               (unsigned long long) pos, (unsigned long long) item->rec.seq);
        a->tree_broken = 1;
        return 0;
    }
    if (sodium_memcmp(item->rec.prev, a->head, 32) != 0) {
        s_fail(r, AUDIT_RECORD, COFAB_ECHAIN, at, -1,
               "record %llu: previous-record hash does not match record %lld",
               (unsigned long long) pos, (long long) pos - 1);
        a->tree_broken = 1;
        return 0;
    }
    merkle_frontier_append(&a->f, item->leaf, s_compare_node, a);
    memcpy(a->head, item->leaf, 32);

    if (item->env_rc != 0) {
        s_fail(r, AUDIT_RECORD, item->env_rc, at, -1, "record %llu: envelope %s", (unsigned long long) pos,
               cofab_strerror(item->env_rc));
        return 0;
    }
    r->kinds[e->kind]++;
    if ((pos == 0) != (e->kind == ENVELOPE_GENESIS)) {
        s_fail(r, AUDIT_RECORD, COFAB_EPERM, at, -1, "record %llu: %s", (unsigned long long) pos,
               pos == 0 ? "first record is not the genesis" : "a second genesis record");
        return 0;
    }
    s_authors_t *authors = &a->authors;
    if (authors->count * 2 >= authors->cap && s_author_grow(authors) != 0) {
        s_fail(r, AUDIT_RECORD, COFAB_ENOMEM, at, -1, "out of memory tracking authors");
        return 0;
    }
    s_author_t *au = s_author_slot(authors, e->author);
    if (!au->used) {
        memcpy(au->pk, e->author, 32);
        au->used = 1;
        authors->count++;
    }
    if (e->author_seq != au->last_seq + 1) {
        int code = e->author_seq <= au->last_seq ? COFAB_EFORK : COFAB_EGAP;
        int64_t related = code == COFAB_EFORK ? s_author_find(a, e->author, e->author_seq) : -1;
        if (related < 0 && code == COFAB_EFORK && e->author_seq == au->last_seq)
            related = (int64_t) au->last_pos;
        s_fail_at(r, AUDIT_AUTHOR, code, at, -1, related, "record %llu: author sequence %llu after %llu (%s)",
               (unsigned long long) pos, (unsigned long long) e->author_seq,
               (unsigned long long) au->last_seq,
               code == COFAB_EFORK ? "the author's sequence was reused: forked author"
                                   : "a gap in the author's chain");
        return 0;
    }
    if (au->last_seq && sodium_memcmp(e->author_prev, au->last_hash, 32) != 0) {
        s_fail_at(r, AUDIT_AUTHOR, COFAB_ECHAIN, at, -1, (int64_t) au->last_pos,
               "record %llu: author's previous-envelope hash does not match record %llu",
               (unsigned long long) pos, (unsigned long long) au->last_pos);
        return 0;
    }
    au->last_seq = e->author_seq;
    au->last_pos = pos;
    memcpy(au->last_hash, e->hash, 32);
    if (item->sig_rc != 0) {
        s_fail(r, AUDIT_SIGNATURE, COFAB_EBADSIG, at, -1, "record %llu: %s envelope's signature does not verify",
               (unsigned long long) pos, envelope_kind_name(e->kind));
        return 0;
    }
    return 1;
}

/* Hands a record that passed every check to the caller's hook. */
static int
s_hook_record(s_audit_t *a, const audit_s_item_t *item)
{
    char why[sizeof a->r->reason] = "";
    int64_t bad = (int64_t) a->pos, related = -1;
    int rc = a->hook->record(a->hook->ctx, a->pos, &item->rec, &item->env, why, sizeof why, &bad,
                             &related);
    if (rc == 0 || rc <= COFAB_EIO)
        return rc;
    s_fail_at(a->r, rc == COFAB_EDECISION ? AUDIT_DECISION : AUDIT_RULES, rc, bad, -1, related, "%s", why);
    return 0;
}

/* Lets the hook judge what it has batched. */
static int
s_hook_flush(s_audit_t *a, int final)
{
    char why[sizeof a->r->reason] = "";
    int64_t bad = -1, related = -1;
    int rc = a->hook->flush(a->hook->ctx, final, why, sizeof why, &bad, &related);
    if (rc == 0 || rc <= COFAB_EIO)
        return rc;
    s_fail_at(a->r, rc == COFAB_EDECISION ? AUDIT_DECISION : AUDIT_RULES, rc, bad, -1, related, "%s", why);
    return 0;
}

/* A record read from the iterator but not yet copied into a chunk. */
typedef struct {
    int have;                 /* 1: the fields below hold a record not yet stored */
    uint64_t seq;             /* its key */
    const uint8_t *bytes;     /* borrowed from the iterator */
    size_t len;               /* its length */
} s_pending_t;

/* Copies records from the iterator into chunk c until it is full; a
 * record that does not fit stays pending (its bytes are valid until the
 * next ledger_iter_next()). Sets *at_end when the records ran out.
 * Returns 0 or the iterator's error. */
static int
s_fill(ledger_iter_t *it, audit_s_chunk_t *c, s_pending_t *pending, int *at_end)
{
    while (c->n < AUDIT_S_CHUNK) {
        if (!pending->have) {
            int rc = ledger_iter_next(it, &pending->seq, &pending->bytes, &pending->len);
            if (rc == COFAB_ENOTFOUND) {
                *at_end = 1;
                return 0;
            }
            if (rc != 0)
                return rc;
            pending->have = 1;
        }
        /* Oversized records are not copied: the worker refuses them by length. */
        size_t copy = pending->len > LEDGER_RECORD_MAX ? 0 : pending->len;
        if (copy > AUDIT_S_ARENA - c->used)
            return 0; /* the arena is full: the record opens the next chunk */
        audit_s_item_t *item = &c->items[c->n++];
        item->key_seq = pending->seq;
        item->off = c->used;
        item->len = pending->len;
        if (copy)
            memcpy(c->arena + c->used, pending->bytes, copy);
        c->used += copy;
        pending->have = 0;
    }
    return 0;
}

/* Reads the hub key and origin from the genesis record. */
static int
s_read_genesis(audit_report_t *r, ledger_t *ledger, ledger_iter_t *it, const audit_options_t *opts,
               witness_policy_t *policy)
{
    const uint8_t *buf = NULL;
    size_t len = 0;
    ledger_record_t rec;
    envelope_t e;
    payload_genesis_t g;
    int rc = ledger_iter_get(it, 0, &buf, &len);
    if (rc == COFAB_ENOTFOUND) {
        s_fail(r, AUDIT_RECORD, rc, 0, -1, "the ledger has no genesis record");
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
    if (rc != 0) {
        s_fail(r, AUDIT_RECORD, rc, 0, -1, "record 0: not a readable genesis (%s)", cofab_strerror(rc));
        return 0;
    }
    snprintf(r->origin, sizeof r->origin, "%s", g.origin);
    r->hub = g.hub;
    if (opts->policy)
        *policy = *opts->policy;
    else
        witness_policy_from_genesis(policy, &g);
    r->witnesses = policy->n;
    r->quorum = policy->quorum;
    for (uint32_t i = 0; i < policy->n; i++)
        memcpy(r->witness_names[i], policy->witnesses[i].name, sizeof r->witness_names[i]);
    /* A policy's `log` line pins the hub key like --hub-key does. */
    if (opts->policy && opts->policy->has_log && !opts->hub_key &&
        (sodium_memcmp(opts->policy->log.pk, g.hub.pk, 32) != 0 ||
         strcmp(opts->policy->log.name, g.hub.name) != 0))
        s_fail(r, AUDIT_RECORD, COFAB_EKEYMISMATCH, 0, -1,
               "record 0: genesis names hub key %s, not the policy's log key %s", g.hub.name,
               opts->policy->log.name);
    if (opts->hub_key && (sodium_memcmp(opts->hub_key->pk, g.hub.pk, 32) != 0 ||
                          strcmp(opts->hub_key->name, g.hub.name) != 0)) {
        s_fail(r, AUDIT_RECORD, COFAB_EKEYMISMATCH, 0, -1,
               "record 0: genesis names hub key %s, not the pinned key %s", g.hub.name,
               opts->hub_key->name);
    }
    if (strcmp(g.origin, ledger_origin(ledger)) != 0)
        s_fail(r, AUDIT_RECORD, COFAB_EMALFORMED, 0, -1, "record 0: origin differs from the ledger's");
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
    s_audit_t a = {.r = r, .hook = opts.hook, .hook_live = opts.hook != NULL};
    audit_s_pool_t *pool = NULL;
    s_pending_t pending = {0};
    int at_end = 0;

    randombytes_buf(a.authors.key, sizeof a.authors.key);
    a.note = malloc(sizeof *a.note);
    if (!a.note || s_author_grow(&a.authors) != 0) {
        rc = COFAB_ENOMEM;
        goto out;
    }
    merkle_frontier_init(&a.f);
    /* The iterator's read transaction is the audit's snapshot: genesis,
     * records, tree and checkpoints all come from it, so what the hub
     * appends meanwhile is neither audited nor a failure. */
    a.it = ledger_iter_new(ledger, 0);
    if (!a.it) {
        rc = COFAB_ESTORE;
        goto out;
    }
    rc = ledger_iter_size(a.it, &r->size);
    if (rc == 0)
        rc = s_read_genesis(r, ledger, a.it, &opts, &a.policy);
    if (rc != 0 || !r->valid)
        goto out;
    rc = ledger_iter_checkpoints(a.it, s_collect_cp, &a.cps);
    if (rc != 0)
        goto out;
    pool = audit_s_pool_new(threads);
    if (!pool) {
        rc = COFAB_ENOMEM;
        goto out;
    }

    /* This thread reads records into chunks and checks each finished
     * chunk in order while the workers decode, hash and verify the chunks
     * after it. A chunk is checked only once all of it is verified, so the
     * first failure in ledger order wins, signatures included. */
    for (;;) {
        audit_s_chunk_t *c;
        while (!at_end && (c = audit_s_pool_free_chunk(pool)) != NULL) {
            rc = s_fill(a.it, c, &pending, &at_end);
            if (rc != 0)
                goto out;
            if (c->n)
                audit_s_pool_publish(pool);
        }
        c = audit_s_pool_wait(pool);
        if (!c)
            break;
        for (size_t i = 0; i < c->n; i++) {
            s_check_checkpoints_here(&a);
            int ok = s_check_record(&a, &c->items[i]);
            if (ok && a.hook_live)
                rc = s_hook_record(&a, &c->items[i]);
            else if (a.hook_live) {
                /* The rules need every record: judge what they have, then stop. */
                rc = s_hook_flush(&a, 0);
                a.hook_live = 0;
            }
            if (rc != 0)
                goto out;
            a.pos++; /* checked, whatever the verdict */
        }
        /* The hook may hold pointers into the chunk until it flushes. */
        if (a.hook_live && (rc = s_hook_flush(&a, 0)) != 0)
            goto out;
        audit_s_pool_release(pool);
        r->records = a.pos;
        if (opts.progress)
            opts.progress(opts.progress_ctx, a.pos, r->size);
    }
    /* Checkpoints at the final size, and any that claim more than exists. */
    s_check_checkpoints_here(&a);
    if (a.hook_live && (rc = s_hook_flush(&a, 1)) != 0)
        goto out;
    if (r->latest_cosigned < a.policy.quorum)
        s_fail(r, AUDIT_WITNESS, COFAB_EWITNESS, r->checkpoints ? (int64_t) r->latest.size - 1 : -1,
               r->checkpoints ? (int64_t) r->latest.size : -1,
               r->checkpoints ? "checkpoint %llu, the latest, carries %u of the %u witness "
                                "cosignatures the policy requires (on a live ledger witnesses "
                                "cosign a moment after the hub signs: check again)"
                              : "no checkpoint at all (size %llu): %u of %u witness "
                                "cosignatures",
               (unsigned long long) r->latest.size, r->latest_cosigned, a.policy.quorum);
    if (a.next_cp < a.cps.n)
        s_fail(r, AUDIT_CHECKPOINT, COFAB_ERANGE, (int64_t) a.pos, (int64_t) a.cps.items[a.next_cp].size,
               "checkpoint %llu: claims more records than the ledger holds (%llu)",
               (unsigned long long) a.cps.items[a.next_cp].size, (unsigned long long) a.pos);
    if (a.pos != r->size) /* only after a missing record, which failed already */
        s_fail(r, AUDIT_RECORD, COFAB_ECHAIN, (int64_t) a.pos, -1,
               "%llu records read, but the last one stored is record %lld",
               (unsigned long long) a.pos, (long long) r->size - 1);
    merkle_frontier_root(&a.f, r->root);
    rc = 0;
out:
    /* Workers only ever read chunk copies, never the iterator's map. */
    audit_s_pool_destroy(&pool);
    ledger_iter_destroy(&a.it);
    r->authors = a.authors.count;
    for (size_t i = 0; i < a.cps.n; i++)
        free(a.cps.items[i].note);
    free(a.cps.items);
    free(a.authors.slots);
    free(a.note);
    return rc;
}
