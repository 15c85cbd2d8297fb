/* client.c — the customer's and operator's hub client: bounded requests, idempotent submits, verified order records. */
#include "cofab/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/merkle.h"
#include "cofab/util.h"

#define S_SEND_TIMEOUT_MS 1000   /* a send never blocks longer than this */

struct client_t {
    void *ctx;              /* ZeroMQ context, ours */
    void *dealer;           /* CURVE DEALER connected to the hub */
    const keys_t *keys;     /* borrowed: our signing and transport keys */
};

client_t *
client_new(const char *endpoint, const keys_t *keys, const uint8_t hub_transport[32])
{
    if (!endpoint || !keys || !hub_transport)
        return NULL;
    client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->keys = keys;
    self->ctx = zmq_ctx_new();
    if (self->ctx)
        self->dealer = net_client_socket(self->ctx, ZMQ_DEALER, keys, hub_transport);
    int sndtimeo = S_SEND_TIMEOUT_MS;
    if (!self->dealer ||
        zmq_setsockopt(self->dealer, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo) != 0 ||
        zmq_connect(self->dealer, endpoint) != 0) {
        client_destroy(&self);
        return NULL;
    }
    return self;
}

void
client_destroy(client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    client_t *self = *self_p;
    if (self->dealer)
        zmq_close(self->dealer);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    free(self);
    *self_p = NULL;
}

/* Per-attempt wait: a slice of the whole budget, never below the minimum. */
static int
s_slice(int timeout_ms)
{
    int slice = timeout_ms / CLIENT_TRIES;
    return slice < CLIENT_MIN_ATTEMPT_MS ? CLIENT_MIN_ATTEMPT_MS : slice;
}

/* Milliseconds left before deadline (monotonic ns), at least the minimum. */
static int
s_left(uint64_t deadline, int slice)
{
    uint64_t now = util_mono_ns();
    uint64_t left = now >= deadline ? 0 : (deadline - now) / 1000000u;
    if (left < CLIENT_MIN_ATTEMPT_MS)
        left = CLIENT_MIN_ATTEMPT_MS;
    return left < (uint64_t) slice ? (int) left : slice;
}

int
client_request(client_t *self, int type, const void *body, size_t len, int timeout_ms,
               net_msg_t *reply)
{
    if (!self || !reply || (len && !body) || timeout_ms <= 0)
        return COFAB_EINVAL;
    memset(reply, 0, sizeof *reply);
    int slice = s_slice(timeout_ms);
    uint64_t deadline = util_mono_ns() + (uint64_t) timeout_ms * 1000000u;
    for (int t = 0; t < CLIENT_TRIES; t++) {
        if (t > 0 && util_mono_ns() >= deadline)
            break;
        if (net_request(self->dealer, type, body, len, s_left(deadline, slice), reply) == 0)
            return 0;
    }
    return COFAB_ENET;
}

/* The code and reason of an ERR reply; a hub that cannot even say why it
 * refused gets COFAB_EMALFORMED. */
static int
s_err_code(const net_msg_t *m, char *reason)
{
    char text[WIRE_MAX_REASON + 1];
    int code = 0;
    if (wire_err_decode(m->body, m->len, &code, text) != 0 || code >= 0) {
        snprintf(text, sizeof text, "malformed refusal from the hub");
        code = COFAB_EMALFORMED;
    }
    if (reason)
        snprintf(reason, WIRE_MAX_REASON + 1, "%s", text);
    return code;
}

int
client_author(client_t *self, const uint8_t sign_pk[32], int timeout_ms, uint64_t *author_seq,
              uint8_t hash[32])
{
    if (!sign_pk || !author_seq || !hash)
        return COFAB_EINVAL;
    net_msg_t m;
    int rc = client_request(self, WIRE_GET_AUTHOR, sign_pk, 32, timeout_ms, &m);
    if (rc != 0)
        return rc;
    if (m.type == WIRE_AUTHOR)
        rc = client_author_decode(m.body, m.len, author_seq, hash);
    else
        rc = m.type == WIRE_ERR ? s_err_code(&m, NULL) : COFAB_EMALFORMED;
    net_msg_free(&m);
    return rc;
}

