/* test_equivocation.c — a hub showing two histories: nodes and customers catch it on two signed checkpoints. */
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
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/client.h"
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

/* A fake hub with two histories forked after a common prefix of 2 records:
 * A = prefix + 1 note (checkpoint A@3); B = prefix + 2 other notes
 * (checkpoints B@3 and B@4). It serves whichever `view` says. */
typedef struct {
    char dir[256];
    keys_t *hub, *fab;                   /* hub (also operator), the node */
    ledger_t *hist[2];                   /* A, B */
    envelope_chain_t chain[2];           /* the hub's author chain in each */
    atomic_int view;                     /* 0: A, 1: B */
    void *zctx, *router, *pub;
    net_zap_t *zap;
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
    ledger_t *l = f->hist[atomic_load(&f->view)];
    wire_writer_t w;
    wire_writer_init(&w);
    int type = 0;
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
    size_t k = 0;
    if (m->type == WIRE_GET_RANGE && m->len == 12) {
        uint64_t from = util_get_be64(m->body), size = ledger_size(l);
        uint32_t max = util_get_be32(m->body + 8), n = 0;
        wire_write_u32(&w, 0);
        for (uint64_t s = from; s < size && n < max; s++, n++) {
            uint8_t *rec = NULL;
            size_t len = 0;
            assert_int_equal(ledger_get(l, s, &rec, &len), 0);
            wire_write_u32(&w, (uint32_t) len);
            wire_write_bytes(&w, rec, len);
            free(rec);
        }
        util_put_be32(w.data, n);
        type = WIRE_RECORDS;
    } else if (m->type == WIRE_GET_CHECKPOINT) {
        char note[LEDGER_CHECKPOINT_MAX];
        assert_int_equal(ledger_checkpoint_latest(l, note, sizeof note), 0);
        wire_write_bytes(&w, note, strlen(note));
        type = WIRE_CHECKPOINT;
    } else if (m->type == WIRE_GET_CONSISTENCY && m->len == 16 &&
               ledger_consistency_proof(l, util_get_be64(m->body), util_get_be64(m->body + 8),
                                        proof, &k) == 0) {
        wire_write_u8(&w, (uint8_t) k);
        for (size_t i = 0; i < k; i++)
            wire_write_bytes(&w, proof[i], MERKLE_HASH_LEN);
        type = WIRE_CONSISTENCY;
    } else if (m->type == WIRE_GET_AUTHOR && m->len == 32) {
        uint64_t aseq = 0;
        uint8_t hash[32];
        ledger_author_last(l, m->body, &aseq, hash);
        wire_write_u64(&w, aseq);
        wire_write_bytes(&w, hash, 32);
        type = WIRE_AUTHOR;
    } else if (m->type == WIRE_COSIGN && m->len > 8) {
        wire_write_u64(&w, util_get_be64(m->body));
        wire_write_u8(&w, 0);
        type = WIRE_ACK;
    } else if (m->type == WIRE_PING) {
        type = WIRE_PONG;
    } else {
        wire_err_encode(&w, COFAB_EPERM, "not here");
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

/* Appends one hub note to history h and signs a checkpoint of it. */
static void
s_grow(s_fake_t *f, int h, const char *text)
{
    uint8_t *buf = malloc(ENVELOPE_MAX);
    envelope_t e;
    ledger_result_t r;
    char note[LEDGER_CHECKPOINT_MAX];
    fixture_seal(&f->chain[h], f->hub, ENVELOPE_NOTE, NULL, text, buf, &e);
    assert_int_equal(ledger_append(f->hist[h], &e, 1, util_now_ms(), &r), 0);
    assert_int_equal(r.code, 0);
    assert_int_equal(ledger_checkpoint_sign(f->hist[h], f->hub, note, sizeof note), 0);
    free(buf);
}

static s_fake_t *
s_fake_new(void)
{
    s_fake_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    fixture_tmpdir(f->dir);
    char path[400];
    snprintf(path, sizeof path, "%s/keys", f->dir);
    mkdir(path, 0700);
    f->hub = keys_generate("hub");
    f->fab = keys_generate("fab1");
    assert_int_equal(keys_write(f->hub, path), 0);
    assert_int_equal(keys_write(f->fab, path), 0);

    /* The common prefix: genesis and a note, then B as a replica of it. */
    uint8_t *buf = malloc(ENVELOPE_MAX), *rec = NULL;
    size_t len = 0;
    envelope_t e, g;
    ledger_result_t r;
    ledger_record_t lr;
    ledger_options_t o = {.apply = policy_apply};
    fixture_genesis(f->hub, S_ORIGIN, buf, &e);
    snprintf(path, sizeof path, "%s/hist-a", f->dir);
    assert_int_equal(ledger_create(&f->hist[0], path, S_ORIGIN, &e, &o), 0);
    f->chain[0] = (envelope_chain_t){.next_seq = 2};
    memcpy(f->chain[0].prev, e.hash, 32);
    s_grow(f, 0, "common");
    snprintf(path, sizeof path, "%s/hist-b", f->dir);
    for (uint64_t s = 0; s < 2; s++) {
        assert_int_equal(ledger_get(f->hist[0], s, &rec, &len), 0);
        assert_int_equal(ledger_record_decode(&lr, rec, len), 0);
        assert_int_equal(envelope_open(&g, lr.envelope, lr.envelope_len), 0);
        if (s == 0)
            assert_int_equal(ledger_create_replica(&f->hist[1], path, S_ORIGIN, &lr, &g, &o), 0);
        else
            assert_int_equal(ledger_replicate(f->hist[1], &lr, &g, 1, &r), 0);
        free(rec);
    }
    free(buf);
    f->chain[1] = f->chain[0];
    s_grow(f, 0, "history A");
    s_grow(f, 1, "history B");
    s_grow(f, 1, "history B goes on");

    f->zctx = zmq_ctx_new();
    f->zap = net_zap_start(f->zctx, s_allow, f);
    f->router = net_server_socket(f->zctx, ZMQ_ROUTER, f->hub);
    f->pub = net_server_socket(f->zctx, ZMQ_PUB, f->hub);
    assert_int_equal(zmq_bind(f->router, "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_bind(f->pub, "tcp://127.0.0.1:*"), 0);
    config_node_t *n = &f->ncfg;
    len = sizeof n->hub;
    zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, n->hub, &len);
    len = sizeof n->feed;
    zmq_getsockopt(f->pub, ZMQ_LAST_ENDPOINT, n->feed, &len);
    assert_int_equal(pthread_create(&f->thread, NULL, s_fake_main, f), 0);

    snprintf(n->name, sizeof n->name, "fab1");
    snprintf(n->key, sizeof n->key, "%s/keys/fab1.key", f->dir);
    snprintf(n->hub_pub, sizeof n->hub_pub, "%s/keys/hub.pub", f->dir);
    snprintf(n->data_dir, sizeof n->data_dir, "%s/node", f->dir);
    snprintf(n->control, sizeof n->control, "ipc://%.200s/node.ctl", f->dir);
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
    return f;
}

static void *
s_node_main(void *arg)
{
    s_fake_t *f = arg;
    f->node_rc = node_run(f->node, &f->node_stop, NULL);
    return NULL;
}

static void
s_node_start(s_fake_t *f)
{
    f->node_stop = 0;
    f->node = node_new(&f->ncfg, NULL);
    assert_non_null(f->node);
    assert_int_equal(pthread_create(&f->node_thread, NULL, s_node_main, f), 0);
}

static void
s_node_stop(s_fake_t *f)
{
    if (!f->node)
        return;
    f->node_stop = 1;
    pthread_join(f->node_thread, NULL);
    assert_int_equal(f->node_rc, 0);
    node_destroy(&f->node);
}

static void
s_fake_free(s_fake_t *f)
{
    s_node_stop(f);
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    zmq_close(f->router);
    zmq_close(f->pub);
    net_zap_destroy(&f->zap);
    zmq_ctx_term(f->zctx);
    ledger_destroy(&f->hist[0]);
    ledger_destroy(&f->hist[1]);
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

/* History h's stored checkpoint of size (0: latest), in note. */
static void
s_note(s_fake_t *f, int h, uint64_t size, char *note)
{
    if (size)
        assert_int_equal(ledger_checkpoint_get(f->hist[h], size, note, LEDGER_CHECKPOINT_MAX), 0);
    else
        assert_int_equal(ledger_checkpoint_latest(f->hist[h], note, LEDGER_CHECKPOINT_MAX), 0);
}

/* Publishes a note on the feed until cond holds (the SUB may join late). */
#define S_PUBLISH_UNTIL(f, note, cond)                                                   \
    do {                                                                                 \
        uint64_t end_ = util_mono_ns() + (uint64_t) S_WAIT_MS * 1000000u;                \
        while (!(cond) && util_mono_ns() < end_) {                                       \
            zmq_send((f)->pub, "C", 1, ZMQ_SNDMORE);                                     \
            zmq_send((f)->pub, (note), strlen(note), 0);                                 \
            nanosleep(&(struct timespec){0, 50000000}, NULL);                            \
        }                                                                                \
    } while (0)

/* The number of evidence files in dir, and the text of the last one. */
static int
s_evidence(const char *dir, char **text)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    char path[600] = "";
    int found = 0;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "evidence-", 9) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            found++;
        }
    closedir(d);
    *text = NULL;
    size_t len = 0;
    if (found)
        assert_int_equal(util_read_file(path, 1 << 20, (uint8_t **) text, &len), 0);
    return found;
}

/* The evidence holds both signed notes: the body of what the node
 * cosigned (A@3), and the other history's checkpoint as the hub sent it. */
static void
s_assert_two_notes(s_fake_t *f, const char *other)
{
    char dir[300], a[LEDGER_CHECKPOINT_MAX], *text = NULL;
    snprintf(dir, sizeof dir, "%s/node", f->dir);
    assert_int_equal(s_evidence(dir, &text), 1);
    assert_non_null(strstr(text, "inconsistent checkpoints"));
    assert_non_null(strstr(text, "consistency proof 3 -> 4"));
    assert_non_null(strstr(text, other));
    s_note(f, 0, 3, a);
    *strstr(a, "\n\n") = 0; /* the body: the node's copy carries its cosignature */
    assert_non_null(strstr(text, a));
    free(text);
}

/* A node that cosigned A@3 is shown the longer history B@4 on the feed:
 * the hub's consistency proof is checked before any record is fetched,
 * so the evidence is the two signed checkpoints, not an unlinked record. */
static void
test_node_longer_fork_on_feed(void **state)
{
    (void) state;
    s_fake_t *f = s_fake_new();
    s_node_start(f);
    assert_true(S_WAIT(s_status(f).cosigned_size == 3, S_WAIT_MS));
    char b[LEDGER_CHECKPOINT_MAX];
    s_note(f, 1, 0, b);
    atomic_store(&f->view, 1);
    S_PUBLISH_UNTIL(f, b, s_status(f).evidence > 0);
    node_status_t st = s_status(f);
    assert_int_equal(st.evidence, 1);
    assert_true(st.halted);
    assert_int_equal(st.size, 3); /* not one record of B */
    assert_int_equal(st.cosigned_size, 3);
    s_assert_two_notes(f, b);
    s_fake_free(f);
}

/* The same fork met by a node reconnecting with its cosigned baseline:
 * the hub's checkpoint is checked before the catch-up. */
static void
test_node_longer_fork_on_reconnect(void **state)
{
    (void) state;
    s_fake_t *f = s_fake_new();
    s_node_start(f);
    assert_true(S_WAIT(s_status(f).cosigned_size == 3, S_WAIT_MS));
    s_node_stop(f);
    atomic_store(&f->view, 1);
    s_node_start(f);
    assert_true(S_WAIT(s_status(f).halted, S_WAIT_MS));
    assert_int_equal(s_status(f).size, 3);
    char b[LEDGER_CHECKPOINT_MAX];
    s_note(f, 1, 0, b);
    s_assert_two_notes(f, b);
    s_fake_free(f);
}

/* An honest hub that grows is still followed: live (a checkpoint beyond
 * the replica, proven, then caught up) and across a reconnect. */
static void
test_node_follows_honest_growth(void **state)
{
    (void) state;
    s_fake_t *f = s_fake_new();
    s_node_start(f);
    assert_true(S_WAIT(s_status(f).cosigned_size == 3, S_WAIT_MS));
    s_grow(f, 0, "more");
    s_grow(f, 0, "and more");
    char a[LEDGER_CHECKPOINT_MAX];
    s_note(f, 0, 0, a);
    S_PUBLISH_UNTIL(f, a, s_status(f).cosigned_size == 5);
    assert_int_equal(s_status(f).cosigned_size, 5);
    s_node_stop(f);
    s_grow(f, 0, "while it was away");
    s_node_start(f);
    assert_true(S_WAIT(s_status(f).cosigned_size == 6, S_WAIT_MS));
    node_status_t st = s_status(f);
    assert_int_equal(st.size, 6);
    assert_int_equal(st.evidence, 0);
    assert_false(st.halted);
    s_fake_free(f);
}

/* A customer's remembered checkpoint: the first is saved, growth is
 * proven and remembered, an older consistent one changes nothing, and
 * another history, of the same size or longer, is a split with evidence. */
static void
test_client_tracks_checkpoints(void **state)
{
    (void) state;
    s_fake_t *f = s_fake_new();
    keys_t *me = keys_generate("reader");
    client_t *c = client_new(f->ncfg.hub, me, keys_curve_pk(f->hub));
    assert_non_null(c);
    client_trust_t *t = calloc(1, sizeof *t);
    keys_verifier(f->hub, &t->hub);
    snprintf(t->origin, sizeof t->origin, S_ORIGIN);
    char dir[300], path[400], why[CLIENT_REASON_MAX], a3[LEDGER_CHECKPOINT_MAX],
        b3[LEDGER_CHECKPOINT_MAX], b4[LEDGER_CHECKPOINT_MAX], a5[LEDGER_CHECKPOINT_MAX];
    char hexid[9], *text = NULL;
    snprintf(dir, sizeof dir, "%s/customer", f->dir);
    sodium_bin2hex(hexid, sizeof hexid, t->hub.keyid, 4);
    snprintf(path, sizeof path, "%s/hub-%s.checkpoint", dir, hexid);
    s_note(f, 0, 3, a3);
    s_note(f, 1, 3, b3);
    s_note(f, 1, 4, b4);
    uint8_t *saved = NULL;
    size_t len = 0;
#define S_SAVED_IS(note)                                                                 \
    do {                                                                                 \
        assert_int_equal(util_read_file(path, NOTE_MAX_LEN, &saved, &len), 0);           \
        assert_string_equal((char *) saved, note);                                       \
        free(saved);                                                                     \
    } while (0)

    /* First sight, then the same one again. */
    assert_int_equal(client_checkpoint_track(c, t, dir, a3, strlen(a3), 5000, why), 0);
    S_SAVED_IS(a3);
    assert_int_equal(client_checkpoint_track(c, t, dir, a3, strlen(a3), 5000, why), 0);
    /* Same size, another root: no proof needed to call it a split. */
    assert_int_equal(client_checkpoint_track(c, t, dir, b3, strlen(b3), 5000, why),
                     COFAB_EINCONSISTENT);
    assert_non_null(strstr(why, "SPLIT VIEW"));
    assert_int_equal(s_evidence(dir, &text), 1);
    assert_non_null(strstr(text, a3));
    assert_non_null(strstr(text, b3));
    free(text);
    S_SAVED_IS(a3);
    /* History A grows: the hub proves it, the newer one is remembered. */
    s_grow(f, 0, "four");
    s_grow(f, 0, "five");
    s_note(f, 0, 0, a5);
    assert_int_equal(client_checkpoint_track(c, t, dir, a5, strlen(a5), 5000, why), 0);
    S_SAVED_IS(a5);
    /* An older checkpoint of the same history is fine and forgets nothing. */
    assert_int_equal(client_checkpoint_track(c, t, dir, a3, strlen(a3), 5000, why), 0);
    S_SAVED_IS(a5);
    /* The hub now shows history B: B@4 is no prefix of A@5. */
    atomic_store(&f->view, 1);
    assert_int_equal(client_checkpoint_track(c, t, dir, b4, strlen(b4), 5000, why),
                     COFAB_EINCONSISTENT);
    assert_int_equal(s_evidence(dir, &text) >= 2, 1);
    free(text);
    S_SAVED_IS(a5);
    /* Nor is A@3 a prefix of B@4, if the customer had only seen A@3. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(client_checkpoint_track(c, t, dir, a3, strlen(a3), 5000, why), 0);
    assert_int_equal(client_checkpoint_track(c, t, dir, b4, strlen(b4), 5000, why),
                     COFAB_EINCONSISTENT);
    S_SAVED_IS(a3);

    /* A note not signed by this hub is refused and not remembered. */
    keys_t *other = keys_generate("hub");
    char forged[NOTE_MAX_LEN];
    const char *body_end = strstr(b4, "\n\n");
    assert_int_equal(note_sign(b4, (size_t) (body_end - b4) + 1, "hub", keys_sign_sk(other),
                               forged, sizeof forged), 0);
    assert_int_not_equal(client_checkpoint_track(c, t, dir, forged, strlen(forged), 5000, why), 0);
    S_SAVED_IS(a3);
    /* A damaged state file is reported and left alone. */
    FILE *fp = fopen(path, "w");
    fputs("not a note\n", fp);
    fclose(fp);
    assert_int_not_equal(client_checkpoint_track(c, t, dir, a3, strlen(a3), 5000, why), 0);
    assert_non_null(strstr(why, "move it away"));
    S_SAVED_IS("not a note\n");
#undef S_SAVED_IS
    keys_destroy(&other);
    free(t);
    client_destroy(&c);
    keys_destroy(&me);
    s_fake_free(f);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_longer_fork_on_feed),
        cmocka_unit_test(test_node_longer_fork_on_reconnect),
        cmocka_unit_test(test_node_follows_honest_growth),
        cmocka_unit_test(test_client_tracks_checkpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
