/* test_client.c — the customer/operator client against a real in-process hub on 127.0.0.1: submits, proofs, refusals, CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/cli.h"
#include "cofab/client.h"
#include "cofab/error.h"
#include "cofab/hub.h"
#include "cofab/ledger.h"
#include "cofab/merkle.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "support/fixture.h"
/* White-box: the hub's own ledger, to check what a refusal did (nothing). */
#include "../../node/cmd_order_internal.h"
#include "../../node/hub_internal.h"

#define S_WAIT_MS 3000

typedef struct {
    char dir[256];
    char hub_pub_path[400], cust_key_path[400], op_key_path[400], bolt_pub_path[400];
    keys_t *op, *acme, *bolt, *alice, *mallory; /* operator, factory, new factory, customers */
    keys_public_t hub_pub;
    config_hub_t *cfg;
    hub_t *hub;
    pthread_t thread;
    volatile sig_atomic_t stop;
    const char *ep;                       /* the hub's bound submit endpoint */
} s_env_t;

static void *
s_hub_main(void *arg)
{
    s_env_t *env = arg;
    hub_run(env->hub, &env->stop);
    return NULL;
}

static keys_t *
s_keys(s_env_t *env, const char *name, char *pub_path, char *key_path)
{
    keys_t *k = keys_generate(name);
    assert_non_null(k);
    assert_int_equal(keys_write(k, env->dir), 0);
    if (pub_path)
        snprintf(pub_path, 400, "%s/%s.pub", env->dir, name);
    if (key_path)
        snprintf(key_path, 400, "%s/%s.key", env->dir, name);
    return k;
}

static int
s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    assert_non_null(env);
    fixture_tmpdir(env->dir);
    keys_t *hub = s_keys(env, "hub", env->hub_pub_path, NULL);
    keys_destroy(&hub);
    env->op = s_keys(env, "operator", NULL, env->op_key_path);
    char acme_pub[400];
    env->acme = s_keys(env, "acme", acme_pub, NULL);
    env->bolt = s_keys(env, "bolt", env->bolt_pub_path, NULL);
    env->alice = s_keys(env, "alice", NULL, env->cust_key_path);
    env->mallory = keys_generate("mallory");
    assert_int_equal(keys_public_load(&env->hub_pub, env->hub_pub_path), 0);

    config_hub_t *h = env->cfg = calloc(1, sizeof *h);
    assert_non_null(h);
    snprintf(h->origin, sizeof h->origin, "cofab.test/client");
    snprintf(h->data_dir, sizeof h->data_dir, "%s/ledger", env->dir);
    snprintf(h->key, sizeof h->key, "%s/hub.key", env->dir);
    snprintf(h->operator_pub, sizeof h->operator_pub, "%s/operator.pub", env->dir);
    snprintf(h->submit, sizeof h->submit, "tcp://127.0.0.1:*");
    snprintf(h->feed, sizeof h->feed, "tcp://127.0.0.1:*");
    h->batch_window_ms = 1;
    h->max_batch = 512;
    h->checkpoint_every = 1;
    h->checkpoint_ms = 50;
    h->match_interval_ms = 50;
    h->verify_threads = 2;
    h->customer_rate = 0;
    snprintf(h->customers, sizeof h->customers, "open");
    h->ack_timeout_s = 3600;
    snprintf(h->members[0].name, sizeof h->members[0].name, "acme");
    snprintf(h->members[0].pub, sizeof h->members[0].pub, "%s", acme_pub);
    snprintf(h->members[0].role, sizeof h->members[0].role, "factory");
    h->nmembers = 1;
    matcher_params_default(&h->params);
    env->hub = hub_new(h);
    assert_non_null(env->hub);
    env->ep = hub_submit_endpoint(env->hub);
    assert_int_equal(pthread_create(&env->thread, NULL, s_hub_main, env), 0);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    env->stop = 1;
    pthread_join(env->thread, NULL);
    hub_destroy(&env->hub);
    hub_destroy(&env->hub);
    keys_destroy(&env->op);
    keys_destroy(&env->acme);
    keys_destroy(&env->bolt);
    keys_destroy(&env->alice);
    keys_destroy(&env->mallory);
    free(env->cfg);
    fixture_rmtree(env->dir);
    free(env);
    return 0;
}

static uint64_t
s_size(s_env_t *env)
{
    return ledger_size(env->hub->ledger);
}

static client_t *
s_client(s_env_t *env, const keys_t *k)
{
    client_t *c = client_new(env->ep, k, env->hub_pub.curve_pk);
    assert_non_null(c);
    return c;
}

