/* net_bench.c — hub throughput and ack latency over CURVE on 127.0.0.1, as a ratio to the 2-core Ed25519 verify limit. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/config.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/hub.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/net.h"
#include "cofab/payload.h"
#include "cofab/util.h"
#include "cofab/wire.h"
/* White-box: the hub's own ledger, to count what it stored. */
#include "../../node/hub_internal.h"

#define S_CLIENTS 4            /* client processes */
#define S_CUSTOMERS 40         /* customer keys in the saturated phase, split over clients */
#define S_PER_CLIENT (S_CUSTOMERS / S_CLIENTS)
#define S_WINDOW 64            /* most requests in flight per client */
#define S_PER_AUTHOR 16        /* most requests in flight per customer */
#define S_THREADS 2            /* the box has 2 cores: the limit is a 2-core figure */
#define S_SIGNED 232           /* bytes per verify-limit message, as ledger_bench */
#define S_VERIFY_MSGS 64       /* distinct messages cycled by the verify loop */
#define S_SLOT 512             /* room per pre-signed envelope (an order is ~300 bytes) */
#define S_DEADLINE_S 120       /* a stuck run aborts after this long */
#define S_LAT_SECS 5.0         /* length of the half-load phase (QUICK: 1 s) */
#define S_LAT_MAX 200000       /* most envelopes one client sends at half load */

/* Pipe messages, each far below PIPE_BUF so writes are atomic. */
enum { S_READY = 1, S_START, S_DONE, S_PACE, S_GO };

typedef struct {
    int type;                    /* one of the enum above */
    char endpoint[HUB_ENDPOINT_MAX]; /* S_START: hub submit endpoint */
    uint8_t hub_curve[32];       /* S_START: hub transport key */
    double rate;                 /* S_PACE: envelopes/s for this client */
    double secs;                 /* S_PACE: how long */
    uint64_t acked, errors, dups;/* S_DONE: counts */
    uint64_t t0_ns, t1_ns;       /* S_DONE: first send, last ack (CLOCK_MONOTONIC) */
    uint64_t nlat;               /* S_DONE: latencies written to the client's file */
} s_msg_t;

/* One client process as the parent sees it. */
typedef struct {
    pid_t pid;                   /* 0 once reaped */
    int cmd;                     /* parent -> child */
    int res;                     /* child -> parent */
    s_msg_t done;                /* its last S_DONE */
} s_child_t;

typedef struct {
    int quick;                   /* COFAB_BENCH_QUICK=1 */
    size_t n;                    /* saturated-phase envelopes, all clients */
    char dir[64];                /* temp dir; "" before mkdtemp */
    uint64_t deadline_ns;        /* abort after this */
    s_child_t kids[S_CLIENTS];
    config_hub_t *cfg;
    hub_t *hub;
    pthread_t thread;
    int hub_running;
    volatile sig_atomic_t stop;
    double v2[2], verify2;       /* 2-core samples, limit (best) */
    double sat_s, sat_rate;      /* saturated phase */
    uint64_t sat_acked, errors, dups;
    double lat_target, lat_rate, lat_s, p50_ms, p99_ms, max_ms;
    uint64_t lat_acked;
    uint64_t size0, size1;       /* ledger size before the clients, after the hub stopped */
} s_bench_t;

static void
s_rmtree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char sub[512];
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            s_rmtree(sub);
        else
            unlink(sub);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* Kills and reaps the clients, stops the hub, removes the temp dir. */
static void
s_cleanup(s_bench_t *b)
{
    for (int i = 0; i < S_CLIENTS; i++) {
        if (b->kids[i].pid > 0) {
            kill(b->kids[i].pid, SIGKILL);
            waitpid(b->kids[i].pid, NULL, 0);
            b->kids[i].pid = 0;
        }
        if (b->kids[i].cmd > 0)
            close(b->kids[i].cmd);
        if (b->kids[i].res > 0)
            close(b->kids[i].res);
        b->kids[i].cmd = b->kids[i].res = -1;
    }
    if (b->hub_running) {
        b->stop = 1;
        pthread_join(b->thread, NULL);
        b->hub_running = 0;
    }
    hub_destroy(&b->hub);
    free(b->cfg);
    b->cfg = NULL;
    if (b->dir[0])
        s_rmtree(b->dir);
    b->dir[0] = 0;
}

