/* net.c — CURVE sockets, the ZAP authentication thread and bounded message I/O on ZeroMQ. */
#include "cofab/net.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/util.h"

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_MAX_FRAMES 8

struct net_zap_t {
    void *ctx;                    /* zmq context shared with the server sockets */
    net_authorize_fn authorize;   /* the owner's decision */
    void *arg;                    /* passed to authorize */
    pthread_t thread;             /* the handler thread */
    void *rep;                    /* REP socket bound to the ZAP endpoint */
    atomic_int stop;              /* set to end the thread */
    atomic_uint_fast64_t allowed; /* connections allowed */
    atomic_uint_fast64_t refused; /* connections refused */
};

static void
s_send_str(void *sock, const char *s, int more)
{
    zmq_send(sock, s, strlen(s), more ? ZMQ_SNDMORE : 0);
}

/* Answers one ZAP request (RFC 27). */
static void
s_zap_handle(net_zap_t *zap)
{
    zmq_msg_t frames[S_MAX_FRAMES];
    int n = 0, more = 1;
    while (more && n < S_MAX_FRAMES) {
        zmq_msg_init(&frames[n]);
        if (zmq_msg_recv(&frames[n], zap->rep, 0) < 0) {
            zmq_msg_close(&frames[n]);
            break;
        }
        more = zmq_msg_more(&frames[n]);
        n++;
    }
    while (more) { /* more frames than any ZAP request has: drain */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, zap->rep, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    char user_id[NET_USER_ID_MAX] = "";
    int ok = 0;
    /* version, request id, domain, address, identity, mechanism, key */
    if (n == 7 && zmq_msg_size(&frames[0]) == 3 && !memcmp(zmq_msg_data(&frames[0]), "1.0", 3) &&
        zmq_msg_size(&frames[5]) == 5 && !memcmp(zmq_msg_data(&frames[5]), "CURVE", 5) &&
        zmq_msg_size(&frames[6]) == 32)
        ok = zap->authorize(zap->arg, zmq_msg_data(&frames[6]), user_id) == 0;
    if (ok)
        atomic_fetch_add(&zap->allowed, 1);
    else
        atomic_fetch_add(&zap->refused, 1);
    if (n >= 2) {
        s_send_str(zap->rep, "1.0", 1);
        zmq_send(zap->rep, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), ZMQ_SNDMORE);
        s_send_str(zap->rep, ok ? "200" : "400", 1);
        s_send_str(zap->rep, ok ? "OK" : "unknown key", 1);
        s_send_str(zap->rep, ok ? user_id : "", 1);
        s_send_str(zap->rep, "", 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}

static void *
s_zap_thread(void *arg)
{
    net_zap_t *zap = arg;
    while (!atomic_load(&zap->stop)) {
        zmq_pollitem_t item = {zap->rep, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, 100);
        if (rc > 0 && (item.revents & ZMQ_POLLIN))
            s_zap_handle(zap);
        else if (rc < 0 && zmq_errno() == ETERM)
            break;
    }
    return NULL;
}

net_zap_t *
net_zap_start(void *zmq_ctx, net_authorize_fn authorize, void *arg)
{
    if (!zmq_ctx || !authorize)
        return NULL;
    net_zap_t *zap = calloc(1, sizeof *zap);
    if (!zap)
        return NULL;
    zap->ctx = zmq_ctx;
    zap->authorize = authorize;
    zap->arg = arg;
    int linger = 0;
    zap->rep = zmq_socket(zmq_ctx, ZMQ_REP);
    if (!zap->rep || zmq_setsockopt(zap->rep, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_bind(zap->rep, S_ZAP_ENDPOINT) != 0 ||
        pthread_create(&zap->thread, NULL, s_zap_thread, zap) != 0) {
        if (zap->rep)
            zmq_close(zap->rep);
        free(zap);
        return NULL;
    }
    return zap;
}

void
net_zap_counts(net_zap_t *zap, uint64_t *allowed, uint64_t *refused)
{
    *allowed = atomic_load(&zap->allowed);
    *refused = atomic_load(&zap->refused);
}

void
net_zap_destroy(net_zap_t **zap_p)
{
    if (!zap_p || !*zap_p)
        return;
    net_zap_t *zap = *zap_p;
    atomic_store(&zap->stop, 1);
    pthread_join(zap->thread, NULL);
    zmq_close(zap->rep);
    free(zap);
    *zap_p = NULL;
}

static int
s_common_options(void *sock, int type)
{
    int linger = NET_LINGER_MS, ivl = 1000, timeout = 5000, ttl = 10000, unbounded = 0;
    int64_t max = (int64_t) WIRE_MAX_BODY + 4096;
    int rc = zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) |
             zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (type == ZMQ_SUB)
        /* A feed subscriber that is not read for a while (a node catching
         * up by GET_RANGE) must not stop reading its connection: with a
         * full pipe and a heartbeat timeout libzmq 4.3.4 drops the link and
         * then aborts on a stale command (zeromq/libzmq#3937). No ZMTP
         * heartbeats here (the node's DEALER pings detect a dead hub) and
         * no receive limit (the backlog is bounded by the catch-up time). */
        return rc | zmq_setsockopt(sock, ZMQ_RCVHWM, &unbounded, sizeof unbounded);
    return rc | zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) |
           zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) |
           zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl);
}

