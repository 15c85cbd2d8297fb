/* drill_factory.c — test-only program for the soak drill: several factory identities in one process, taking their orders from assignment to delivery.
 *
 * usage: drill_factory --hub EP --hub-key HUB.pub --process P --material M
 *                      [--decline-pct N] KEY...
 *
 * Thirty `cofab node` processes (each replicating and re-verifying the
 * whole ledger) are too heavy for a 2-core machine, so the soak runs its
 * factories as a few of these: each KEY is a founding factory member with
 * its own CURVE connection (the hub checks that an envelope's author is the
 * connection's member). The program
 *   - publishes each factory's capacity (P/M, 1000 units a day, 60 days);
 *   - follows the ledger by GET_RANGE from record 0 (a restarted process
 *     rebuilds from the ledger where each of its orders stands);
 *   - for every piece assigned to one of its factories, sends accept (or,
 *     N % of the time, decline), then in-production, qc-passed, shipped and
 *     delivered, one envelope in flight per factory, all factories at once;
 *   - resends the same bytes after 5 s without an answer; an envelope the
 *     rules refuse (the order was reassigned meanwhile, or the stage is
 *     already done) moves on; a broken chain is re-read with GET_AUTHOR.
 * Nothing it does is trusted by the drill: the ledger is audited.
 *
 * Stops on SIGTERM/SIGINT and prints one line of key=value pairs:
 *   drill_factory: factories= envelopes= accepted= declined= delivered=
 *   refused= resends= records_seen=
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/client.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/net.h"
#include "cofab/payload.h"
#include "cofab/util.h"
#include "cofab/wire.h"

#define S_MAX_FACTORIES 64
#define S_TABLE_BITS 19                 /* order table: 512 k slots */
#define S_RESEND_NS 5000000000ull
#define S_POLL_IDLE_NS 50000000ull      /* GET_RANGE again after a short page */

/* Set by the signal handler; the only state a handler may touch. */
static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

/* Stages of one of our pieces; the next envelope to send follows from it. */
enum { ST_NONE, ST_ASSIGNED, ST_ACCEPTED, ST_PRODUCTION, ST_QC, ST_SHIPPED, ST_DONE };

/* One order assigned to one of our factories. */
typedef struct {
    uint8_t id[32];       /* order id; all zero = free slot */
    int8_t factory;       /* index of our factory holding it */
    uint8_t stage;        /* ST_* reached, as the ledger says */
    uint8_t decline;      /* 1: this one will be declined */
} s_order_t;

typedef struct {
    keys_t *keys;          /* the factory's keys */
    void *sock;            /* its DEALER */
    envelope_chain_t chain;/* its author chain, as confirmed by ACKs */
    int32_t *queue;        /* order slots to work on, in arrival order */
    size_t qhead, qlen, qcap; /* first unread, used, allocated */
    uint8_t *env;          /* envelope in flight (ENVELOPE_MAX), or NULL */
    size_t env_len;
    uint64_t rid, sent_ns; /* its request id and when it went */
    int32_t env_slot;      /* order slot it is about (-1: capacity) */
    uint8_t env_stage;     /* stage it will reach when acked */
    int env_kind;          /* its envelope kind */
    int need_capacity;     /* capacity not published yet */
} s_factory_t;

typedef struct {
    const char *hub, *process, *material;
    unsigned decline_pct;
    keys_public_t hub_pub;
    void *ctx, *reader;           /* context; DEALER that follows the ledger */
    s_factory_t f[S_MAX_FACTORIES];
    int nf;
    s_order_t *table;             /* open-addressing order table */
    uint64_t next_record;         /* next ledger position to read */
    uint64_t reader_rid, reader_sent_ns, reader_idle_until;
    int reader_busy, caught_up;
    uint64_t envelopes, accepted, declined, delivered, refused, resends;
} s_plant_t;

static int32_t
s_lookup(s_plant_t *p, const uint8_t id[32], int create)
{
    uint32_t mask = (1u << S_TABLE_BITS) - 1, i;
    memcpy(&i, id, sizeof i);
    for (uint32_t n = 0; n <= mask; n++, i++) {
        s_order_t *o = &p->table[i & mask];
        if (memcmp(o->id, id, 32) == 0)
            return (int32_t) (i & mask);
        if (sodium_is_zero(o->id, 32)) {
            if (!create)
                return -1;
            memcpy(o->id, id, 32);
            o->factory = -1;
            return (int32_t) (i & mask);
        }
    }
    return -1;
}

