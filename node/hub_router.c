/* hub_router.c — the hub's ROUTER loop: admission per role, rate limits, queries, hand-offs. */
#include "hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/util.h"

/* Messages taken from one socket per poll of the router loop. */
#define S_DRAIN 64

/* Token buckets for customer transport keys in a direct-mapped table
 * keyed by a random SipHash key. Keys that hash to the same slot share its
 * bucket: alternating them never buys more than one key's rate (the table
 * used to give a newcomer a full bucket; docs/drills.md, finding 5). */
static int
s_rate_ok(hub_t *self, const uint8_t key[32])
{
    if (self->cfg.customer_rate == 0)
        return 1;
    uint64_t now = util_mono_ns();
    uint8_t h[crypto_shorthash_BYTES];
    _Static_assert(sizeof self->rate_key == crypto_shorthash_KEYBYTES, "SipHash key size");
    crypto_shorthash(h, key, 32, self->rate_key);
    uint64_t slot;
    memcpy(&slot, h, sizeof slot);
    hub_bucket_t *b = &self->buckets[slot % HUB_RATE_SLOTS];
    double rate = self->cfg.customer_rate, burst = rate * 2;
    if (b->last_ns == 0) { /* never used: starts with a full burst */
        b->tokens = burst;
        b->last_ns = now;
    }
    b->tokens += (double) (now - b->last_ns) / 1e9 * rate;
    if (b->tokens > burst)
        b->tokens = burst;
    b->last_ns = now;
    if (b->tokens < 1.0)
        return 0;
    b->tokens -= 1.0;
    return 1;
}

static void
s_reply(hub_t *self, const net_msg_t *m, int type, const wire_writer_t *w)
{
    if (w->error) {
        net_send_err(self->router, m->identity, m->identity_len, m->request_id, w->error,
                     "reply too large");
        return;
    }
    net_send(self->router, m->identity, m->identity_len, type, m->request_id, w->data, w->len);
}

static void
s_err(hub_t *self, const net_msg_t *m, int code, const char *reason)
{
    net_send_err(self->router, m->identity, m->identity_len, m->request_id, code, reason);
}

static void
s_get_range(hub_t *self, const net_msg_t *m)
{
    wire_reader_t r;
    wire_reader_init(&r, m->body, m->len);
    uint64_t from = wire_read_u64(&r);
    uint32_t max = wire_read_u32(&r);
    if (wire_reader_end(&r) != 0) {
        s_err(self, m, COFAB_EMALFORMED, "GET_RANGE needs from (u64) and count (u32)");
        return;
    }
    if (max > WIRE_MAX_RANGE)
        max = WIRE_MAX_RANGE;
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u32(&w, 0); /* count, patched below */
    uint32_t n = 0;
    ledger_iter_t *it = ledger_iter_new(self->ledger, from);
    if (!it) {
        wire_writer_free(&w);
        s_err(self, m, COFAB_ESTORE, "cannot read the ledger");
        return;
    }
    uint64_t seq;
    const uint8_t *bytes;
    size_t len;
    while (it && n < max && w.len + LEDGER_RECORD_MAX < WIRE_MAX_BODY &&
           ledger_iter_next(it, &seq, &bytes, &len) == 0) {
        wire_write_u32(&w, (uint32_t) len);
        wire_write_bytes(&w, bytes, len);
        n++;
    }
    ledger_iter_destroy(&it);
    if (!w.error)
        util_put_be32(w.data, n);
    s_reply(self, m, WIRE_RECORDS, &w);
    wire_writer_free(&w);
}

static void
s_get_checkpoint(hub_t *self, const net_msg_t *m)
{
    char note[LEDGER_CHECKPOINT_MAX];
    int rc = ledger_checkpoint_latest(self->ledger, note, sizeof note);
    if (rc != 0) {
        s_err(self, m, rc, "no checkpoint yet");
        return;
    }
    net_send(self->router, m->identity, m->identity_len, WIRE_CHECKPOINT, m->request_id, note,
             strlen(note));
}

