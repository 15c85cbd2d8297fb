/* drill_flood.c — test-only load for drill 04: one customer key flooding the hub with requests, and TCP connections that never finish the handshake.
 *
 * usage: drill_flood --hub EP --hub-key HUB.pub --key FLOODER.key --seconds S
 *                    [--window W] [--hang N]
 *
 * Flood: one CURVE connection with the flooder's (admitted, customer) key
 * keeps W requests (default 256) in flight for S seconds, as fast as the
 * hub answers: GET_CHECKPOINT, GET_AUTHOR, PING and SUBMITs of 100 random
 * bytes in turn. None of them can change the ledger. The hub's
 * per-customer token bucket must refuse most with "rate limit".
 *
 * Hang (--hang N, default 0): N plain TCP connections to the same endpoint,
 * each sending the first 11 bytes of a ZMTP greeting (signature and major
 * version) and then nothing. Whatever the hub sends is read and dropped;
 * a connection the hub closes is counted (with how long it was held) and
 * replaced by a new one, so N stay open all along.
 *
 * Prints one line of key=value pairs:
 *   flood: sent= answered= ratelimited= lost= rate= hang: held= opened=
 *   closed_by_hub= first_close_s=
 * Exit 0, or 2 on a set-up error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/net.h"
#include "cofab/util.h"
#include "cofab/wire.h"

#define S_MAX_HANG 1000

typedef struct {
    int fd;              /* socket, -1 when free */
    uint64_t opened_ns;  /* when connected */
} s_hang_t;

typedef struct {
    uint64_t sent, answered, ratelimited, lost;   /* flood */
    uint64_t opened, closed;                      /* hang */
    double first_close_s;                         /* seconds a hung connection was held, first close */
} s_stats_t;

/* tcp://HOST:PORT into a sockaddr (IPv4 literal hosts only: the drills use 127.0.0.1). */
static int
s_addr(const char *ep, struct sockaddr_in *sa)
{
    char host[64];
    unsigned port = 0;
    if (sscanf(ep, "tcp://%63[^:]:%u", host, &port) != 2 || port == 0 || port > 65535)
        return COFAB_EINVAL;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t) port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : COFAB_EINVAL;
}

static int
s_hang_open(const struct sockaddr_in *sa, s_hang_t *h)
{
    static const uint8_t greeting[11] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3};
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (h->fd < 0)
        return COFAB_EIO;
    if (connect(h->fd, (const struct sockaddr *) sa, sizeof *sa) != 0 ||
        send(h->fd, greeting, sizeof greeting, MSG_NOSIGNAL) != (ssize_t) sizeof greeting) {
        close(h->fd);
        h->fd = -1;
        return COFAB_EIO;
    }
    fcntl(h->fd, F_SETFL, fcntl(h->fd, F_GETFL) | O_NONBLOCK);
    h->opened_ns = util_mono_ns();
    return 0;
}

/* Reads whatever the hub sent; a closed connection is counted and reopened. */
static void
s_hang_poll(const struct sockaddr_in *sa, s_hang_t *hang, int n, s_stats_t *st)
{
    struct pollfd pfd[S_MAX_HANG];
    for (int i = 0; i < n; i++)
        pfd[i] = (struct pollfd){hang[i].fd, POLLIN, 0};
    if (poll(pfd, (nfds_t) n, 0) <= 0)
        return;
    for (int i = 0; i < n; i++) {
        if (!pfd[i].revents || hang[i].fd < 0)
            continue;
        uint8_t buf[512];
        ssize_t r = recv(hang[i].fd, buf, sizeof buf, 0);
        if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
            continue;
        double held = (double) (util_mono_ns() - hang[i].opened_ns) / 1e9;
        if (st->closed++ == 0)
            st->first_close_s = held;
        close(hang[i].fd);
        hang[i].fd = -1;
        if (s_hang_open(sa, &hang[i]) == 0)
            st->opened++;
    }
}