static int
s_ours(const s_plant_t *p, const uint8_t key[32])
{
    for (int i = 0; i < p->nf; i++)
        if (memcmp(keys_sign_pk(p->f[i].keys), key, 32) == 0)
            return i;
    return -1;
}

/* Appends a slot to a factory's queue (a slot may sit in two queues when an
 * order moves between our factories: s_next checks whose it is). */
static void
s_enqueue(s_plant_t *p, int fi, int32_t slot)
{
    s_factory_t *f = &p->f[fi];
    if (f->qhead > 0 && f->qhead * 2 >= f->qlen) { /* drop the consumed front */
        memmove(f->queue, f->queue + f->qhead, (f->qlen - f->qhead) * sizeof *f->queue);
        f->qlen -= f->qhead;
        f->qhead = 0;
    }
    if (f->qlen == f->qcap) {
        size_t cap = f->qcap ? f->qcap * 2 : 1024;
        int32_t *q = realloc(f->queue, cap * sizeof *q);
        if (!q)
            return;
        f->queue = q;
        f->qcap = cap;
    }
    f->queue[f->qlen++] = slot;
}

/* What one ledger record tells us about our orders. */
static void
s_learn(s_plant_t *p, const uint8_t *rec, size_t len)
{
    ledger_record_t r;
    envelope_t e;
    if (ledger_record_decode(&r, rec, len) != 0 || envelope_decode(&e, r.envelope, r.envelope_len))
        return;
    int32_t slot;
    if (e.kind == ENVELOPE_ASSIGN) {
        payload_assign_t *a = malloc(sizeof *a);
        if (a && payload_assign_decode(a, e.payload, e.payload_len) == 0) {
            for (uint32_t i = 0; i < a->npieces; i++) {
                int fi = s_ours(p, a->pieces[i].factory);
                if (fi < 0 || (slot = s_lookup(p, e.subject, 1)) < 0)
                    continue;
                s_order_t *o = &p->table[slot];
                o->factory = (int8_t) fi;
                o->stage = ST_ASSIGNED;
                o->decline = randombytes_uniform(100) < p->decline_pct;
                s_enqueue(p, fi, slot);
                break; /* one piece per factory is enough to drive it */
            }
        }
        free(a);
    } else if (e.kind == ENVELOPE_REASSIGN || e.kind == ENVELOPE_CANCEL) {
        if ((slot = s_lookup(p, e.subject, 0)) >= 0)
            p->table[slot].stage = ST_DONE; /* gone from us: the queue skips it */
    } else if ((e.kind == ENVELOPE_ACCEPT || e.kind == ENVELOPE_STATUS ||
                e.kind == ENVELOPE_DECLINE) && s_ours(p, e.author) >= 0 &&
               (slot = s_lookup(p, e.subject, 0)) >= 0) {
        s_order_t *o = &p->table[slot];
        uint8_t st = ST_DONE;
        payload_status_t s;
        if (e.kind == ENVELOPE_ACCEPT)
            st = ST_ACCEPTED;
        else if (e.kind == ENVELOPE_STATUS && payload_status_decode(&s, e.payload, e.payload_len) == 0)
            st = (uint8_t) (ST_ACCEPTED + s.stage); /* 1 in-production .. 4 delivered (done) */
        if (st > o->stage)
            o->stage = st;
    }
}

