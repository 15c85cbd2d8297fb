/* test_node_evidence.c — a node facing a lying fake hub: it refuses, halts, keeps evidence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/net.h"
#include "cofab/node.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "support/fixture.h"

#define S_WAIT_MS 20000
#define S_ORIGIN "example.org/test"

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
    keys_t *hub, *fab;                   /* fake hub (also operator), the node */
    ledger_t *ledger;                    /* what the fake hub serves */
    void *zctx, *router, *pub;
    net_zap_t *zap;
    long tamper;                         /* position served with a broken signature, -1 none */
    atomic_int cosigns;                  /* COSIGN requests seen */
    atomic_int stop;
    pthread_t thread;
    config_node_t ncfg;
    node_t *node;
    pthread_t node_thread;
    volatile sig_atomic_t node_stop;
    int node_rc;
} s_fake_t;

static int
s_allow(void *arg, const uint8_t key[32], char *user_id)
{
    (void) key;
    s_fake_t *f = arg;
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, keys_sign_pk(f->fab), 32);
    snprintf(user_id, NET_USER_ID_MAX, "m:%s", hex);
    return 0;
}

static void
s_serve(s_fake_t *f, net_msg_t *m)
{
    wire_writer_t w;
    wire_writer_init(&w);
    int type = 0;
    if (m->type == WIRE_GET_RANGE && m->len == 12) {
        uint64_t from = util_get_be64(m->body);
        uint32_t max = util_get_be32(m->body + 8), n = 0;
        uint64_t size = ledger_size(f->ledger);
        wire_write_u32(&w, 0);
        for (uint64_t s = from; s < size && n < max; s++, n++) {
            uint8_t *rec = NULL;
            size_t len = 0;
            assert_int_equal(ledger_get(f->ledger, s, &rec, &len), 0);
            if ((long) s == f->tamper)
                rec[len - 1] ^= 1; /* the envelope's signature no longer verifies */
            wire_write_u32(&w, (uint32_t) len);
            wire_write_bytes(&w, rec, len);
            free(rec);
        }
        util_put_be32(w.data, n);
        type = WIRE_RECORDS;
    } else if (m->type == WIRE_GET_CHECKPOINT) {
        char note[LEDGER_CHECKPOINT_MAX];
        assert_int_equal(ledger_checkpoint_latest(f->ledger, note, sizeof note), 0);
        wire_write_bytes(&w, note, strlen(note));
        type = WIRE_CHECKPOINT;
    } else if (m->type == WIRE_GET_AUTHOR && m->len == 32) {
        uint64_t aseq = 0;
        uint8_t hash[32];
        ledger_author_last(f->ledger, m->body, &aseq, hash);
        wire_write_u64(&w, aseq);
        wire_write_bytes(&w, hash, 32);
        type = WIRE_AUTHOR;
    } else if (m->type == WIRE_COSIGN && m->len > 8) {
        atomic_fetch_add(&f->cosigns, 1);
        wire_write_u64(&w, util_get_be64(m->body));
        wire_write_u8(&w, 0);
        type = WIRE_ACK;
    } else if (m->type == WIRE_PING) {
        type = WIRE_PONG;
    } else {
        wire_err_encode(&w, COFAB_EPERM, "this hub takes nothing");
        type = WIRE_ERR;
    }
    net_send(f->router, m->identity, m->identity_len, type, m->request_id, w.data, w.len);
    wire_writer_free(&w);
}

static void *
s_fake_main(void *arg)
{
    s_fake_t *f = arg;
    while (!atomic_load(&f->stop)) {
        net_msg_t m;
        if (net_recv(f->router, 1, 50, &m) == 0)
            s_serve(f, &m);
        net_msg_free(&m);
    }
    return NULL;
}

static void *
s_node_main(void *arg)
{
    s_fake_t *f = arg;
    f->node_rc = node_run(f->node, &f->node_stop, NULL);
    return NULL;
}

