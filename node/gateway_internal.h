/* gateway_internal.h — what the gateway's files share: its state, the ledger it borrows, text buffers, replies. */
#ifndef COFAB_GATEWAY_INTERNAL_H
#define COFAB_GATEWAY_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cofab/gateway.h"
#include "cofab/ledger.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/witness.h"

#define GW_CSP_MAX 512    /* Content-Security-Policy header text */
#define GW_DETAIL_MAX 512 /* one timeline line's detail text */
#define GW_EVENT_MAX 160  /* one timeline line's heading */

/* A growable text/byte buffer. An allocation failure sets `failed`; later
 * appends then do nothing, so callers check once at the end. */
typedef struct {
    char *data;     /* NUL-terminated when not failed */
    size_t len;     /* bytes, without the NUL */
    size_t cap;     /* allocated */
    int failed;     /* 1 after an allocation failure */
} gw_buf_t;

void gw_buf_cat(gw_buf_t *b, const char *s);
void gw_buf_catn(gw_buf_t *b, const char *s, size_t n);
void gw_buf_catf(gw_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " and ' as character references. */
void gw_buf_html(gw_buf_t *b, const char *s);
void gw_buf_free(gw_buf_t *b);

/* A reply being built by a handler; the server adds the common headers. */
typedef struct {
    unsigned status;        /* HTTP status */
    const char *type;       /* Content-Type */
    const char *cache;      /* Cache-Control */
    int page;               /* 1: an HTML page (its own Content-Security-Policy) */
    int cors;               /* 1: Access-Control-Allow-Origin: * (public log data) */
    gw_buf_t body;          /* the body */
} gw_reply_t;

/* Sets r to a short plain-text reply (404 "not found", 503 ...). */
void gw_reply_text(gw_reply_t *r, unsigned status, const char *text);

/* The alliance as its genesis states it: who signs and cosigns checkpoints. */
typedef struct {
    char origin[NOTE_MAX_ORIGIN + 1];   /* checkpoint origin line */
    note_verifier_t hub;                /* the hub's checkpoint key */
    witness_policy_t witnesses;         /* founding witnesses and the quorum */
} gw_trust_t;

/* The latest checkpoint and what the server checked about it. */
typedef struct {
    checkpoint_t cp;        /* parsed body */
    int hub_signed;         /* 1: the hub's signature verifies */
    int forged;             /* 1: a listed witness's cosignature line does not verify */
    uint32_t cosigned;      /* witnesses whose cosignature verifies */
    int witnessed;          /* hub_signed, not forged, cosigned >= quorum */
} gw_cp_t;

/* Last checked checkpoint, keyed by the note's hash (mutex-guarded). */
typedef struct {
    uint8_t note_hash[32];  /* SHA-256 of the note text */
    int valid;              /* 1 once filled */
    gw_cp_t cp;             /* the result */
} gw_cp_cache_t;

struct gateway_t {
    gateway_options_t opts;             /* as given, defaults filled in */
    struct MHD_Daemon *daemon;          /* libmicrohttpd, NULL until started */
    uint16_t port;                      /* bound port */
    gw_trust_t trust;                   /* from genesis, loaded once */
    char csp_page[GW_CSP_MAX];          /* CSP of order pages: hashes of their inline code */
    /* The shared read-only ledger. Requests borrow it (readers); a reopen
     * waits until nobody holds it, so at most one environment is open. */
    pthread_mutex_t lock;               /* guards the fields below */
    pthread_cond_t cond;                /* readers reaching 0, reopen done */
    ledger_t *ledger;                   /* NULL while closed */
    unsigned readers;                   /* requests holding it */
    int reopening;                      /* a thread is reopening it */
    int stale;                          /* reopen at the next borrow */
    uint64_t opened_ns;                 /* monotonic time of the last open */
    pthread_mutex_t cp_lock;            /* guards cp_cache */
    gw_cp_cache_t cp_cache;             /* last checkpoint checked */
    atomic_uint_fast64_t replies[6];    /* replies by status class (index status / 100) */
};

/* Borrows the ledger, reopening it first when it is marked stale or, with
 * `fresh`, older than opts.refresh_ms. Only ledger_size() and what checks
 * against it (proofs, tiles) go stale: every read has its own transaction
 * and sees the hub's latest commit, so pages and tiles reopen only when
 * they meet a newer checkpoint (gw_checkpoint()) or a failed read, and
 * /metrics asks for `fresh` to count records. Returns NULL (a 503) when
 * the ledger cannot be opened. Every non-NULL borrow ends with
 * gw_ledger_put(). */
ledger_t *gw_ledger_get(gateway_t *gw, int fresh);
void gw_ledger_put(gateway_t *gw);

/* Asks for a reopen at the next borrow: the ledger is behind the latest
 * checkpoint, or a read failed (the hub grew the map: MDB_MAP_RESIZED). */
void gw_ledger_stale(gateway_t *gw);

/* Reads the latest checkpoint note into note (room LEDGER_CHECKPOINT_MAX)
 * and checks it (cached per note). Returns 0; COFAB_ENOTFOUND (none yet);
 * COFAB_ERANGE (it covers more records than this borrow of the ledger
 * sees: mark stale and borrow again); store or parse errors. */
int gw_checkpoint(gateway_t *gw, ledger_t *l, char *note, gw_cp_t *out);

/* Human wording shared by the page and the JSON. */
const char *gw_state_text(int state);   /* "In production", "Delivered"... */
void gw_day_text(uint32_t day, char out[16]);  /* "2025-07-01" */
void gw_time_text(uint64_t ms, char out[32]);  /* "2025-07-01 14:03 UTC" */

/* Route handlers. `id` is the path text after the prefix (untrusted). */
void gw_order_page(gateway_t *gw, const char *id, gw_reply_t *r);   /* gateway_page.c */
void gw_order_api(gateway_t *gw, const char *id, gw_reply_t *r);    /* gateway_order.c */
void gw_checkpoint_reply(gateway_t *gw, gw_reply_t *r);             /* gateway_tiles.c */
void gw_tile_reply(gateway_t *gw, const char *path, gw_reply_t *r); /* gateway_tiles.c */
void gw_metrics_reply(gateway_t *gw, gw_reply_t *r);                /* gateway_metrics.c */

/* The page's inline style and script, and the CSP that allows exactly
 * them (gateway_page.c). */
void gw_page_csp(char out[GW_CSP_MAX]);

/* ---- an order as the page and the JSON show it (gateway_order.c) ---- */

/* One record about the order. */
typedef struct {
    uint64_t position;          /* ledger position */
    uint64_t time_ms;           /* hub time */
    uint8_t kind;               /* envelope kind */
    char event[GW_EVENT_MAX];   /* what happened, short ("Accepted by cnc") */
    char detail[GW_DETAIL_MAX]; /* details in words */
    uint8_t *record;            /* record bytes (owned) */
    size_t record_len;          /* their length */
    uint8_t *proof;             /* k x 32 proof hashes (owned), NULL when not proven */
    size_t k;                   /* proof hashes */
    int proven;                 /* 1: inside the checkpoint, proof checked by the server */
} gw_event_t;

typedef struct {
    char hex[65];                           /* the order id, lower-case hex */
    payload_order_t order;                  /* the order as submitted */
    int state;                              /* policy_state_t now */
    char factories[GW_DETAIL_MAX];          /* names of the current factories, or "" */
    gw_event_t *events;                     /* in ledger order (owned) */
    size_t n;                               /* how many */
    char note[LEDGER_CHECKPOINT_MAX];       /* latest checkpoint note ("" if none) */
    gw_cp_t cp;                             /* its check */
    int has_cp;                             /* 1 when note holds a checkpoint */
    size_t proven;                          /* events whose proof verified */
    int bad_proof;                          /* 1: a proof did not verify (never expected) */
    int verified;                           /* the server's verdict for the badge */
} gw_order_t;

/* Loads an order (id: untrusted text that must be 64 hex digits). Returns
 * 0 (free with gw_order_free); COFAB_ENOTFOUND for a malformed or unknown
 * id or a subject that is not an order; COFAB_ESTORE & co. (a 503). */
int gw_order_load(gateway_t *gw, const char *id, gw_order_t **out);
void gw_order_free(gw_order_t **o_p);

/* The proof data a page embeds for its script, as compact JSON with "/"
 * escaped (safe inside <script>): note, size, root, hub and witness keys,
 * quorum, and each proven record with its proof. NULL on ENOMEM. */
char *gw_order_proof_json(const gateway_t *gw, const gw_order_t *o);

#endif