static void
s_order_payload(uint8_t **p, size_t *n)
{
    payload_order_t o = {.items = {{"sewing", "cotton", 120}}, .nitems = 1, .lat_e6 = 45070000,
                         .lon_e6 = 7680000, .title = "test shirts"};
    o.due_day = (uint32_t) (util_now_ms() / 86400000u + 30);
    assert_int_equal(payload_order_encode(&o, p, n), 0);
}

/* Submits a fresh order for k; returns its position, id in id. */
static uint64_t
s_order(client_t *c, uint8_t id[32])
{
    uint8_t *p = NULL;
    size_t n = 0;
    uint64_t pos = 0;
    char reason[WIRE_MAX_REASON + 1];
    randombytes_buf(id, 32);
    s_order_payload(&p, &n);
    assert_int_equal(client_submit(c, ENVELOPE_ORDER, id, p, n, S_WAIT_MS, &pos, reason), 0);
    free(p);
    return pos;
}

/* Fetches and verifies until the first record is in a checkpoint. */
static int
s_status(client_t *c, const client_trust_t *t, const uint8_t id[32], net_msg_t *reply,
         client_verified_t *v)
{
    int rc = 0;
    for (int i = 0; i < 100; i++) {
        rc = client_order_status(c, t, id, S_WAIT_MS, reply, v);
        if (rc != 0 || (v->n > 0 && v->unproven == 0))
            return rc;
        net_msg_free(reply);
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return rc;
}

static void
test_submit_is_durable_and_idempotent(void **state)
{
    s_env_t *env = *state;
    client_t *c = s_client(env, env->alice);
    uint8_t id[32], *p = NULL, env_bytes[ENVELOPE_MAX];
    size_t n = 0, len = 0;
    randombytes_buf(id, sizeof id);
    s_order_payload(&p, &n);
    assert_int_equal(client_seal(c, ENVELOPE_ORDER, id, p, n, S_WAIT_MS, env_bytes,
                                 sizeof env_bytes, &len), 0);
    uint64_t before = s_size(env), pos = 0, pos2 = 0;
    int dup = -1;
    char reason[WIRE_MAX_REASON + 1];
    assert_int_equal(client_submit_envelope(c, env_bytes, len, S_WAIT_MS, &pos, &dup, reason), 0);
    assert_int_equal(dup, 0);
    assert_int_equal(s_size(env), before + 1);
    /* The record at that position on the hub's ledger is our order. */
    uint8_t *rec = NULL;
    size_t rlen = 0;
    ledger_record_t r;
    envelope_t e;
    assert_int_equal(ledger_get(env->hub->ledger, pos, &rec, &rlen), 0);
    assert_int_equal(ledger_record_decode(&r, rec, rlen), 0);
    assert_int_equal(envelope_open(&e, r.envelope, r.envelope_len), 0);
    assert_int_equal(e.kind, ENVELOPE_ORDER);
    assert_memory_equal(e.subject, id, 32);
    assert_memory_equal(e.author, keys_sign_pk(env->alice), 32);
    free(rec);
    policy_order_t o;
    assert_int_equal(policy_order(env->hub->ledger, id, &o), 0);
    assert_int_equal(o.state, POLICY_SUBMITTED);
    /* The same bytes again: the original position, nothing new stored. */
    assert_int_equal(client_submit_envelope(c, env_bytes, len, S_WAIT_MS, &pos2, &dup, reason), 0);
    assert_int_equal(pos2, pos);
    assert_int_equal(dup, 1);
    assert_int_equal(s_size(env), before + 1);
    /* The chain continues from what the hub holds. */
    uint64_t aseq = 0;
    uint8_t h[32];
    assert_int_equal(client_author(c, keys_sign_pk(env->alice), S_WAIT_MS, &aseq, h), 0);
    assert_memory_equal(h, e.hash, 32);
    free(p);
    client_destroy(&c);
    client_destroy(&c);
}

static void
test_status_verifies_and_tamper_fails(void **state)
{
    s_env_t *env = *state;
    client_t *c = s_client(env, env->alice);
    uint8_t id[32];
    uint64_t pos = s_order(c, id);
    client_trust_t *t = malloc(sizeof *t);
    client_verified_t *v = malloc(sizeof *v);
    client_subject_t *s = malloc(sizeof *s);
    assert_int_equal(client_trust_load(c, &env->hub_pub, S_WAIT_MS, t), 0);
    assert_string_equal(t->origin, "cofab.test/client");
    assert_int_equal(t->nmembers, 1);
    net_msg_t reply;
    assert_int_equal(s_status(c, t, id, &reply, v), 0);
    assert_int_equal(v->n, 1);
    assert_int_equal(v->events[0].position, pos);
    assert_int_equal(v->events[0].kind, ENVELOPE_ORDER);
    assert_true(v->events[0].proven);
    assert_true(v->cp.size > pos);
    assert_int_equal(v->witnesses, 1);
    assert_int_equal(v->required, 0);
    assert_true(v->witnessed);
    /* Nothing assigned it (no factory has capacity): still "submitted". */
    policy_order_t o;
    assert_int_equal(policy_order(env->hub->ledger, id, &o), 0);
    assert_int_equal(o.state, POLICY_SUBMITTED);

    /* Tampering with the decoded reply makes verification fail. */
    assert_int_equal(client_subject_decode(s, reply.body, reply.len), 0);
    assert_int_equal(client_subject_verify(s, t, id, v), 0);
    uint8_t *rec = (uint8_t *) s->entries[0].record.bytes;
    rec[10] ^= 1; /* hub time: the envelope still verifies, the proof does not */
    assert_int_equal(client_subject_verify(s, t, id, v), COFAB_EPROOF);
    assert_true(strlen(v->reason) > 0);
    rec[10] ^= 1;
    rec[s->entries[0].record.len - 1] ^= 1; /* the author's signature */
    assert_int_equal(client_subject_verify(s, t, id, v), COFAB_EBADSIG);
    rec[s->entries[0].record.len - 1] ^= 1;
    if (s->entries[0].k > 0) {
        uint8_t *proof = (uint8_t *) s->entries[0].proof;
        proof[0] ^= 1;
        assert_int_equal(client_subject_verify(s, t, id, v), COFAB_EPROOF);
        proof[0] ^= 1;
    }
    s->entries[0].position++;
    assert_int_equal(client_subject_verify(s, t, id, v), COFAB_ERANGE);
    s->entries[0].position--;
    uint8_t other[32];
    memcpy(other, id, 32);
    other[0] ^= 1;
    assert_int_equal(client_subject_verify(s, t, id, v), 0);
    assert_int_equal(client_subject_verify(s, t, other, v), COFAB_EMALFORMED);
    /* A checkpoint signed by someone else is not the hub's. */
    client_trust_t *fake = malloc(sizeof *fake);
    memcpy(fake, t, sizeof *fake);
    keys_verifier(env->acme, &fake->hub);
    assert_int_equal(client_subject_verify(s, fake, id, v), COFAB_ENOTFOUND);
    fake->witness_k = 2;
    memcpy(&fake->hub, &t->hub, sizeof fake->hub);
    assert_int_equal(client_subject_verify(s, fake, id, v), 0);
    assert_false(v->witnessed);
    free(fake);
    net_msg_free(&reply);

    /* A witness cosigns the latest checkpoint: counted as 1 of 1. */
    client_t *w = s_client(env, env->acme);
    net_msg_t cp;
    assert_int_equal(client_request(w, WIRE_GET_CHECKPOINT, NULL, 0, S_WAIT_MS, &cp), 0);
    assert_int_equal(cp.type, WIRE_CHECKPOINT);
    char *cosigned = malloc(NOTE_MAX_LEN + 8);
    assert_int_equal(note_cosign((const char *) cp.body, cp.len, keys_name(env->acme),
                                 keys_sign_sk(env->acme), util_now_ms() / 1000, cosigned + 8,
                                 NOTE_MAX_LEN), 0);
    note_t *nt = malloc(sizeof *nt);
    checkpoint_t cpp;
    assert_int_equal(note_parse(nt, (const char *) cp.body, cp.len), 0);
    assert_int_equal(checkpoint_parse(&cpp, nt->body, nt->body_len), 0);
    util_put_be64((uint8_t *) cosigned, cpp.size);
    net_msg_t ack;
    assert_int_equal(client_request(w, WIRE_COSIGN, cosigned, 8 + strlen(cosigned + 8),
                                    S_WAIT_MS, &ack), 0);
    assert_int_equal(ack.type, WIRE_ACK);
    assert_int_equal(client_order_status(c, t, id, S_WAIT_MS, &reply, v), 0);
    assert_int_equal(v->cp.size, cpp.size);
    assert_int_equal(v->cosigned, 1);
    net_msg_free(&reply);
    net_msg_free(&ack);
    net_msg_free(&cp);
    free(nt);
    free(cosigned);
    client_destroy(&w);

    /* Unknown order: the hub's ENOTFOUND. Wrong hub key: refused trust. */
    randombytes_buf(other, sizeof other);
    assert_int_equal(client_order_status(c, t, other, S_WAIT_MS, &reply, v), COFAB_ENOTFOUND);
    net_msg_free(&reply);
    keys_public_t wrong;
    keys_public(env->acme, &wrong);
    memcpy(wrong.curve_pk, env->hub_pub.curve_pk, 32);
    assert_int_equal(client_trust_load(c, &wrong, S_WAIT_MS, t), COFAB_EKEYMISMATCH);
    free(s);
    free(v);
    free(t);
    client_destroy(&c);
}

static void
test_cancel_only_by_its_customer(void **state)
{
    s_env_t *env = *state;
    client_t *c = s_client(env, env->alice), *m = s_client(env, env->mallory);
    uint8_t id[32], *p = NULL;
    size_t n = 0;
    s_order(c, id);
    payload_cancel_t cancel;
    memset(&cancel, 0, sizeof cancel);
    snprintf(cancel.reason, sizeof cancel.reason, "changed my mind");
    assert_int_equal(payload_cancel_encode(&cancel, &p, &n), 0);
    uint64_t before = s_size(env), pos = 0;
    char reason[WIRE_MAX_REASON + 1];
    assert_int_equal(client_submit(m, ENVELOPE_CANCEL, id, p, n, S_WAIT_MS, &pos, reason),
                     COFAB_EPERM);
    assert_true(strlen(reason) > 0);
    assert_int_equal(s_size(env), before);
    assert_int_equal(client_submit(c, ENVELOPE_CANCEL, id, p, n, S_WAIT_MS, &pos, reason), 0);
    assert_int_equal(s_size(env), before + 1);
    client_trust_t *t = malloc(sizeof *t);
    client_verified_t *v = malloc(sizeof *v);
    net_msg_t reply;
    assert_int_equal(client_trust_load(c, &env->hub_pub, S_WAIT_MS, t), 0);
    assert_int_equal(s_status(c, t, id, &reply, v), 0);
    assert_int_equal(v->n, 2);
    assert_int_equal(v->events[1].kind, ENVELOPE_CANCEL);
    assert_int_equal(v->events[1].position, pos);
    policy_order_t o;
    assert_int_equal(policy_order(env->hub->ledger, id, &o), 0);
    assert_int_equal(o.state, POLICY_CANCELLED);
    /* Cancelling twice is an illegal transition. */
    before = s_size(env);
    assert_int_equal(client_submit(c, ENVELOPE_CANCEL, id, p, n, S_WAIT_MS, &pos, reason),
                     COFAB_ESTATE);
    assert_int_equal(s_size(env), before);
    net_msg_free(&reply);
    free(v);
    free(t);
    free(p);
    client_destroy(&c);
    client_destroy(&m);
}

static void
test_refusals_leave_the_ledger_alone(void **state)
{
    s_env_t *env = *state;
    client_t *c = s_client(env, env->alice), *f = s_client(env, env->acme);
    char reason[WIRE_MAX_REASON + 1];
    uint64_t pos = 0, before;
    uint8_t id[32], *p = NULL, buf[ENVELOPE_MAX];
    size_t n = 0, len = 0;

    /* A customer may not publish capacity. */
    payload_capacity_t *cap = calloc(1, sizeof *cap);
    cap->start_day = (uint32_t) (util_now_ms() / 86400000u);
    cap->valid_until_day = cap->start_day + 5;
    cap->reserve_pm = -1;
    snprintf(cap->offers[0].process, sizeof cap->offers[0].process, "sewing");
    snprintf(cap->offers[0].materials[0], sizeof cap->offers[0].materials[0], "cotton");
    cap->offers[0].nmaterials = 1;
    cap->offers[0].unit_price = 100;
    cap->offers[0].moq = 1;
    cap->offers[0].max_qty = 100;
    cap->offers[0].cap[0] = 10;
    cap->offers[0].ncap = 1;
    cap->noffers = 1;
    assert_int_equal(payload_capacity_encode(cap, &p, &n), 0);
    before = s_size(env);
    assert_int_equal(client_submit(c, ENVELOPE_CAPACITY, NULL, p, n, S_WAIT_MS, &pos, reason),
                     COFAB_EPERM);
    assert_int_equal(s_size(env), before);
    free(p);
    free(cap);

    /* A replayed author sequence: a different envelope, a used number. */
    s_order(c, id);
    uint64_t aseq = 0;
    uint8_t h[32];
    assert_int_equal(client_author(c, keys_sign_pk(env->alice), S_WAIT_MS, &aseq, h), 0);
    s_order_payload(&p, &n);
    envelope_spec_t spec = {.kind = ENVELOPE_ORDER, .author_seq = aseq,
                            .timestamp_ms = util_now_ms(), .payload = p, .payload_len = n};
    randombytes_buf(spec.subject, 32);
    /* author_prev stays zeros: the used number alone must be refused. */
    assert_int_equal(envelope_seal(&spec, env->alice, buf, sizeof buf, &len), 0);
    before = s_size(env);
    assert_int_equal(client_submit_envelope(c, buf, len, S_WAIT_MS, &pos, NULL, reason),
                     COFAB_EREPLAY);
    assert_int_equal(s_size(env), before);

    /* Signed by key A, sent on B's connection: a factory's order over a
     * customer connection, and a customer's order over the factory's. */
    envelope_spec_t fspec = {.kind = ENVELOPE_ORDER, .author_seq = 1,
                             .timestamp_ms = util_now_ms(), .payload = p, .payload_len = n};
    randombytes_buf(fspec.subject, 32);
    assert_int_equal(envelope_seal(&fspec, env->acme, buf, sizeof buf, &len), 0);
    assert_int_equal(client_submit_envelope(c, buf, len, S_WAIT_MS, &pos, NULL, reason),
                     COFAB_EPERM);
    client_t *b = s_client(env, env->mallory);
    assert_int_equal(client_seal(b, ENVELOPE_ORDER, fspec.subject, p, n, S_WAIT_MS, buf,
                                 sizeof buf, &len), 0);
    client_destroy(&b);
    assert_int_equal(client_submit_envelope(f, buf, len, S_WAIT_MS, &pos, NULL, reason),
                     COFAB_EPERM);
    /* The factory itself may not order either. */
    assert_int_equal(client_submit(f, ENVELOPE_ORDER, fspec.subject, p, n, S_WAIT_MS, &pos,
                                   reason), COFAB_EPERM);
    assert_int_equal(s_size(env), before);
    free(p);
    client_destroy(&c);
    client_destroy(&f);
}

static void
test_bad_frames_and_the_hub_keeps_serving(void **state)
{
    s_env_t *env = *state;
    uint64_t before = s_size(env);
    void *ctx = zmq_ctx_new();
    void *d = net_client_socket(ctx, ZMQ_DEALER, env->mallory, env->hub_pub.curve_pk);
    assert_non_null(d);
    assert_int_equal(zmq_connect(d, env->ep), 0);
    net_msg_t m;
    /* Over the wire limit: ERR, too big. */
    uint8_t *big = calloc(1, WIRE_MAX_BODY + 1);
    assert_int_equal(net_send(d, NULL, 0, WIRE_SUBMIT, 7, big, WIRE_MAX_BODY + 1), 0);
    assert_int_equal(net_recv(d, 0, S_WAIT_MS, &m), 0);
    assert_int_equal(m.type, WIRE_ERR);
    int code = 0;
    char reason[WIRE_MAX_REASON + 1];
    assert_int_equal(wire_err_decode(m.body, m.len, &code, reason), 0);
    assert_int_equal(code, COFAB_ETOOBIG);
    net_msg_free(&m);
    free(big);
    /* A garbage frame: ERR, never a crash. */
    zmq_send(d, "garbage", 7, 0);
    assert_int_equal(net_recv(d, 0, S_WAIT_MS, &m), 0);
    assert_int_equal(m.type, WIRE_ERR);
    assert_int_equal(wire_err_decode(m.body, m.len, &code, reason), 0);
    assert_true(cofab_err_is_input(code));
    net_msg_free(&m);
    /* A SUBMIT whose body is not an envelope. */
    assert_int_equal(net_send(d, NULL, 0, WIRE_SUBMIT, 8, "not an envelope", 15), 0);
    assert_int_equal(net_recv(d, 0, S_WAIT_MS, &m), 0);
    assert_int_equal(m.type, WIRE_ERR);
    assert_int_equal(wire_err_decode(m.body, m.len, &code, reason), 0);
    assert_true(cofab_err_is_input(code));
    net_msg_free(&m);
    /* Beyond ZMQ_MAXMSGSIZE: libzmq drops the connection; no effect. */
    size_t huge = (size_t) WIRE_MAX_BODY * 2;
    big = calloc(1, huge);
    net_send(d, NULL, 0, WIRE_SUBMIT, 9, big, huge);
    free(big);
    zmq_close(d);
    zmq_ctx_term(ctx);
    assert_int_equal(s_size(env), before);
    /* And everyone else is still served. */
    client_t *c = s_client(env, env->alice);
    net_msg_t pong;
    assert_int_equal(client_request(c, WIRE_PING, NULL, 0, S_WAIT_MS, &pong), 0);
    assert_int_equal(pong.type, WIRE_PONG);
    net_msg_free(&pong);
    uint8_t id[32];
    uint64_t pos = s_order(c, id);
    assert_int_equal(pos, before);
    client_destroy(&c);
}

static void
test_membership_by_the_operator_only(void **state)
{
    s_env_t *env = *state;
    client_t *op = s_client(env, env->op), *c = s_client(env, env->alice),
             *f = s_client(env, env->acme);
    payload_member_t m;
    memset(&m, 0, sizeof m);
    keys_verifier(env->bolt, &m.key);
    memcpy(m.transport, keys_curve_pk(env->bolt), 32);
    m.role = PAYLOAD_ROLE_FACTORY;
    uint8_t *p = NULL;
    size_t n = 0;
    assert_int_equal(payload_member_add_encode(&m, &p, &n), 0);
    char reason[WIRE_MAX_REASON + 1];
    uint64_t pos = 0, before = s_size(env);
    policy_member_t pm;
    assert_int_equal(policy_member(env->hub->ledger, keys_sign_pk(env->bolt), &pm),
                     COFAB_ENOTFOUND);
    /* Not the operator: a customer, then a factory member. */
    assert_int_equal(client_submit(c, ENVELOPE_MEMBER_ADD, keys_sign_pk(env->bolt), p, n,
                                   S_WAIT_MS, &pos, reason), COFAB_EPERM);
    assert_int_equal(client_submit(f, ENVELOPE_MEMBER_ADD, keys_sign_pk(env->bolt), p, n,
                                   S_WAIT_MS, &pos, reason), COFAB_EPERM);
    assert_int_equal(s_size(env), before);
    /* The operator. */
    assert_int_equal(client_submit(op, ENVELOPE_MEMBER_ADD, keys_sign_pk(env->bolt), p, n,
                                   S_WAIT_MS, &pos, reason), 0);
    assert_int_equal(s_size(env), before + 1);
    assert_int_equal(policy_member(env->hub->ledger, keys_sign_pk(env->bolt), &pm), 0);
    assert_int_equal(pm.active, 1);
    assert_int_equal(pm.role, PAYLOAD_ROLE_FACTORY);
    assert_string_equal(pm.name, "bolt");
    free(p);
    /* Now bolt is a member: the factory's key is refused as a customer's. */
    client_t *b = s_client(env, env->bolt);
    uint8_t id[32];
    randombytes_buf(id, sizeof id);
    s_order_payload(&p, &n);
    before = s_size(env);
    assert_int_equal(client_submit(b, ENVELOPE_ORDER, id, p, n, S_WAIT_MS, &pos, reason),
                     COFAB_EPERM);
    assert_int_equal(s_size(env), before);
    free(p);
    client_destroy(&b);
    client_destroy(&op);
    client_destroy(&c);
    client_destroy(&f);
}

static void
test_unreachable_hub(void **state)
{
    s_env_t *env = *state;
    client_t *c = client_new("tcp://127.0.0.1:1", env->alice, env->hub_pub.curve_pk);
    assert_non_null(c);
    uint8_t id[32], *p = NULL;
    size_t n = 0;
    uint64_t pos = 0;
    char reason[WIRE_MAX_REASON + 1];
    randombytes_buf(id, sizeof id);
    s_order_payload(&p, &n);
    assert_int_equal(client_submit(c, ENVELOPE_ORDER, id, p, n, 300, &pos, reason), COFAB_ENET);
    assert_true(strlen(reason) > 0);
    net_msg_t m;
    assert_int_equal(client_request(c, WIRE_PING, NULL, 0, 300, &m), COFAB_ENET);
    free(p);
    client_destroy(&c);
    assert_null(client_new("not an endpoint", env->alice, env->hub_pub.curve_pk));
}

/* Runs a cofab subcommand in-process, capturing stdout into out. */
static int
s_run(int (*fn)(int, char **), char *out, size_t max, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *) a;
    va_end(ap);
    argv[argc] = NULL;
    char path[] = "/tmp/cofab-test-out-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    int rc = fn(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    ssize_t got = pread(fd, out, max - 1, 0);
    out[got > 0 ? got : 0] = 0;
    close(fd);
    unlink(path);
    return rc;
}