static s_fake_t *
s_fake_new(long tamper)
{
    s_fake_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fixture_tmpdir(f->dir);
    f->tamper = tamper;
    char path[400];
    snprintf(path, sizeof path, "%s/keys", f->dir);
    mkdir(path, 0700);
    f->hub = keys_generate("hub");
    f->fab = keys_generate("fab1");
    assert_int_equal(keys_write(f->hub, path), 0);
    assert_int_equal(keys_write(f->fab, path), 0);

    /* Genesis then two notes, all by the hub (which is also the operator). */
    uint8_t *buf = malloc(ENVELOPE_MAX);
    envelope_t e;
    ledger_options_t o = {.apply = policy_apply};
    fixture_genesis(f->hub, S_ORIGIN, buf, &e);
    snprintf(path, sizeof path, "%s/fakehub", f->dir);
    assert_int_equal(ledger_create(&f->ledger, path, S_ORIGIN, &e, &o), 0);
    envelope_chain_t c = {.next_seq = 2};
    memcpy(c.prev, e.hash, 32);
    for (int i = 0; i < 2; i++) {
        ledger_result_t r;
        fixture_seal(&c, f->hub, ENVELOPE_NOTE, NULL, "a note", buf, &e);
        assert_int_equal(ledger_append(f->ledger, &e, 1, util_now_ms(), &r), 0);
        assert_int_equal(r.code, 0);
    }
    free(buf);
    char note[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_checkpoint_sign(f->ledger, f->hub, note, sizeof note), 0);

    f->zctx = zmq_ctx_new();
    f->zap = net_zap_start(f->zctx, s_allow, f);
    f->router = net_server_socket(f->zctx, ZMQ_ROUTER, f->hub);
    f->pub = net_server_socket(f->zctx, ZMQ_PUB, f->hub);
    assert_int_equal(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_bind(f->pub, "tcp://127.0.0.1:*"), 0);
    config_node_t *n = &f->ncfg;
    size_t len = sizeof n->hub;
    zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, n->hub, &len);
    len = sizeof n->feed;
    zmq_getsockopt(f->pub, ZMQ_LAST_ENDPOINT, n->feed, &len);
    assert_int_equal(pthread_create(&f->thread, NULL, s_fake_main, f), 0);

    snprintf(n->name, sizeof n->name, "fab1");
    snprintf(n->key, sizeof n->key, "%s/keys/fab1.key", f->dir);
    snprintf(n->hub_pub, sizeof n->hub_pub, "%s/keys/hub.pub", f->dir);
    snprintf(n->data_dir, sizeof n->data_dir, "%s/node", f->dir);
    snprintf(n->control, sizeof n->control, "ipc://%.200s/node.ctl", f->dir);
    n->auto_accept = 1;
    n->witness = 1;
    n->reconnect_max_ms = 500;
    n->horizon_days = 10;
    n->reserve_pct = -1;
    snprintf(n->offers[0].process, sizeof n->offers[0].process, "cnc");
    snprintf(n->offers[0].materials[0], sizeof n->offers[0].materials[0], "steel");
    n->offers[0].nmaterials = 1;
    n->offers[0].moq = 1;
    n->offers[0].max_qty = 5;
    n->offers[0].per_day = 5;
    n->noffers = 1;
    f->node = node_new(n, NULL);
    assert_non_null(f->node);
    assert_int_equal(pthread_create(&f->node_thread, NULL, s_node_main, f), 0);
    return f;
}

static void
s_fake_free(s_fake_t *f)
{
    f->node_stop = 1;
    pthread_join(f->node_thread, NULL);
    assert_int_equal(f->node_rc, 0);
    node_destroy(&f->node);
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    zmq_close(f->router);
    zmq_close(f->pub);
    net_zap_destroy(&f->zap);
    zmq_ctx_term(f->zctx);
    ledger_destroy(&f->ledger);
    keys_destroy(&f->hub);
    keys_destroy(&f->fab);
    fixture_rmtree(f->dir);
    free(f);
}

static node_status_t
s_status(s_fake_t *f)
{
    node_status_t st;
    node_status(f->node, &st);
    return st;
}

/* The text of the single evidence file in the node's data dir. */
static char *
s_evidence(s_fake_t *f)
{
    char dir[300], path[600];
    snprintf(dir, sizeof dir, "%s/node", f->dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "evidence-", 9) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            found++;
        }
    }
    closedir(d);
    assert_int_equal(found, 1);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(util_read_file(path, 1 << 20, &buf, &len), 0);
    return (char *) buf;
}

