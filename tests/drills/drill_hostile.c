/* drill_hostile.c — test-only attacker for drill 04: sends every kind of message the hub must refuse and counts how each was answered.
 *
 * usage:
 *   drill_hostile setup  --hub EP --hub-key HUB.pub --customer C.key --factory F.key
 *                        --state FILE --acks FILE
 *   drill_hostile attack --hub EP --hub-key HUB.pub --customer C.key --factory F.key
 *                        --victim V.pub --state FILE --refused FILE --seconds S
 *
 * The attacker holds two member keys of a `listed` alliance: a customer
 * ("mallory") and a factory ("evil"). `setup` makes the few legitimate
 * records the attack needs, acknowledged and logged like drill_client's
 * (so the drill can account for them): evil publishes capacity for a
 * process only it offers, mallory orders it (O1), the hub assigns it to
 * evil, evil accepts; mallory orders something nobody makes (O2) and
 * cancels it. The order ids go to the state file.
 *
 * `attack` then loops for S seconds, a few rounds a second (mallory's
 * requests stay under the hub's per-customer rate), each round sending:
 *   unknown-key   a request over a fresh connection with a random transport
 *                 key: its socket monitor must report the handshake refused
 *                 by ZAP (status 400), and no reply may have come
 *   member-kind   mallory's customer connection carrying capacity, accept,
 *                 status, assign, reassign, member-add, note, genesis
 *                 envelopes signed by mallory              -> COFAB_EPERM
 *   misattributed an order signed by evil over mallory's connection, an
 *                 order signed by mallory over evil's, the victim's own
 *                 capacity envelope over evil's             -> COFAB_EPERM
 *   bad-signature a signature with one bit flipped           -> COFAB_EBADSIG
 *   replay        a new envelope with an author sequence already used
 *                 (COFAB_EREPLAY), one that skips ahead (COFAB_EGAP), one
 *                 with a wrong previous hash (COFAB_ECHAIN)
 *   transition    O2 cancelled again, O1 shipped before production,
 *                 accepted twice (COFAB_ESTATE), a status for O2 by evil,
 *                 whose order it is not (COFAB_EPERM)
 *   oversize      a 70 000-byte SUBMIT body (COFAB_ETOOBIG); every 10th
 *                 round a 3 MiB frame over a throwaway connection, which
 *                 libzmq drops before buffering it (no reply)
 *   truncated     a valid envelope cut short                 -> refused
 *   garbage       random header, random SUBMIT body, one frame, five
 *                 frames, an unknown type, a short GET_RANGE -> ERR
 *   resend        O1's stored envelope sent again: answered ACK with the
 *                 original position and the duplicate flag (not a refusal,
 *                 and the ledger does not change)
 * Each refused envelope's hash goes to the refused file (the drill checks
 * none is in the ledger). At the end one line per kind:
 *   kind=K sent= refused= other= accepted= noreply= ratelimited=
 * (refused: the expected code; other: refused with another code; accepted:
 * ACKed though it must not be; noreply: no answer where one was due;
 * ratelimited: refused by the rate limit before being looked at), and
 * exit 1 if anything was accepted or a reply was missing.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#define S_REPLY_MS 3000   /* an answer later than this counts as none */
#define S_ROUND_MS 250
#define S_MAX_CODES 4

enum { K_UNKNOWN, K_MEMBER_KIND, K_MISATTR, K_BADSIG, K_REPLAY, K_TRANSITION, K_OVERSIZE,
       K_TRUNCATED, K_GARBAGE, K_RESEND, K_COUNT };
static const char *const s_kind_names[K_COUNT] = {
    "unknown-key", "member-kind", "misattributed", "bad-signature", "replay", "transition",
    "oversize", "truncated", "garbage", "resend"};

typedef struct {
    uint64_t sent, refused, other, accepted, noreply, ratelimited;
} s_count_t;

typedef struct {
    const char *hub, *hub_key, *customer, *factory, *victim, *state, *acks, *refused;
    double seconds;
    keys_public_t hub_pub;           /* pinned hub keys */
    keys_t *mallory, *evil;          /* the attacker's member keys */
    client_t *cm, *ce;               /* their connections */
    void *ctx;                       /* context of the raw sockets */
    void *dm, *de;                   /* raw DEALERs for mallory and evil */
    FILE *refused_log;               /* hashes of refused envelopes */
    envelope_chain_t chain_m, chain_e; /* where the hub says their chains stand */
    uint8_t o1[32], o2[32];          /* setup's orders */
    uint8_t *o1_env;                 /* O1's stored envelope */
    size_t o1_len;
    uint8_t *victim_env;             /* the victim's capacity envelope */
    size_t victim_len;
    s_count_t count[K_COUNT];
} s_hostile_t;

