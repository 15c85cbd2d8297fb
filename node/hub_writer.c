/* hub_writer.c — verifier threads, and the writer thread that group-commits, acks and publishes. */
#include "hub_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/util.h"

#define S_JOB_FRAMES 5

/* A job read off an inproc pipe; frames owned until s_job_close. */
typedef struct {
    zmq_msg_t f[S_JOB_FRAMES];   /* job, identity, request id, user id, body */
    int n;                       /* frames received */
} s_job_t;

static int
s_job_recv(void *sock, s_job_t *j, int flags)
{
    j->n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t cur;
        zmq_msg_init(&cur);
        if (zmq_msg_recv(&cur, sock, j->n == 0 ? flags : 0) < 0) {
            zmq_msg_close(&cur);
            return j->n ? COFAB_ENET : COFAB_ENOTFOUND;
        }
        more = zmq_msg_more(&cur);
        if (j->n < S_JOB_FRAMES)
            j->f[j->n++] = cur;
        else
            zmq_msg_close(&cur);
    }
    return j->n == S_JOB_FRAMES ? 0 : COFAB_EMALFORMED;
}

static void
s_job_close(s_job_t *j)
{
    for (int i = 0; i < j->n; i++)
        zmq_msg_close(&j->f[i]);
    j->n = 0;
}

static uint64_t
s_job_rid(const s_job_t *j)
{
    return zmq_msg_size((zmq_msg_t *) &j->f[2]) == 8 ? util_get_be64(zmq_msg_data((zmq_msg_t *) &j->f[2]))
                                                      : 0;
}

/* Sends [identity][header][body] on the reply pipe. */
static void
s_reply(void *pipe, const s_job_t *j, int type, const void *body, size_t len)
{
    uint8_t header[WIRE_HEADER_LEN];
    wire_header_encode(header, type, s_job_rid(j));
    zmq_send(pipe, zmq_msg_data((zmq_msg_t *) &j->f[1]), zmq_msg_size((zmq_msg_t *) &j->f[1]),
             ZMQ_SNDMORE);
    zmq_send(pipe, header, sizeof header, ZMQ_SNDMORE);
    zmq_send(pipe, len ? body : "", len, 0);
}

static void
s_reply_err(hub_t *self, void *pipe, const s_job_t *j, int code, const char *what)
{
    char reason[WIRE_MAX_REASON];
    snprintf(reason, sizeof reason, "%s: %s", what, cofab_strerror(code));
    wire_writer_t w;
    wire_writer_init(&w);
    wire_err_encode(&w, code, reason);
    s_reply(pipe, j, WIRE_ERR, w.data, w.len);
    wire_writer_free(&w);
    hub_refused(self, code);
}

static void
s_reply_ack(void *pipe, const s_job_t *j, uint64_t seq, int duplicate)
{
    uint8_t body[9];
    util_put_be64(body, seq);
    body[8] = (uint8_t) duplicate;
    s_reply(pipe, j, WIRE_ACK, body, sizeof body);
}

/* Does the authenticated connection (ZAP User-Id) speak for this author,
 * and may its role send this kind? */
static int
s_check_sender(hub_t *self, const char *user_id, size_t uid_len, const envelope_t *e)
{
    uint8_t key[32];
    size_t bin = 0;
    if (uid_len != 66 || user_id[1] != ':' ||
        sodium_hex2bin(key, 32, user_id + 2, 64, NULL, &bin, NULL) != 0 || bin != 32)
        return COFAB_EPERM;
    if (user_id[0] == 'c') {
        /* A customer connection carries orders and cancels, signed by a key
         * that is not a factory's or a witness's. */
        policy_member_t m;
        if (e->kind != ENVELOPE_ORDER && e->kind != ENVELOPE_CANCEL)
            return COFAB_EPERM;
        if (policy_member(self->ledger, e->author, &m) == 0 && m.role != PAYLOAD_ROLE_CUSTOMER)
            return COFAB_EPERM;
        return 0;
    }
    /* Members and the operator: the envelope's author is the key the
     * transport key belongs to, nobody else. */
    return sodium_memcmp(key, e->author, 32) == 0 ? 0 : COFAB_EPERM;
}