int
client_seal(client_t *self, int kind, const uint8_t subject[32], const uint8_t *payload,
            size_t payload_len, int timeout_ms, uint8_t *out, size_t out_len, size_t *env_len)
{
    if (!self || !out || !env_len)
        return COFAB_EINVAL;
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = payload_len};
    /* The hub's view of our chain is the authority: we keep no local state. */
    int rc = client_author(self, keys_sign_pk(self->keys), timeout_ms, &spec.author_seq,
                           spec.author_prev);
    if (rc != 0)
        return rc;
    spec.author_seq++;
    if (subject)
        memcpy(spec.subject, subject, 32);
    return envelope_seal(&spec, self->keys, out, out_len, env_len);
}

/* Refusals that mean "nothing was stored, try again". */
static int
s_retryable(int code)
{
    return code == COFAB_ENOMEM || code == COFAB_EIO || code == COFAB_ESTORE;
}

int
client_submit_envelope(client_t *self, const uint8_t *env, size_t len, int timeout_ms,
                       uint64_t *position, int *duplicate, char *reason)
{
    if (!self || !env || !len || !position || timeout_ms <= 0)
        return COFAB_EINVAL;
    if (reason)
        reason[0] = 0;
    int slice = s_slice(timeout_ms), last = COFAB_ENET;
    uint64_t deadline = util_mono_ns() + (uint64_t) timeout_ms * 1000000u;
    for (int t = 0; t < CLIENT_TRIES; t++) {
        if (t > 0 && util_mono_ns() >= deadline)
            break;
        net_msg_t m;
        /* Always the same bytes: a resend of a stored envelope is answered
         * with its original position, never stored twice. */
        int rc = net_request(self->dealer, WIRE_SUBMIT, env, len, s_left(deadline, slice), &m);
        if (rc != 0)
            continue;
        int dup = 0;
        if (m.type == WIRE_ACK) {
            rc = client_ack_decode(m.body, m.len, position, &dup);
            if (rc != 0 && reason)
                snprintf(reason, WIRE_MAX_REASON + 1, "malformed ACK from the hub");
        } else if (m.type == WIRE_ERR) {
            rc = s_err_code(&m, reason);
        } else {
            rc = COFAB_EMALFORMED;
            if (reason)
                snprintf(reason, WIRE_MAX_REASON + 1, "unexpected %s reply to SUBMIT",
                         wire_type_name(m.type) ? wire_type_name(m.type) : "?");
        }
        net_msg_free(&m);
        if (rc == 0 && duplicate)
            *duplicate = dup;
        if (!s_retryable(rc))
            return rc;
        last = rc;
    }
    if (last == COFAB_ENET && reason)
        snprintf(reason, WIRE_MAX_REASON + 1, "hub unreachable (no answer within %d ms)",
                 timeout_ms);
    return last;
}

int
client_submit(client_t *self, int kind, const uint8_t subject[32], const uint8_t *payload,
              size_t len, int timeout_ms, uint64_t *position, char *reason)
{
    if (reason)
        reason[0] = 0;
    uint8_t *buf = malloc(ENVELOPE_MAX);
    if (!buf)
        return COFAB_ENOMEM;
    size_t env_len = 0;
    int rc = client_seal(self, kind, subject, payload, len, timeout_ms, buf, ENVELOPE_MAX,
                         &env_len);
    if (rc != 0 && reason)
        snprintf(reason, WIRE_MAX_REASON + 1, "%s",
                 rc == COFAB_ENET ? "hub unreachable" : cofab_strerror(rc));
    if (rc == 0)
        rc = client_submit_envelope(self, buf, env_len, timeout_ms, position, NULL, reason);
    free(buf);
    return rc;
}

/* ---- Decoders ---- */

int
client_ack_decode(const uint8_t *body, size_t len, uint64_t *position, int *duplicate)
{
    if (!position || !duplicate)
        return COFAB_EINVAL;
    wire_reader_t r;
    wire_reader_init(&r, body, len);
    uint64_t pos = wire_read_u64(&r);
    uint8_t dup = wire_read_u8(&r);
    int rc = wire_reader_end(&r);
    if (rc != 0)
        return rc;
    if (dup > 1)
        return COFAB_EMALFORMED;
    *position = pos;
    *duplicate = dup;
    return 0;
}