/* The envelope that moves order o one step, into f->env. */
static int
s_seal_step(s_plant_t *p, s_factory_t *f, int32_t slot)
{
    s_order_t *o = &p->table[slot];
    uint8_t *payload = NULL;
    size_t plen = 0;
    int kind, rc;
    if (o->stage == ST_ASSIGNED && o->decline) {
        payload_decline_t d;
        memset(&d, 0, sizeof d);
        snprintf(d.reason, sizeof d.reason, "soak churn");
        kind = ENVELOPE_DECLINE;
        rc = payload_decline_encode(&d, &payload, &plen);
        f->env_stage = ST_DONE;
    } else if (o->stage == ST_ASSIGNED) {
        payload_accept_t a;
        memset(&a, 0, sizeof a);
        kind = ENVELOPE_ACCEPT;
        rc = payload_accept_encode(&a, &payload, &plen);
        f->env_stage = ST_ACCEPTED;
    } else {
        payload_status_t s = {.stage = (payload_stage_t) (o->stage - ST_ACCEPTED + 1)};
        kind = ENVELOPE_STATUS;
        rc = payload_status_encode(&s, &payload, &plen);
        f->env_stage = (uint8_t) (o->stage + 1);
    }
    envelope_spec_t spec = {.kind = (uint8_t) kind, .author_seq = f->chain.next_seq,
                            .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = plen};
    memcpy(spec.author_prev, f->chain.prev, 32);
    memcpy(spec.subject, o->id, 32);
    if (rc == 0)
        rc = envelope_seal(&spec, f->keys, f->env, ENVELOPE_MAX, &f->env_len);
    free(payload);
    f->env_slot = slot;
    f->env_kind = kind;
    return rc;
}

static int
s_seal_capacity(s_plant_t *p, s_factory_t *f)
{
    payload_capacity_t *c = calloc(1, sizeof *c);
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (!c)
        return COFAB_ENOMEM;
    c->start_day = (uint32_t) (util_now_ms() / 86400000u);
    c->valid_until_day = c->start_day + 59;
    c->lat_e6 = 45000000;
    c->lon_e6 = 9000000;
    c->reserve_pm = 0;
    payload_offer_t *o = &c->offers[0];
    snprintf(o->process, sizeof o->process, "%s", p->process);
    snprintf(o->materials[0], sizeof o->materials[0], "%s", p->material);
    o->nmaterials = 1;
    o->unit_price = 100 + randombytes_uniform(50);
    o->setup_cost = 100;
    o->moq = 1;
    o->max_qty = 100000;
    o->ncap = 60;
    for (uint32_t d = 0; d < o->ncap; d++)
        o->cap[d] = 1000;
    c->noffers = 1;
    int rc = payload_capacity_encode(c, &payload, &plen);
    free(c);
    envelope_spec_t spec = {.kind = ENVELOPE_CAPACITY, .author_seq = f->chain.next_seq,
                            .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = plen};
    memcpy(spec.author_prev, f->chain.prev, 32);
    if (rc == 0)
        rc = envelope_seal(&spec, f->keys, f->env, ENVELOPE_MAX, &f->env_len);
    free(payload);
    f->env_slot = -1;
    f->env_kind = ENVELOPE_CAPACITY;
    return rc;
}

static void
s_send(s_plant_t *p, s_factory_t *f)
{
    randombytes_buf(&f->rid, sizeof f->rid);
    f->sent_ns = util_mono_ns();
    net_send(f->sock, NULL, 0, WIRE_SUBMIT, f->rid, f->env, f->env_len);
    p->envelopes++;
}

/* Where the hub says the factory's chain stands (blocking, on its socket). */
static int
s_sync_chain(s_factory_t *f)
{
    uint8_t body[32];
    memcpy(body, keys_sign_pk(f->keys), 32);
    for (int t = 0; t < 20 && !s_stop; t++) {
        net_msg_t m;
        if (net_request(f->sock, WIRE_GET_AUTHOR, body, 32, 2000, &m) != 0)
            continue;
        uint64_t aseq = 0;
        int rc = m.type == WIRE_AUTHOR ? client_author_decode(m.body, m.len, &aseq, f->chain.prev)
                                       : COFAB_EMALFORMED;
        net_msg_free(&m);
        if (rc == 0) {
            f->chain.next_seq = aseq + 1;
            return 0;
        }
    }
    return COFAB_ENET;
}

/* Starts the next envelope of a factory with nothing in flight. */
static void
s_next(s_plant_t *p, s_factory_t *f)
{
    if (f->need_capacity) {
        if (s_seal_capacity(p, f) == 0)
            s_send(p, f);
        return;
    }
    int fi = (int) (f - p->f);
    while (p->caught_up && f->qhead < f->qlen) {
        int32_t slot = f->queue[f->qhead];
        s_order_t *o = &p->table[slot];
        if (o->stage >= ST_DONE || o->stage == ST_NONE || o->factory != fi) {
            f->qhead++; /* finished, taken away, or now another factory's */
            continue;
        }
        if (s_seal_step(p, f, slot) == 0)
            s_send(p, f);
        return;
    }
}

