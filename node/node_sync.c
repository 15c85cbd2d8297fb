/* node_sync.c — replication: genesis, range catch-up, the feed, and refusing a bad hub. */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"

/* Splits a RECORDS body into up to max records (pointers into body). */
static int
s_parse_records(const uint8_t *body, size_t len, const uint8_t **ptrs, size_t *lens, size_t max,
                size_t *n)
{
    wire_reader_t r;
    wire_reader_init(&r, body, len);
    uint32_t count = wire_read_u32(&r);
    if (r.error)
        return r.error;
    if (count > max)
        return COFAB_ETOOBIG;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t rlen = wire_read_u32(&r);
        if (!r.error && rlen > LEDGER_RECORD_MAX)
            return COFAB_ETOOBIG;
        ptrs[i] = wire_read_bytes(&r, rlen);
        lens[i] = rlen;
        if (r.error)
            return r.error;
    }
    *n = count;
    return wire_reader_end(&r);
}

/* Asks for up to max records from position from. On success *m holds the
 * reply, which the pointers borrow from. */
static int
s_get_range(node_t *self, uint64_t from, uint32_t max, net_msg_t *m, const uint8_t **ptrs,
            size_t *lens, size_t *n)
{
    uint8_t body[12];
    util_put_be64(body, from);
    util_put_be32(body + 8, max);
    int rc = node_request(self, WIRE_GET_RANGE, body, sizeof body, m);
    if (rc != 0)
        return rc;
    if (m->type == WIRE_ERR) {
        int code = 0;
        char reason[WIRE_MAX_REASON + 1] = "";
        wire_err_decode(m->body, m->len, &code, reason);
        node_log(self, "hub refused GET_RANGE from %llu: %s", (unsigned long long) from, reason);
        rc = COFAB_ENET;
    } else if (m->type != WIRE_RECORDS) {
        rc = COFAB_EMALFORMED;
    } else {
        rc = s_parse_records(m->body, m->len, ptrs, lens, max, n);
    }
    if (rc == COFAB_ENET)
        return rc;
    if (rc != 0) {
        /* Garbage from the authenticated hub: nothing to replicate from it
         * now; reconnecting with backoff is the safe reaction. */
        node_log(self, "malformed RECORDS reply from the hub: %s", cofab_strerror(rc));
        net_msg_free(m);
        return COFAB_ENET;
    }
    return 0;
}

/* The hub sequenced something this replica refuses: keep it as evidence,
 * shout, and stop following this hub. */
static void
s_refuse(node_t *self, uint64_t seq, const uint8_t *bytes, size_t len, int code, const char *what)
{
    size_t b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = b64len + 2048;
    char *text = malloc(cap), *b64 = malloc(b64len);
    char verifier[NOTE_VERIFIER_MAX] = "";
    note_verifier_format(&self->hub_verifier, verifier, sizeof verifier);
    node_log(self, "HUB MISBEHAVES: record %llu refused (%s: %s); replication stopped",
             (unsigned long long) seq, what, cofab_strerror(code));
    if (text && b64) {
        sodium_bin2base64(b64, b64len, bytes, len, sodium_base64_VARIANT_ORIGINAL);
        int n = snprintf(text, cap,
                         "cofab evidence: the hub sequenced a record this replica refuses\n"
                         "hub: %s\norigin: %s\nposition: %llu\nreason: %s (%s): %s\n"
                         "observed-ms: %llu\nrecord-base64: %s\n",
                         verifier, self->ledger ? ledger_origin(self->ledger) : "-",
                         (unsigned long long) seq, cofab_errname(code), cofab_strerror(code),
                         what, (unsigned long long) util_now_ms(), b64);
        if (n > 0 && (size_t) n < cap)
            node_evidence(self, text, (size_t) n);
    }
    free(text);
    free(b64);
    self->halted = 1;
    if (self->sub) {
        zmq_close(self->sub);
        self->sub = NULL;
    }
    node_status_sync(self);
}