static void
s_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Drops replies still queued on a raw DEALER (answers to earlier rounds). */
static void
s_drain(void *sock)
{
    net_msg_t m;
    while (net_recv(sock, 0, 0, &m) != COFAB_ENOTFOUND)
        net_msg_free(&m);
}

/* Waits for one reply and classifies it against the expected codes. */
static void
s_classify(s_hostile_t *h, int kind, void *sock, const int *codes, size_t ncodes,
           const uint8_t *env, size_t env_len)
{
    s_count_t *c = &h->count[kind];
    net_msg_t m;
    c->sent++;
    int rc = net_recv(sock, 0, S_REPLY_MS, &m);
    if (rc == COFAB_ENOTFOUND) {
        c->noreply++;
        fprintf(stderr, "drill_hostile: %s: no reply\n", s_kind_names[kind]);
        return;
    }
    if (rc != 0 || (m.type != WIRE_ERR && m.type != WIRE_ACK)) {
        c->other++;
        net_msg_free(&m);
        return;
    }
    if (m.type == WIRE_ACK) {
        uint64_t pos = 0;
        int dup = 0;
        if (kind == K_RESEND && client_ack_decode(m.body, m.len, &pos, &dup) == 0 && dup) {
            c->accepted++; /* answered with the original position: stored once */
        } else if (kind == K_RESEND) {
            c->other++;
            fprintf(stderr, "drill_hostile: resend: ACKed without the duplicate flag\n");
        } else {
            c->accepted++;
            fprintf(stderr, "drill_hostile: %s: ACCEPTED by the hub\n", s_kind_names[kind]);
        }
        net_msg_free(&m);
        return;
    }
    int code = 0;
    char reason[WIRE_MAX_REASON + 1];
    wire_err_decode(m.body, m.len, &code, reason);
    net_msg_free(&m);
    if (strstr(reason, "rate limit")) {
        c->ratelimited++;
        return;
    }
    int expected = ncodes == 0; /* no list: any refusal will do */
    for (size_t i = 0; i < ncodes; i++)
        expected |= code == codes[i];
    if (expected) {
        c->refused++;
    } else if (c->other++ < 3) {
        fprintf(stderr, "drill_hostile: %s: refused with %s (%s)\n", s_kind_names[kind],
                cofab_errname(code), reason);
    }
    if (env && h->refused_log) {
        uint8_t hash[32];
        char hex[65];
        crypto_hash_sha256(hash, env, env_len);
        sodium_bin2hex(hex, sizeof hex, hash, 32);
        fprintf(h->refused_log, "%s\n", hex);
        fflush(h->refused_log);
    }
}

/* Sends a SUBMIT of bytes on sock and classifies the answer. */
static void
s_submit(s_hostile_t *h, int kind, void *sock, const uint8_t *env, size_t len, const int *codes,
         size_t ncodes, int is_envelope)
{
    s_drain(sock);
    uint64_t id;
    randombytes_buf(&id, sizeof id);
    if (net_send(sock, NULL, 0, WIRE_SUBMIT, id, env, len) != 0) {
        h->count[kind].sent++;
        h->count[kind].noreply++;
        return;
    }
    s_classify(h, kind, sock, codes, ncodes, is_envelope ? env : NULL, len);
}

/* Seals an envelope for `author` at author_seq/prev without touching any chain. */
static size_t
s_seal_at(const keys_t *author, int kind, uint64_t seq, const uint8_t prev[32],
          const uint8_t subject[32], const uint8_t *payload, size_t plen, uint8_t *out)
{
    envelope_spec_t spec = {.kind = (uint8_t) kind, .author_seq = seq,
                            .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = plen};
    memcpy(spec.author_prev, prev, 32);
    if (subject)
        memcpy(spec.subject, subject, 32);
    else
        randombytes_buf(spec.subject, 32);
    size_t len = 0;
    return envelope_seal(&spec, author, out, ENVELOPE_MAX, &len) == 0 ? len : 0;
}

/* ---- payloads ---- */

static int
s_order_payload(const char *process, const char *material, uint8_t **out, size_t *len)
{
    payload_order_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.items[0].process, sizeof o.items[0].process, "%s", process);
    snprintf(o.items[0].material, sizeof o.items[0].material, "%s", material);
    o.items[0].qty = 1;
    o.nitems = 1;
    o.due_day = (uint32_t) (util_now_ms() / 86400000u) + 20;
    o.lat_e6 = 45000000;
    o.lon_e6 = 9000000;
    return payload_order_encode(&o, out, len);
}

