/* test_node.c — a factory node against a real in-process hub on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/cli.h"
#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/hub.h"
#include "cofab/net.h"
#include "cofab/node.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "support/fixture.h"

#define S_WAIT_MS 20000 /* upper bound on any wait; none is expected to take long */

/* Polls cond every 20 ms until it holds or ms pass; evaluates to cond. */
#define S_WAIT(cond, ms)                                                                 \
    ({                                                                                   \
        uint64_t end_ = util_mono_ns() + (uint64_t) (ms) * 1000000u;                     \
        while (!(cond) && util_mono_ns() < end_)                                         \
            nanosleep(&(struct timespec){0, 20000000}, NULL);                            \
        (cond);                                                                          \
    })

typedef struct {
    char dir[256];
    keys_t *fab, *cust;                  /* factory, customer */
    keys_public_t hub_pub;               /* hub's public keys */
    config_hub_t *hcfg;                  /* hub configuration */
    hub_t *hub;
    pthread_t hub_thread;
    volatile sig_atomic_t hub_stop;
    config_node_t ncfg;                  /* node configuration, read from ini */
    char ini[300];                       /* fab1.ini */
    node_t *node;
    pthread_t node_thread;
    volatile sig_atomic_t node_stop, node_reload;
    int node_rc;
    void *zctx, *client;                 /* customer DEALER */
    envelope_chain_t chain;              /* customer's author chain */
} s_env_t;

static void *
s_hub_main(void *arg)
{
    s_env_t *env = arg;
    hub_run(env->hub, &env->hub_stop);
    return NULL;
}

static void *
s_node_main(void *arg)
{
    s_env_t *env = arg;
    env->node_rc = node_run(env->node, &env->node_stop, &env->node_reload);
    return NULL;
}

static void
s_write_keys(s_env_t *env, const char *name, keys_t **keep)
{
    char kdir[300];
    snprintf(kdir, sizeof kdir, "%s/keys", env->dir);
    mkdir(kdir, 0700);
    keys_t *k = keys_generate(name);
    assert_non_null(k);
    assert_int_equal(keys_write(k, kdir), 0);
    if (keep)
        *keep = k;
    else
        keys_destroy(&k);
}

static void
s_hub_start(s_env_t *env)
{
    env->hub_stop = 0;
    env->hub = hub_new(env->hcfg);
    assert_non_null(env->hub);
    assert_int_equal(pthread_create(&env->hub_thread, NULL, s_hub_main, env), 0);
}

static void
s_hub_stop(s_env_t *env)
{
    env->hub_stop = 1;
    pthread_join(env->hub_thread, NULL);
    hub_destroy(&env->hub);
}

static void
s_node_new(s_env_t *env)
{
    env->node_stop = 0;
    env->node = node_new(&env->ncfg, env->ini);
    assert_non_null(env->node);
}

static void
s_node_run(s_env_t *env)
{
    assert_int_equal(pthread_create(&env->node_thread, NULL, s_node_main, env), 0);
}

static void
s_node_start(s_env_t *env)
{
    s_node_new(env);
    s_node_run(env);
}

static void
s_node_stop(s_env_t *env)
{
    env->node_stop = 1;
    pthread_join(env->node_thread, NULL);
    assert_int_equal(env->node_rc, 0);
    node_destroy(&env->node);
}

static node_status_t
s_status(s_env_t *env)
{
    node_status_t st;
    node_status(env->node, &st);
    return st;
}

/* Writes a node configuration for fab1 (paths relative to the file). */
static void
s_write_ini(s_env_t *env, char *path, const char *control, int auto_accept, int witness,
            int per_day)
{
    snprintf(path, 300, "%s/fab1.ini", env->dir);
    if (strcmp(control, "node.ctl") != 0)
        snprintf(path, 300, "%s/other.ini", env->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "[node]\nname = fab1\nkey = keys/fab1.key\nhub_pub = keys/hub.pub\n"
               "hub = %s\nfeed = %s\ndata_dir = node\ncontrol = ipc://%s/%s\n"
               "auto_accept = %s\nwitness = %s\nreconnect_max_ms = 500\n\n"
               "[capacity]\nlat = 48.85\nlon = 2.35\nlead_days = 1\nlocation = Paris\n\n"
               "[offer.printing]\nmaterials = paper\nunit_price = 100\nsetup_cost = 1000\n"
               "moq = 1\nmax_qty = 10000\nper_day = %d\n",
            hub_submit_endpoint(env->hub), hub_feed_endpoint(env->hub), env->dir, control,
            auto_accept ? "yes" : "no", witness ? "yes" : "no", per_day);
    fclose(f);
}