int
client_author_decode(const uint8_t *body, size_t len, uint64_t *author_seq, uint8_t hash[32])
{
    if (!author_seq || !hash)
        return COFAB_EINVAL;
    wire_reader_t r;
    wire_reader_init(&r, body, len);
    uint64_t seq = wire_read_u64(&r);
    const uint8_t *h = wire_read_bytes(&r, 32);
    int rc = wire_reader_end(&r);
    if (rc != 0)
        return rc;
    if (seq == UINT64_MAX || (seq == 0 && !sodium_is_zero(h, 32)))
        return COFAB_EMALFORMED;
    *author_seq = seq;
    memcpy(hash, h, 32);
    return 0;
}

/* Reads u32 len then len bytes, 1..max. */
static int
s_read_blob(wire_reader_t *r, size_t max, client_blob_t *out)
{
    uint32_t n = wire_read_u32(r);
    if (r->error)
        return r->error;
    if (n > max)
        return COFAB_ETOOBIG;
    if (n == 0)
        return COFAB_EMALFORMED;
    out->bytes = wire_read_bytes(r, n);
    out->len = n;
    return r->error;
}

int
client_records_decode(client_records_t *out, const uint8_t *body, size_t len)
{
    if (!out)
        return COFAB_EINVAL;
    wire_reader_t r;
    wire_reader_init(&r, body, len);
    out->n = 0;
    uint32_t n = wire_read_u32(&r);
    if (r.error)
        return r.error;
    if (n > WIRE_MAX_RANGE)
        return COFAB_ETOOBIG;
    for (uint32_t i = 0; i < n; i++) {
        int rc = s_read_blob(&r, LEDGER_RECORD_MAX, &out->records[i]);
        if (rc != 0)
            return rc;
    }
    int rc = wire_reader_end(&r);
    if (rc == 0)
        out->n = n;
    return rc;
}

int
client_subject_decode(client_subject_t *out, const uint8_t *body, size_t len)
{
    if (!out)
        return COFAB_EINVAL;
    wire_reader_t r;
    wire_reader_init(&r, body, len);
    out->n = 0;
    int rc = s_read_blob(&r, NOTE_MAX_LEN, &out->note);
    if (rc != 0)
        return rc;
    uint32_t n = wire_read_u32(&r);
    if (r.error)
        return r.error;
    if (n > WIRE_MAX_SUBJECT_RECORDS)
        return COFAB_ETOOBIG;
    if (n == 0)
        return COFAB_EMALFORMED;
    for (uint32_t i = 0; i < n; i++) {
        client_subject_entry_t *e = &out->entries[i];
        e->position = wire_read_u64(&r);
        rc = s_read_blob(&r, LEDGER_RECORD_MAX, &e->record);
        if (rc != 0)
            return rc;
        e->k = wire_read_u8(&r);
        if (r.error)
            return r.error;
        if (e->k > CLIENT_MAX_PROOF)
            return COFAB_ETOOBIG;
        e->proof = wire_read_bytes(&r, (size_t) e->k * MERKLE_HASH_LEN);
        if (r.error)
            return r.error;
    }
    rc = wire_reader_end(&r);
    if (rc == 0)
        out->n = n;
    return rc;
}

/* ---- Trust ---- */

static int
s_genesis_check(const uint8_t *rec, size_t len, const keys_public_t *hub, client_trust_t *out)
{
    ledger_record_t r;
    envelope_t e;
    int rc = ledger_record_decode(&r, rec, len);
    if (rc != 0)
        return rc;
    if (r.seq != 0 || !sodium_is_zero(r.prev, 32))
        return COFAB_ERANGE;
    rc = envelope_open(&e, r.envelope, r.envelope_len);
    if (rc != 0)
        return rc;
    if (e.kind != ENVELOPE_GENESIS)
        return COFAB_EKIND;
    payload_genesis_t *g = malloc(sizeof *g);
    if (!g)
        return COFAB_ENOMEM;
    rc = payload_genesis_decode(g, e.payload, e.payload_len);
    /* Signed by the operator it names, and naming the hub we pinned. */
    if (rc == 0 && sodium_memcmp(e.author, g->operator_key.pk, 32) != 0)
        rc = COFAB_EBADSIG;
    if (rc == 0 && (sodium_memcmp(g->hub.pk, hub->sign_pk, 32) != 0 ||
                    sodium_memcmp(g->hub_transport, hub->curve_pk, 32) != 0))
        rc = COFAB_EKEYMISMATCH;
    if (rc == 0)
        rc = note_verifier_init(&out->hub, hub->name, hub->sign_pk);
    if (rc == 0) {
        memcpy(out->hub_transport, hub->curve_pk, 32);
        snprintf(out->origin, sizeof out->origin, "%s", g->origin);
        memcpy(out->operator_key, g->operator_key.pk, 32);
        memcpy(out->members, g->members, g->nmembers * sizeof g->members[0]);
        out->nmembers = g->nmembers;
        out->witness_k = g->witness_k;
    }
    free(g);
    return rc;
}