/* An order's records, each with its inclusion proof in the latest checkpoint. */
static void
s_get_subject(hub_t *self, const net_msg_t *m)
{
    if (m->len != 32) {
        s_err(self, m, COFAB_EMALFORMED, "GET_SUBJECT needs a 32-byte id");
        return;
    }
    char note[LEDGER_CHECKPOINT_MAX];
    checkpoint_t cp;
    uint64_t seqs[WIRE_MAX_SUBJECT_RECORDS];
    size_t n = 0;
    int rc = ledger_checkpoint_latest(self->ledger, note, sizeof note);
    if (rc == 0)
        rc = checkpoint_from_note(&cp, note, strlen(note));
    if (rc == 0)
        rc = ledger_subject_records(self->ledger, m->body, 0, seqs, WIRE_MAX_SUBJECT_RECORDS, &n);
    if (rc == 0 && n == 0)
        rc = COFAB_ENOTFOUND;
    if (rc != 0) {
        s_err(self, m, rc, rc == COFAB_ENOTFOUND ? "unknown id" : cofab_strerror(rc));
        return;
    }
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u32(&w, (uint32_t) strlen(note));
    wire_write_bytes(&w, note, strlen(note));
    wire_write_u32(&w, (uint32_t) n);
    for (size_t i = 0; i < n && !w.error; i++) {
        uint8_t *rec = NULL, proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
        size_t len = 0, k = 0;
        rc = ledger_get(self->ledger, seqs[i], &rec, &len);
        if (rc == 0 && seqs[i] < cp.size)
            rc = ledger_inclusion_proof(self->ledger, seqs[i], cp.size, proof, &k);
        if (rc != 0) {
            free(rec);
            w.error = rc;
            break;
        }
        wire_write_u64(&w, seqs[i]);
        wire_write_u32(&w, (uint32_t) len);
        wire_write_bytes(&w, rec, len);
        wire_write_u8(&w, (uint8_t) k);
        for (size_t j = 0; j < k; j++)
            wire_write_bytes(&w, proof[j], MERKLE_HASH_LEN);
        free(rec);
    }
    s_reply(self, m, WIRE_SUBJECT, &w);
    wire_writer_free(&w);
}

static void
s_get_consistency(hub_t *self, const net_msg_t *m)
{
    wire_reader_t r;
    wire_reader_init(&r, m->body, m->len);
    uint64_t old_size = wire_read_u64(&r), new_size = wire_read_u64(&r);
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
    size_t k = 0;
    int rc = wire_reader_end(&r);
    if (rc == 0)
        rc = ledger_consistency_proof(self->ledger, old_size, new_size, proof, &k);
    if (rc != 0) {
        s_err(self, m, rc, "no consistency proof for those sizes");
        return;
    }
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u8(&w, (uint8_t) k);
    for (size_t j = 0; j < k; j++)
        wire_write_bytes(&w, proof[j], MERKLE_HASH_LEN);
    s_reply(self, m, WIRE_CONSISTENCY, &w);
    wire_writer_free(&w);
}

static void
s_get_author(hub_t *self, const net_msg_t *m)
{
    uint64_t aseq = 0;
    uint8_t hash[32];
    int rc = m->len == 32 ? ledger_author_last(self->ledger, m->body, &aseq, hash)
                          : COFAB_EMALFORMED;
    if (rc != 0) {
        s_err(self, m, rc, "GET_AUTHOR needs a 32-byte key");
        return;
    }
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u64(&w, aseq);
    wire_write_bytes(&w, hash, 32);
    s_reply(self, m, WIRE_AUTHOR, &w);
    wire_writer_free(&w);
}

/* Hands a SUBMIT or COSIGN to the verifiers:
 * [job][identity][request id][user id][body]. */
static void
s_hand_off(hub_t *self, const net_msg_t *m, uint8_t job)
{
    uint8_t rid[8];
    util_put_be64(rid, m->request_id);
    /* Pick the verifier by the author key (envelope bytes 4..35; anything
     * shorter is refused by the verifier anyway), so one author's
     * envelopes are verified, and reach the writer, in the order sent. */
    unsigned v = 0;
    if (job == HUB_JOB_ENVELOPE && m->len >= 36)
        v = (unsigned) (util_get_be32(m->body + 4) % self->nverify);
    void *pipe = self->to_verify[v];
    zmq_send(pipe, &job, 1, ZMQ_SNDMORE);
    zmq_send(pipe, m->identity, m->identity_len, ZMQ_SNDMORE);
    zmq_send(pipe, rid, 8, ZMQ_SNDMORE);
    zmq_send(pipe, m->user_id, strlen(m->user_id), ZMQ_SNDMORE);
    zmq_send(pipe, m->body, m->len, 0);
}