/* Keys, hub and node configurations for one factory "fab1"; starts the hub. */
static s_env_t *
s_env_new(int auto_accept, int witness)
{
    s_env_t *env = calloc(1, sizeof *env);
    assert_non_null(env);
    fixture_tmpdir(env->dir);
    s_write_keys(env, "hub", NULL);
    s_write_keys(env, "operator", NULL);
    s_write_keys(env, "fab1", &env->fab);
    env->cust = keys_generate("customer");
    envelope_chain_init(&env->chain);
    char path[400];
    snprintf(path, sizeof path, "%s/keys/hub.pub", env->dir);
    assert_int_equal(keys_public_load(&env->hub_pub, path), 0);

    config_hub_t *h = env->hcfg = calloc(1, sizeof *h);
    snprintf(h->origin, sizeof h->origin, "cofab.test/node");
    snprintf(h->data_dir, sizeof h->data_dir, "%s/hub", env->dir);
    snprintf(h->key, sizeof h->key, "%s/keys/hub.key", env->dir);
    snprintf(h->operator_pub, sizeof h->operator_pub, "%s/keys/operator.pub", env->dir);
    snprintf(h->submit, sizeof h->submit, "tcp://127.0.0.1:*");
    snprintf(h->feed, sizeof h->feed, "tcp://127.0.0.1:*");
    h->batch_window_ms = 1;
    h->max_batch = 64;
    h->checkpoint_every = 4;
    h->checkpoint_ms = 200;
    h->match_interval_ms = 50;
    h->verify_threads = 1;
    h->customer_rate = 0;
    snprintf(h->customers, sizeof h->customers, "open");
    h->ack_timeout_s = 3600;
    snprintf(h->members[0].name, sizeof h->members[0].name, "fab1");
    snprintf(h->members[0].pub, sizeof h->members[0].pub, "%s/keys/fab1.pub", env->dir);
    snprintf(h->members[0].role, sizeof h->members[0].role, "factory");
    h->nmembers = 1;
    matcher_params_default(&h->params);
    s_hub_start(env);

    s_write_ini(env, env->ini, "node.ctl", auto_accept, witness, 100);
    char err[256] = "";
    assert_int_equal(config_node_load(env->ini, &env->ncfg, err, sizeof err), 0);

    env->zctx = zmq_ctx_new();
    env->client = net_client_socket(env->zctx, ZMQ_DEALER, env->cust, env->hub_pub.curve_pk);
    assert_non_null(env->client);
    assert_int_equal(zmq_connect(env->client, env->ncfg.hub), 0);
    return env;
}

static void
s_env_free(s_env_t *env)
{
    if (env->node)
        s_node_stop(env);
    if (env->hub)
        s_hub_stop(env);
    zmq_close(env->client);
    zmq_ctx_term(env->zctx);
    keys_destroy(&env->fab);
    keys_destroy(&env->cust);
    fixture_rmtree(env->dir);
    free(env->hcfg);
    free(env);
}

/* The hub's size and head, read over the wire as a customer. */
static uint64_t
s_hub_size(s_env_t *env, uint8_t head[32])
{
    uint64_t size = 0;
    for (;;) {
        uint8_t body[12];
        util_put_be64(body, size);
        util_put_be32(body + 8, WIRE_MAX_RANGE);
        net_msg_t m;
        assert_int_equal(net_request(env->client, WIRE_GET_RANGE, body, 12, 5000, &m), 0);
        assert_int_equal(m.type, WIRE_RECORDS);
        uint32_t n = util_get_be32(m.body);
        size_t off = 4;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len = util_get_be32(m.body + off);
            if (head)
                merkle_leaf_hash(m.body + off + 4, len, head);
            off += 4 + len;
        }
        net_msg_free(&m);
        size += n;
        if (n == 0)
            return size;
    }
}