static int
s_capacity_payload(uint8_t **out, size_t *len)
{
    payload_capacity_t *c = calloc(1, sizeof *c);
    if (!c)
        return COFAB_ENOMEM;
    c->start_day = (uint32_t) (util_now_ms() / 86400000u);
    c->valid_until_day = c->start_day + 29;
    c->lat_e6 = 45000000;
    c->lon_e6 = 9000000;
    c->reserve_pm = 0;
    payload_offer_t *o = &c->offers[0];
    snprintf(o->process, sizeof o->process, "evil-proc");
    snprintf(o->materials[0], sizeof o->materials[0], "lead");
    o->nmaterials = 1;
    o->unit_price = 100;
    o->moq = 1;
    o->max_qty = 1000;
    o->ncap = 30;
    for (uint32_t d = 0; d < o->ncap; d++)
        o->cap[d] = 1000;
    c->noffers = 1;
    int rc = payload_capacity_encode(c, out, len);
    free(c);
    return rc;
}

static int
s_status_payload(int stage, uint8_t **out, size_t *len)
{
    payload_status_t s = {.stage = stage};
    return payload_status_encode(&s, out, len);
}

/* ---- setup ---- */

/* Submits with client_submit and logs the ack like drill_client does. */
static int
s_legit(s_hostile_t *h, client_t *c, FILE *acks, int kind, const uint8_t id[32],
        const uint8_t *payload, size_t plen)
{
    uint8_t *env = malloc(ENVELOPE_MAX);
    size_t len = 0;
    uint64_t pos = 0;
    int dup = 0;
    char reason[WIRE_MAX_REASON + 1] = "";
    int rc = env ? client_seal(c, kind, id, payload, plen, 3000, env, ENVELOPE_MAX, &len)
                 : COFAB_ENOMEM;
    if (rc == 0)
        rc = client_submit_envelope(c, env, len, 3000, &pos, &dup, reason);
    if (rc == 0) {
        uint8_t hash[32];
        char hh[65], ih[65];
        crypto_hash_sha256(hash, env, len);
        sodium_bin2hex(hh, sizeof hh, hash, 32);
        sodium_bin2hex(ih, sizeof ih, id, 32);
        fprintf(acks, "%llu %s %s %d s %llu\n", (unsigned long long) pos, hh, ih, dup,
                (unsigned long long) util_now_ms());
        fflush(acks);
        if (kind == ENVELOPE_ORDER && memcmp(id, h->o1, 32) == 0) {
            h->o1_env = env;
            h->o1_len = len;
            env = NULL;
        }
    } else {
        fprintf(stderr, "drill_hostile setup: %s refused: %s %s\n", envelope_kind_name(kind),
                cofab_errname(rc), reason);
    }
    free(env);
    return rc;
}

/* Waits until the hub has assigned O1 (to evil: only it makes evil-proc). */
static int
s_wait_assigned(s_hostile_t *h)
{
    client_trust_t *trust = malloc(sizeof *trust);
    client_verified_t *v = malloc(sizeof *v);
    int rc = trust && v ? client_trust_load(h->cm, &h->hub_pub, 3000, trust) : COFAB_ENOMEM;
    for (int tries = 0; rc == 0 && tries < 100; tries++) {
        net_msg_t reply;
        int vr = client_order_status(h->cm, trust, h->o1, 3000, &reply, v);
        int assigned = 0;
        for (uint32_t i = 0; vr == 0 && i < v->n; i++)
            assigned |= v->events[i].kind == ENVELOPE_ASSIGN;
        net_msg_free(&reply);
        if (assigned)
            goto out;
        s_sleep_ms(200);
    }
    if (rc == 0)
        rc = COFAB_ENOTFOUND;
out:
    free(trust);
    free(v);
    return rc;
}