/* The hub's answer to a factory's envelope. */
static void
s_answer(s_plant_t *p, s_factory_t *f, const net_msg_t *m)
{
    int code = 0;
    uint64_t pos;
    int dup;
    if (m->type == WIRE_ACK && client_ack_decode(m->body, m->len, &pos, &dup) == 0) {
        crypto_hash_sha256(f->chain.prev, f->env, f->env_len);
        f->chain.next_seq++;
        if (f->env_slot < 0) {
            f->need_capacity = 0;
        } else {
            s_order_t *o = &p->table[f->env_slot];
            if (f->env_stage > o->stage)
                o->stage = f->env_stage;
            p->accepted += f->env_kind == ENVELOPE_ACCEPT;
            p->declined += f->env_kind == ENVELOPE_DECLINE;
            p->delivered += f->env_kind == ENVELOPE_STATUS && f->env_stage == ST_DONE;
        }
        f->env_len = 0;
        return;
    }
    if (m->type == WIRE_ERR) {
        char reason[WIRE_MAX_REASON + 1];
        wire_err_decode(m->body, m->len, &code, reason);
    }
    if (code == COFAB_ENOSPC || code == COFAB_EIO || code == COFAB_ESTORE || code == COFAB_ENOMEM) {
        f->sent_ns = 0; /* nothing stored: resend soon */
        return;
    }
    p->refused++;
    if (code == COFAB_EREPLAY || code == COFAB_EGAP || code == COFAB_ECHAIN) {
        s_sync_chain(f);
    } else if (f->env_slot >= 0) {
        /* The rules say no: reassigned, cancelled, or this stage is done.
         * Leave the order to what the ledger says next. */
        p->table[f->env_slot].stage = ST_DONE;
    }
    f->env_len = 0;
}

static void
s_reader_request(s_plant_t *p)
{
    uint8_t body[12];
    util_put_be64(body, p->next_record);
    util_put_be32(body + 8, WIRE_MAX_RANGE);
    randombytes_buf(&p->reader_rid, sizeof p->reader_rid);
    p->reader_sent_ns = util_mono_ns();
    if (net_send(p->reader, NULL, 0, WIRE_GET_RANGE, p->reader_rid, body, sizeof body) == 0)
        p->reader_busy = 1;
}

static void
s_reader_answer(s_plant_t *p, const net_msg_t *m, client_records_t *recs)
{
    p->reader_busy = 0;
    if (m->type != WIRE_RECORDS || client_records_decode(recs, m->body, m->len) != 0)
        return;
    for (uint32_t i = 0; i < recs->n; i++)
        s_learn(p, recs->records[i].bytes, recs->records[i].len);
    p->next_record += recs->n;
    if (recs->n < WIRE_MAX_RANGE) {
        p->caught_up = 1;
        p->reader_idle_until = util_mono_ns() + S_POLL_IDLE_NS;
    }
}