/* Submits an order for qty units of printing/paper as the customer. */
static void
s_order(s_env_t *env, int64_t qty, uint8_t id[32])
{
    payload_order_t o;
    memset(&o, 0, sizeof o);
    snprintf(o.items[0].process, sizeof o.items[0].process, "printing");
    snprintf(o.items[0].material, sizeof o.items[0].material, "paper");
    o.items[0].qty = qty;
    o.nitems = 1;
    o.due_day = (uint32_t) (util_now_ms() / 86400000u) + 20;
    o.lat_e6 = 48000000;
    o.lon_e6 = 2000000;
    uint8_t *payload = NULL, *buf = malloc(ENVELOPE_MAX);
    size_t plen = 0, len = 0;
    assert_int_equal(payload_order_encode(&o, &payload, &plen), 0);
    randombytes_buf(id, 32);
    envelope_spec_t spec = {.kind = ENVELOPE_ORDER, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = plen};
    memcpy(spec.subject, id, 32);
    assert_int_equal(
        envelope_chain_seal(&env->chain, &spec, env->cust, buf, ENVELOPE_MAX, &len), 0);
    net_msg_t m;
    assert_int_equal(net_request(env->client, WIRE_SUBMIT, buf, len, 5000, &m), 0);
    assert_int_equal(m.type, WIRE_ACK);
    net_msg_free(&m);
    free(payload);
    free(buf);
}

/* How many records of kind the hub holds about order id (GET_SUBJECT). */
static int
s_count_kind(s_env_t *env, const uint8_t id[32], int kind)
{
    net_msg_t m;
    if (net_request(env->client, WIRE_GET_SUBJECT, id, 32, 5000, &m) != 0)
        return -1;
    int count = 0;
    if (m.type == WIRE_SUBJECT) {
        wire_reader_t r;
        wire_reader_init(&r, m.body, m.len);
        wire_read_bytes(&r, wire_read_u32(&r));
        uint32_t n = wire_read_u32(&r);
        for (uint32_t i = 0; i < n && !r.error; i++) {
            wire_read_u64(&r);
            uint32_t len = wire_read_u32(&r);
            const uint8_t *rec = wire_read_bytes(&r, len);
            wire_read_bytes(&r, (size_t) wire_read_u8(&r) * 32);
            ledger_record_t lr;
            envelope_t e;
            if (rec && ledger_record_decode(&lr, rec, len) == 0 &&
                envelope_decode(&e, lr.envelope, lr.envelope_len) == 0 && e.kind == kind)
                count++;
        }
    }
    net_msg_free(&m);
    return count;
}

/* 1 if the hub's latest checkpoint covers all its records and carries a
 * valid cosignature by fab1. */
static int
s_latest_cosigned(s_env_t *env)
{
    net_msg_t m;
    if (net_request(env->client, WIRE_GET_CHECKPOINT, NULL, 0, 5000, &m) != 0)
        return 0;
    note_t *note = malloc(sizeof *note);
    checkpoint_t cp;
    int ok = m.type == WIRE_CHECKPOINT && note_parse(note, (char *) m.body, m.len) == 0 &&
             checkpoint_parse(&cp, note->body, note->body_len) == 0 &&
             note_verify_cosignature(note, "fab1", keys_sign_pk(env->fab), NULL) == 0;
    free(note);
    net_msg_free(&m);
    return ok && cp.size == s_hub_size(env, NULL);
}

static int
s_caught_up(s_env_t *env)
{
    uint8_t head[32];
    uint64_t size = s_hub_size(env, head);
    node_status_t st = s_status(env);
    return st.size == size && memcmp(st.head, head, 32) == 0;
}

static int
s_policy_state(const char *dir, const uint8_t id[32])
{
    ledger_t *l = NULL;
    ledger_options_t o = {.apply = policy_apply};
    policy_order_t po;
    assert_int_equal(ledger_open(&l, dir, &o), 0);
    int rc = policy_order(l, id, &po);
    ledger_destroy(&l);
    return rc == 0 ? po.state : rc;
}

