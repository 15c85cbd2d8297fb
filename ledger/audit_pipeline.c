/* audit_pipeline.c — the audit's parallel stage: persistent threads decode, hash and verify chunks of records. */
#include "audit_internal.h"

#include <pthread.h>
#include <stdlib.h>

#include "cofab/audit.h"
#include "cofab/error.h"
#include "cofab/merkle.h"

/* Items a thread takes at a time: ~1 ms of verifying, so the lock is
 * taken rarely while the last items of a chunk still spread over threads. */
#define S_BATCH 32

struct audit_s_pool_t {
    pthread_mutex_t lock;      /* guards the counters below and each chunk's claimed/done */
    pthread_cond_t work;       /* workers wait here for a published chunk or stop */
    pthread_cond_t done;       /* the calling thread waits here for a finished chunk */
    audit_s_chunk_t ring[AUDIT_S_RING]; /* chunk with sequence number s is ring[s % RING] */
    uint64_t head;             /* sequence number of the oldest chunk not released */
    uint64_t published;        /* chunks published so far */
    uint64_t claim;            /* oldest chunk that may still have unclaimed items */
    int stop;                  /* 1: workers exit */
    int ready;                 /* 1 once the lock and condition variables exist */
    int spawned;               /* workers started */
    pthread_t tids[AUDIT_MAX_THREADS]; /* their ids */
};

/* Everything about one record that does not depend on the records before it. */
static void
s_process(audit_s_item_t *it, const uint8_t *arena)
{
    const uint8_t *bytes = arena + it->off;
    it->env_rc = it->sig_rc = COFAB_EINVAL; /* read only after the step before passed */
    if (it->len > LEDGER_RECORD_MAX) {
        it->rec_rc = COFAB_ETOOBIG; /* never copied: too big for any record */
        return;
    }
    it->rec_rc = ledger_record_decode(&it->rec, bytes, it->len);
    if (it->rec_rc != 0)
        return;
    merkle_leaf_hash(bytes, it->len, it->leaf);
    it->env_rc = envelope_decode(&it->env, it->rec.envelope, it->rec.envelope_len);
    if (it->env_rc != 0)
        return;
    it->sig_rc = envelope_verify(&it->env);
}

/* Takes up to S_BATCH unclaimed items of the oldest chunk that has any;
 * only_head: only from the oldest chunk in flight. Lock held. */
static audit_s_chunk_t *
s_claim(audit_s_pool_t *p, int only_head, size_t *from, size_t *to)
{
    while (p->claim < p->published) {
        audit_s_chunk_t *c = &p->ring[p->claim % AUDIT_S_RING];
        if (c->claimed < c->n) {
            if (only_head && p->claim != p->head)
                return NULL;
            *from = c->claimed;
            *to = c->n - c->claimed > S_BATCH ? c->claimed + S_BATCH : c->n;
            c->claimed = *to;
            return c;
        }
        p->claim++;
    }
    return NULL;
}

/* Processes items [from, to) of c without the lock, then counts them. */
static void
s_run_batch(audit_s_pool_t *p, audit_s_chunk_t *c, size_t from, size_t to)
{
    pthread_mutex_unlock(&p->lock);
    for (size_t i = from; i < to; i++)
        s_process(&c->items[i], c->arena);
    pthread_mutex_lock(&p->lock);
    c->done += to - from;
    if (c->done == c->n)
        pthread_cond_signal(&p->done); /* only the calling thread waits on it */
}

static void *
s_worker(void *arg)
{
    audit_s_pool_t *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        size_t from, to;
        audit_s_chunk_t *c = s_claim(p, 0, &from, &to);
        if (c)
            s_run_batch(p, c, from, to);
        else
            pthread_cond_wait(&p->work, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

audit_s_pool_t *
audit_s_pool_new(int threads)
{
    audit_s_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    for (int i = 0; i < AUDIT_S_RING; i++) {
        p->ring[i].items = malloc(AUDIT_S_CHUNK * sizeof *p->ring[i].items);
        p->ring[i].arena = malloc(AUDIT_S_ARENA);
        if (!p->ring[i].items || !p->ring[i].arena) {
            audit_s_pool_destroy(&p);
            return NULL;
        }
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->ready = 1;
    if (threads > AUDIT_MAX_THREADS)
        threads = AUDIT_MAX_THREADS;
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&p->tids[t], NULL, s_worker, p) != 0)
            break;
        p->spawned++;
    }
    return p;
}

audit_s_chunk_t *
audit_s_pool_free_chunk(audit_s_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    audit_s_chunk_t *c = NULL;
    if (p->published - p->head < AUDIT_S_RING)
        c = &p->ring[p->published % AUDIT_S_RING];
    pthread_mutex_unlock(&p->lock);
    return c;
}

void
audit_s_pool_publish(audit_s_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    p->published++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
}

audit_s_chunk_t *
audit_s_pool_wait(audit_s_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    audit_s_chunk_t *c = NULL;
    if (p->head < p->published) {
        c = &p->ring[p->head % AUDIT_S_RING];
        while (c->done < c->n) {
            /* With no worker (none could be started) this thread does the
             * work itself; otherwise it sleeps, leaving the cores to the
             * `threads` workers it was asked for. */
            size_t from, to;
            audit_s_chunk_t *mine = p->spawned ? NULL : s_claim(p, 1, &from, &to);
            if (mine)
                s_run_batch(p, mine, from, to);
            else
                pthread_cond_wait(&p->done, &p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
    return c;
}

void
audit_s_pool_release(audit_s_pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    audit_s_chunk_t *c = &p->ring[p->head % AUDIT_S_RING];
    c->n = c->used = c->claimed = c->done = 0;
    p->head++;
    if (p->claim < p->head)
        p->claim = p->head; /* never points at a slot about to be refilled */
    pthread_mutex_unlock(&p->lock);
}

void
audit_s_pool_destroy(audit_s_pool_t **p_p)
{
    if (!p_p || !*p_p)
        return;
    audit_s_pool_t *p = *p_p;
    if (p->ready) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->lock);
        for (int t = 0; t < p->spawned; t++)
            pthread_join(p->tids[t], NULL);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->done);
    }
    for (int i = 0; i < AUDIT_S_RING; i++) {
        free(p->ring[i].items);
        free(p->ring[i].arena);
    }
    free(p);
    *p_p = NULL;
}
