/* node.h — the factory node: replicates and verifies the ledger, witnesses checkpoints,
 * publishes capacity, answers assignments, and serves the operator's control socket.
 *
 * A node keeps its own replica of the hub's ledger (same ledger module, same
 * policy_apply hook, so the same derived state) and follows the zguide Clone
 * pattern: subscribe to the hub's feed first, then catch up by range from the
 * size it holds, then apply feed records in order (dropping those it has,
 * fetching the range again on a gap). Every record's signature, chain link,
 * author chain and alliance rule is checked again here; a record the rules
 * refuse means the hub misbehaves: the node logs it loudly, writes
 * DATA_DIR/evidence-<ms>.txt (the record in base64 and the reason), stops
 * replicating and keeps serving the operator.
 *
 * Checkpoints (feed topic "C" and GET_CHECKPOINT) are verified against the
 * hub key and against the replica's own roots and chain head. With
 * `witness = yes` each verified checkpoint consistent with the last one the
 * node cosigned (kept durably in DATA_DIR/last-cosigned.note) is cosigned
 * (C2SP cosignature/v1) and sent with COSIGN. Two checkpoints that cannot
 * both be true are never cosigned: the node writes an evidence file holding
 * both signed notes.
 *
 * Capacity is built from the configuration and submitted at start (after
 * catch-up), on reload and once a day. Assignments naming this factory are
 * accepted automatically with `auto_accept = yes`, else they wait for the
 * operator's `cofab factory accept|decline`. The node's own envelopes
 * continue the author chain the hub reports (GET_AUTHOR); an envelope whose
 * submission timed out is resent byte for byte until the hub answers, so a
 * retry can never fork the author chain.
 *
 * Control socket (ZeroMQ REP on the `control` ipc:// endpoint, file mode
 * 0600). A request is 2 to 4 frames of at most NODE_CONTROL_FRAME_MAX bytes:
 *   "accept"   | order id (64 hex)
 *   "decline"  | order id | [reason text, 1..256 bytes]
 *   "progress" | order id | stage ("in-production", "qc-passed", "shipped",
 *                "delivered") | [attachment SHA-256 (64 hex)]
 * The reply is one frame: "ok <ledger position>" or "err <code> <reason>",
 * code being a cofab error code (COFAB_ENET: the hub could not be reached).
 *
 * Threads: node_run() owns every socket and the replica's write side; only
 * node_status() may be called from another thread.
 */
#ifndef COFAB_NODE_H
#define COFAB_NODE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "cofab/config.h"
#include "cofab/payload.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NODE_CONTROL_FRAME_MAX 512   /* largest control request frame, bytes */
#define NODE_CONTROL_REPLY_MAX 320   /* largest control reply, bytes */
#define NODE_PING_MS 2000            /* PING period on the request socket */
#define NODE_PING_MISSES 3           /* unanswered PINGs that mean the hub is lost */
#define NODE_REQUEST_MS 3000         /* wait for one reply from the hub */

typedef struct node_t node_t;

/* What the node has done so far, for tests and logs. */
typedef struct {
    int connected;              /* 1 while the hub answers */
    int halted;                 /* 1 once a hub record or checkpoint was refused */
    uint64_t size;              /* records in the replica */
    uint8_t head[32];           /* replica's last record hash */
    uint64_t cosigned_size;     /* tree size of the last checkpoint cosigned (0 none) */
    uint64_t cosignatures;      /* checkpoints cosigned and acknowledged */
    uint64_t capacity_seq;      /* ledger position of our last capacity record */
    uint64_t capacity_count;    /* capacity records acknowledged */
    uint64_t accepted;          /* assignments accepted automatically */
    uint64_t evidence;          /* evidence files written */
    uint64_t reconnects;        /* times the hub was declared lost */
} node_status_t;

/* Loads the node's keys (refusing group/world-readable secrets) and the
 * hub's .pub, opens the replica in cfg->data_dir if it exists (checking that
 * its genesis names this hub), and binds the control socket. Nothing is
 * fetched yet: node_run() connects. config_path, if not NULL, is re-read on
 * reload. Returns NULL on failure, with a reason on stderr. */
node_t *node_new(const config_node_t *cfg, const char *config_path);

/* Runs until *stop becomes non-zero. When reload is not NULL and *reload
 * becomes non-zero, the node clears it, re-reads config_path (capacity,
 * offers, auto_accept, witness, reconnect_max_ms; other changes need a
 * restart) and submits its capacity again. Returns 0 on a clean stop (also
 * after halting on a misbehaving hub), a negative code if the replica
 * cannot be used (COFAB_EIO, COFAB_ESTORE...). */
int node_run(node_t *self, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload);

/* Copies the current status into *out (thread-safe). */
void node_status(node_t *self, node_status_t *out);

/* Closes sockets (bounded linger), terminates the ZeroMQ context, closes the
 * replica and wipes the keys; safe on NULL and twice; sets *self_p = NULL. */
void node_destroy(node_t **self_p);

/* Builds this factory's capacity payload from cfg for the epoch day `today`
 * into *out (which is large: heap-allocate it). Weekday of epoch day d is
 * (d + 3) % 7 with 0 = Monday (1970-01-01 was a Thursday). Returns 0 or
 * COFAB_EINVAL (no offers, or a value the capacity payload cannot carry). */
int node_capacity_build(const config_node_t *cfg, uint32_t today, payload_capacity_t *out);

/* `cofab node --config F`: runs a node until SIGINT/SIGTERM (exit 0);
 * SIGHUP reloads. */
int node_main(int argc, char **argv);

/* `cofab factory accept|decline|progress ...`: talks to the local node's
 * control socket. Exit 0 ok, 1 refused, 2 usage, 3 node (or hub) unreachable. */
int factory_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
