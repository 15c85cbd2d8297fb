/* hub_internal.h — the hub's private state, shared by hub*.c only. */
#ifndef COFAB_HUB_INTERNAL_H
#define COFAB_HUB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cofab/envelope.h"
#include "cofab/gateway.h"
#include "cofab/hub.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/match_input.h"
#include "cofab/net.h"
#include "cofab/policy.h"

#define HUB_MAX_VERIFIERS 8
#define HUB_ENDPOINT_MAX 256
#define HUB_RATE_SLOTS 4096
#define HUB_SEEN_MAX 256           /* member nodes tracked for the connected-nodes gauge */
#define HUB_SEEN_WINDOW_MS 60000   /* "connected": heard from within this long */
#define HUB_REFUSAL_CODES 64       /* refusal counters, indexed by -code */
#define HUB_PROM_PERIOD_MS 1000    /* hub.prom is rewritten this often */
#define HUB_PROM_FILE GATEWAY_HUB_PROM /* in the data dir, for `cofab gateway` */

/* Jobs on the inproc pipes: first frame is one of these. */
enum { HUB_JOB_ENVELOPE = 'E', HUB_JOB_COSIGN = 'C' };

/* A member node's last request, for the connected-nodes gauge. */
typedef struct {
    uint8_t key[32];       /* member signing key, zeros = free slot */
    uint64_t last_ns;      /* monotonic time of its last request */
} hub_seen_t;

/* What a verifier thread is started with. */
typedef struct {
    struct hub_t *hub;      /* its hub */
    unsigned index;         /* which verifier pipe it reads */
} hub_verifier_arg_t;

/* The token bucket of the customer keys that hash to one rate slot. */
typedef struct {
    double tokens;         /* requests they may still make now */
    uint64_t last_ns;      /* when tokens was last refilled, 0 = slot never used */
} hub_bucket_t;

struct hub_t {
    config_hub_t cfg;                   /* as loaded */
    keys_t *keys;                       /* hub signing + transport keys */
    keys_public_t operator_pub;         /* operator's public keys */
    ledger_t *ledger;                   /* the ledger, with policy_apply */
    void *zctx;                         /* ZeroMQ context */
    net_zap_t *zap;                     /* authentication thread */
    void *router;                       /* ROUTER, caller's thread only */
    void *pub;                          /* PUB feed, writer thread only */
    /* One PUSH per verifier, router thread: an author's envelopes always go
     * to the same verifier, so they reach the writer in the order sent. */
    void *to_verify[HUB_MAX_VERIFIERS];
    unsigned nverify;                   /* verifier pipes bound */
    void *replies;                      /* PULL of replies, router thread */
    char ep_verify[HUB_MAX_VERIFIERS][HUB_ENDPOINT_MAX]; /* inproc endpoints, unique per hub */
    char ep_write[HUB_ENDPOINT_MAX];
    char ep_reply[HUB_ENDPOINT_MAX];
    char submit_ep[HUB_ENDPOINT_MAX];   /* bound endpoints */
    char feed_ep[HUB_ENDPOINT_MAX];
    pthread_t writer;                   /* writer thread */
    pthread_t verifiers[HUB_MAX_VERIFIERS];
    hub_verifier_arg_t vargs[HUB_MAX_VERIFIERS]; /* thread arguments */
    unsigned nverifiers;                /* started */
    int writer_started;                 /* 1 once the writer runs */
    atomic_int stop;                    /* set to end the threads */
    hub_bucket_t *buckets;              /* customer rate limits (router thread) */
    uint8_t rate_key[16];               /* SipHash key of the rate slots, random per start:
                                           which keys share a slot is not known offline */
    uint64_t last_match_size;           /* ledger size of the last matcher run (writer) */
    match_input_cache_t *match_cache;   /* decoded capacities across rounds (writer) */
    /* Counters, for logs and tests. */
    atomic_uint_fast64_t acked, refused, duplicates, matched, checkpoints;
    /* Refusals by error code (index -code), for hub.prom. */
    atomic_uint_fast64_t refusals[HUB_REFUSAL_CODES];
    hub_seen_t seen[HUB_SEEN_MAX];      /* member nodes heard from (router thread) */
    uint64_t prom_ns;                   /* last hub.prom write, monotonic (router thread) */
    uint64_t started_ms;                /* when hub_new ran, Unix ms */
};

/* Counts one refused request under its error code (any thread). */
void hub_refused(hub_t *self, int code);

/* Notes a request from a connection whose ZAP User-Id is user_id; member
 * nodes ("m:" + hex key) count as connected for HUB_SEEN_WINDOW_MS.
 * Router thread only. */
void hub_saw(hub_t *self, const char *user_id);

/* Rewrites <data_dir>/hub.prom (Prometheus text format: acked, refusals by
 * code, connected nodes...) through a temporary file and a rename, when
 * HUB_PROM_PERIOD_MS have passed since the last write; best effort (a
 * failure is ignored). Router thread only. */
void hub_prom_write(hub_t *self);

/* Removes hub.prom (a stopped hub has no live figures). */
void hub_prom_remove(hub_t *self);

/* Writer and verifier thread bodies (hub_writer.c). */
void *hub_writer_thread(void *arg);
void *hub_verifier_thread(void *arg);

/* Runs the matcher on the pending orders and appends its assignments, then
 * issues reassignments for declines and timeouts. Writer thread only.
 * Returns records appended (>= 0) or a negative code. (hub_match.c) */
int hub_match_round(hub_t *self, void *pub, uint64_t now_ms);

/* Publishes record seq on the feed. */
void hub_publish_record(hub_t *self, void *pub, uint64_t seq);

/* Logs a line to stderr with a timestamp. */
void hub_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
