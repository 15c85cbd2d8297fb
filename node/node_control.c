/* node_control.c — the operator's ipc control socket: accept, decline and progress requests. */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/payload.h"

#define S_MAX_FRAMES 4

int
node_control_bind(node_t *self)
{
    const char *ep = self->cfg.control;
    if (strncmp(ep, "ipc://", 6) != 0 || ep[6] == 0) {
        node_log(self, "control endpoint must be ipc://PATH, not '%s'", ep);
        return COFAB_EINVAL;
    }
    self->control = zmq_socket(self->zctx, ZMQ_REP);
    int linger = 0;
    int64_t max = NODE_CONTROL_FRAME_MAX;
    if (!self->control || zmq_setsockopt(self->control, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(self->control, ZMQ_MAXMSGSIZE, &max, sizeof max))
        return COFAB_ENET;
    /* Only our user may talk to the node: the socket file is made 0600. */
    mode_t old = umask(077);
    int rc = zmq_bind(self->control, ep);
    umask(old);
    if (rc != 0) {
        node_log(self, "cannot bind control socket %s: %s", ep, zmq_strerror(zmq_errno()));
        return COFAB_ENET;
    }
    self->control_bound = 1;
    if (chmod(ep + 6, 0600) != 0) {
        node_log(self, "cannot restrict %s to mode 0600", ep + 6);
        return COFAB_EIO;
    }
    return 0;
}

static void
s_reply(node_t *self, int code, uint64_t pos, const char *reason)
{
    char out[NODE_CONTROL_REPLY_MAX];
    int n = code == 0 ? snprintf(out, sizeof out, "ok %llu", (unsigned long long) pos)
                      : snprintf(out, sizeof out, "err %d %s", code, reason);
    if (n < 0)
        n = 0;
    if ((size_t) n >= sizeof out)
        n = (int) sizeof out - 1;
    zmq_send(self->control, out, (size_t) n, 0);
}

/* Copies a frame into a NUL-terminated string of room cap; 0 if it fits
 * and holds no NUL byte. */
static int
s_text(const zmq_msg_t *f, char *out, size_t cap)
{
    size_t n = zmq_msg_size((zmq_msg_t *) f);
    const char *p = zmq_msg_data((zmq_msg_t *) f);
    if (n >= cap || memchr(p, 0, n))
        return COFAB_EMALFORMED;
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

static int
s_hex32(const zmq_msg_t *f, uint8_t out[32])
{
    char text[65];
    size_t bin = 0;
    if (s_text(f, text, sizeof text) != 0 || strlen(text) != 64 ||
        sodium_hex2bin(out, 32, text, 64, NULL, &bin, NULL) != 0 || bin != 32)
        return COFAB_EMALFORMED;
    return 0;
}

/* Decodes a request into (kind, order, payload). *what says what failed. */
static int
s_parse(zmq_msg_t *f, int n, int *kind, uint8_t order[32], uint8_t **payload, size_t *plen,
        const char **what)
{
    char verb[16], text[NODE_CONTROL_FRAME_MAX + 1];
    *what = "malformed request";
    if (n < 2 || s_text(&f[0], verb, sizeof verb) != 0)
        return COFAB_EMALFORMED;
    if (s_hex32(&f[1], order) != 0) {
        *what = "order id must be 64 hex digits";
        return COFAB_EMALFORMED;
    }
    *what = "bad arguments";
    if (!strcmp(verb, "accept") && n == 2) {
        payload_accept_t a = {.note = ""};
        *kind = ENVELOPE_ACCEPT;
        return payload_accept_encode(&a, payload, plen);
    }
    if (!strcmp(verb, "decline") && (n == 2 || n == 3)) {
        payload_decline_t d;
        snprintf(d.reason, sizeof d.reason, "declined by the factory");
        if (n == 3 && (s_text(&f[2], text, sizeof text) != 0 || strlen(text) == 0 ||
                       strlen(text) > PAYLOAD_MAX_TEXT)) {
            *what = "reason must be 1 to 256 bytes of text";
            return COFAB_EMALFORMED;
        }
        if (n == 3)
            memcpy(d.reason, text, strlen(text) + 1);
        *kind = ENVELOPE_DECLINE;
        *what = "reason must be text without control characters";
        return payload_decline_encode(&d, payload, plen);
    }
    if (!strcmp(verb, "progress") && (n == 3 || n == 4)) {
        payload_status_t s;
        memset(&s, 0, sizeof s);
        int stage = s_text(&f[2], text, sizeof text) == 0 ? payload_stage_parse(text)
                                                          : COFAB_EMALFORMED;
        if (stage < 0) {
            *what = "stage must be in-production, qc-passed, shipped or delivered";
            return COFAB_EMALFORMED;
        }
        s.stage = (payload_stage_t) stage;
        if (n == 4) {
            if (s_hex32(&f[3], s.attachment) != 0) {
                *what = "attachment must be a SHA-256 in 64 hex digits";
                return COFAB_EMALFORMED;
            }
            s.has_attachment = 1;
        }
        *kind = ENVELOPE_STATUS;
        return payload_status_encode(&s, payload, plen);
    }
    *what = "unknown request (accept, decline, progress)";
    return COFAB_EMALFORMED;
}

void
node_control_handle(node_t *self)
{
    zmq_msg_t f[S_MAX_FRAMES];
    int n = 0, more = 1, extra = 0;
    while (more) {
        zmq_msg_t cur;
        zmq_msg_init(&cur);
        if (zmq_msg_recv(&cur, self->control, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&cur);
            if (n == 0 && !extra)
                return; /* nothing was there: no reply owed */
            break;
        }
        more = zmq_msg_more(&cur);
        if (n < S_MAX_FRAMES) {
            zmq_msg_init(&f[n]);
            zmq_msg_move(&f[n++], &cur);
        } else {
            extra = 1;
        }
        zmq_msg_close(&cur);
    }
    int kind = 0, rc;
    uint8_t order[32], *payload = NULL;
    size_t plen = 0;
    uint64_t pos = 0;
    const char *what = "";
    char reason[WIRE_MAX_REASON + 1] = "";
    rc = extra ? COFAB_EMALFORMED : s_parse(f, n, &kind, order, &payload, &plen, &what);
    if (rc != 0) {
        snprintf(reason, sizeof reason, "%s", extra ? "too many frames" : what);
    } else if (!self->connected) {
        rc = COFAB_ENET;
        snprintf(reason, sizeof reason, "hub unreachable; try again later");
    } else {
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, order, 8);
        rc = node_submit(self, kind, order, payload, plen, &pos, reason);
        node_log(self, "operator: %s order %s… -> %s%s", envelope_kind_name(kind), hex,
                 rc == 0 ? "ok" : "refused: ", rc == 0 ? "" : reason);
    }
    s_reply(self, rc, pos, reason);
    free(payload);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}