__attribute__((format(printf, 2, 3), noreturn)) static void
s_die(s_bench_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "net_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    s_cleanup(b);
    exit(1);
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* Reads one whole message from fd before deadline_ns. Returns 0 or -1. */
static int
s_read_msg(int fd, s_msg_t *m, uint64_t deadline_ns)
{
    size_t got = 0;
    while (got < sizeof *m) {
        uint64_t now = util_mono_ns();
        if (now >= deadline_ns)
            return -1;
        struct pollfd p = {fd, POLLIN, 0};
        int ms = (int) ((deadline_ns - now) / 1000000u) + 1;
        int rc = poll(&p, 1, ms > 1000 ? 1000 : ms);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc <= 0)
            continue;
        ssize_t r = read(fd, (char *) m + got, sizeof *m - got);
        if (r <= 0)
            return -1; /* EOF: the other side died */
        got += (size_t) r;
    }
    return 0;
}

static int
s_write_msg(int fd, const s_msg_t *m)
{
    return write(fd, m, sizeof *m) == (ssize_t) sizeof *m ? 0 : -1;
}

/* ---- The verify limit (as ledger_bench) ---------------------------------- */

typedef struct {
    const uint8_t *msgs, *sigs, *pk;
    double secs;
    uint64_t count, bad;
    double elapsed;
} s_verify_job_t;

static void *
s_verify_loop(void *arg)
{
    s_verify_job_t *j = arg;
    uint64_t t0 = util_mono_ns(), limit = (uint64_t) (j->secs * 1e9);
    for (;;) {
        for (size_t i = 0; i < S_VERIFY_MSGS; i++)
            if (crypto_sign_verify_detached(j->sigs + i * 64, j->msgs + i * S_SIGNED, S_SIGNED,
                                            j->pk) != 0)
                j->bad++;
        j->count += S_VERIFY_MSGS;
        if (util_mono_ns() - t0 >= limit)
            break;
    }
    j->elapsed = (double) (util_mono_ns() - t0) / 1e9;
    return NULL;
}

/* One 2-core sample; threads are joined before returning, so forking
 * afterwards is safe. */
static double
s_verify2(s_bench_t *b, double secs)
{
    _Static_assert(S_SIGNED == ENVELOPE_HEADER_LEN + 112, "ledger_bench's message size");
    uint8_t *msgs = malloc(S_VERIFY_MSGS * S_SIGNED), sigs[S_VERIFY_MSGS * 64];
    keys_t *k = keys_generate("verify");
    if (!msgs || !k)
        s_die(b, "out of memory");
    randombytes_buf(msgs, S_VERIFY_MSGS * S_SIGNED);
    for (size_t i = 0; i < S_VERIFY_MSGS; i++)
        if (keys_sign(k, msgs + i * S_SIGNED, S_SIGNED, sigs + i * 64) != 0)
            s_die(b, "keys_sign failed");
    s_verify_job_t warm = {msgs, sigs, keys_sign_pk(k), secs / 10, 0, 0, 0}, jobs[S_THREADS];
    s_verify_loop(&warm);
    pthread_t t[S_THREADS];
    for (int i = 0; i < S_THREADS; i++) {
        jobs[i] = (s_verify_job_t){msgs, sigs, keys_sign_pk(k), secs, 0, 0, 0};
        if (pthread_create(&t[i], NULL, s_verify_loop, &jobs[i]) != 0)
            s_die(b, "pthread_create failed");
    }
    double rate = 0;
    for (int i = 0; i < S_THREADS; i++) {
        pthread_join(t[i], NULL);
        if (jobs[i].bad || warm.bad)
            s_die(b, "valid signatures failed to verify");
        rate += (double) jobs[i].count / jobs[i].elapsed;
    }
    keys_destroy(&k);
    free(msgs);
    b->verify2 = rate > b->verify2 ? rate : b->verify2;
    return rate;
}

/* ---- Client process ------------------------------------------------------- */

/* Pre-signed envelopes of ncust customers: envelope i is customer i % ncust's
 * (i / ncust + 1)-th, so sending in index order keeps each author chain. */
typedef struct {
    uint8_t *slots;              /* n x S_SLOT bytes */
    uint16_t *lens;              /* envelope lengths */
    size_t n, ncust;
} s_set_t;