void *
hub_verifier_thread(void *arg)
{
    hub_verifier_arg_t *va = arg;
    hub_t *self = va->hub;
    void *in = zmq_socket(self->zctx, ZMQ_PULL);
    void *out = zmq_socket(self->zctx, ZMQ_PUSH);
    void *rep = zmq_socket(self->zctx, ZMQ_PUSH);
    int timeout = 100, linger = 0;
    zmq_setsockopt(in, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(in, self->ep_verify[va->index]);
    zmq_connect(out, self->ep_write);
    zmq_connect(rep, self->ep_reply);
    while (!atomic_load(&self->stop)) {
        s_job_t j;
        int rc = s_job_recv(in, &j, 0);
        if (rc != 0) {
            s_job_close(&j);
            continue;
        }
        const uint8_t *body = zmq_msg_data(&j.f[4]);
        size_t len = zmq_msg_size(&j.f[4]);
        const char *uid = zmq_msg_data(&j.f[3]);
        size_t uid_len = zmq_msg_size(&j.f[3]);
        char job = *(char *) zmq_msg_data(&j.f[0]);
        if (job == HUB_JOB_ENVELOPE) {
            envelope_t e;
            rc = envelope_open(&e, body, len);
            if (rc != 0) {
                s_reply_err(self, rep, &j, rc, "envelope refused");
            } else if ((rc = s_check_sender(self, uid, uid_len, &e)) != 0) {
                s_reply_err(self, rep, &j, rc, "sender may not submit this envelope");
            } else if ((rc = payload_check(e.kind, e.payload, e.payload_len)) != 0) {
                s_reply_err(self, rep, &j, rc, "payload refused");
            } else {
                rc = 0;
            }
        }
        if (rc == 0) /* envelopes that passed, and cosignatures: to the writer */
            for (int i = 0; i < S_JOB_FRAMES; i++)
                zmq_send(out, zmq_msg_data(&j.f[i]), zmq_msg_size(&j.f[i]),
                         i < S_JOB_FRAMES - 1 ? ZMQ_SNDMORE : 0);
        s_job_close(&j);
    }
    zmq_close(in);
    zmq_close(out);
    zmq_close(rep);
    return NULL;
}

void
hub_publish_record(hub_t *self, void *pub, uint64_t seq)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    if (ledger_get(self->ledger, seq, &rec, &len) != 0)
        return;
    uint8_t *body = malloc(8 + len);
    if (body) {
        util_put_be64(body, seq);
        memcpy(body + 8, rec, len);
        zmq_send(pub, "R", 1, ZMQ_SNDMORE);
        zmq_send(pub, body, 8 + len, 0);
    }
    free(body);
    free(rec);
}

static void
s_publish_checkpoint(void *pub, const char *note)
{
    zmq_send(pub, "C", 1, ZMQ_SNDMORE);
    zmq_send(pub, note, strlen(note), 0);
}

/* Adds a witness's cosignature line to the stored checkpoint of that size. */
static int
s_cosign(hub_t *self, const s_job_t *j)
{
    const uint8_t *body = zmq_msg_data((zmq_msg_t *) &j->f[4]);
    size_t len = zmq_msg_size((zmq_msg_t *) &j->f[4]);
    const char *uid = zmq_msg_data((zmq_msg_t *) &j->f[3]);
    uint8_t witness[32];
    size_t bin = 0;
    if (len < 9 || len > 8 + NOTE_MAX_LEN || zmq_msg_size((zmq_msg_t *) &j->f[3]) != 66 ||
        sodium_hex2bin(witness, 32, uid + 2, 64, NULL, &bin, NULL) != 0 || bin != 32)
        return COFAB_EMALFORMED;
    uint64_t size = util_get_be64(body);
    char stored[LEDGER_CHECKPOINT_MAX];
    policy_member_t m;
    int rc = ledger_checkpoint_get(self->ledger, size, stored, sizeof stored);
    if (rc == 0)
        rc = policy_member(self->ledger, witness, &m);
    if (rc == 0 && !m.active)
        rc = COFAB_EPERM; /* a removed member no longer witnesses */
    note_t *theirs = malloc(sizeof *theirs), *ours = malloc(sizeof *ours);
    if (rc == 0 && (!theirs || !ours))
        rc = COFAB_ENOMEM;
    if (rc == 0)
        rc = note_parse(theirs, (const char *) body + 8, len - 8);
    if (rc == 0)
        rc = note_parse(ours, stored, strlen(stored));
    /* Same checkpoint body as ours, and a valid cosignature by this member. */
    if (rc == 0 && (theirs->body_len != ours->body_len ||
                    memcmp(theirs->body, ours->body, ours->body_len) != 0))
        rc = COFAB_EINCONSISTENT;
    uint64_t ts = 0;
    if (rc == 0)
        rc = note_verify_cosignature(theirs, m.name, witness, &ts);
    if (rc == 0 && note_verify_cosignature(ours, m.name, witness, NULL) != 0) {
        for (size_t i = 0; i < theirs->nsigs; i++) {
            const note_sig_t *s = &theirs->sigs[i];
            if (strcmp(s->name, m.name) != 0 || s->blob_len != 76)
                continue;
            char b64[sodium_base64_ENCODED_LEN(76, sodium_base64_VARIANT_ORIGINAL)];
            sodium_bin2base64(b64, sizeof b64, s->blob, s->blob_len,
                              sodium_base64_VARIANT_ORIGINAL);
            size_t used = strlen(stored);
            int n = snprintf(stored + used, sizeof stored - used, "\xe2\x80\x94 %s %s\n", s->name,
                             b64);
            if (n < 0 || (size_t) n >= sizeof stored - used)
                rc = COFAB_ETOOBIG;
            break;
        }
        if (rc == 0)
            rc = ledger_checkpoint_put(self->ledger, size, stored, strlen(stored));
    }
    free(theirs);
    free(ours);
    return rc;
}

/* Group commit: decodes the batch's envelopes, appends them in one
 * transaction, then acknowledges each and publishes the new records. */