/* Sends the next flood request (types in turn). */
static int
s_flood_send(void *sock, uint64_t i)
{
    uint8_t body[100];
    randombytes_buf(body, sizeof body);
    static const int types[] = {WIRE_GET_CHECKPOINT, WIRE_GET_AUTHOR, WIRE_PING, WIRE_SUBMIT};
    int type = types[i % 4];
    size_t len = type == WIRE_GET_AUTHOR ? 32 : type == WIRE_SUBMIT ? sizeof body : 0;
    return net_send(sock, NULL, 0, type, i, body, len);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"hub", required_argument, NULL, 'h'},     {"hub-key", required_argument, NULL, 'p'},
        {"key", required_argument, NULL, 'k'},     {"seconds", required_argument, NULL, 's'},
        {"window", required_argument, NULL, 'w'},  {"hang", required_argument, NULL, 'n'},
        {0, 0, 0, 0}};
    const char *hub = NULL, *hub_key = NULL, *key = NULL;
    double seconds = 0;
    int window = 256, nhang = 0, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': hub = optarg; break;
        case 'p': hub_key = optarg; break;
        case 'k': key = optarg; break;
        case 's': seconds = atof(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'n': nhang = atoi(optarg); break;
        default: goto usage;
        }
    }
    if (!hub || !hub_key || !key || seconds <= 0 || window < 1 || nhang < 0 || nhang > S_MAX_HANG)
        goto usage;
    if (sodium_init() < 0)
        return 2;
    keys_public_t hp;
    keys_t *keys = NULL;
    struct sockaddr_in sa;
    s_hang_t *hang = calloc((size_t) nhang + 1, sizeof *hang);
    s_stats_t st;
    memset(&st, 0, sizeof st);
    void *ctx = NULL, *sock = NULL;
    int ret = 2;
    if (!hang || s_addr(hub, &sa) != 0 || keys_public_load(&hp, hub_key) != 0 ||
        keys_load(key, &keys) != 0) {
        fprintf(stderr, "drill_flood: bad endpoint or keys\n");
        goto out;
    }
    ctx = zmq_ctx_new();
    sock = ctx ? net_client_socket(ctx, ZMQ_DEALER, keys, hp.curve_pk) : NULL;
    if (!sock || zmq_connect(sock, hub) != 0)
        goto out;
    for (int i = 0; i < nhang; i++) {
        hang[i].fd = -1;
        if (s_hang_open(&sa, &hang[i]) == 0)
            st.opened++;
    }
    uint64_t t0 = util_mono_ns(), last_reply = t0, outstanding = 0;
    while ((double) (util_mono_ns() - t0) / 1e9 < seconds) {
        while (outstanding < (uint64_t) window && s_flood_send(sock, st.sent) == 0) {
            st.sent++;
            outstanding++;
        }
        net_msg_t m;
        int rc = net_recv(sock, 0, 10, &m);
        while (rc != COFAB_ENOTFOUND) {
            if (rc == 0 && m.type == WIRE_ERR) {
                int code = 0;
                char reason[WIRE_MAX_REASON + 1] = "";
                wire_err_decode(m.body, m.len, &code, reason);
                if (strstr(reason, "rate limit"))
                    st.ratelimited++;
                else
                    st.answered++;
            } else {
                st.answered++;
            }
            net_msg_free(&m);
            outstanding -= outstanding > 0;
            last_reply = util_mono_ns();
            rc = net_recv(sock, 0, 0, &m);
        }
        if (outstanding && util_mono_ns() - last_reply > 2000000000ull) {
            st.lost += outstanding; /* no answer for 2 s: count them and go on */
            outstanding = 0;
            last_reply = util_mono_ns();
        }
        if (nhang)
            s_hang_poll(&sa, hang, nhang, &st);
    }
    double secs = (double) (util_mono_ns() - t0) / 1e9;
    printf("flood: sent=%llu answered=%llu ratelimited=%llu lost=%llu rate=%.0f hang: held=%d "
           "opened=%llu closed_by_hub=%llu first_close_s=%.1f\n",
           (unsigned long long) st.sent, (unsigned long long) st.answered,
           (unsigned long long) st.ratelimited, (unsigned long long) (st.lost + outstanding),
           (double) st.sent / secs, nhang, (unsigned long long) st.opened,
           (unsigned long long) st.closed, st.first_close_s);
    ret = 0;
out:
    for (int i = 0; hang && i < nhang; i++)
        if (hang[i].fd >= 0)
            close(hang[i].fd);
    free(hang);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    keys_destroy(&keys);
    return ret;
usage:
    fprintf(stderr, "usage: drill_flood --hub EP --hub-key HUB.pub --key K.key --seconds S "
                    "[--window W] [--hang N]\n");
    return 2;
}