/* Checks a tlog-proof file on its own: record, proof, checkpoint root. */
static void
s_check_receipt(const char *path, const keys_public_t *hub)
{
    uint8_t *text = NULL;
    size_t len = 0;
    assert_int_equal(util_read_file(path, 1 << 20, &text, &len), 0);
    char *s = (char *) text, *line = strtok(s, "\n");
    assert_string_equal(line, "c2sp.org/tlog-proof@v1");
    line = strtok(NULL, "\n");
    assert_memory_equal(line, "extra ", 6);
    uint8_t rec[LEDGER_RECORD_MAX], proof[CLIENT_MAX_PROOF][32];
    size_t rlen = 0, k = 0, bin = 0;
    assert_int_equal(sodium_base642bin(rec, sizeof rec, line + 6, strlen(line + 6), NULL, &rlen,
                                       NULL, sodium_base64_VARIANT_ORIGINAL), 0);
    line = strtok(NULL, "\n");
    uint64_t index = 0;
    assert_memory_equal(line, "index ", 6);
    assert_int_equal(cli_parse_u64(line + 6, &index), 0);
    char *rest = line + strlen(line) + 1;
    while (*rest != '\n') {
        char *nl = strchr(rest, '\n');
        assert_non_null(nl);
        assert_int_equal(sodium_base642bin(proof[k], 32, rest, (size_t) (nl - rest), NULL, &bin,
                                           NULL, sodium_base64_VARIANT_ORIGINAL), 0);
        assert_int_equal(bin, 32);
        k++;
        rest = nl + 1;
    }
    rest++;
    note_t *note = malloc(sizeof *note);
    note_verifier_t v;
    checkpoint_t cp;
    assert_int_equal(note_parse(note, rest, strlen(rest)), 0);
    assert_int_equal(note_verifier_init(&v, hub->name, hub->sign_pk), 0);
    assert_int_equal(note_verify(note, &v), 0);
    assert_int_equal(checkpoint_parse(&cp, note->body, note->body_len), 0);
    uint8_t leaf[32];
    merkle_leaf_hash(rec, rlen, leaf);
    assert_int_equal(merkle_verify_inclusion(index, cp.size, leaf,
                                             (const uint8_t(*)[32]) proof, k, cp.root), 0);
    free(note);
    free(text);
}