static void
s_commit(hub_t *self, void *pub, void *rep, s_job_t *jobs, size_t n)
{
    envelope_t *envs = malloc(n * sizeof *envs);
    ledger_result_t *res = malloc(n * sizeof *res);
    if (!envs || !res) {
        for (size_t i = 0; i < n; i++)
            s_reply_err(self, rep, &jobs[i], COFAB_ENOMEM, "hub busy");
        goto out;
    }
    for (size_t i = 0; i < n; i++) /* verified already; this only re-reads fields */
        envelope_decode(&envs[i], zmq_msg_data(&jobs[i].f[4]), zmq_msg_size(&jobs[i].f[4]));
    uint64_t before = ledger_size(self->ledger);
    int rc = ledger_append(self->ledger, envs, n, util_now_ms(), res);
    if (rc != 0) {
        hub_log("append failed: %s", cofab_strerror(rc));
        for (size_t i = 0; i < n; i++)
            s_reply_err(self, rep, &jobs[i], rc, "not stored");
        goto out;
    }
    /* Durable now: acknowledge, then publish. */
    for (size_t i = 0; i < n; i++) {
        if (res[i].code == 0) {
            s_reply_ack(rep, &jobs[i], res[i].seq, 0);
            atomic_fetch_add(&self->acked, 1);
        } else if (res[i].code == COFAB_EEXIST) {
            s_reply_ack(rep, &jobs[i], res[i].seq, 1);
            atomic_fetch_add(&self->duplicates, 1);
        } else {
            s_reply_err(self, rep, &jobs[i], res[i].code, "refused by the alliance rules");
        }
    }
    uint64_t after = ledger_size(self->ledger);
    for (uint64_t s = before; s < after; s++)
        hub_publish_record(self, pub, s);
out:
    free(envs);
    free(res);
}

static void
s_checkpoint(hub_t *self, void *pub)
{
    char note[LEDGER_CHECKPOINT_MAX];
    int rc = ledger_checkpoint_sign(self->ledger, self->keys, note, sizeof note);
    if (rc != 0) {
        hub_log("checkpoint refused: %s", cofab_strerror(rc));
        return;
    }
    atomic_fetch_add(&self->checkpoints, 1);
    s_publish_checkpoint(pub, note);
}

void *
hub_writer_thread(void *arg)
{
    hub_t *self = arg;
    void *in = zmq_socket(self->zctx, ZMQ_PULL);
    void *rep = zmq_socket(self->zctx, ZMQ_PUSH);
    int linger = 0;
    zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_bind(in, self->ep_write);
    zmq_connect(rep, self->ep_reply);
    size_t max = self->cfg.max_batch ? self->cfg.max_batch : 512;
    s_job_t *jobs = calloc(max, sizeof *jobs);
    uint64_t last_cp_size = 0, last_cp_ms = 0, last_match_ms = 0;
    char note[LEDGER_CHECKPOINT_MAX];
    checkpoint_t cp;
    if (ledger_checkpoint_latest(self->ledger, note, sizeof note) == 0 &&
        checkpoint_from_note(&cp, note, strlen(note)) == 0)
        last_cp_size = cp.size;
    while (jobs && !atomic_load(&self->stop)) {
        zmq_pollitem_t item = {in, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 20);
        size_t n = 0;
        uint64_t deadline = util_mono_ns() + (uint64_t) self->cfg.batch_window_ms * 1000000u;
        /* Gather a batch: whatever is queued, plus what arrives in the window. */
        while (n < max) {
            s_job_t *j = &jobs[n];
            int rc = s_job_recv(in, j, ZMQ_DONTWAIT);
            if (rc == COFAB_ENOTFOUND) {
                if (n == 0 || util_mono_ns() >= deadline)
                    break;
                zmq_poll(&item, 1, 1);
                continue;
            }
            if (rc != 0) {
                s_job_close(j);
                continue;
            }
            if (*(char *) zmq_msg_data(&j->f[0]) == HUB_JOB_COSIGN) {
                rc = s_cosign(self, j);
                if (rc == 0)
                    s_reply_ack(rep, j, util_get_be64(zmq_msg_data(&j->f[4])), 0);
                else
                    s_reply_err(self, rep, j, rc, "cosignature refused");
                s_job_close(j);
                continue;
            }
            n++;
        }
        if (n) {
            s_commit(self, self->pub, rep, jobs, n);
            for (size_t i = 0; i < n; i++)
                s_job_close(&jobs[i]);
        }
        uint64_t now = util_now_ms();
        if (now - last_match_ms >= self->cfg.match_interval_ms) {
            last_match_ms = now;
            hub_match_round(self, self->pub, now);
        }
        uint64_t size = ledger_size(self->ledger);
        if (size > last_cp_size &&
            (size - last_cp_size >= self->cfg.checkpoint_every ||
             now - last_cp_ms >= self->cfg.checkpoint_ms)) {
            s_checkpoint(self, self->pub);
            last_cp_size = size;
            last_cp_ms = now;
        }
    }
    free(jobs);
    zmq_close(in);
    zmq_close(rep);
    return NULL;
}