static int
s_setup(s_hostile_t *h)
{
    FILE *acks = fopen(h->acks, "a");
    uint8_t *cap = NULL, *o1 = NULL, *o2 = NULL, *acc = NULL, *can = NULL, zero[32] = {0};
    size_t cap_len = 0, o1_len = 0, o2_len = 0, acc_len = 0, can_len = 0;
    payload_accept_t a = {{0}};
    payload_cancel_t c = {{0}};
    randombytes_buf(h->o1, 32);
    randombytes_buf(h->o2, 32);
    /* evil's capacity; O1 for it, assigned, accepted; O2 for nobody, cancelled. */
    int rc = acks ? 0 : COFAB_EIO;
    rc = rc ? rc : s_capacity_payload(&cap, &cap_len);
    rc = rc ? rc : s_order_payload("evil-proc", "lead", &o1, &o1_len);
    rc = rc ? rc : s_order_payload("void-proc", "air", &o2, &o2_len);
    rc = rc ? rc : payload_accept_encode(&a, &acc, &acc_len);
    rc = rc ? rc : payload_cancel_encode(&c, &can, &can_len);
    rc = rc ? rc : s_legit(h, h->ce, acks, ENVELOPE_CAPACITY, zero, cap, cap_len);
    rc = rc ? rc : s_legit(h, h->cm, acks, ENVELOPE_ORDER, h->o1, o1, o1_len);
    rc = rc ? rc : s_wait_assigned(h);
    rc = rc ? rc : s_legit(h, h->ce, acks, ENVELOPE_ACCEPT, h->o1, acc, acc_len);
    rc = rc ? rc : s_legit(h, h->cm, acks, ENVELOPE_ORDER, h->o2, o2, o2_len);
    rc = rc ? rc : s_legit(h, h->cm, acks, ENVELOPE_CANCEL, h->o2, can, can_len);
    FILE *st = rc == 0 ? fopen(h->state, "w") : NULL;
    if (rc == 0 && !st)
        rc = COFAB_EIO;
    if (st) {
        char x1[65], x2[65], *e = malloc(2 * h->o1_len + 1);
        sodium_bin2hex(x1, sizeof x1, h->o1, 32);
        sodium_bin2hex(x2, sizeof x2, h->o2, 32);
        if (e)
            sodium_bin2hex(e, 2 * h->o1_len + 1, h->o1_env, h->o1_len);
        fprintf(st, "%s\n%s\n%s\n", x1, x2, e ? e : "");
        fclose(st);
        free(e);
    }
    if (acks)
        fclose(acks);
    free(cap);
    free(o1);
    free(o2);
    free(acc);
    free(can);
    printf("drill_hostile setup: %s\n", rc == 0 ? "ok" : cofab_strerror(rc));
    return rc;
}

/* ---- attack ---- */

static int
s_load_state(s_hostile_t *h)
{
    uint8_t *text = NULL;
    size_t len = 0, bin = 0;
    int rc = util_read_file(h->state, 4 * ENVELOPE_MAX, &text, &len);
    if (rc != 0)
        return rc;
    char *l1 = (char *) text, *l2 = strchr(l1, '\n'), *l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
    h->o1_env = malloc(ENVELOPE_MAX);
    rc = COFAB_EMALFORMED;
    if (l2 && l3 && h->o1_env && sodium_hex2bin(h->o1, 32, l1, 64, NULL, &bin, NULL) == 0 &&
        sodium_hex2bin(h->o2, 32, l2 + 1, 64, NULL, &bin, NULL) == 0 &&
        sodium_hex2bin(h->o1_env, ENVELOPE_MAX, l3 + 1, strcspn(l3 + 1, "\n"), NULL,
                       &h->o1_len, NULL) == 0)
        rc = 0;
    free(text);
    return rc;
}

/* The victim's first capacity envelope, from the ledger's first records. */
static int
s_find_victim(s_hostile_t *h)
{
    keys_public_t v;
    int rc = keys_public_load(&v, h->victim);
    uint8_t body[12];
    util_put_be64(body, 0);
    util_put_be32(body + 8, WIRE_MAX_RANGE);
    net_msg_t m;
    memset(&m, 0, sizeof m);
    client_records_t *recs = malloc(sizeof *recs);
    if (rc == 0)
        rc = recs ? client_request(h->ce, WIRE_GET_RANGE, body, sizeof body, 3000, &m)
                  : COFAB_ENOMEM;
    if (rc == 0)
        rc = m.type == WIRE_RECORDS ? client_records_decode(recs, m.body, m.len)
                                    : COFAB_EMALFORMED;
    for (uint32_t i = 0; rc == 0 && i < recs->n && !h->victim_env; i++) {
        ledger_record_t r;
        envelope_t e;
        if (ledger_record_decode(&r, recs->records[i].bytes, recs->records[i].len) == 0 &&
            envelope_decode(&e, r.envelope, r.envelope_len) == 0 &&
            e.kind == ENVELOPE_CAPACITY && memcmp(e.author, v.sign_pk, 32) == 0) {
            h->victim_env = malloc(r.envelope_len);
            if (h->victim_env) {
                memcpy(h->victim_env, r.envelope, r.envelope_len);
                h->victim_len = r.envelope_len;
            }
        }
    }
    net_msg_free(&m);
    free(recs);
    return rc == 0 && !h->victim_env ? COFAB_ENOTFOUND : rc;
}