static void
test_cli_order_and_member(void **state)
{
    s_env_t *env = *state;
    char out[65536], file[400], receipt[400], id[65];
    snprintf(file, sizeof file, "%s/order.json", env->dir);
    snprintf(receipt, sizeof receipt, "%s/order.tlog-proof", env->dir);
    FILE *f = fopen(file, "w");
    fprintf(f, "{\"title\": \"Shirts\", \"items\": [{\"process\": \"sewing\", \"material\": "
               "\"cotton\", \"qty\": 120}], \"due_in_days\": 14, \"deliver_to\": {\"lat\": "
               "45.07, \"lon\": 7.68}, \"budget_eur\": 2500.5, \"split\": false}");
    fclose(f);
    const char *ep = env->ep, *hk = env->hub_pub_path, *ck = env->cust_key_path;
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "submit", "--hub", ep,
                           "--hub-key", hk, "--key", ck, "--file", file, NULL), CLI_OK);
    assert_int_equal(strlen(out), 65);
    memcpy(id, out, 64);
    id[64] = 0;
    uint8_t bin[32];
    assert_int_equal(cli_parse_hex32(id, bin), 0);
    policy_order_t o;
    assert_int_equal(policy_order(env->hub->ledger, bin, &o), 0);
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "status", id, "--hub", ep,
                           "--hub-key", hk, "--receipt", receipt, NULL), CLI_OK);
    assert_non_null(strstr(out, "submitted"));
    assert_non_null(strstr(out, "state: submitted"));
    assert_non_null(strstr(out, "verified: every record's inclusion proof"));
    s_check_receipt(receipt, &env->hub_pub);
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "status", id, "--hub", ep,
                           "--hub-key", hk, "--json", NULL), CLI_OK);
    assert_non_null(strstr(out, "\"state\": \"submitted\""));
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "cancel", id, "--hub", ep,
                           "--hub-key", hk, "--key", ck, NULL), CLI_OK);
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "status", id, "--hub", ep,
                           "--hub-key", hk, NULL), CLI_OK);
    assert_non_null(strstr(out, "state: cancelled"));
    /* Exit codes: refused 1, unknown 1, usage 2, unreachable 3. */
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "cancel", id, "--hub", ep,
                           "--hub-key", hk, "--key", ck, NULL), CLI_FAIL);
    char unknown[65];
    memset(unknown, 'a', 64);
    unknown[64] = 0;
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "status", unknown, "--hub", ep,
                           "--hub-key", hk, NULL), CLI_FAIL);
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "status", "xyz", "--hub", ep,
                           "--hub-key", hk, NULL), CLI_USAGE);
    assert_int_equal(s_run(order_main, out, sizeof out, "order", "submit", "--hub",
                           "tcp://127.0.0.1:1", "--hub-key", hk, "--key", ck, "--file", file,
                           "--timeout", "1", NULL), CLI_UNREACHABLE);
    /* Member add / remove, then the factory's name is in the ledger. */
    assert_int_equal(s_run(member_main, out, sizeof out, "member", "add", "--hub", ep,
                           "--hub-key", hk, "--key", ck, "--pub", env->bolt_pub_path, NULL),
                     CLI_FAIL);
    assert_int_equal(s_run(member_main, out, sizeof out, "member", "remove", "--hub", ep,
                           "--hub-key", hk, "--key", env->op_key_path, "--pub",
                           env->bolt_pub_path, "--reason", "closed", NULL), CLI_OK);
    policy_member_t pm;
    assert_int_equal(policy_member(env->hub->ledger, keys_sign_pk(env->bolt), &pm), 0);
    assert_int_equal(pm.active, 0);
    assert_int_equal(s_run(member_main, out, sizeof out, "member", "add", "--hub", ep,
                           "--hub-key", hk, "--key", env->op_key_path, "--pub",
                           env->bolt_pub_path, "--role", "witness", "--json", NULL), CLI_OK);
    assert_non_null(strstr(out, "\"member\": \"bolt\""));
    assert_int_equal(policy_member(env->hub->ledger, keys_sign_pk(env->bolt), &pm), 0);
    assert_int_equal(pm.active, 1);
    assert_int_equal(pm.role, PAYLOAD_ROLE_WITNESS);
    assert_int_equal(s_run(member_main, out, sizeof out, "member", "add", "--hub", ep, NULL),
                     CLI_USAGE);
}