static void
test_refuses_forged_checkpoint(void **state)
{
    (void) state;
    s_fake_t *f = s_fake_new(-1);
    assert_true(S_WAIT(s_status(f).size == 3 && s_status(f).cosignatures == 1, S_WAIT_MS));
    assert_true(atomic_load(&f->cosigns) >= 1);
    char real[LEDGER_CHECKPOINT_MAX];
    assert_int_equal(ledger_checkpoint_latest(f->ledger, real, sizeof real), 0);

    /* Same size, another root, validly signed by the hub key: equivocation. */
    checkpoint_t cp = {.size = 3, .has_chain = 1};
    snprintf(cp.origin, sizeof cp.origin, S_ORIGIN);
    randombytes_buf(cp.root, 32);
    ledger_head(f->ledger, cp.chain);
    char body[NOTE_MAX_LEN], forged[NOTE_MAX_LEN];
    size_t blen = 0;
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &blen), 0);
    assert_int_equal(note_sign(body, blen, "hub", keys_sign_sk(f->hub), forged, sizeof forged), 0);
    uint64_t end = util_mono_ns() + (uint64_t) S_WAIT_MS * 1000000u;
    while (s_status(f).evidence == 0 && util_mono_ns() < end) {
        zmq_send(f->pub, "C", 1, ZMQ_SNDMORE);
        zmq_send(f->pub, forged, strlen(forged), 0);
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    node_status_t st = s_status(f);
    assert_int_equal(st.evidence, 1);
    assert_true(st.halted);
    assert_int_equal(st.cosignatures, 1);
    /* The evidence holds both signed checkpoints. */
    char *text = s_evidence(f);
    assert_non_null(strstr(text, "inconsistent checkpoints"));
    assert_non_null(strstr(text, forged));
    char *cut = strstr(real, "\n\n"); /* the real body: what we cosigned */
    assert_non_null(cut);
    *cut = 0;
    assert_non_null(strstr(text, real));
    free(text);
    /* The durable baseline is still the honest checkpoint. */
    char path[400];
    uint8_t *saved = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/node/last-cosigned.note", f->dir);
    assert_int_equal(util_read_file(path, NOTE_MAX_LEN, &saved, &len), 0);
    assert_memory_equal(saved, real, strlen(real));
    free(saved);
    s_fake_free(f);
}

static void
test_refuses_bad_record(void **state)
{
    (void) state;
    s_fake_t *f = s_fake_new(1);
    assert_true(S_WAIT(s_status(f).halted, S_WAIT_MS));
    node_status_t st = s_status(f);
    assert_int_equal(st.size, 1); /* genesis only */
    assert_int_equal(st.evidence, 1);
    assert_int_equal(st.cosignatures, 0);
    char *text = s_evidence(f);
    assert_non_null(strstr(text, "position: 1\n"));
    assert_non_null(strstr(text, "COFAB_EBADSIG"));
    uint8_t *rec = NULL;
    size_t len = 0;
    assert_int_equal(ledger_get(f->ledger, 1, &rec, &len), 0);
    rec[len - 1] ^= 1;
    char *b64 = malloc(sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL), rec,
                      len, sodium_base64_VARIANT_ORIGINAL);
    assert_non_null(strstr(text, b64));
    free(b64);
    free(rec);
    free(text);
    /* The operator is still served: the request reaches the hub, which refuses. */
    assert_true(S_WAIT(s_status(f).connected, S_WAIT_MS));
    void *ctx = zmq_ctx_new(), *req = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0, timeout = S_WAIT_MS;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal(zmq_connect(req, f->ncfg.control), 0);
    char hex[65], reply[NODE_CONTROL_REPLY_MAX], want[32];
    memset(hex, 'b', 64);
    hex[64] = 0;
    zmq_send(req, "accept", 6, ZMQ_SNDMORE);
    zmq_send(req, hex, 64, 0);
    int got = zmq_recv(req, reply, sizeof reply - 1, 0);
    assert_true(got > 0);
    reply[got] = 0;
    snprintf(want, sizeof want, "err %d ", COFAB_EPERM);
    assert_memory_equal(reply, want, strlen(want));
    zmq_close(req);
    zmq_ctx_term(ctx);
    s_fake_free(f);
}

static void
test_refuses_forked_feed_record(void **state)
{
    (void) state;
    s_fake_t *f = s_fake_new(-1);
    assert_true(S_WAIT(s_status(f).size == 3 && s_status(f).cosignatures == 1, S_WAIT_MS));
    /* Record 1 again on the feed, but not the bytes we hold. */
    uint8_t *rec = NULL, *body;
    size_t len = 0;
    assert_int_equal(ledger_get(f->ledger, 1, &rec, &len), 0);
    body = malloc(8 + len);
    util_put_be64(body, 1);
    memcpy(body + 8, rec, len);
    body[8 + len - 1] ^= 1;
    uint64_t end = util_mono_ns() + (uint64_t) S_WAIT_MS * 1000000u;
    while (s_status(f).evidence == 0 && util_mono_ns() < end) {
        zmq_send(f->pub, "R", 1, ZMQ_SNDMORE);
        zmq_send(f->pub, body, 8 + len, 0);
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    assert_int_equal(s_status(f).evidence, 1);
    assert_true(s_status(f).halted);
    assert_int_equal(s_status(f).size, 3);
    char *text = s_evidence(f);
    assert_non_null(strstr(text, "position: 1\n"));
    assert_non_null(strstr(text, "COFAB_EFORK"));
    free(text);
    free(body);
    free(rec);
    s_fake_free(f);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuses_forged_checkpoint),
        cmocka_unit_test(test_refuses_bad_record),
        cmocka_unit_test(test_refuses_forked_feed_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