int
client_trust_load(client_t *self, const keys_public_t *hub, int timeout_ms, client_trust_t *out)
{
    if (!self || !hub || !out)
        return COFAB_EINVAL;
    memset(out, 0, sizeof *out);
    uint8_t req[12];
    util_put_be64(req, 0);
    util_put_be32(req + 8, 1);
    net_msg_t m;
    int rc = client_request(self, WIRE_GET_RANGE, req, sizeof req, timeout_ms, &m);
    if (rc != 0)
        return rc;
    client_records_t *recs = malloc(sizeof *recs);
    if (!recs)
        rc = COFAB_ENOMEM;
    else if (m.type == WIRE_ERR)
        rc = s_err_code(&m, NULL);
    else if (m.type != WIRE_RECORDS)
        rc = COFAB_EMALFORMED;
    else
        rc = client_records_decode(recs, m.body, m.len);
    if (rc == 0 && recs->n != 1)
        rc = COFAB_EMALFORMED;
    if (rc == 0)
        rc = s_genesis_check(recs->records[0].bytes, recs->records[0].len, hub, out);
    free(recs);
    net_msg_free(&m);
    return rc;
}

/* ---- Verification ---- */

/* Founding members that run nodes (factories, witnesses) may cosign; count
 * the ones whose cosignature/v1 line on this note verifies. */
static void
s_count_cosignatures(const note_t *note, const client_trust_t *trust, client_verified_t *out)
{
    for (uint32_t i = 0; i < trust->nmembers && i < PAYLOAD_MAX_MEMBERS; i++) {
        const payload_member_t *m = &trust->members[i];
        if (m->role == PAYLOAD_ROLE_CUSTOMER)
            continue;
        out->witnesses++;
        if (note_verify_cosignature(note, m->key.name, m->key.pk, NULL) == 0)
            out->cosigned++;
    }
    out->required = trust->witness_k;
    out->witnessed = out->cosigned >= out->required;
}