static int
s_presign(s_set_t *s, size_t n, size_t ncust, const char *tag, int client)
{
    keys_t *cust[S_PER_CLIENT] = {0};
    envelope_chain_t chains[S_PER_CLIENT];
    uint8_t *buf = malloc(ENVELOPE_MAX);
    int rc = 0;
    s->n = n;
    s->ncust = ncust;
    s->slots = malloc(n * S_SLOT + 1);
    s->lens = malloc(n * sizeof *s->lens + 1);
    if (!buf || !s->slots || !s->lens)
        rc = COFAB_ENOMEM;
    for (size_t c = 0; c < ncust && rc == 0; c++) {
        char name[32];
        snprintf(name, sizeof name, "%s-%d-%zu", tag, client, c);
        if (!(cust[c] = keys_generate(name)))
            rc = COFAB_ENOMEM;
        envelope_chain_init(&chains[c]);
    }
    uint32_t today = (uint32_t) (util_now_ms() / 86400000u);
    for (size_t i = 0; i < n && rc == 0; i++) {
        payload_order_t o = {.items = {{"sewing", "cotton", 1 + (int64_t) (i % 500)}},
                             .nitems = 1, .due_day = today + 30, .lat_e6 = 45070000,
                             .lon_e6 = 7680000, .title = "bench shirts"};
        uint8_t *p = NULL;
        size_t plen = 0, len = 0;
        rc = payload_order_encode(&o, &p, &plen);
        envelope_spec_t spec = {.kind = ENVELOPE_ORDER, .timestamp_ms = util_now_ms(),
                                .payload = p, .payload_len = plen};
        randombytes_buf(spec.subject, 32);
        if (rc == 0)
            rc = envelope_chain_seal(&chains[i % ncust], &spec, cust[i % ncust], buf,
                                     ENVELOPE_MAX, &len);
        free(p);
        if (rc == 0 && len > S_SLOT)
            rc = COFAB_ETOOBIG;
        if (rc == 0) {
            memcpy(s->slots + i * S_SLOT, buf, len);
            s->lens[i] = (uint16_t) len;
        }
    }
    for (size_t c = 0; c < ncust; c++)
        keys_destroy(&cust[c]);
    free(buf);
    return rc;
}

static void
s_set_free(s_set_t *s)
{
    free(s->slots);
    free(s->lens);
    s->slots = NULL;
    s->lens = NULL;
}

/* Sends the set in index order with up to S_WINDOW requests in flight and
 * at most S_PER_AUTHOR per customer (the hub routes an author's envelopes
 * through one verifier, so they reach the writer in the order sent). rate > 0: envelope i is due at t0 + i / rate (open loop) and its
 * latency counts from then, so queueing behind a slow ack is not hidden.
 * lat (room n, may be NULL) gets per-envelope ack latency in ns. */
static int
s_pump(void *sock, const s_set_t *s, double rate, uint64_t deadline_ns, uint64_t *lat,
       s_msg_t *out)
{
    uint64_t *sent_ns = calloc(s->n + 1, sizeof *sent_ns);
    uint8_t *busy = calloc(s->ncust, 1);
    size_t next = 0, inflight = 0, finished = 0;
    int rc = sent_ns && busy ? 0 : COFAB_ENOMEM;
    uint64_t t0 = util_mono_ns();
    out->t0_ns = t0;
    while (rc == 0 && finished < s->n) {
        uint64_t now = util_mono_ns();
        if (now > deadline_ns) {
            fprintf(stderr, "net_bench client: deadline passed with %zu of %zu acked\n",
                    finished, s->n);
            rc = COFAB_ENET;
            break;
        }
        while (next < s->n && inflight < S_WINDOW && busy[next % s->ncust] < S_PER_AUTHOR) {
            uint64_t due = rate > 0 ? t0 + (uint64_t) ((double) next * 1e9 / rate) : now;
            if (due > util_mono_ns())
                break;
            sent_ns[next] = rate > 0 ? due : util_mono_ns();
            rc = net_send(sock, NULL, 0, WIRE_SUBMIT, next + 1, s->slots + next * S_SLOT,
                          s->lens[next]);
            if (rc != 0)
                break;
            busy[next % s->ncust]++;
            inflight++;
            next++;
        }
        net_msg_t m;
        int r = net_recv(sock, 0, rate > 0 ? 1 : 1000, &m);
        if (r == COFAB_ENOTFOUND)
            continue;
        if (r != 0) {
            rc = r;
            break;
        }
        uint64_t idx = m.request_id - 1, t_ack = util_mono_ns();
        if (m.request_id == 0 || idx >= next || busy[idx % s->ncust] == 0 || sent_ns[idx] == 0) {
            fprintf(stderr, "net_bench client: unexpected reply id %llu\n",
                    (unsigned long long) m.request_id);
            rc = COFAB_EMALFORMED;
        } else if (m.type == WIRE_ACK && m.len == 9) {
            out->acked++;
            out->dups += m.body[8] != 0;
        } else {
            int code = 0;
            char reason[WIRE_MAX_REASON + 1] = "";
            if (m.type == WIRE_ERR)
                wire_err_decode(m.body, m.len, &code, reason);
            fprintf(stderr, "net_bench client: envelope %llu refused: %s (%s)\n",
                    (unsigned long long) idx, cofab_strerror(code), reason);
            out->errors++;
            rc = COFAB_EMALFORMED; /* the author's chain is broken from here on */
        }
        if (rc == 0) {
            if (lat)
                lat[out->nlat++] = t_ack - sent_ns[idx];
            sent_ns[idx] = 0;
            busy[idx % s->ncust]--;
            inflight--;
            finished++;
            out->t1_ns = t_ack;
        }
        net_msg_free(&m);
    }
    free(sent_ns);
    free(busy);
    return rc;
}

