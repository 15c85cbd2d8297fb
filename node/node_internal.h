/* node_internal.h — the factory node's private state, shared by node*.c only. */
#ifndef COFAB_NODE_INTERNAL_H
#define COFAB_NODE_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cofab/config.h"
#include "cofab/envelope.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/net.h"
#include "cofab/node.h"
#include "cofab/witness.h"
#include "cofab/note.h"

#define NODE_BATCH 256          /* feed records replicated per transaction */
#define NODE_TODO_MAX 256       /* assignments waiting to be looked at */
#define NODE_SEEN_MAX 64        /* assignments already announced in the log */
#define NODE_SUBMIT_TRIES 3     /* sends of one envelope before giving up for now */
#define NODE_BACKOFF_MIN_MS 100 /* first reconnect delay */
#define NODE_DAY_MS 86400000ull

/* A verified hub checkpoint: its signed note and parsed body. */
typedef struct {
    int set;                    /* 1 if the fields below hold one */
    checkpoint_t cp;            /* parsed body */
    char *text;                 /* signed note text (malloc'd, NOTE_MAX_LEN + 1) */
    size_t len;                 /* its length */
} node_cp_t;

/* An assignment that was announced: order and the assign record it came in. */
typedef struct {
    uint8_t order[32];          /* order id */
    uint64_t assign_seq;        /* position of its assign record */
} node_seen_t;

struct node_t {
    config_node_t cfg;                  /* configuration in force */
    char config_path[CONFIG_PATH_MAX];  /* re-read on reload ("" = none) */
    keys_t *keys;                       /* our signing + transport keys */
    keys_public_t hub_pub;              /* hub's public keys */
    note_verifier_t hub_verifier;       /* verifies the hub's checkpoints */
    ledger_t *ledger;                   /* the replica, NULL until genesis */
    void *zctx;                         /* ZeroMQ context */
    void *dealer;                       /* requests to the hub (NULL: disconnected) */
    void *sub;                          /* the hub's feed */
    void *control;                      /* REP for `cofab factory` */
    int control_bound;                  /* 1 once we created its socket file */
    volatile sig_atomic_t *stop;        /* node_run's stop flag */
    int connected;                      /* 1 after a successful sync */
    int halted;                         /* hub caught misbehaving: no more replication */
    int need_catchup;                   /* a gap or a checkpoint beyond us was seen */
    uint64_t next_attempt_ns;           /* when to try connecting again (monotonic) */
    uint32_t backoff_ms;                /* current reconnect delay */
    uint64_t last_ping_ns;              /* when the last PING went out */
    uint64_t ping_id;                   /* its request id */
    int ping_outstanding;               /* 1 until its PONG arrives */
    unsigned missed;                    /* PINGs in a row without a PONG */
    uint64_t last_cp_poll_ns;           /* when we last asked for the latest checkpoint */
    uint8_t *pending;                   /* sealed envelope not yet answered (ENVELOPE_MAX) */
    size_t pending_len;                 /* its length, 0 = none */
    int pending_kind;                   /* its envelope kind */
    uint64_t pending_seq;               /* its author sequence number */
    uint64_t acked_seq;                 /* highest of our author numbers the hub acknowledged */
    int capacity_due;                   /* capacity must be (re)submitted */
    uint32_t capacity_day;              /* epoch day of the last capacity sent */
    node_cp_t seen;                     /* latest verified checkpoint */
    node_cp_t cosigned;                 /* latest checkpoint we cosigned */
    uint64_t witnessed_size;            /* largest witnessed checkpoint stored in the replica */
    int wpolicy_loaded;                 /* 1 once wpolicy is read from genesis */
    witness_policy_t wpolicy;           /* genesis' witnesses and quorum */
    node_cp_t future;                   /* verified, beyond our replica for now */
    uint8_t todo[NODE_TODO_MAX][32];    /* orders with an assignment to look at */
    size_t ntodo;                       /* how many */
    int rescan;                         /* todo overflowed: scan our orders again */
    node_seen_t seen_assign[NODE_SEEN_MAX]; /* announced assignments (ring) */
    size_t nseen;                       /* entries written so far */
    pthread_mutex_t lock;               /* guards status */
    node_status_t status;               /* what node_status() copies */
};