static void
test_replicates_cosigns_and_accepts(void **state)
{
    (void) state;
    s_env_t *env = s_env_new(1, 1);
    s_node_start(env);
    /* Genesis and our capacity are replicated; the replica equals the hub. */
    assert_true(S_WAIT(s_status(env).capacity_count >= 1, S_WAIT_MS));
    assert_true(S_WAIT(s_caught_up(env), S_WAIT_MS));
    node_status_t st = s_status(env);
    assert_true(st.size >= 2);
    assert_true(st.connected);
    assert_false(st.halted);
    /* It cosigns, and the hub serves our cosignature. */
    assert_true(S_WAIT(s_latest_cosigned(env), S_WAIT_MS));
    /* An order the capacity can make is assigned to us and accepted. */
    uint8_t id[32];
    s_order(env, 50, id);
    assert_true(S_WAIT(s_count_kind(env, id, ENVELOPE_ACCEPT) == 1, S_WAIT_MS));
    assert_true(S_WAIT(s_status(env).accepted == 1, S_WAIT_MS));
    assert_true(S_WAIT(s_caught_up(env), S_WAIT_MS));
    assert_true(S_WAIT(s_latest_cosigned(env), S_WAIT_MS));
    st = s_status(env);
    uint64_t cap_seq = st.capacity_seq;
    s_node_stop(env);
    s_hub_stop(env);

    /* Same records on both sides; same derived state. */
    char hdir[300], ndir[300];
    snprintf(hdir, sizeof hdir, "%s/hub", env->dir);
    snprintf(ndir, sizeof ndir, "%s/node", env->dir);
    assert_int_equal(s_policy_state(hdir, id), POLICY_ACCEPTED);
    assert_int_equal(s_policy_state(ndir, id), POLICY_ACCEPTED);
    ledger_t *h = NULL, *n = NULL;
    assert_int_equal(ledger_open(&h, hdir, NULL), 0);
    assert_int_equal(ledger_open(&n, ndir, NULL), 0);
    uint8_t hh[32], nh[32];
    ledger_head(h, hh);
    ledger_head(n, nh);
    assert_int_equal(ledger_size(h), ledger_size(n));
    assert_memory_equal(hh, nh, 32);
    /* Our capacity record is in the replica, signed by us. */
    uint8_t *rec = NULL;
    size_t len = 0;
    ledger_record_t r;
    envelope_t e;
    assert_int_equal(ledger_get(n, cap_seq, &rec, &len), 0);
    assert_int_equal(ledger_record_decode(&r, rec, len), 0);
    assert_int_equal(envelope_open(&e, r.envelope, r.envelope_len), 0);
    assert_int_equal(e.kind, ENVELOPE_CAPACITY);
    assert_memory_equal(e.author, keys_sign_pk(env->fab), 32);
    free(rec);
    /* The hub's stored latest checkpoint carries our cosignature. */
    char text[LEDGER_CHECKPOINT_MAX];
    note_t *note = malloc(sizeof *note);
    assert_int_equal(ledger_checkpoint_latest(h, text, sizeof text), 0);
    assert_int_equal(note_parse(note, text, strlen(text)), 0);
    assert_int_equal(note_verify_cosignature(note, "fab1", keys_sign_pk(env->fab), NULL), 0);
    free(note);
    ledger_destroy(&h);
    ledger_destroy(&n);
    s_env_free(env);
}