int
node_sync_genesis(node_t *self)
{
    if (self->ledger)
        return 0;
    net_msg_t m;
    const uint8_t *ptrs[1];
    size_t lens[1], n = 0;
    int rc = s_get_range(self, 0, 1, &m, ptrs, lens, &n);
    if (rc != 0)
        return rc;
    if (n == 0) {
        net_msg_free(&m);
        return COFAB_ENET; /* no genesis yet: try again later */
    }
    ledger_record_t r;
    envelope_t e;
    payload_genesis_t *g = malloc(sizeof *g);
    const char *what = "genesis record does not decode";
    rc = g ? ledger_record_decode(&r, ptrs[0], lens[0]) : COFAB_ENOMEM;
    if (rc == 0 && r.seq != 0) {
        rc = COFAB_ERANGE;
        what = "record 0 does not carry position 0";
    }
    if (rc == 0) {
        rc = envelope_open(&e, r.envelope, r.envelope_len);
        what = "genesis envelope does not verify";
    }
    if (rc == 0 && e.kind != ENVELOPE_GENESIS) {
        rc = COFAB_EKIND;
        what = "record 0 is not a genesis";
    }
    if (rc == 0) {
        rc = payload_genesis_decode(g, e.payload, e.payload_len);
        what = "genesis payload does not decode";
    }
    if (rc == 0 && (sodium_memcmp(g->hub.pk, self->hub_pub.sign_pk, 32) != 0 ||
                    sodium_memcmp(g->hub_transport, self->hub_pub.curve_pk, 32) != 0)) {
        rc = COFAB_EKEYMISMATCH;
        what = "genesis names another hub key than our hub .pub";
    }
    if (rc == 0) {
        ledger_options_t o = {.apply = policy_apply};
        rc = ledger_create_replica(&self->ledger, self->cfg.data_dir, g->origin, &r, &e, &o);
        if (rc == 0) {
            node_log(self, "created replica of %s in %s", g->origin, self->cfg.data_dir);
        } else if (rc <= COFAB_EIO || rc == COFAB_EEXIST) {
            node_log(self, "cannot create the replica in %s: %s", self->cfg.data_dir,
                     cofab_strerror(rc));
        } else {
            what = "the ledger refuses the genesis";
            s_refuse(self, 0, ptrs[0], lens[0], rc, what);
            rc = 0;
        }
    } else if (rc != COFAB_ENOMEM) {
        s_refuse(self, 0, ptrs[0], lens[0], rc, what);
        rc = 0;
    }
    free(g);
    net_msg_free(&m);
    node_status_sync(self);
    return rc;
}

/* Notes the order of an assign record that names us. */
static void
s_watch_assign(node_t *self, const envelope_t *e, payload_assign_t *a)
{
    if (payload_assign_decode(a, e->payload, e->payload_len) != 0)
        return;
    for (uint32_t i = 0; i < a->npieces; i++) {
        if (sodium_memcmp(a->pieces[i].factory, keys_sign_pk(self->keys), 32) == 0) {
            node_assign_note(self, e->subject);
            return;
        }
    }
}