/* The client process: pre-signs, waits for the hub, runs both phases. */
static int
s_client(int id, int cmd, int res, size_t n, const char *dir, uint64_t deadline_ns)
{
    s_set_t sat = {0}, half = {0};
    s_msg_t m = {0}, done = {0};
    void *ctx = NULL, *sock = NULL;
    keys_t *me = NULL;
    uint64_t *lat = NULL;
    char name[32], path[256];
    int rc = s_presign(&sat, n, S_PER_CLIENT, "cust", id);
    snprintf(name, sizeof name, "client-%d", id);
    if (rc == 0 && !(me = keys_generate(name)))
        rc = COFAB_ENOMEM;
    m.type = S_READY;
    if (rc != 0 || s_write_msg(res, &m) != 0)
        goto out;
    rc = COFAB_ENET;
    if (s_read_msg(cmd, &m, deadline_ns) != 0 || m.type != S_START)
        goto out;
    m.endpoint[sizeof m.endpoint - 1] = 0;
    ctx = zmq_ctx_new();
    sock = ctx ? net_client_socket(ctx, ZMQ_DEALER, me, m.hub_curve) : NULL;
    if (!sock || zmq_connect(sock, m.endpoint) != 0)
        goto out;
    done.type = S_DONE;
    rc = s_pump(sock, &sat, 0, deadline_ns, NULL, &done);
    if (rc != 0 || s_write_msg(res, &done) != 0)
        goto out;
    rc = COFAB_ENET;
    if (s_read_msg(cmd, &m, deadline_ns) != 0 || m.type != S_PACE)
        goto out;
    /* Fresh customers and envelopes, signed before the timing starts. */
    double want = m.rate * m.secs;
    size_t nh = want < 1 ? 1 : want > S_LAT_MAX ? S_LAT_MAX : (size_t) want;
    double rate = m.rate;
    if ((rc = s_presign(&half, nh, S_PER_CLIENT, "half", id)) != 0 ||
        !(lat = calloc(nh, sizeof *lat)))
        goto out;
    m.type = S_READY;
    rc = COFAB_ENET;
    if (s_write_msg(res, &m) != 0 || s_read_msg(cmd, &m, deadline_ns) != 0 || m.type != S_GO)
        goto out;
    memset(&done, 0, sizeof done);
    done.type = S_DONE;
    rc = s_pump(sock, &half, rate, deadline_ns, lat, &done);
    snprintf(path, sizeof path, "%s/lat-%d.bin", dir, id);
    FILE *f = rc == 0 ? fopen(path, "wb") : NULL;
    if (rc == 0 && (!f || fwrite(lat, sizeof *lat, done.nlat, f) != done.nlat))
        rc = COFAB_EIO;
    if (f && fclose(f) != 0)
        rc = COFAB_EIO;
    if (rc == 0 && s_write_msg(res, &done) != 0)
        rc = COFAB_ENET;
out:
    if (rc != 0)
        fprintf(stderr, "net_bench client %d: %s\n", id, cofab_strerror(rc));
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    keys_destroy(&me);
    free(lat);
    s_set_free(&sat);
    s_set_free(&half);
    return rc == 0 ? 0 : 1;
}