static int
s_fail(client_verified_t *out, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
s_fail(client_verified_t *out, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
    return code;
}

/* One record: position, signature, subject, and its proof when the
 * checkpoint covers it. */
static int
s_verify_entry(const client_subject_entry_t *x, const uint8_t subject[32], client_verified_t *out)
{
    ledger_record_t r;
    envelope_t e;
    uint64_t pos = x->position;
    unsigned long long p = (unsigned long long) pos;
    int rc = ledger_record_decode(&r, x->record.bytes, x->record.len);
    if (rc != 0)
        return s_fail(out, rc, "record at %llu does not decode: %s", p, cofab_strerror(rc));
    if (r.seq != pos)
        return s_fail(out, COFAB_ERANGE, "record claimed at %llu says it is at %llu", p,
                      (unsigned long long) r.seq);
    if (out->n > 0 && pos <= out->events[out->n - 1].position)
        return s_fail(out, COFAB_ERANGE, "record at %llu is out of ledger order", p);
    rc = envelope_open(&e, r.envelope, r.envelope_len);
    if (rc != 0)
        return s_fail(out, rc, "envelope at %llu: %s", p, cofab_strerror(rc));
    if (sodium_memcmp(e.subject, subject, 32) != 0)
        return s_fail(out, COFAB_EMALFORMED, "record at %llu is about something else", p);
    client_event_t *ev = &out->events[out->n];
    if (pos < out->cp.size) {
        uint8_t leaf[MERKLE_HASH_LEN];
        merkle_leaf_hash(x->record.bytes, x->record.len, leaf);
        rc = merkle_verify_inclusion(pos, out->cp.size, leaf,
                                     (const uint8_t(*)[MERKLE_HASH_LEN]) x->proof, x->k,
                                     out->cp.root);
        if (rc != 0)
            return s_fail(out, rc, "inclusion proof of record %llu does not lead to the root "
                                   "of checkpoint %llu", p, (unsigned long long) out->cp.size);
        ev->proven = 1;
    } else {
        if (x->k != 0)
            return s_fail(out, COFAB_EMALFORMED, "record %llu is after the checkpoint but "
                                                 "carries a proof", p);
        ev->proven = 0;
        out->unproven++;
    }
    ev->position = pos;
    ev->time_ms = r.time_ms;
    ev->kind = e.kind;
    memcpy(ev->author, e.author, 32);
    ev->payload = e.payload;
    ev->payload_len = e.payload_len;
    ev->record = x->record.bytes;
    ev->record_len = x->record.len;
    ev->proof = x->proof;
    ev->k = ev->proven ? x->k : 0;
    out->n++;
    return 0;
}

int
client_subject_verify(const client_subject_t *s, const client_trust_t *trust,
                      const uint8_t subject[32], client_verified_t *out)
{
    if (!s || !trust || !subject || !out)
        return COFAB_EINVAL;
    memset(out, 0, sizeof *out);
    if (s->n > WIRE_MAX_SUBJECT_RECORDS || !s->note.bytes)
        return s_fail(out, COFAB_EMALFORMED, "reply not decoded");
    note_t *note = malloc(sizeof *note);
    if (!note)
        return s_fail(out, COFAB_ENOMEM, "out of memory");
    int rc = note_parse(note, (const char *) s->note.bytes, s->note.len);
    if (rc != 0) {
        rc = s_fail(out, rc, "checkpoint note does not parse: %s", cofab_strerror(rc));
        goto out;
    }
    rc = note_verify(note, &trust->hub);
    if (rc != 0) {
        rc = s_fail(out, rc, "checkpoint is not signed by hub key %s: %s", trust->hub.name,
                    cofab_strerror(rc));
        goto out;
    }
    rc = checkpoint_parse(&out->cp, note->body, note->body_len);
    if (rc != 0) {
        rc = s_fail(out, rc, "checkpoint body does not parse: %s", cofab_strerror(rc));
        goto out;
    }
    if (trust->origin[0] && strcmp(out->cp.origin, trust->origin) != 0) {
        rc = s_fail(out, COFAB_EMALFORMED, "checkpoint is for another log (%s)", out->cp.origin);
        goto out;
    }
    out->note = (const char *) s->note.bytes;
    out->note_len = s->note.len;
    s_count_cosignatures(note, trust, out);
    for (uint32_t i = 0; i < s->n && rc == 0; i++)
        rc = s_verify_entry(&s->entries[i], subject, out);
out:
    free(note);
    return rc;
}

int
client_order_status(client_t *self, const client_trust_t *trust, const uint8_t subject[32],
                    int timeout_ms, net_msg_t *reply, client_verified_t *out)
{
    if (!self || !trust || !subject || !reply || !out)
        return COFAB_EINVAL;
    memset(out, 0, sizeof *out);
    int rc = client_request(self, WIRE_GET_SUBJECT, subject, 32, timeout_ms, reply);
    if (rc != 0)
        return s_fail(out, rc, "%s", rc == COFAB_ENET ? "hub unreachable" : cofab_strerror(rc));
    if (reply->type == WIRE_ERR)
        return s_err_code(reply, out->reason);
    if (reply->type != WIRE_SUBJECT)
        return s_fail(out, COFAB_EMALFORMED, "unexpected reply to GET_SUBJECT");
    client_subject_t *s = malloc(sizeof *s);
    if (!s)
        return s_fail(out, COFAB_ENOMEM, "out of memory");
    rc = client_subject_decode(s, reply->body, reply->len);
    if (rc != 0)
        rc = s_fail(out, rc, "SUBJECT reply does not decode: %s", cofab_strerror(rc));
    else
        rc = client_subject_verify(s, trust, subject, out);
    free(s);
    return rc;
}

void
client_report_failure(const char *prog, const char *endpoint, int timeout_ms, int rc,
                      const char *reason)
{
    if (rc == COFAB_ENET)
        fprintf(stderr, "%s: hub %s unreachable: no answer within %d s\n", prog, endpoint,
                timeout_ms / 1000);
    else
        fprintf(stderr, "%s: refused by the hub (%s): %s\n", prog, cofab_errname(rc),
                reason ? reason : "");
}

/* ---- A customer's memory of the log: split-view detection ---- */

/* Verifies text as a checkpoint note by trust->hub for trust->origin. */
static int
s_note_checkpoint(const client_trust_t *trust, const char *text, size_t len, checkpoint_t *cp)
{
    note_t *note = malloc(sizeof *note);
    int rc = note ? note_parse(note, text, len) : COFAB_ENOMEM;
    if (rc == 0)
        rc = note_verify(note, &trust->hub);
    if (rc == 0)
        rc = checkpoint_parse(cp, note->body, note->body_len);
    if (rc == 0 && trust->origin[0] && strcmp(cp->origin, trust->origin) != 0)
        rc = COFAB_EMALFORMED;
    free(note);
    return rc;
}

/* Asks the hub to prove that the tree of a is a prefix of the tree of b
 * (a.size < b.size). Returns 0, COFAB_ENET, or COFAB_EPROOF for a refusal,
 * a malformed reply or a proof that does not verify. */
static int
s_prove_prefix(client_t *self, const checkpoint_t *a, const checkpoint_t *b, int timeout_ms)
{
    uint8_t req[16];
    util_put_be64(req, a->size);
    util_put_be64(req + 8, b->size);
    net_msg_t m;
    int rc = client_request(self, WIRE_GET_CONSISTENCY, req, sizeof req, timeout_ms, &m);
    if (rc != 0)
        return rc;
    wire_reader_t r;
    wire_reader_init(&r, m.body, m.len);
    uint8_t k = m.type == WIRE_CONSISTENCY ? wire_read_u8(&r) : 0;
    const uint8_t *proof = wire_read_bytes(&r, (size_t) k * MERKLE_HASH_LEN);
    rc = m.type == WIRE_CONSISTENCY && k <= MERKLE_MAX_PROOF && wire_reader_end(&r) == 0
             ? merkle_verify_consistency(a->size, b->size, a->root, b->root,
                                         (const uint8_t(*)[MERKLE_HASH_LEN]) proof, k)
             : COFAB_EPROOF;
    net_msg_free(&m);
    return rc == 0 ? 0 : COFAB_EPROOF;
}

/* Replaces path with text: a temporary file, then rename, so a crash
 * leaves the old or the new checkpoint. */
static int
s_save_state(const char *path, const char *text, size_t len)
{
    char tmp[CLIENT_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long) getpid()); /* one per process */
    unlink(tmp);
    int rc = util_write_file_excl(tmp, text, len, 0600);
    if (rc == 0 && rename(tmp, path) != 0) {
        unlink(tmp);
        rc = COFAB_EIO;
    }
    return rc;
}