int
node_sync_apply(node_t *self, const uint8_t *const *bytes, const size_t *lens, size_t n)
{
    if (!self->ledger || self->halted || n == 0)
        return 0;
    ledger_record_t *recs = calloc(n, sizeof *recs);
    envelope_t *envs = calloc(n, sizeof *envs);
    ledger_result_t *res = calloc(n, sizeof *res);
    payload_assign_t *a = malloc(sizeof *a);
    int rc = recs && envs && res && a ? 0 : COFAB_ENOMEM;
    uint64_t expected = ledger_size(self->ledger);
    size_t k = 0, bad = n; /* records that passed; index of the first refused */
    int bad_code = 0;
    const char *what = "";
    for (; rc == 0 && k < n; k++) {
        int vrc = ledger_record_decode(&recs[k], bytes[k], lens[k]);
        if (vrc == 0 && recs[k].seq != expected + k) {
            node_log(self, "hub sent record %llu where %llu was due; dropped",
                     (unsigned long long) recs[k].seq, (unsigned long long) (expected + k));
            break;
        }
        if (vrc != 0) {
            what = "record does not decode";
        } else if ((vrc = envelope_open(&envs[k], recs[k].envelope, recs[k].envelope_len)) != 0) {
            what = "envelope does not verify";
        }
        if (vrc != 0) {
            bad = k;
            bad_code = vrc;
            break;
        }
    }
    if (rc == 0 && k > 0)
        rc = ledger_replicate(self->ledger, recs, envs, k, res);
    if (rc != 0) {
        node_log(self, "replica write failed: %s", cofab_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        if (res[i].code != 0) {
            bad = i;
            bad_code = res[i].code;
            what = "the replica's ledger and alliance rules refuse it";
            break;
        }
        if (envs[i].kind == ENVELOPE_ASSIGN)
            s_watch_assign(self, &envs[i], a);
    }
    if (bad < n)
        s_refuse(self, expected + bad, bytes[bad], lens[bad], bad_code, what);
out:
    free(recs);
    free(envs);
    free(res);
    free(a);
    node_status_sync(self);
    return rc;
}

/* With a cosigned baseline, the hub's latest checkpoint is checked before
 * its records: a hub that forked away from what we cosigned is then caught
 * on two signed checkpoints (evidence anyone can check) rather than on its
 * first record that does not link to our head. */
static int
s_checkpoint_first(node_t *self)
{
    net_msg_t m;
    int rc = node_request(self, WIRE_GET_CHECKPOINT, NULL, 0, &m);
    if (rc != 0)
        return rc;
    if (m.type == WIRE_CHECKPOINT) /* an ERR (no checkpoint yet) is no news */
        rc = node_witness_checkpoint(self, (const char *) m.body, m.len, 1);
    net_msg_free(&m);
    return rc;
}

int
node_sync_catch_up(node_t *self)
{
    const uint8_t **ptrs = malloc(WIRE_MAX_RANGE * sizeof *ptrs);
    size_t *lens = malloc(WIRE_MAX_RANGE * sizeof *lens);
    int rc = ptrs && lens ? 0 : COFAB_ENOMEM;
    if (rc == 0 && self->ledger && self->cosigned.set && !self->halted)
        rc = s_checkpoint_first(self);
    uint64_t start = self->ledger ? ledger_size(self->ledger) : 0;
    while (rc == 0 && self->ledger && !self->halted && !(self->stop && *self->stop)) {
        uint64_t from = ledger_size(self->ledger);
        net_msg_t m;
        size_t n = 0;
        rc = s_get_range(self, from, WIRE_MAX_RANGE, &m, ptrs, lens, &n);
        if (rc != 0)
            break;
        if (n > 0)
            rc = node_sync_apply(self, ptrs, lens, n);
        net_msg_free(&m);
        if (n == 0 || ledger_size(self->ledger) == from)
            break; /* up to date, or nothing usable in the reply */
    }
    if (rc == 0 && self->ledger && ledger_size(self->ledger) > start)
        node_log(self, "caught up: %llu -> %llu records", (unsigned long long) start,
                 (unsigned long long) ledger_size(self->ledger));
    free(ptrs);
    free(lens);
    return rc;
}

/* Reads one two-frame feed message; extra frames are drained. Returns 0,
 * COFAB_ENOTFOUND if none is waiting, COFAB_EMALFORMED. */
static int
s_feed_recv(void *sub, zmq_msg_t *topic, zmq_msg_t *body)
{
    zmq_msg_init(topic);
    zmq_msg_init(body);
    if (zmq_msg_recv(topic, sub, ZMQ_DONTWAIT) < 0)
        return COFAB_ENOTFOUND;
    int more = zmq_msg_more(topic), frames = 1;
    while (more) {
        zmq_msg_t *into = frames == 1 ? body : NULL;
        zmq_msg_t extra;
        if (!into) {
            zmq_msg_init(&extra);
            into = &extra;
        }
        if (zmq_msg_recv(into, sub, 0) < 0)
            break;
        more = zmq_msg_more(into);
        if (into == &extra)
            zmq_msg_close(&extra);
        frames++;
    }
    return frames == 2 && zmq_msg_size(topic) == 1 ? 0 : COFAB_EMALFORMED;
}

/* A feed record at a position we hold must be the very record we hold:
 * anything else is the hub showing two histories. */
static void
s_compare_held(node_t *self, uint64_t pos, const uint8_t *bytes, size_t len)
{
    uint8_t *mine = NULL;
    size_t mlen = 0;
    if (ledger_get(self->ledger, pos, &mine, &mlen) == 0 &&
        (mlen != len || memcmp(mine, bytes, len) != 0))
        s_refuse(self, pos, bytes, len, COFAB_EFORK,
                 "the feed carries a different record at a position we hold");
    free(mine);
}

int
node_sync_feed(node_t *self)
{
    if (!self->sub || !self->ledger || self->halted)
        return 0;
    zmq_msg_t *held = malloc(NODE_BATCH * sizeof *held);
    const uint8_t **ptrs = malloc(NODE_BATCH * sizeof *ptrs);
    size_t *lens = malloc(NODE_BATCH * sizeof *lens), nheld = 0;
    int rc = held && ptrs && lens ? 0 : COFAB_ENOMEM;
    /* Bounded per call so the control socket is never starved. */
    for (int i = 0; rc == 0 && i < 4 * NODE_BATCH && self->sub && !self->halted; i++) {
        zmq_msg_t topic, body;
        int frc = s_feed_recv(self->sub, &topic, &body);
        if (frc == COFAB_ENOTFOUND) {
            zmq_msg_close(&topic);
            zmq_msg_close(&body);
            break;
        }
        const uint8_t *t = zmq_msg_data(&topic), *b = zmq_msg_data(&body);
        size_t blen = zmq_msg_size(&body);
        if (frc == 0 && t[0] == 'R' && blen > 8) {
            uint64_t pos = util_get_be64(b), want = ledger_size(self->ledger) + nheld;
            if (pos == want) {
                zmq_msg_init(&held[nheld]);
                zmq_msg_move(&held[nheld], &body);
                ptrs[nheld] = (const uint8_t *) zmq_msg_data(&held[nheld]) + 8;
                lens[nheld] = blen - 8;
                nheld++;
            } else if (pos > want) {
                self->need_catchup = 1; /* a gap: the range fills it */
            } else if (pos < ledger_size(self->ledger)) {
                s_compare_held(self, pos, b + 8, blen - 8);
            }
        }
        int flush = nheld == NODE_BATCH || (frc == 0 && t[0] == 'C');
        if (flush && nheld) {
            rc = node_sync_apply(self, ptrs, lens, nheld);
            for (size_t j = 0; j < nheld; j++)
                zmq_msg_close(&held[j]);
            nheld = 0;
        }
        if (rc == 0 && frc == 0 && t[0] == 'C')
            rc = node_witness_checkpoint(self, (const char *) b, blen, 0);
        zmq_msg_close(&topic);
        zmq_msg_close(&body); /* empty after a move */
    }
    if (rc == 0 && nheld)
        rc = node_sync_apply(self, ptrs, lens, nheld);
    for (size_t j = 0; j < nheld; j++)
        zmq_msg_close(&held[j]);
    free(held);
    free(ptrs);
    free(lens);
    return rc;
}