/* ---- Parent --------------------------------------------------------------- */

static void
s_spawn(s_bench_t *b)
{
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < S_CLIENTS; i++) {
        int c[2], r[2];
        if (pipe(c) != 0 || pipe(r) != 0)
            s_die(b, "pipe failed");
        pid_t pid = fork();
        if (pid < 0)
            s_die(b, "fork failed");
        if (pid == 0) {
            close(c[1]);
            close(r[0]);
            for (int j = 0; j < i; j++) { /* siblings' pipes are not ours */
                close(b->kids[j].cmd);
                close(b->kids[j].res);
            }
            alarm(S_DEADLINE_S + 30); /* backstop should the parent vanish */
            _exit(s_client(i, c[0], r[1], b->n / S_CLIENTS, b->dir, b->deadline_ns));
        }
        close(c[0]);
        close(r[1]);
        b->kids[i] = (s_child_t){.pid = pid, .cmd = c[1], .res = r[0]};
    }
}

static void
s_collect(s_bench_t *b, int type, const char *what)
{
    for (int i = 0; i < S_CLIENTS; i++) {
        s_msg_t m;
        if (s_read_msg(b->kids[i].res, &m, b->deadline_ns) != 0 || m.type != type)
            s_die(b, "client %d failed or timed out %s", i, what);
        if (type == S_DONE)
            b->kids[i].done = m;
    }
}

static void
s_broadcast(s_bench_t *b, const s_msg_t *m)
{
    for (int i = 0; i < S_CLIENTS; i++)
        if (s_write_msg(b->kids[i].cmd, m) != 0)
            s_die(b, "client %d is gone", i);
}

static void *
s_hub_main(void *arg)
{
    s_bench_t *b = arg;
    hub_run(b->hub, &b->stop);
    return NULL;
}

static void
s_start_hub(s_bench_t *b, uint8_t hub_curve[32])
{
    static const char *const names[] = {"hub", "operator"};
    for (size_t i = 0; i < 2; i++) {
        keys_t *k = keys_generate(names[i]);
        if (!k || keys_write(k, b->dir) != 0)
            s_die(b, "writing the %s keys failed", names[i]);
        if (i == 0)
            memcpy(hub_curve, keys_curve_pk(k), 32);
        keys_destroy(&k);
    }
    config_hub_t *h = b->cfg = calloc(1, sizeof *h);
    if (!h)
        s_die(b, "out of memory");
    snprintf(h->origin, sizeof h->origin, "bench.cofab.example/net");
    snprintf(h->data_dir, sizeof h->data_dir, "%s/ledger", b->dir);
    snprintf(h->key, sizeof h->key, "%s/hub.key", b->dir);
    snprintf(h->operator_pub, sizeof h->operator_pub, "%s/operator.pub", b->dir);
    snprintf(h->submit, sizeof h->submit, "tcp://127.0.0.1:*");
    snprintf(h->feed, sizeof h->feed, "tcp://127.0.0.1:*");
    h->batch_window_ms = 1;
    h->max_batch = 512;
    h->checkpoint_every = 4096;
    h->checkpoint_ms = 1000;
    h->match_interval_ms = 1000000; /* matching out of the way: only orders are stored */
    h->verify_threads = 2;
    h->customer_rate = 0;
    snprintf(h->customers, sizeof h->customers, "open");
    h->ack_timeout_s = 3600;
    matcher_params_default(&h->params);
    if (!(b->hub = hub_new(h)))
        s_die(b, "hub_new failed");
    if (pthread_create(&b->thread, NULL, s_hub_main, b) != 0)
        s_die(b, "pthread_create failed");
    b->hub_running = 1;
    b->size0 = ledger_size(b->hub->ledger);
}

