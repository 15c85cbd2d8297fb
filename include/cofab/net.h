/* net.h — ZeroMQ plumbing: CURVE sockets, a ZAP handler, bounded message I/O.
 *
 * Every cofab socket uses CURVE. Servers authenticate each client key with
 * a ZAP handler (RFC 27) that asks the caller's authorize function; the
 * handler is started before any server socket binds, so no connection can
 * slip in unauthenticated. An unknown key gets ZAP status 400 and the
 * connection is closed by libzmq without a single message passing.
 *
 * Messages are the two frames of wire.h ([identity] header body on a
 * ROUTER). net_recv() reads a whole multipart message, refusing (and
 * draining) anything with the wrong number or size of frames.
 */
#ifndef COFAB_NET_H
#define COFAB_NET_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/keys.h"
#include "cofab/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NET_USER_ID_MAX 80       /* "m:" or "c:" + 64 hex + NUL, with room */
#define NET_IDENTITY_MAX 255     /* ROUTER routing id bytes */
#define NET_LINGER_MS 200        /* bounded linger on close */

/* Decides whether a client transport key may connect. Writes the ZAP
 * User-Id to give the connection (NUL-terminated, < NET_USER_ID_MAX) and
 * returns 0 to allow, non-zero to refuse. Runs on the ZAP thread. */
typedef int (*net_authorize_fn)(void *arg, const uint8_t client_key[32], char *user_id);

typedef struct net_zap_t net_zap_t;

/* Starts the ZAP handler thread on ctx. Returns NULL on failure. */
net_zap_t *net_zap_start(void *zmq_ctx, net_authorize_fn authorize, void *arg);

/* Counts so far: connections allowed and refused. */
void net_zap_counts(net_zap_t *zap, uint64_t *allowed, uint64_t *refused);

/* Stops the thread and frees; safe on NULL and twice. */
void net_zap_destroy(net_zap_t **zap_p);

/* A CURVE server socket of zmq type (ZMQ_ROUTER, ZMQ_PUB) with the server's
 * transport secret key, ZAP domain "cofab", bounded message size and
 * linger, ROUTER_MANDATORY on routers, ZMTP heartbeats. Not yet bound.
 * Returns NULL on failure. */
void *net_server_socket(void *zmq_ctx, int type, const keys_t *keys);

/* A CURVE client socket (ZMQ_DEALER, ZMQ_SUB) with our keys and the
 * server's transport public key, same bounds and heartbeats. Not yet
 * connected. Returns NULL on failure. */
void *net_client_socket(void *zmq_ctx, int type, const keys_t *keys,
                        const uint8_t server_key[32]);

/* One received message. body is malloc'd (free with net_msg_free). */
typedef struct {
    uint8_t identity[NET_IDENTITY_MAX]; /* ROUTER routing id (routers only) */
    size_t identity_len;                /* its length, 0 elsewhere */
    char user_id[NET_USER_ID_MAX];      /* ZAP User-Id of the sender (servers) */
    int type;                           /* wire_type_t */
    uint64_t request_id;                /* echoed id */
    uint8_t *body;                      /* malloc'd body */
    size_t len;                         /* body length */
} net_msg_t;

void net_msg_free(net_msg_t *m);

/* Receives one message within timeout_ms (-1 waits forever). with_identity:
 * the socket is a ROUTER. Returns 0; COFAB_ENOTFOUND on timeout;
 * COFAB_EMALFORMED / COFAB_ETOOBIG / COFAB_EVERSION... for a bad message
 * (whose frames are all consumed, and m->identity is still set so the
 * sender can be told); COFAB_ENET on a socket error. */
int net_recv(void *sock, int with_identity, int timeout_ms, net_msg_t *m);

/* Sends [identity] header body. identity may be NULL. Returns 0 or
 * COFAB_ENET (e.g. the peer is gone on a ROUTER_MANDATORY router). */
int net_send(void *sock, const uint8_t *identity, size_t identity_len, int type,
             uint64_t request_id, const void *body, size_t len);

/* Sends an ERR reply with code and reason. */
int net_send_err(void *sock, const uint8_t *identity, size_t identity_len, uint64_t request_id,
                 int code, const char *reason);

/* Client side: sends (type, body) with a fresh request id on a DEALER and
 * waits up to timeout_ms for the reply with that id (stale replies are
 * dropped). Returns 0 with *reply filled, COFAB_ENET on timeout. */
int net_request(void *dealer, int type, const void *body, size_t len, int timeout_ms,
                net_msg_t *reply);

#ifdef __cplusplus
}
#endif
#endif