static void
test_restart_catches_up_and_keeps_baseline(void **state)
{
    (void) state;
    s_env_t *env = s_env_new(1, 1);
    s_node_start(env);
    assert_true(S_WAIT(s_status(env).capacity_count >= 1 && s_status(env).cosignatures >= 1,
                       S_WAIT_MS));
    assert_true(S_WAIT(s_caught_up(env), S_WAIT_MS));
    s_node_stop(env);
    /* The durable baseline: the last checkpoint cosigned, with our line. */
    char path[400];
    uint8_t *text = NULL;
    size_t len = 0;
    note_t *note = malloc(sizeof *note);
    checkpoint_t cp;
    snprintf(path, sizeof path, "%s/node/last-cosigned.note", env->dir);
    assert_int_equal(util_read_file(path, NOTE_MAX_LEN, &text, &len), 0);
    assert_int_equal(note_parse(note, (char *) text, len), 0);
    assert_int_equal(note_verify_cosignature(note, "fab1", keys_sign_pk(env->fab), NULL), 0);
    assert_int_equal(checkpoint_parse(&cp, note->body, note->body_len), 0);
    uint64_t first = cp.size;
    free(note);
    free(text);

    /* Records the node has never seen on its feed. */
    uint8_t a[32], b[32];
    s_order(env, 30, a);
    s_order(env, 40, b);
    assert_true(S_WAIT(s_count_kind(env, a, ENVELOPE_ASSIGN) == 1 &&
                           s_count_kind(env, b, ENVELOPE_ASSIGN) == 1,
                       S_WAIT_MS));
    s_node_new(env);
    node_status_t st;
    node_status(env->node, &st);
    assert_int_equal(st.cosigned_size, first); /* the baseline survives a restart */
    assert_int_equal(st.size, 2);             /* and the replica is as we left it */
    s_node_run(env);
    assert_true(S_WAIT(s_count_kind(env, a, ENVELOPE_ACCEPT) == 1 &&
                           s_count_kind(env, b, ENVELOPE_ACCEPT) == 1,
                       S_WAIT_MS));
    assert_true(S_WAIT(s_caught_up(env), S_WAIT_MS));
    /* It cosigns a newer checkpoint, consistent with the old baseline. */
    assert_true(S_WAIT(s_status(env).cosigned_size > first && s_latest_cosigned(env), S_WAIT_MS));
    assert_int_equal(s_status(env).evidence, 0);
    /* A reload re-reads the file and publishes the new capacity. */
    uint64_t before = s_status(env).capacity_count, seq = s_status(env).capacity_seq;
    s_write_ini(env, env->ini, "node.ctl", 1, 1, 80);
    env->node_reload = 1;
    assert_true(S_WAIT(s_status(env).capacity_count == before + 1, S_WAIT_MS));
    assert_int_equal(env->node_reload, 0);
    seq = s_status(env).capacity_seq;
    uint8_t body[12], *rec;
    util_put_be64(body, seq);
    util_put_be32(body + 8, 1);
    net_msg_t m;
    ledger_record_t r;
    envelope_t e;
    payload_capacity_t *cap = malloc(sizeof *cap);
    assert_int_equal(net_request(env->client, WIRE_GET_RANGE, body, 12, 5000, &m), 0);
    assert_int_equal(m.type, WIRE_RECORDS);
    assert_int_equal(util_get_be32(m.body), 1);
    rec = m.body + 8;
    assert_int_equal(ledger_record_decode(&r, rec, util_get_be32(m.body + 4)), 0);
    assert_int_equal(envelope_open(&e, r.envelope, r.envelope_len), 0);
    assert_int_equal(e.kind, ENVELOPE_CAPACITY);
    assert_int_equal(payload_capacity_decode(cap, e.payload, e.payload_len), 0);
    assert_int_equal(cap->offers[0].cap[0], 80);
    free(cap);
    net_msg_free(&m);
    s_env_free(env);
}

static void
test_reconnects_after_hub_restart(void **state)
{
    (void) state;
    s_env_t *env = s_env_new(1, 0);
    s_node_start(env);
    assert_true(S_WAIT(s_status(env).capacity_count >= 1, S_WAIT_MS));
    s_hub_stop(env);
    /* Three missed PINGs: the node declares the hub lost. */
    assert_true(S_WAIT(s_status(env).reconnects >= 1 && !s_status(env).connected, S_WAIT_MS));
    snprintf(env->hcfg->submit, sizeof env->hcfg->submit, "%s", env->ncfg.hub);
    snprintf(env->hcfg->feed, sizeof env->hcfg->feed, "%s", env->ncfg.feed);
    s_hub_start(env);
    assert_true(S_WAIT(s_status(env).connected, S_WAIT_MS));
    uint8_t id[32];
    s_order(env, 20, id);
    assert_true(S_WAIT(s_count_kind(env, id, ENVELOPE_ACCEPT) == 1, S_WAIT_MS));
    assert_true(S_WAIT(s_caught_up(env), S_WAIT_MS));
    s_env_free(env);
}

/* One request on the control socket; returns the reply text. */
static void
s_control(s_env_t *env, const char *const *frames, int n, char *reply, size_t cap)
{
    void *req = zmq_socket(env->zctx, ZMQ_REQ);
    int linger = 0, timeout = S_WAIT_MS;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(zmq_connect(req, env->ncfg.control), 0);
    for (int i = 0; i < n; i++)
        zmq_send(req, frames[i], strlen(frames[i]), i < n - 1 ? ZMQ_SNDMORE : 0);
    int got = zmq_recv(req, reply, cap - 1, 0);
    assert_true(got > 0);
    reply[(size_t) got < cap - 1 ? (size_t) got : cap - 1] = 0;
    zmq_close(req);
}

/* Runs `cofab factory` in-process. */
static int
s_factory(char **argv, int argc)
{
    return factory_main(argc, argv);
}