/* Logs one line to stderr: time, node name, message. (node.c) */
void node_log(const node_t *self, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Refreshes status.size/head from the replica and applies fn to status
 * under the lock. (node.c) */
void node_status_sync(node_t *self);
void node_status_add(node_t *self, uint64_t *field, uint64_t n);
void node_status_set(node_t *self, uint64_t *field, uint64_t v);

/* Sends one request to the hub and waits (in slices, watching the stop
 * flag) for the reply with its id. Returns 0 with *reply, COFAB_ENET on
 * timeout or when disconnected. Any reply counts as a sign of life. (node.c) */
int node_request(node_t *self, int type, const void *body, size_t len, net_msg_t *reply);

/* Marks the hub lost: closes the hub sockets and schedules a reconnect. (node.c) */
void node_lost(node_t *self, const char *why);

/* Writes DATA_DIR/evidence-<ms>.txt with text. Returns 0 or COFAB_EIO. (node.c) */
int node_evidence(node_t *self, const char *text, size_t len);

/* Replication (node_sync.c). */
/* Creates the replica from the hub's record 0 if there is none. */
int node_sync_genesis(node_t *self);
/* Fetches records from ledger_size() until the hub has no more. Returns 0,
 * COFAB_ENET, or a store error. */
int node_sync_catch_up(node_t *self);
/* Drains the feed socket: records in order are replicated, checkpoints
 * checked. Returns 0, COFAB_ENET or a store error. */
int node_sync_feed(node_t *self);
/* Verifies and replicates n records (bytes, lens) expected at positions
 * ledger_size() + i. Returns 0 (also when the hub was caught and the node
 * halted), or a store error. */
int node_sync_apply(node_t *self, const uint8_t *const *bytes, const size_t *lens, size_t n);

/* Checkpoints (node_witness.c). */
/* Loads DATA_DIR/last-cosigned.note if present. */
int node_witness_load(node_t *self);
/* Verifies a checkpoint note from the hub and, if all is well and we are a
 * witness, cosigns it. stored: the note is the hub's stored copy
 * (GET_CHECKPOINT), so a missing cosignature of ours is sent again; feed
 * copies never carry cosignatures. Returns 0, COFAB_ENET (cosigning could
 * not reach the hub), or a store error; refusals are logged (and
 * evidenced), not returned. */
int node_witness_checkpoint(node_t *self, const char *text, size_t len, int stored);
/* Re-checks a remembered checkpoint once the replica has reached it. */
int node_witness_pending(node_t *self);
/* 1 while the latest verified checkpoint is newer than the witnessed one
 * the replica keeps (the node then polls the hub for its cosigned copy). */
int node_witness_missing(node_t *self);
/* Frees the checkpoint buffers. */
void node_witness_free(node_t *self);

/* Our own envelopes (node_submit.c). */
/* Seals (kind, subject, payload) as our next envelope and submits it,
 * resending an unanswered earlier one first. Returns 0 with *pos; the hub's
 * refusal code with its reason in reason (room WIRE_MAX_REASON + 1);
 * COFAB_ENET if the hub did not answer (the envelope stays pending). */
int node_submit(node_t *self, int kind, const uint8_t subject[32], const uint8_t *payload,
                size_t payload_len, uint64_t *pos, char *reason);
/* Resends the pending envelope, if any. Returns 0 when none is left. */
int node_submit_pending(node_t *self);
/* Submits the capacity built from the configuration. */
int node_submit_capacity(node_t *self);
/* Notes that order may hold a new assignment for us. */
void node_assign_note(node_t *self, const uint8_t order[32]);
/* Looks at noted assignments: logs them, accepts automatically if allowed. */
int node_assign_process(node_t *self);
/* Notes every order currently assigned to us. */
int node_assign_scan(node_t *self);

/* The control socket (node_control.c). */
int node_control_bind(node_t *self);
void node_control_handle(node_t *self);

#endif