static int
s_run(s_plant_t *p)
{
    client_records_t *recs = malloc(sizeof *recs);
    zmq_pollitem_t items[S_MAX_FACTORIES + 1];
    if (!recs)
        return COFAB_ENOMEM;
    for (int i = 0; i < p->nf; i++)
        if (s_sync_chain(&p->f[i]) != 0 && !s_stop)
            fprintf(stderr, "drill_factory: %s: no answer to GET_AUTHOR\n", keys_name(p->f[i].keys));
    while (!s_stop) {
        uint64_t now = util_mono_ns();
        if (!p->reader_busy && now >= p->reader_idle_until)
            s_reader_request(p);
        else if (p->reader_busy && now - p->reader_sent_ns > S_RESEND_NS)
            s_reader_request(p);
        for (int i = 0; i < p->nf; i++) {
            s_factory_t *f = &p->f[i];
            if (!f->env_len)
                s_next(p, f);
            else if (now - f->sent_ns > S_RESEND_NS) { /* same bytes again */
                p->resends++;
                s_send(p, f);
            }
        }
        items[0] = (zmq_pollitem_t){p->reader, 0, ZMQ_POLLIN, 0};
        for (int i = 0; i < p->nf; i++)
            items[i + 1] = (zmq_pollitem_t){p->f[i].sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, p->nf + 1, 20) <= 0)
            continue;
        net_msg_t m;
        while (net_recv(p->reader, 0, 0, &m) != COFAB_ENOTFOUND) {
            if (m.request_id == p->reader_rid && p->reader_busy)
                s_reader_answer(p, &m, recs);
            net_msg_free(&m);
        }
        for (int i = 0; i < p->nf; i++) {
            s_factory_t *f = &p->f[i];
            while (net_recv(f->sock, 0, 0, &m) != COFAB_ENOTFOUND) {
                if (f->env_len && m.request_id == f->rid)
                    s_answer(p, f, &m);
                net_msg_free(&m);
            }
        }
    }
    free(recs);
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"hub", required_argument, NULL, 'h'},         {"hub-key", required_argument, NULL, 'p'},
        {"process", required_argument, NULL, 'P'},     {"material", required_argument, NULL, 'M'},
        {"decline-pct", required_argument, NULL, 'd'}, {0, 0, 0, 0}};
    s_plant_t *p = calloc(1, sizeof *p);
    const char *hub_key = NULL;
    int c, ret = 2;
    if (!p)
        return 2;
    p->process = "sewing";
    p->material = "cotton";
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': p->hub = optarg; break;
        case 'p': hub_key = optarg; break;
        case 'P': p->process = optarg; break;
        case 'M': p->material = optarg; break;
        case 'd': p->decline_pct = (unsigned) atoi(optarg); break;
        default: goto usage;
        }
    }
    if (!p->hub || !hub_key || optind == argc || argc - optind > S_MAX_FACTORIES ||
        p->decline_pct > 100)
        goto usage;
    if (sodium_init() < 0)
        goto out;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    p->table = calloc((size_t) 1 << S_TABLE_BITS, sizeof *p->table);
    p->ctx = zmq_ctx_new();
    if (!p->table || !p->ctx || keys_public_load(&p->hub_pub, hub_key) != 0)
        goto out;
    for (int i = optind; i < argc; i++) {
        s_factory_t *f = &p->f[p->nf];
        if (keys_load(argv[i], &f->keys) != 0) {
            fprintf(stderr, "drill_factory: cannot load %s\n", argv[i]);
            goto out;
        }
        p->nf++;
        f->env = malloc(ENVELOPE_MAX);
        f->sock = net_client_socket(p->ctx, ZMQ_DEALER, f->keys, p->hub_pub.curve_pk);
        if (!f->env || !f->sock || zmq_connect(f->sock, p->hub) != 0)
            goto out;
        f->need_capacity = 1;
    }
    p->reader = net_client_socket(p->ctx, ZMQ_DEALER, p->f[0].keys, p->hub_pub.curve_pk);
    if (!p->reader || zmq_connect(p->reader, p->hub) != 0)
        goto out;
    ret = s_run(p) == 0 ? 0 : 1;
    printf("drill_factory: factories=%d envelopes=%llu accepted=%llu declined=%llu "
           "delivered=%llu refused=%llu resends=%llu records_seen=%llu\n",
           p->nf, (unsigned long long) p->envelopes, (unsigned long long) p->accepted,
           (unsigned long long) p->declined, (unsigned long long) p->delivered,
           (unsigned long long) p->refused, (unsigned long long) p->resends,
           (unsigned long long) p->next_record);
out:
    if (p->reader)
        zmq_close(p->reader);
    for (int i = 0; i < p->nf; i++) {
        if (p->f[i].sock)
            zmq_close(p->f[i].sock);
        free(p->f[i].env);
        free(p->f[i].queue);
        keys_destroy(&p->f[i].keys);
    }
    if (p->ctx)
        zmq_ctx_term(p->ctx);
    free(p->table);
    free(p);
    return ret;
usage:
    fprintf(stderr, "usage: drill_factory --hub EP --hub-key HUB.pub [--process P] [--material M] "
                    "[--decline-pct N] KEY...\n");
    free(p);
    return 2;
}