/* The attachment hash of the last status record about order id. */
static int
s_last_attachment(s_env_t *env, const uint8_t id[32], uint8_t out[32])
{
    int rc = COFAB_ENOTFOUND;
    net_msg_t m;
    if (net_request(env->client, WIRE_GET_SUBJECT, id, 32, 5000, &m) != 0)
        return COFAB_ENET;
    wire_reader_t r;
    wire_reader_init(&r, m.body, m.len);
    wire_read_bytes(&r, wire_read_u32(&r));
    uint32_t n = wire_read_u32(&r);
    for (uint32_t i = 0; i < n && !r.error; i++) {
        wire_read_u64(&r);
        uint32_t len = wire_read_u32(&r);
        const uint8_t *rec = wire_read_bytes(&r, len);
        wire_read_bytes(&r, (size_t) wire_read_u8(&r) * 32);
        ledger_record_t lr;
        envelope_t e;
        payload_status_t ps;
        if (rec && ledger_record_decode(&lr, rec, len) == 0 &&
            envelope_decode(&e, lr.envelope, lr.envelope_len) == 0 &&
            e.kind == ENVELOPE_STATUS &&
            payload_status_decode(&ps, e.payload, e.payload_len) == 0 && ps.has_attachment) {
            memcpy(out, ps.attachment, 32);
            rc = 0;
        }
    }
    net_msg_free(&m);
    return rc;
}