static int
s_sync(client_t *c, const keys_t *k, envelope_chain_t *chain)
{
    uint64_t aseq = 0;
    int rc = client_author(c, keys_sign_pk(k), 3000, &aseq, chain->prev);
    chain->next_seq = aseq + 1;
    return rc;
}

/* Waits for the outcome of the socket's first handshake, from its monitor:
 * 1 succeeded, 0 refused by ZAP with status 400 (*status), -1 nothing. */
static int
s_handshake(void *mon, int *status)
{
    uint64_t deadline = util_mono_ns() + (uint64_t) S_REPLY_MS * 1000000u;
    while (util_mono_ns() < deadline) {
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, mon, 0) < 0) {
            zmq_msg_close(&f);
            continue;
        }
        uint16_t ev = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&f) == 6) {
            memcpy(&ev, zmq_msg_data(&f), 2);
            memcpy(&value, (uint8_t *) zmq_msg_data(&f) + 2, 4);
        }
        int more = zmq_msg_more(&f);
        zmq_msg_close(&f);
        while (more) { /* the endpoint frame */
            zmq_msg_init(&f);
            more = zmq_msg_recv(&f, mon, 0) >= 0 && zmq_msg_more(&f);
            zmq_msg_close(&f);
        }
        if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            return 1;
        if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            *status = (int) value;
            return 0;
        }
    }
    return -1;
}

/* A fresh connection with a random transport key: the socket monitor must
 * report the handshake refused by ZAP (status 400), and no reply may come. */
static void
s_unknown_key(s_hostile_t *h, int round)
{
    keys_t *k = keys_generate("stranger");
    void *sock = k ? net_client_socket(h->ctx, ZMQ_DEALER, k, h->hub_pub.curve_pk) : NULL;
    void *mon = NULL;
    char ep[64];
    int linger = 0, status = 0;
    s_count_t *c = &h->count[K_UNKNOWN];
    snprintf(ep, sizeof ep, "inproc://drill-hostile-mon-%d", round);
    if (sock && zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) == 0 &&
        zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0 &&
        (mon = zmq_socket(h->ctx, ZMQ_PAIR)) != NULL && zmq_connect(mon, ep) == 0 &&
        zmq_connect(sock, h->hub) == 0 &&
        net_send(sock, NULL, 0, WIRE_GET_CHECKPOINT, 1, NULL, 0) == 0) {
        int hs = s_handshake(mon, &status);
        net_msg_t m;
        c->sent++;
        if (hs == 0 && status == 400 && net_recv(sock, 0, 0, &m) == COFAB_ENOTFOUND) {
            c->refused++;
        } else if (hs == 1) {
            c->accepted++;
            fprintf(stderr, "drill_hostile: unknown-key: the handshake SUCCEEDED\n");
        } else {
            c->noreply++;
            fprintf(stderr, "drill_hostile: unknown-key: no ZAP verdict within %d ms\n",
                    S_REPLY_MS);
        }
    }
    if (mon)
        zmq_close(mon);
    if (sock) {
        zmq_socket_monitor(sock, NULL, 0);
        zmq_close(sock);
    }
    keys_destroy(&k);
}

/* The undoable reply: count a no-reply as the expected outcome. */
static void
s_huge_frame(s_hostile_t *h)
{
    size_t n = 3u << 20;
    uint8_t *big = malloc(n);
    void *sock = net_client_socket(h->ctx, ZMQ_DEALER, h->mallory, h->hub_pub.curve_pk);
    int linger = 0;
    s_count_t *c = &h->count[K_OVERSIZE];
    if (big && sock && zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) == 0 &&
        zmq_connect(sock, h->hub) == 0) {
        memset(big, 0xA5, n);
        net_send(sock, NULL, 0, WIRE_SUBMIT, 7, big, n);
        net_msg_t m;
        c->sent++;
        if (net_recv(sock, 0, S_REPLY_MS, &m) == COFAB_ENOTFOUND) {
            c->refused++; /* dropped unread: the only answer libzmq gives */
        } else {
            c->accepted += m.type == WIRE_ACK;
            c->other += m.type != WIRE_ACK;
            net_msg_free(&m);
        }
    }
    if (sock)
        zmq_close(sock);
    free(big);
}