static void
s_handle(hub_t *self, const net_msg_t *m)
{
    int customer = m->user_id[0] == 'c';
    hub_saw(self, m->user_id);
    if (customer) {
        uint8_t key[32];
        size_t bin = 0;
        if (sodium_hex2bin(key, 32, m->user_id + 2, 64, NULL, &bin, NULL) != 0 || bin != 32 ||
            !s_rate_ok(self, key)) {
            hub_refused(self, COFAB_EPERM);
            s_err(self, m, COFAB_EPERM, "rate limit: slow down");
            return;
        }
    }
    switch (m->type) {
    case WIRE_SUBMIT:
        s_hand_off(self, m, HUB_JOB_ENVELOPE);
        break;
    case WIRE_COSIGN:
        if (m->user_id[0] != 'm') {
            s_err(self, m, COFAB_EPERM, "only members cosign");
            break;
        }
        s_hand_off(self, m, HUB_JOB_COSIGN);
        break;
    case WIRE_GET_RANGE:
        s_get_range(self, m);
        break;
    case WIRE_GET_CHECKPOINT:
        s_get_checkpoint(self, m);
        break;
    case WIRE_GET_SUBJECT:
        s_get_subject(self, m);
        break;
    case WIRE_GET_CONSISTENCY:
        s_get_consistency(self, m);
        break;
    case WIRE_GET_AUTHOR:
        s_get_author(self, m);
        break;
    case WIRE_PING:
        net_send(self->router, m->identity, m->identity_len, WIRE_PONG, m->request_id, NULL, 0);
        break;
    default:
        s_err(self, m, COFAB_EMALFORMED, "not a request type");
        break;
    }
}

/* Whether sock has a message ready (no system call). */
static int
s_readable(void *sock)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

/* Forwards one reply a worker produced: [identity][header][body]. */
static void
s_forward_reply(hub_t *self)
{
    zmq_msg_t f[3];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t cur;
        zmq_msg_init(&cur);
        if (zmq_msg_recv(&cur, self->replies, 0) < 0) {
            zmq_msg_close(&cur);
            break;
        }
        more = zmq_msg_more(&cur);
        if (n < 3)
            f[n++] = cur;
        else
            zmq_msg_close(&cur);
    }
    if (n == 3) {
        zmq_send(self->router, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), ZMQ_SNDMORE);
        zmq_send(self->router, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        zmq_send(self->router, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

int
hub_run(hub_t *self, volatile sig_atomic_t *stop)
{
    if (pthread_create(&self->writer, NULL, hub_writer_thread, self) != 0)
        return COFAB_ENOMEM;
    self->writer_started = 1;
    for (unsigned i = 0; i < self->nverify; i++) {
        self->vargs[i] = (hub_verifier_arg_t){self, i};
        if (pthread_create(&self->verifiers[i], NULL, hub_verifier_thread, &self->vargs[i]) != 0)
            return COFAB_ENOMEM;
        self->nverifiers++;
    }
    while (!*stop) {
        zmq_pollitem_t items[2] = {{self->router, 0, ZMQ_POLLIN, 0},
                                   {self->replies, 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 2, 100);
        if (rc < 0)
            continue; /* EINTR from a signal: re-check stop */
        /* Up to S_DRAIN messages from each side per poll: one zmq_poll()
         * (a system call) per message cost as much as handling it. */
        int replies = items[1].revents & ZMQ_POLLIN;
        for (int i = 0; i < S_DRAIN && replies && s_readable(self->replies); i++)
            s_forward_reply(self);
        for (int i = 0; i < S_DRAIN && (items[0].revents & ZMQ_POLLIN); i++) {
            net_msg_t m;
            rc = net_recv(self->router, 1, 0, &m);
            if (rc == 0) {
                s_handle(self, &m);
            } else if (rc != COFAB_ENOTFOUND && m.identity_len) {
                hub_refused(self, rc);
                net_send_err(self->router, m.identity, m.identity_len, m.request_id, rc,
                             "malformed message");
            }
            net_msg_free(&m);
            if (rc == COFAB_ENOTFOUND)
                break;
        }
        hub_prom_write(self);
    }
    hub_prom_remove(self);
    hub_log("stopping: %llu acknowledged, %llu refused, %llu checkpoints",
            (unsigned long long) atomic_load(&self->acked),
            (unsigned long long) atomic_load(&self->refused),
            (unsigned long long) atomic_load(&self->checkpoints));
    return 0;
}