/* Writes both notes to state_dir/evidence-<ms>.txt (path into out). */
static int
s_customer_evidence(const char *dir, const client_trust_t *trust, const char *why,
                    const char *old_note, const char *new_note, size_t new_len, char *out)
{
    char verifier[NOTE_VERIFIER_MAX] = "";
    note_verifier_format(&trust->hub, verifier, sizeof verifier);
    size_t cap = strlen(old_note) + new_len + 1024;
    char *text = malloc(cap);
    if (!text)
        return COFAB_ENOMEM;
    uint64_t ms = util_now_ms();
    int n = snprintf(text, cap,
                     "cofab evidence: inconsistent checkpoints (seen by a customer)\nhub: %s\n"
                     "observed-ms: %llu\nexplanation: %s\n--- checkpoint A (verified before) "
                     "---\n%s--- checkpoint B ---\n%.*s--- end ---\n",
                     verifier, (unsigned long long) ms, why, old_note, (int) new_len, new_note);
    int rc = n > 0 && (size_t) n < cap ? COFAB_EEXIST : COFAB_ETOOBIG;
    for (int i = 0; i < 100 && rc == COFAB_EEXIST; i++) {
        snprintf(out, CLIENT_PATH_MAX, i ? "%s/evidence-%llu-%d.txt" : "%s/evidence-%llu.txt",
                 dir, (unsigned long long) ms, i);
        rc = util_write_file_excl(out, text, (size_t) n, 0600);
    }
    free(text);
    return rc;
}

