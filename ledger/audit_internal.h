/* audit_internal.h — the audit's parallel stage, shared by audit.c and audit_pipeline.c only. */
#ifndef COFAB_AUDIT_INTERNAL_H
#define COFAB_AUDIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/ledger.h"

/* Records per chunk: large enough that handing a chunk over costs nothing
 * next to verifying it, small enough to keep memory at a few MiB. */
#define AUDIT_S_CHUNK 4096
/* Record bytes per chunk; a chunk also ends when its arena is full. Must
 * hold at least one record of LEDGER_RECORD_MAX bytes. */
#define AUDIT_S_ARENA ((size_t) 2 << 20)
/* Chunks in flight: one being checked in order, the others being verified,
 * so the verifying threads never wait for the sequential pass. */
#define AUDIT_S_RING 3

/* One record, as the calling thread read it and the workers decoded it. */
typedef struct {
    uint64_t key_seq;     /* key it is stored under (main) */
    size_t off;           /* its bytes in the chunk's arena (main) */
    size_t len;           /* their length; > LEDGER_RECORD_MAX: not copied (main) */
    int rec_rc;           /* ledger_record_decode() result (worker) */
    ledger_record_t rec;  /* decoded record, borrowing the arena (worker) */
    uint8_t leaf[32];     /* Merkle leaf hash of the record, when rec_rc is 0 (worker) */
    int env_rc;           /* envelope_decode() result, when rec_rc is 0 (worker) */
    envelope_t env;       /* decoded envelope, borrowing the arena (worker) */
    int sig_rc;           /* envelope_verify() result, when env_rc is 0 (worker) */
} audit_s_item_t;

/* A run of consecutive records. The calling thread fills it while it is
 * free, workers fill in the decoded halves after it is published, the
 * calling thread reads it back once done == n. */
typedef struct {
    audit_s_item_t *items;  /* AUDIT_S_CHUNK items, n used */
    uint8_t *arena;         /* AUDIT_S_ARENA bytes of record copies, used filled */
    size_t n;               /* records in the chunk */
    size_t used;            /* arena bytes used */
    size_t claimed;         /* items handed to a thread (pool lock) */
    size_t done;            /* items finished (pool lock) */
} audit_s_chunk_t;

/* Persistent worker threads and the ring of chunks they work on. */
typedef struct audit_s_pool_t audit_s_pool_t;

/* Allocates the ring and starts up to `threads` workers (fewer if thread
 * creation fails; with none at all, the calling thread does the work in
 * audit_s_pool_wait()). Returns NULL when out of memory. */
audit_s_pool_t *audit_s_pool_new(int threads);

/* The next free chunk to fill (n and used are 0), or NULL when all
 * AUDIT_S_RING chunks are in flight. Calling thread only. */
audit_s_chunk_t *audit_s_pool_free_chunk(audit_s_pool_t *p);

/* Hands the chunk audit_s_pool_free_chunk() returned, now filled (n > 0),
 * to the workers. Calling thread only. */
void audit_s_pool_publish(audit_s_pool_t *p);

/* The oldest published chunk once every item of it is decoded and
 * verified; NULL when nothing is in flight.
 * The chunk stays the caller's until audit_s_pool_release(). */
audit_s_chunk_t *audit_s_pool_wait(audit_s_pool_t *p);

/* Frees the chunk audit_s_pool_wait() returned for refilling. */
void audit_s_pool_release(audit_s_pool_t *p);

/* Stops and joins the workers (abandoning chunks in flight) and frees
 * everything; safe on NULL and twice; sets *p_p = NULL. */
void audit_s_pool_destroy(audit_s_pool_t **p_p);

#endif