static void
test_operator_control_socket(void **state)
{
    (void) state;
    s_env_t *env = s_env_new(0, 0);
    s_node_start(env);
    assert_true(S_WAIT(s_status(env).capacity_count >= 1, S_WAIT_MS));
    struct stat sb;
    assert_int_equal(stat(env->ncfg.control + 6, &sb), 0);
    assert_true(S_ISSOCK(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);

    uint8_t a[32], b[32];
    char ahex[65], bhex[65], reply[NODE_CONTROL_REPLY_MAX];
    uint8_t att[32];
    s_order(env, 25, a);
    sodium_bin2hex(ahex, sizeof ahex, a, 32);
    assert_true(S_WAIT(s_count_kind(env, a, ENVELOPE_ASSIGN) == 1, S_WAIT_MS));
    assert_true(S_WAIT(s_caught_up(env), S_WAIT_MS));
    assert_int_equal(s_count_kind(env, a, ENVELOPE_ACCEPT), 0); /* no auto-accept */

    /* `cofab factory ...` as the operator types it. */
    char *ini = env->ini, other[300], file[300];
    assert_int_equal(s_factory((char *[]){"factory", "accept", ahex, "--config", ini}, 5), 0);
    assert_int_equal(s_count_kind(env, a, ENVELOPE_ACCEPT), 1);
    assert_int_equal(
        s_factory((char *[]){"factory", "progress", ahex, "in-production", "--config", ini}, 6),
        CLI_OK);
    /* Skipping stages is refused by the hub: exit 1. */
    assert_int_equal(
        s_factory((char *[]){"factory", "progress", ahex, "delivered", "--config", ini}, 6),
        CLI_FAIL);
    snprintf(file, sizeof file, "%s/qc-report.txt", env->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("all good\n", fp);
    fclose(fp);
    assert_int_equal(s_factory((char *[]){"factory", "progress", ahex, "qc-passed", "--attach",
                                          file, "--config", ini},
                               8),
                     CLI_OK);
    assert_int_equal(s_count_kind(env, a, ENVELOPE_STATUS), 2);
    uint8_t digest[32];
    crypto_hash_sha256(digest, (const uint8_t *) "all good\n", 9);
    assert_int_equal(s_last_attachment(env, a, att), 0);
    assert_memory_equal(att, digest, 32);
    /* Usage errors, and a node that is not there. */
    assert_int_equal(s_factory((char *[]){"factory", "accept", ahex}, 3), CLI_USAGE);
    assert_int_equal(s_factory((char *[]){"factory", "accept", "12", "--config", ini}, 5),
                     CLI_USAGE);
    assert_int_equal(
        s_factory((char *[]){"factory", "progress", ahex, "painted", "--config", ini}, 6),
        CLI_USAGE);
    s_write_ini(env, other, "nowhere.ctl", 0, 0, 100);
    assert_int_equal(s_factory((char *[]){"factory", "accept", ahex, "--config", other}, 5),
                     CLI_UNREACHABLE);

    s_order(env, 35, b);
    sodium_bin2hex(bhex, sizeof bhex, b, 32);
    assert_true(S_WAIT(s_count_kind(env, b, ENVELOPE_ASSIGN) == 1, S_WAIT_MS));
    assert_int_equal(s_factory((char *[]){"factory", "decline", bhex, "--reason", "machine down",
                                          "--config", ini},
                               7),
                     CLI_OK);
    assert_true(S_WAIT(s_count_kind(env, b, ENVELOPE_REASSIGN) == 1, S_WAIT_MS));
    /* Not ours any more. */
    assert_int_equal(s_factory((char *[]){"factory", "accept", bhex, "--config", ini}, 5),
                     CLI_FAIL);

    /* Malformed requests get a refusal, never silence. */
    char want[32];
    snprintf(want, sizeof want, "err %d ", COFAB_EMALFORMED);
    s_control(env, (const char *[]){"accept", "xyz"}, 2, reply, sizeof reply);
    assert_memory_equal(reply, want, strlen(want));
    s_control(env, (const char *[]){"frobnicate", ahex}, 2, reply, sizeof reply);
    assert_memory_equal(reply, want, strlen(want));
    s_control(env, (const char *[]){"decline", bhex, ""}, 3, reply, sizeof reply);
    assert_memory_equal(reply, want, strlen(want));
    s_control(env, (const char *[]){"progress", ahex, "shipped", "zz"}, 4, reply, sizeof reply);
    assert_memory_equal(reply, want, strlen(want));
    s_control(env, (const char *[]){"accept", ahex, "a", "b", "c"}, 5, reply, sizeof reply);
    assert_memory_equal(reply, want, strlen(want));
    /* A stopped node removes its socket: the CLI says so at once. */
    s_node_stop(env);
    assert_int_equal(s_factory((char *[]){"factory", "accept", ahex, "--config", ini}, 5),
                     CLI_UNREACHABLE);
    s_env_free(env);
}

static void
test_capacity_build(void **state)
{
    (void) state;
    config_node_t *cfg = calloc(1, sizeof *cfg);
    payload_capacity_t *cap = malloc(sizeof *cap);
    cfg->lat = 45.5;
    cfg->lon = -73.25;
    cfg->lead_days = 2;
    cfg->reserve_pct = 15;
    cfg->horizon_days = 10;
    cfg->valid_days = 7;
    snprintf(cfg->offers[0].process, sizeof cfg->offers[0].process, "cnc");
    snprintf(cfg->offers[0].materials[0], sizeof cfg->offers[0].materials[0], "steel");
    cfg->offers[0].nmaterials = 1;
    cfg->offers[0].moq = 1;
    cfg->offers[0].max_qty = 10;
    cfg->offers[0].per_day = 8;
    cfg->offers[0].days_off = (1u << 5) | (1u << 6); /* Saturday, Sunday */
    cfg->noffers = 1;
    /* Epoch day 0 was a Thursday: days 2 and 3 are the weekend, 9 and 10 too. */
    assert_int_equal(node_capacity_build(cfg, 0, cap), 0);
    assert_int_equal(cap->start_day, 0);
    assert_int_equal(cap->valid_until_day, 6);
    assert_int_equal(cap->lat_e6, 45500000);
    assert_int_equal(cap->lon_e6, -73250000);
    assert_int_equal(cap->reserve_pm, 150);
    assert_int_equal(cap->offers[0].ncap, 10);
    int64_t want[10] = {8, 8, 0, 0, 8, 8, 8, 8, 8, 0};
    for (int d = 0; d < 10; d++)
        assert_int_equal(cap->offers[0].cap[d], want[d]);
    uint8_t *p = NULL;
    size_t plen = 0;
    assert_int_equal(payload_capacity_encode(cap, &p, &plen), 0);
    free(p);
    cfg->reserve_pct = -1;
    cfg->valid_days = 0; /* defaults to the horizon */
    assert_int_equal(node_capacity_build(cfg, 20000, cap), 0);
    assert_int_equal(cap->reserve_pm, -1);
    assert_int_equal(cap->valid_until_day, 20009);
    cfg->lat = 91;
    assert_int_equal(node_capacity_build(cfg, 0, cap), COFAB_EINVAL);
    cfg->lat = 0;
    cfg->noffers = 0;
    assert_int_equal(node_capacity_build(cfg, 0, cap), COFAB_EINVAL);
    free(cap);
    free(cfg);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_build),
        cmocka_unit_test(test_replicates_cosigns_and_accepts),
        cmocka_unit_test(test_restart_catches_up_and_keeps_baseline),
        cmocka_unit_test(test_operator_control_socket),
        cmocka_unit_test(test_reconnects_after_hub_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