/* Compares checkpoint b (note) with the remembered one (old): 0 when
 * consistent, with *newer saying whether b is the larger tree;
 * COFAB_EINCONSISTENT with evidence written; COFAB_ENET; or the error that
 * makes old unusable. reason says why whenever the result is not 0. */
static int
s_compare(client_t *self, const client_trust_t *trust, const char *state_dir, const char *old,
          size_t old_len, const char *note, size_t note_len, const checkpoint_t *b,
          int timeout_ms, char *reason, int *newer)
{
    checkpoint_t a;
    int rc = s_note_checkpoint(trust, old, old_len, &a);
    if (rc != 0) {
        snprintf(reason, CLIENT_REASON_MAX, "the saved checkpoint is not one signed by this "
                 "hub (%s); move it away to start over", cofab_strerror(rc));
        return rc;
    }
    *newer = b->size > a.size;
    const char *why = NULL;
    if (a.size == b->size && sodium_memcmp(a.root, b->root, 32) != 0) {
        why = "two checkpoints of the same size with different roots";
    } else if (a.size != b->size && a.size > 0 && b->size > 0) {
        rc = a.size < b->size ? s_prove_prefix(self, &a, b, timeout_ms)
                              : s_prove_prefix(self, b, &a, timeout_ms);
        if (rc == COFAB_ENET) {
            snprintf(reason, CLIENT_REASON_MAX, "hub unreachable for a consistency proof");
            return rc;
        }
        if (rc != 0)
            why = a.size < b->size ? "the hub cannot prove the new checkpoint extends the old"
                                   : "the hub cannot prove the new checkpoint is a prefix of the old";
    }
    if (!why)
        return 0;
    char evidence[CLIENT_PATH_MAX];
    rc = s_customer_evidence(state_dir, trust, why, old, note, note_len, evidence);
    snprintf(reason, CLIENT_REASON_MAX,
             "SPLIT VIEW: checkpoint %llu signed by the hub is not consistent with checkpoint "
             "%llu this customer verified before (%s); evidence: %.120s",
             (unsigned long long) b->size, (unsigned long long) a.size, why,
             rc == 0 ? evidence : "could not be written");
    return COFAB_EINCONSISTENT;
}

int
client_checkpoint_track(client_t *self, const client_trust_t *trust, const char *state_dir,
                        const char *note, size_t note_len, int timeout_ms, char *reason)
{
    if (!self || !trust || !state_dir || !note || !reason)
        return COFAB_EINVAL;
    reason[0] = 0;
    char path[CLIENT_PATH_MAX], hexid[2 * NOTE_KEYID_LEN + 1];
    uint8_t *old = NULL;
    size_t old_len = 0;
    checkpoint_t b;
    int newer = 1; /* nothing remembered yet: remember this one */
    sodium_bin2hex(hexid, sizeof hexid, trust->hub.keyid, NOTE_KEYID_LEN);
    int n = snprintf(path, sizeof path, "%s/%s-%s.checkpoint", state_dir, trust->hub.name, hexid);
    int rc = n > 0 && (size_t) n < sizeof path ? 0 : COFAB_ETOOBIG;
    if (rc == 0 && (rc = s_note_checkpoint(trust, note, note_len, &b)) != 0)
        snprintf(reason, CLIENT_REASON_MAX, "the hub's checkpoint does not verify: %s",
                 cofab_strerror(rc));
    if (rc == 0 && (rc = util_mkdir_p(state_dir, 0700)) != 0)
        snprintf(reason, CLIENT_REASON_MAX, "cannot create state dir %.200s", state_dir);
    if (rc == 0 && access(path, F_OK) == 0) {
        rc = util_read_file(path, NOTE_MAX_LEN, &old, &old_len);
        if (rc != 0)
            snprintf(reason, CLIENT_REASON_MAX, "cannot read %.200s: %s", path,
                     cofab_strerror(rc));
        else
            rc = s_compare(self, trust, state_dir, (const char *) old, old_len, note, note_len,
                           &b, timeout_ms, reason, &newer);
    }
    if (rc == 0 && newer && (rc = s_save_state(path, note, note_len)) != 0)
        snprintf(reason, CLIENT_REASON_MAX, "cannot save %.200s", path);
    free(old);
    return rc;
}