/* Raw frames on mallory's connection: anything but an ERR is wrong. */
static void
s_frames(s_hostile_t *h, const uint8_t *const *frames, const size_t *lens, int n)
{
    s_drain(h->dm);
    for (int i = 0; i < n; i++)
        zmq_send(h->dm, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
    s_classify(h, K_GARBAGE, h->dm, NULL, 0, NULL, 0);
}

static void
s_garbage(s_hostile_t *h)
{
    uint8_t junk[200], hdr[WIRE_HEADER_LEN], hdr_bad_type[WIRE_HEADER_LEN], rng[3] = {1, 2, 3};
    randombytes_buf(junk, sizeof junk);
    wire_header_encode(hdr, WIRE_SUBMIT, 42);
    wire_header_encode(hdr_bad_type, WIRE_GET_RANGE, 43);
    const uint8_t *f1[] = {junk, junk + 16};
    const size_t l1[] = {WIRE_HEADER_LEN, 50};
    s_frames(h, f1, l1, 2);                     /* random header */
    const uint8_t *f2[] = {hdr, junk};
    const size_t l2[] = {WIRE_HEADER_LEN, sizeof junk};
    s_frames(h, f2, l2, 2);                     /* random SUBMIT body */
    const uint8_t *f3[] = {hdr};
    const size_t l3[] = {WIRE_HEADER_LEN};
    s_frames(h, f3, l3, 1);                     /* one frame */
    const uint8_t *f4[] = {hdr, junk, junk, junk, junk};
    const size_t l4[] = {WIRE_HEADER_LEN, 10, 10, 10, 10};
    s_frames(h, f4, l4, 5);                     /* five frames */
    hdr_bad_type[3] = 99;
    const uint8_t *f5[] = {hdr_bad_type, junk};
    const size_t l5[] = {WIRE_HEADER_LEN, 8};
    s_frames(h, f5, l5, 2);                     /* unknown type */
    wire_header_encode(hdr_bad_type, WIRE_GET_RANGE, 44);
    const uint8_t *f6[] = {hdr_bad_type, rng};
    const size_t l6[] = {WIRE_HEADER_LEN, sizeof rng};
    s_frames(h, f6, l6, 2);                     /* short GET_RANGE */
}

/* One round of every attack. */
static void
s_round(s_hostile_t *h, int round, const uint8_t *order, size_t order_len,
        const uint8_t *const *kinds_payload, const size_t *kinds_len, const int *kinds, int nkinds)
{
    uint8_t *env = malloc(ENVELOPE_MAX);
    if (!env)
        return;
    static const int eperm[] = {COFAB_EPERM}, ebadsig[] = {COFAB_EBADSIG},
                     ereplay[] = {COFAB_EREPLAY}, egap[] = {COFAB_EGAP},
                     echain[] = {COFAB_ECHAIN}, estate[] = {COFAB_ESTATE},
                     etoobig[] = {COFAB_ETOOBIG}, enotyours[] = {COFAB_EPERM, COFAB_ESTATE},
                     etrunc[] = {COFAB_ETRUNCATED, COFAB_EMALFORMED, COFAB_ETOOBIG};
    envelope_chain_t *m = &h->chain_m, *e = &h->chain_e;
    size_t len;

    s_unknown_key(h, round);
    for (int i = 0; i < nkinds; i++) { /* member-only kinds from a customer */
        len = s_seal_at(h->mallory, kinds[i], m->next_seq, m->prev, NULL, kinds_payload[i],
                        kinds_len[i], env);
        s_submit(h, K_MEMBER_KIND, h->dm, env, len, eperm, 1, 1);
    }
    len = s_seal_at(h->evil, ENVELOPE_ORDER, e->next_seq, e->prev, NULL, order, order_len, env);
    s_submit(h, K_MISATTR, h->dm, env, len, eperm, 1, 1);
    len = s_seal_at(h->mallory, ENVELOPE_ORDER, m->next_seq, m->prev, NULL, order, order_len, env);
    s_submit(h, K_MISATTR, h->de, env, len, eperm, 1, 1);
    /* (the victim's envelope is rightly in the ledger: not logged as refused) */
    s_submit(h, K_MISATTR, h->de, h->victim_env, h->victim_len, eperm, 1, 0);
    env[len - 1 - (size_t) (round % 64)] ^= 0x01; /* one bit of the signature */
    s_submit(h, K_BADSIG, h->dm, env, len, ebadsig, 1, 1);

    uint8_t zero[32] = {0}, junk[32];
    randombytes_buf(junk, sizeof junk);
    len = s_seal_at(h->mallory, ENVELOPE_ORDER, 1, zero, NULL, order, order_len, env);
    s_submit(h, K_REPLAY, h->dm, env, len, ereplay, 1, 1);
    len = s_seal_at(h->mallory, ENVELOPE_ORDER, m->next_seq + 5, m->prev, NULL, order, order_len,
                    env);
    s_submit(h, K_REPLAY, h->dm, env, len, egap, 1, 1);
    len = s_seal_at(h->mallory, ENVELOPE_ORDER, m->next_seq, junk, NULL, order, order_len, env);
    s_submit(h, K_REPLAY, h->dm, env, len, echain, 1, 1);

    /* kinds_payload[0..2]: cancel, accept, status shipped (see s_attack). */
    len = s_seal_at(h->mallory, ENVELOPE_CANCEL, m->next_seq, m->prev, h->o2, kinds_payload[nkinds],
                    kinds_len[nkinds], env);
    s_submit(h, K_TRANSITION, h->dm, env, len, estate, 1, 1);
    len = s_seal_at(h->evil, ENVELOPE_STATUS, e->next_seq, e->prev, h->o1,
                    kinds_payload[nkinds + 2], kinds_len[nkinds + 2], env);
    s_submit(h, K_TRANSITION, h->de, env, len, estate, 1, 1);
    len = s_seal_at(h->evil, ENVELOPE_ACCEPT, e->next_seq, e->prev, h->o1,
                    kinds_payload[nkinds + 1], kinds_len[nkinds + 1], env);
    s_submit(h, K_TRANSITION, h->de, env, len, estate, 1, 1);
    /* O2 is not evil's (and is cancelled: either refusal is right). */
    len = s_seal_at(h->evil, ENVELOPE_STATUS, e->next_seq, e->prev, h->o2,
                    kinds_payload[nkinds + 2], kinds_len[nkinds + 2], env);
    s_submit(h, K_TRANSITION, h->de, env, len, enotyours, 2, 1);

    uint8_t *big = calloc(1, 70000);
    if (big) {
        memcpy(big, env, len < 70000 ? len : 70000);
        s_submit(h, K_OVERSIZE, h->dm, big, 70000, etoobig, 1, 0);
        free(big);
    }
    if (round % 10 == 0)
        s_huge_frame(h);
    len = s_seal_at(h->mallory, ENVELOPE_ORDER, m->next_seq, m->prev, NULL, order, order_len, env);
    size_t cut = 1 + (size_t) randombytes_uniform((uint32_t) len - 1);
    s_submit(h, K_TRUNCATED, h->dm, env, cut, etrunc, 3, 0);
    s_garbage(h);
    s_submit(h, K_RESEND, h->dm, h->o1_env, h->o1_len, NULL, 0, 0);
    free(env);
}

static int
s_attack(s_hostile_t *h)
{
    static const int kinds[] = {ENVELOPE_CAPACITY, ENVELOPE_ACCEPT,     ENVELOPE_STATUS,
                                ENVELOPE_ASSIGN,   ENVELOPE_REASSIGN,   ENVELOPE_MEMBER_ADD,
                                ENVELOPE_NOTE,     ENVELOPE_GENESIS};
    enum { NK = sizeof kinds / sizeof kinds[0] };
    uint8_t *payloads[NK + 3] = {0}, *order = NULL;
    size_t lens[NK + 3] = {0}, order_len = 0;
    payload_accept_t a = {{0}};
    payload_cancel_t c = {{0}};
    h->refused_log = fopen(h->refused, "a");
    int rc = h->refused_log ? s_load_state(h) : COFAB_EIO;
    rc = rc ? rc : s_find_victim(h);
    rc = rc ? rc : s_sync(h->cm, h->mallory, &h->chain_m);
    rc = rc ? rc : s_sync(h->ce, h->evil, &h->chain_e);
    rc = rc ? rc : s_order_payload("sewing", "cotton", &order, &order_len);
    /* Payloads: a valid one for each member-only kind where it is easy
     * (the sender check refuses before the payload is read anyway); then
     * cancel, accept and "shipped" for the transitions. */
    rc = rc ? rc : s_capacity_payload(&payloads[0], &lens[0]);
    rc = rc ? rc : s_status_payload(PAYLOAD_STAGE_IN_PRODUCTION, &payloads[2], &lens[2]);
    for (int i = 1; rc == 0 && i < NK; i++)
        if (i != 2)
            rc = payload_accept_encode(&a, &payloads[i], &lens[i]);
    rc = rc ? rc : payload_cancel_encode(&c, &payloads[NK], &lens[NK]);
    rc = rc ? rc : payload_accept_encode(&a, &payloads[NK + 1], &lens[NK + 1]);
    rc = rc ? rc : s_status_payload(PAYLOAD_STAGE_SHIPPED, &payloads[NK + 2], &lens[NK + 2]);
    uint64_t t0 = util_mono_ns();
    int round = 0;
    while (rc == 0 && (double) (util_mono_ns() - t0) / 1e9 < h->seconds) {
        uint64_t start = util_mono_ns();
        s_round(h, round++, order, order_len, (const uint8_t *const *) payloads, lens, kinds, NK);
        uint64_t took = (util_mono_ns() - start) / 1000000u;
        if (took < S_ROUND_MS)
            s_sleep_ms((unsigned) (S_ROUND_MS - took));
    }
    if (rc != 0)
        fprintf(stderr, "drill_hostile attack: set-up failed: %s\n", cofab_strerror(rc));
    int bad = rc != 0;
    for (int k = 0; k < K_COUNT; k++) {
        s_count_t *x = &h->count[k];
        printf("kind=%s sent=%llu refused=%llu other=%llu accepted=%llu noreply=%llu "
               "ratelimited=%llu\n",
               s_kind_names[k], (unsigned long long) x->sent, (unsigned long long) x->refused,
               (unsigned long long) x->other, (unsigned long long) x->accepted,
               (unsigned long long) x->noreply, (unsigned long long) x->ratelimited);
        if (k == K_RESEND ? x->other || x->noreply : x->accepted || x->noreply)
            bad = 1;
    }
    printf("rounds=%d\n", round);
    free(order);
    for (int i = 0; i < NK + 3; i++)
        free(payloads[i]);
    return bad;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"hub", required_argument, NULL, 'h'},      {"hub-key", required_argument, NULL, 'p'},
        {"customer", required_argument, NULL, 'c'}, {"factory", required_argument, NULL, 'f'},
        {"victim", required_argument, NULL, 'v'},   {"state", required_argument, NULL, 's'},
        {"acks", required_argument, NULL, 'a'},     {"refused", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 'S'},  {0, 0, 0, 0}};
    s_hostile_t h;
    memset(&h, 0, sizeof h);
    if (argc < 2 || (strcmp(argv[1], "setup") && strcmp(argv[1], "attack")))
        goto usage;
    int setup = !strcmp(argv[1], "setup"), c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': h.hub = optarg; break;
        case 'p': h.hub_key = optarg; break;
        case 'c': h.customer = optarg; break;
        case 'f': h.factory = optarg; break;
        case 'v': h.victim = optarg; break;
        case 's': h.state = optarg; break;
        case 'a': h.acks = optarg; break;
        case 'r': h.refused = optarg; break;
        case 'S': h.seconds = atof(optarg); break;
        default: goto usage;
        }
    }
    if (!h.hub || !h.hub_key || !h.customer || !h.factory || !h.state ||
        (setup && !h.acks) || (!setup && (!h.victim || !h.refused || h.seconds <= 0)))
        goto usage;
    if (sodium_init() < 0)
        return 2;
    int ret = 2;
    if (keys_public_load(&h.hub_pub, h.hub_key) != 0 || keys_load(h.customer, &h.mallory) != 0 ||
        keys_load(h.factory, &h.evil) != 0) {
        fprintf(stderr, "drill_hostile: cannot load the keys\n");
        goto out;
    }
    h.cm = client_new(h.hub, h.mallory, h.hub_pub.curve_pk);
    h.ce = client_new(h.hub, h.evil, h.hub_pub.curve_pk);
    h.ctx = zmq_ctx_new();
    if (h.ctx) {
        h.dm = net_client_socket(h.ctx, ZMQ_DEALER, h.mallory, h.hub_pub.curve_pk);
        h.de = net_client_socket(h.ctx, ZMQ_DEALER, h.evil, h.hub_pub.curve_pk);
    }
    if (!h.cm || !h.ce || !h.dm || !h.de || zmq_connect(h.dm, h.hub) != 0 ||
        zmq_connect(h.de, h.hub) != 0)
        goto out;
    ret = setup ? (s_setup(&h) == 0 ? 0 : 1) : s_attack(&h);
out:
    if (h.dm)
        zmq_close(h.dm);
    if (h.de)
        zmq_close(h.de);
    if (h.ctx)
        zmq_ctx_term(h.ctx);
    client_destroy(&h.cm);
    client_destroy(&h.ce);
    keys_destroy(&h.mallory);
    keys_destroy(&h.evil);
    if (h.refused_log)
        fclose(h.refused_log);
    free(h.o1_env);
    free(h.victim_env);
    return ret;
usage:
    fprintf(stderr, "usage: drill_hostile setup|attack --hub EP --hub-key HUB.pub --customer C.key "
                    "--factory F.key --state FILE [--acks FILE] [--victim V.pub --refused FILE "
                    "--seconds S]\n");
    return 2;
}