void *
net_server_socket(void *zmq_ctx, int type, const keys_t *keys)
{
    void *sock = zmq_socket(zmq_ctx, type);
    if (!sock)
        return NULL;
    int server = 1, mandatory = 1;
    int rc = s_common_options(sock, type) |
             zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &server, sizeof server) |
             zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys_curve_sk(keys), 32) |
             zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "cofab", 5);
    if (type == ZMQ_ROUTER)
        rc |= zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof mandatory);
    if (rc != 0) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

void *
net_client_socket(void *zmq_ctx, int type, const keys_t *keys, const uint8_t server_key[32])
{
    void *sock = zmq_socket(zmq_ctx, type);
    if (!sock)
        return NULL;
    int rc = s_common_options(sock, type) |
             zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, 32) |
             zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, keys_curve_pk(keys), 32) |
             zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys_curve_sk(keys), 32);
    if (rc != 0) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

void
net_msg_free(net_msg_t *m)
{
    if (m) {
        free(m->body);
        m->body = NULL;
        m->len = 0;
    }
}

int
net_recv(void *sock, int with_identity, int timeout_ms, net_msg_t *m)
{
    memset(m, 0, sizeof *m);
    if (timeout_ms == 0) {
        /* No wait: ask the socket (no system call), not zmq_poll(), which
         * polls the socket's file descriptor every time. */
        int events = 0;
        size_t elen = sizeof events;
        if (zmq_getsockopt(sock, ZMQ_EVENTS, &events, &elen) != 0)
            return COFAB_ENET;
        if (!(events & ZMQ_POLLIN))
            return COFAB_ENOTFOUND;
    } else {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int prc = zmq_poll(&item, 1, timeout_ms);
        if (prc < 0)
            return COFAB_ENET;
        if (prc == 0)
            return COFAB_ENOTFOUND;
    }

    zmq_msg_t f[3];
    int want = with_identity ? 3 : 2, n = 0, more = 1, rc = 0;
    while (more) {
        zmq_msg_t cur;
        zmq_msg_init(&cur);
        if (zmq_msg_recv(&cur, sock, 0) < 0) {
            zmq_msg_close(&cur);
            rc = COFAB_ENET;
            break;
        }
        more = zmq_msg_more(&cur);
        if (n < 3) {
            f[n++] = cur;
        } else {
            zmq_msg_close(&cur);
            n++;
        }
    }
    int kept = n < 3 ? n : 3;
    if (rc == 0 && n != want)
        rc = n < want ? COFAB_ETRUNCATED : COFAB_EMALFORMED;
    int first = 0;
    if (with_identity && kept >= 1) {
        size_t idlen = zmq_msg_size(&f[0]);
        if (idlen <= NET_IDENTITY_MAX) {
            memcpy(m->identity, zmq_msg_data(&f[0]), idlen);
            m->identity_len = idlen;
        } else if (rc == 0) {
            rc = COFAB_EMALFORMED;
        }
        first = 1;
    }
    if (kept > first) {
        const char *uid = zmq_msg_gets(&f[first], "User-Id");
        if (uid)
            snprintf(m->user_id, sizeof m->user_id, "%s", uid);
    }
    if (rc == 0)
        rc = wire_header_decode(zmq_msg_data(&f[first]), zmq_msg_size(&f[first]), &m->type,
                                &m->request_id);
    if (rc == 0) {
        size_t len = zmq_msg_size(&f[first + 1]);
        if (len > WIRE_MAX_BODY) {
            rc = COFAB_ETOOBIG;
        } else {
            m->body = malloc(len ? len : 1);
            if (!m->body) {
                rc = COFAB_ENOMEM;
            } else {
                memcpy(m->body, zmq_msg_data(&f[first + 1]), len);
                m->len = len;
            }
        }
    }
    for (int i = 0; i < kept; i++)
        zmq_msg_close(&f[i]);
    return rc;
}

int
net_send(void *sock, const uint8_t *identity, size_t identity_len, int type,
         uint64_t request_id, const void *body, size_t len)
{
    uint8_t header[WIRE_HEADER_LEN];
    wire_header_encode(header, type, request_id);
    if (identity && zmq_send(sock, identity, identity_len, ZMQ_SNDMORE) < 0)
        return COFAB_ENET;
    if (zmq_send(sock, header, sizeof header, ZMQ_SNDMORE) < 0)
        return COFAB_ENET;
    if (zmq_send(sock, len ? body : "", len, 0) < 0)
        return COFAB_ENET;
    return 0;
}

int
net_send_err(void *sock, const uint8_t *identity, size_t identity_len, uint64_t request_id,
             int code, const char *reason)
{
    wire_writer_t w;
    wire_writer_init(&w);
    int rc = wire_err_encode(&w, code, reason);
    if (rc == 0)
        rc = net_send(sock, identity, identity_len, WIRE_ERR, request_id, w.data, w.len);
    wire_writer_free(&w);
    return rc;
}

int
net_request(void *dealer, int type, const void *body, size_t len, int timeout_ms,
            net_msg_t *reply)
{
    uint64_t id;
    randombytes_buf(&id, sizeof id);
    int rc = net_send(dealer, NULL, 0, type, id, body, len);
    if (rc != 0)
        return rc;
    uint64_t deadline = util_mono_ns() + (uint64_t) timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = util_mono_ns();
        if (now >= deadline)
            return COFAB_ENET;
        int left = (int) ((deadline - now) / 1000000u) + 1;
        rc = net_recv(dealer, 0, left, reply);
        if (rc == COFAB_ENOTFOUND)
            return COFAB_ENET;
        if (rc == 0 && reply->request_id == id)
            return 0;
        net_msg_free(reply); /* a stale reply to an earlier, timed-out request */
        if (rc == COFAB_ENET)
            return rc;
    }
}