/* Latency phase: per-client pace, then merge the clients' latency files. */
static void
s_half_load(s_bench_t *b)
{
    s_msg_t m = {.type = S_PACE};
    b->lat_target = b->sat_rate / 2;
    m.rate = b->lat_target / S_CLIENTS;
    m.secs = b->quick ? 1.0 : S_LAT_SECS;
    s_broadcast(b, &m);
    s_collect(b, S_READY, "pre-signing the half-load set");
    m.type = S_GO;
    s_broadcast(b, &m);
    s_collect(b, S_DONE, "at half load");
    uint64_t total = 0, t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < S_CLIENTS; i++) {
        const s_msg_t *d = &b->kids[i].done;
        total += d->nlat;
        b->lat_acked += d->acked;
        b->errors += d->errors;
        b->dups += d->dups;
        t0 = d->t0_ns < t0 ? d->t0_ns : t0;
        t1 = d->t1_ns > t1 ? d->t1_ns : t1;
    }
    uint64_t *lat = calloc(total + 1, sizeof *lat);
    size_t got = 0;
    if (!lat)
        s_die(b, "out of memory");
    for (int i = 0; i < S_CLIENTS; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/lat-%d.bin", b->dir, i);
        FILE *f = fopen(path, "rb");
        size_t want = b->kids[i].done.nlat;
        if (!f || fread(lat + got, sizeof *lat, want, f) != want)
            s_die(b, "reading %s failed", path);
        fclose(f);
        got += want;
    }
    if (got == 0)
        s_die(b, "no latencies measured");
    qsort(lat, got, sizeof *lat, s_cmp_u64);
    b->p50_ms = (double) lat[(got - 1) / 2] / 1e6;
    b->p99_ms = (double) lat[(size_t) (0.99 * (double) (got - 1))] / 1e6;
    b->max_ms = (double) lat[got - 1] / 1e6;
    b->lat_s = (double) (t1 - t0) / 1e9;
    b->lat_rate = (double) b->lat_acked / b->lat_s;
    free(lat);
}

static void
s_report(const s_bench_t *b)
{
    double ratio = b->sat_rate / b->verify2;
    printf("\nnet bench%s: %d client processes, CURVE DEALERs, window %d, %d customers, "
           "hub verify_threads %d\n", b->quick ? " (QUICK)" : "", S_CLIENTS, S_WINDOW,
           S_CUSTOMERS, S_THREADS);
    printf("%-36s %12s %7s  %s\n", "measure", "value", "ratio", "goal");
    printf("%-36s %10.0f/s\n", "Ed25519 verify, 2 cores (limit)", b->verify2);
    printf("%-36s %10.0f/s %7.3f  >= 0.6 %s\n", "saturated: acked orders", b->sat_rate, ratio,
           ratio >= 0.6 ? "met" : "MISSED");
    printf("%-36s %10.0f/s\n", "half load: target", b->lat_target);
    printf("%-36s %10.0f/s\n", "half load: achieved", b->lat_rate);
    printf("%-36s %10.2f ms\n", "half load: ack latency p50", b->p50_ms);
    printf("%-36s %10.2f ms %7s  <= 10 ms %s\n", "half load: ack latency p99", b->p99_ms, "",
           b->p99_ms <= 10 ? "met" : "MISSED");
    printf("%-36s %10.2f ms\n", "half load: ack latency max", b->max_ms);
    printf("saturated: %llu acked in %.2fs; half load: %llu acked in %.2fs; errors %llu, "
           "duplicates %llu\n", (unsigned long long) b->sat_acked, b->sat_s,
           (unsigned long long) b->lat_acked, b->lat_s, (unsigned long long) b->errors,
           (unsigned long long) b->dups);
    printf("ledger: %llu records before the clients, %llu after (expected %llu): no loss, no "
           "duplicates\n", (unsigned long long) b->size0, (unsigned long long) b->size1,
           (unsigned long long) (b->size0 + b->sat_acked + b->lat_acked));
    printf("2-core verify samples (before, after): %.0f, %.0f; the limit is the best. Latency "
           "counts from each envelope's scheduled send time (open loop).\n", b->v2[0], b->v2[1]);
    printf("BENCH_JSON {\"bench\":\"net\",\"quick\":%d,\"clients\":%d,\"customers\":%d,"
           "\"window\":%d,\"verify\":{\"per_s_2core\":%.0f,\"samples_2core\":[%.0f,%.0f]},"
           "\"saturated\":{\"records\":%llu,\"seconds\":%.3f,\"per_s\":%.0f,\"ratio\":%.4f,"
           "\"goal_ratio\":0.6},"
           "\"half_load\":{\"target_per_s\":%.0f,\"per_s\":%.0f,\"records\":%llu,"
           "\"seconds\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"goal_p99_ms\":10},"
           "\"ledger\":{\"before\":%llu,\"after\":%llu,\"errors\":%llu,\"duplicates\":%llu,"
           "\"consistent\":true}}\n",
           b->quick, S_CLIENTS, S_CUSTOMERS, S_WINDOW, b->verify2, b->v2[0], b->v2[1],
           (unsigned long long) b->sat_acked, b->sat_s, b->sat_rate, ratio, b->lat_target,
           b->lat_rate, (unsigned long long) b->lat_acked, b->lat_s, b->p50_ms, b->p99_ms,
           b->max_ms, (unsigned long long) b->size0, (unsigned long long) b->size1,
           (unsigned long long) b->errors, (unsigned long long) b->dups);
}