static void
test_order_json(void **state)
{
    (void) state;
    payload_order_t o;
    char err[256];
    const char *good = "{\"items\": [{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 5},"
                       "{\"process\": \"cnc\", \"material\": \"brass\", \"qty\": 7}],"
                       "\"due\": \"2026-12-20\", \"deliver_to\": {\"lat\": -33.5, \"lon\": 151},"
                       "\"budget_eur\": 19.99, \"split\": true}";
    assert_int_equal(order_from_json(good, strlen(good), &o, err, sizeof err), 0);
    assert_int_equal(o.nitems, 2);
    assert_int_equal(o.items[1].qty, 7);
    assert_int_equal(o.budget, 1999);
    assert_int_equal(o.split, 1);
    assert_int_equal(o.lat_e6, -33500000);
    assert_int_equal(o.lon_e6, 151000000);
    struct tm tm = {.tm_year = 2026 - 1900, .tm_mon = 11, .tm_mday = 20};
    assert_int_equal(o.due_day, (uint32_t) (timegm(&tm) / 86400));
    uint32_t day = 0;
    assert_int_equal(order_parse_date("2024-02-29", &day), 0);
    assert_int_equal(order_parse_date("1970-01-01", &day), 0);
    assert_int_equal(day, 0);
    assert_int_equal(order_parse_date("2023-02-29", &day), COFAB_EMALFORMED);
    assert_int_equal(order_parse_date("2023-13-01", &day), COFAB_EMALFORMED);
    assert_int_equal(order_parse_date("2023-1-01", &day), COFAB_EMALFORMED);
    const char *bad[] = {
        "[]",
        "{\"items\": [], \"due_in_days\": 3, \"deliver_to\": {\"lat\": 0, \"lon\": 0}}",
        "{\"items\": [{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 5}], "
        "\"due_in_days\": 3, \"due\": \"2026-01-01\", \"deliver_to\": {\"lat\": 0, \"lon\": 0}}",
        "{\"items\": [{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 5}], "
        "\"due_in_days\": 3, \"deliver_to\": {\"lat\": 91, \"lon\": 0}}",
        "{\"items\": [{\"process\": \"CNC\", \"material\": \"steel\", \"qty\": 5}], "
        "\"due_in_days\": 3, \"deliver_to\": {\"lat\": 0, \"lon\": 0}}",
        "{\"items\": [{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 0}], "
        "\"due_in_days\": 3, \"deliver_to\": {\"lat\": 0, \"lon\": 0}}",
        "{\"items\": [{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 5}], "
        "\"due_in_days\": 3, \"deliver_to\": {\"lat\": 0, \"lon\": 0}, \"budget\": 5}",
        "{\"items\": [{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 5}], "
        "\"due_in_days\": 3, \"deliver_to\": {\"lat\": 0, \"lon\": 0}, \"budget_eur\": -1}",
        "{\"items\": [{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 5},"
        "{\"process\": \"cnc\", \"material\": \"steel\", \"qty\": 6}], "
        "\"due_in_days\": 3, \"deliver_to\": {\"lat\": 0, \"lon\": 0}}",
        "{\"title\": \"a\", \"title\": \"b\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_not_equal(order_from_json(bad[i], strlen(bad[i]), &o, err, sizeof err), 0);
        assert_true(strlen(err) > 0);
    }
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_json),
        cmocka_unit_test(test_submit_is_durable_and_idempotent),
        cmocka_unit_test(test_status_verifies_and_tamper_fails),
        cmocka_unit_test(test_cancel_only_by_its_customer),
        cmocka_unit_test(test_refusals_leave_the_ledger_alone),
        cmocka_unit_test(test_bad_frames_and_the_hub_keeps_serving),
        cmocka_unit_test(test_membership_by_the_operator_only),
        cmocka_unit_test(test_unreachable_hub),
        cmocka_unit_test(test_cli_order_and_member),
    };
    return cmocka_run_group_tests_name("client", tests, s_setup, s_teardown);
}