int
main(void)
{
    s_bench_t *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < S_CLIENTS; i++)
        b->kids[i].cmd = b->kids[i].res = -1;
    const char *quick = getenv("COFAB_BENCH_QUICK");
    b->quick = quick && strcmp(quick, "1") == 0;
    b->n = b->quick ? 4000 : 40000;
    b->deadline_ns = util_mono_ns() + (uint64_t) S_DEADLINE_S * 1000000000ull;
    if (sodium_init() < 0)
        s_die(b, "sodium_init failed");
    snprintf(b->dir, sizeof b->dir, "/tmp/cofab-net-bench-XXXXXX");
    if (!mkdtemp(b->dir)) {
        b->dir[0] = 0;
        s_die(b, "mkdtemp failed");
    }
    printf("net bench: temp dir %s; %zu orders saturated, %d clients\n", b->dir, b->n,
           S_CLIENTS);
    b->v2[0] = s_verify2(b, b->quick ? 0.2 : 2.0);
    printf("verify: %.0f/s on 2 cores\n", b->v2[0]);
    /* Clients fork now, while this process has no threads; they pre-sign
     * and then wait on their pipe for the hub's endpoint. */
    s_spawn(b);
    s_collect(b, S_READY, "pre-signing");
    s_msg_t m = {.type = S_START};
    s_start_hub(b, m.hub_curve);
    snprintf(m.endpoint, sizeof m.endpoint, "%s", hub_submit_endpoint(b->hub));
    s_broadcast(b, &m);
    s_collect(b, S_DONE, "at saturation");
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < S_CLIENTS; i++) {
        const s_msg_t *d = &b->kids[i].done;
        b->sat_acked += d->acked;
        b->errors += d->errors;
        b->dups += d->dups;
        t0 = d->t0_ns < t0 ? d->t0_ns : t0;
        t1 = d->t1_ns > t1 ? d->t1_ns : t1;
    }
    b->sat_s = (double) (t1 - t0) / 1e9;
    b->sat_rate = (double) b->sat_acked / b->sat_s;
    printf("saturated: %llu acked in %.2fs (%.0f/s)\n", (unsigned long long) b->sat_acked,
           b->sat_s, b->sat_rate);
    s_half_load(b);
    printf("half load: %llu acked at %.0f/s, p50 %.2f ms, p99 %.2f ms\n",
           (unsigned long long) b->lat_acked, b->lat_rate, b->p50_ms, b->p99_ms);
    for (int i = 0; i < S_CLIENTS; i++) {
        int st = 0;
        pid_t pid = b->kids[i].pid;
        b->kids[i].pid = 0;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            s_die(b, "client %d exited badly", i);
    }
    b->stop = 1;
    pthread_join(b->thread, NULL);
    b->hub_running = 0;
    b->size1 = ledger_size(b->hub->ledger);
    b->v2[1] = s_verify2(b, b->quick ? 0.2 : 2.0);
    uint64_t expected = b->size0 + b->sat_acked + b->lat_acked;
    if (b->size1 != expected || b->errors || b->dups ||
        b->sat_acked != b->n / S_CLIENTS * S_CLIENTS)
        s_die(b, "ledger has %llu records, expected %llu (errors %llu, duplicates %llu)",
              (unsigned long long) b->size1, (unsigned long long) expected,
              (unsigned long long) b->errors, (unsigned long long) b->dups);
    s_report(b);
    s_cleanup(b);
    free(b);
    return 0;
}
