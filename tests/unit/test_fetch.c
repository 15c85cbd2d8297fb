/* test_fetch.c — downloading a hub's ledger: a verified copy, resuming, refusing other logs, dead hubs, wrong keys and lying hubs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/fetch.h"
#include "cofab/ledger.h"
#include "cofab/net.h"
#include "cofab/note.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "cofab/wire.h"
#include "support/fixture.h"
#include "support/hubfix.h"

#define S_FIRST 300     /* orders before the first download */
#define S_MORE 200      /* orders added before the resumed one */

typedef struct {
    hubfix_t *fx;       /* the in-process hub */
    char copy[300];     /* dir the tests download into (subdir "c" of tmp) */
    char tmp[256];      /* that temp dir itself */
} s_env_t;

static int
s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    assert_non_null(env);
    env->fx = hubfix_start("cofab.test/fetch");
    fixture_tmpdir(env->tmp);
    snprintf(env->copy, sizeof env->copy, "%s/c", env->tmp);
    *state = env;
    return 0;
}

static int
s_teardown(void **state)
{
    s_env_t *env = *state;
    hubfix_stop(&env->fx);
    hubfix_stop(&env->fx);
    fixture_rmtree(env->tmp);
    free(env);
    return 0;
}

/* Progress calls seen. */
typedef struct {
    int calls;           /* how many */
    uint64_t done;       /* last done */
    uint64_t total;      /* last total */
    int backwards;       /* 1 if done ever decreased or exceeded total */
} s_progress_t;

static void
s_progress(void *ctx, uint64_t done, uint64_t total)
{
    s_progress_t *p = ctx;
    if (done < p->done || done > total)
        p->backwards = 1;
    p->calls++;
    p->done = done;
    p->total = total;
}

/* The copy in dir holds exactly the hub's first `size` records: same size,
 * root, chain head; and its latest checkpoint is `note`. */
static void
s_assert_copy(s_env_t *env, const char *dir, uint64_t size, const char *note)
{
    ledger_t *copy = NULL, *hub = hubfix_ledger(env->fx);
    assert_int_equal(ledger_open(&copy, dir, NULL), 0);
    assert_int_equal(ledger_size(copy), size);
    assert_string_equal(ledger_origin(copy), "cofab.test/fetch");
    uint8_t a[32], b[32];
    assert_int_equal(ledger_root(copy, size, a), 0);
    assert_int_equal(ledger_root(hub, size, b), 0);
    assert_memory_equal(a, b, 32);
    ledger_head(copy, a);
    assert_int_equal(ledger_tree_node(hub, 0, size - 1, b), 0);
    assert_memory_equal(a, b, 32);
    uint8_t *r1 = NULL, *r2 = NULL;
    size_t l1 = 0, l2 = 0;
    assert_int_equal(ledger_get(copy, size - 1, &r1, &l1), 0);
    assert_int_equal(ledger_get(hub, size - 1, &r2, &l2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(r1, r2, l1);
    free(r1);
    free(r2);
    char *latest = malloc(LEDGER_CHECKPOINT_MAX);
    assert_non_null(latest);
    assert_int_equal(ledger_checkpoint_latest(copy, latest, LEDGER_CHECKPOINT_MAX), 0);
    assert_string_equal(latest, note);
    free(latest);
    ledger_destroy(&copy);
}

static void
test_fetch_copies_then_resumes(void **state)
{
    s_env_t *env = *state;
    char *note1 = malloc(LEDGER_CHECKPOINT_MAX), *note2 = malloc(LEDGER_CHECKPOINT_MAX);
    assert_non_null(note1);
    assert_non_null(note2);
    hubfix_orders(env->fx, S_FIRST);
    uint64_t size1 = hubfix_settle(env->fx, note1, LEDGER_CHECKPOINT_MAX);
    assert_true(size1 > S_FIRST);

    s_progress_t p = {0};
    fetch_options_t o = {.progress = s_progress, .progress_ctx = &p};
    fetch_report_t rep;
    /* No key of our own: a throw-away one (customers are open). */
    assert_int_equal(fetch_ledger(env->fx->ep, &env->fx->hub_pub, NULL, env->copy, &o, &rep), 0);
    assert_int_equal(rep.code, 0);
    assert_string_equal(rep.reason, "");
    assert_int_equal(rep.bad_position, -1);
    assert_int_equal(rep.resumed_from, 0);
    assert_int_equal(rep.fetched, size1);
    assert_int_equal(rep.size, size1);
    assert_int_equal(rep.checkpoint_size, size1);
    assert_int_equal(rep.checkpoint_stored, 1);
    assert_int_equal(rep.complete, 1);
    assert_string_equal(rep.origin, "cofab.test/fetch");
    assert_int_equal(p.backwards, 0);
    assert_true(p.calls >= (int) ((size1 + WIRE_MAX_RANGE - 1) / WIRE_MAX_RANGE));
    assert_int_equal(p.done, size1);
    assert_int_equal(p.total, size1);
    s_assert_copy(env, env->copy, size1, note1);

    /* More on the hub; the same dir continues from where it stood. */
    hubfix_orders(env->fx, S_MORE);
    uint64_t size2 = hubfix_settle(env->fx, note2, LEDGER_CHECKPOINT_MAX);
    assert_true(size2 >= size1 + S_MORE);
    memset(&p, 0, sizeof p);
    assert_int_equal(fetch_ledger(env->fx->ep, &env->fx->hub_pub, NULL, env->copy, &o, &rep), 0);
    assert_int_equal(rep.resumed_from, size1);
    assert_int_equal(rep.fetched, size2 - size1);
    assert_int_equal(rep.size, size2);
    assert_int_equal(rep.checkpoint_size, size2);
    assert_int_equal(rep.checkpoint_stored, 1);
    assert_int_equal(p.done, size2);
    s_assert_copy(env, env->copy, size2, note2);
    /* The first checkpoint is still there, under its own size. */
    ledger_t *copy = NULL;
    char *old = malloc(LEDGER_CHECKPOINT_MAX);
    assert_non_null(old);
    assert_int_equal(ledger_open(&copy, env->copy, NULL), 0);
    assert_int_equal(ledger_checkpoint_get(copy, size1, old, LEDGER_CHECKPOINT_MAX), 0);
    assert_string_equal(old, note1);
    ledger_destroy(&copy);

    /* Nothing new: nothing fetched, still complete. */
    assert_int_equal(fetch_ledger(env->fx->ep, &env->fx->hub_pub, env->fx->alice, env->copy,
                                  NULL, &rep), 0);
    assert_int_equal(rep.resumed_from, size2);
    assert_int_equal(rep.fetched, 0);
    assert_int_equal(rep.complete, 1);
    assert_int_equal(rep.checkpoint_stored, 1);
    free(old);
    free(note1);
    free(note2);
}

/* A download cut short (max_records stands in for a kill: both leave the
 * committed prefix) continues from its size on the next run. */
static void
test_fetch_interrupted_then_resumed(void **state)
{
    s_env_t *env = *state;
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    assert_non_null(note);
    hubfix_orders(env->fx, S_FIRST);
    uint64_t size = hubfix_settle(env->fx, note, LEDGER_CHECKPOINT_MAX);
    s_progress_t p = {0};
    fetch_options_t o = {.batch = 64, .max_records = 100, .progress = s_progress,
                         .progress_ctx = &p};
    fetch_report_t rep;
    assert_int_equal(fetch_ledger(env->fx->ep, &env->fx->hub_pub, NULL, env->copy, &o, &rep), 0);
    assert_int_equal(rep.fetched, 100);
    assert_int_equal(rep.size, 100);
    assert_int_equal(rep.complete, 0);
    assert_int_equal(rep.checkpoint_size, size);
    assert_int_equal(rep.checkpoint_stored, 0);
    assert_int_equal(p.calls, 2); /* 1 + 64, then 35: the genesis came first */
    assert_int_equal(p.done, 100);
    assert_int_equal(p.total, size);
    ledger_t *copy = NULL;
    char *latest = malloc(LEDGER_CHECKPOINT_MAX);
    assert_non_null(latest);
    assert_int_equal(ledger_open(&copy, env->copy, NULL), 0);
    assert_int_equal(ledger_size(copy), 100);
    assert_int_equal(ledger_checkpoint_latest(copy, latest, LEDGER_CHECKPOINT_MAX),
                     COFAB_ENOTFOUND);
    ledger_destroy(&copy);
    free(latest);

    o.max_records = 0;
    assert_int_equal(fetch_ledger(env->fx->ep, &env->fx->hub_pub, NULL, env->copy, &o, &rep), 0);
    assert_int_equal(rep.resumed_from, 100);
    assert_int_equal(rep.fetched, size - 100);
    assert_int_equal(rep.complete, 1);
    assert_int_equal(rep.checkpoint_stored, 1);
    s_assert_copy(env, env->copy, size, note);
    free(note);
}

static void
test_fetch_refuses_another_log(void **state)
{
    s_env_t *env = *state;
    hubfix_orders(env->fx, 10);
    hubfix_settle(env->fx, NULL, 0);
    /* A ledger of another hub in the target dir. */
    keys_t *other = keys_generate("other"), *author = keys_generate("author");
    assert_non_null(other);
    assert_non_null(author);
    ledger_t *l = fixture_ledger(env->copy, other, &author, 1, 20, 0);
    uint8_t root[32], after[32];
    uint64_t size = ledger_size(l);
    assert_int_equal(ledger_root(l, size, root), 0);
    ledger_destroy(&l);
    fetch_report_t rep;
    assert_int_equal(fetch_ledger(env->fx->ep, &env->fx->hub_pub, NULL, env->copy, NULL, &rep),
                     COFAB_EEXIST);
    assert_int_equal(rep.code, COFAB_EEXIST);
    assert_int_equal(rep.bad_position, 0);
    assert_int_equal(rep.fetched, 0);
    assert_non_null(strstr(rep.reason, "another log"));
    assert_int_equal(ledger_open(&l, env->copy, NULL), 0);
    assert_int_equal(ledger_size(l), size);
    assert_int_equal(ledger_root(l, size, after), 0);
    assert_memory_equal(root, after, 32);
    ledger_destroy(&l);

    /* A ledger with derived state (a hub's or node's data dir) is not
     * touched either. */
    char dir2[300];
    snprintf(dir2, sizeof dir2, "%s/state", env->tmp);
    uint8_t *buf = malloc(ENVELOPE_MAX);
    assert_non_null(buf);
    envelope_t g;
    fixture_genesis(other, "example.org/state", buf, &g);
    ledger_options_t lo = {.apply = policy_apply};
    assert_int_equal(ledger_create(&l, dir2, "example.org/state", &g, &lo), 0);
    ledger_destroy(&l);
    assert_int_equal(fetch_ledger(env->fx->ep, &env->fx->hub_pub, NULL, dir2, NULL, &rep),
                     COFAB_EPERM);
    assert_int_equal(rep.bad_position, -1);
    assert_non_null(strstr(rep.reason, "derived state"));
    free(buf);
    keys_destroy(&other);
    keys_destroy(&author);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int
s_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void
test_fetch_unreachable_hub(void **state)
{
    s_env_t *env = *state;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", s_dead_port());
    fetch_options_t o = {.timeout_ms = 300};
    fetch_report_t rep;
    assert_int_equal(fetch_ledger(ep, &env->fx->hub_pub, NULL, env->copy, &o, &rep), COFAB_ENET);
    assert_int_equal(rep.code, COFAB_ENET);
    assert_int_equal(rep.size, 0);
    assert_non_null(strstr(rep.reason, "did not answer"));
    ledger_t *l = NULL;
    assert_int_equal(ledger_open(&l, env->copy, NULL), COFAB_ENOTFOUND); /* nothing created */
    /* Bad arguments. */
    assert_int_equal(fetch_ledger(NULL, &env->fx->hub_pub, NULL, env->copy, &o, &rep),
                     COFAB_EINVAL);
    assert_int_equal(fetch_ledger(ep, NULL, NULL, env->copy, &o, &rep), COFAB_EINVAL);
    assert_int_equal(fetch_ledger(ep, &env->fx->hub_pub, NULL, NULL, &o, &rep), COFAB_EINVAL);
    assert_int_equal(fetch_ledger(ep, &env->fx->hub_pub, NULL, env->copy, &o, NULL),
                     COFAB_EINVAL);
    fetch_options_t big = {.batch = WIRE_MAX_RANGE + 1};
    assert_int_equal(fetch_ledger(ep, &env->fx->hub_pub, NULL, env->copy, &big, &rep),
                     COFAB_EINVAL);
    assert_int_equal(fetch_ledger("not an endpoint", &env->fx->hub_pub, NULL, env->copy, &o,
                                  &rep), COFAB_EINVAL);
}

static void
test_fetch_wrong_hub_key(void **state)
{
    s_env_t *env = *state;
    hubfix_orders(env->fx, 5);
    hubfix_settle(env->fx, NULL, 0);
    fetch_options_t o = {.timeout_ms = 500};
    fetch_report_t rep;
    ledger_t *l = NULL;
    /* Another hub's .pub: its transport key is not the server's, so the
     * CURVE handshake fails and nothing is said at all. */
    keys_t *other = keys_generate("hub");
    assert_non_null(other);
    keys_public_t wrong;
    keys_public(other, &wrong);
    assert_int_equal(fetch_ledger(env->fx->ep, &wrong, NULL, env->copy, &o, &rep), COFAB_ENET);
    assert_int_equal(ledger_open(&l, env->copy, NULL), COFAB_ENOTFOUND);
    /* The right transport key with another signing key: the genesis names
     * the real hub key, so the download is refused before anything. */
    memcpy(wrong.curve_pk, env->fx->hub_pub.curve_pk, 32);
    assert_int_equal(fetch_ledger(env->fx->ep, &wrong, NULL, env->copy, &o, &rep),
                     COFAB_EKEYMISMATCH);
    assert_int_equal(rep.code, COFAB_EKEYMISMATCH);
    assert_int_equal(ledger_open(&l, env->copy, NULL), COFAB_ENOTFOUND);
    keys_destroy(&other);
}

/* ---- A lying hub: serves a local ledger's records and a chosen note ---- */

typedef struct {
    char dir[256];                /* its ledger's temp dir */
    keys_t *keys;                 /* its keys (genesis names them) */
    keys_t *author;               /* signs its note records */
    keys_public_t pub;            /* their public half */
    ledger_t *ledger;             /* what it serves */
    char note[LEDGER_CHECKPOINT_MAX]; /* the checkpoint it serves */
    void *ctx, *router;           /* ZeroMQ */
    net_zap_t *zap;               /* admits every client key */
    char ep[256];                 /* bound endpoint */
    pthread_t thread;             /* serves until stop */
    atomic_int stop;              /* set to end the thread */
} s_liar_t;

static int
s_allow(void *arg, const uint8_t key[32], char *user_id)
{
    (void) arg;
    (void) key;
    snprintf(user_id, NET_USER_ID_MAX, "c:any");
    return 0;
}

static void
s_liar_range(s_liar_t *h, const net_msg_t *m)
{
    wire_reader_t r;
    wire_reader_init(&r, m->body, m->len);
    uint64_t from = wire_read_u64(&r);
    uint32_t max = wire_read_u32(&r), n = 0;
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u32(&w, 0);
    for (uint64_t s = from; !wire_reader_end(&r) && n < max && s < ledger_size(h->ledger); s++) {
        uint8_t *rec = NULL;
        size_t len = 0;
        if (ledger_get(h->ledger, s, &rec, &len) != 0)
            break; /* no cmocka asserts off the test thread */
        wire_write_u32(&w, (uint32_t) len);
        wire_write_bytes(&w, rec, len);
        free(rec);
        n++;
    }
    util_put_be32(w.data, n);
    net_send(h->router, m->identity, m->identity_len, WIRE_RECORDS, m->request_id, w.data, w.len);
    wire_writer_free(&w);
}

static void *
s_liar_main(void *arg)
{
    s_liar_t *h = arg;
    while (!atomic_load(&h->stop)) {
        net_msg_t m;
        if (net_recv(h->router, 1, 20, &m) != 0)
            continue;
        if (m.type == WIRE_GET_RANGE)
            s_liar_range(h, &m);
        else if (m.type == WIRE_GET_CHECKPOINT)
            net_send(h->router, m.identity, m.identity_len, WIRE_CHECKPOINT, m.request_id,
                     h->note, strlen(h->note));
        net_msg_free(&m);
    }
    return NULL;
}

/* n note records; edit (may be NULL) changes the closed ledger first. */
static s_liar_t *
s_liar_start(size_t n, void (*edit)(s_liar_t *h))
{
    s_liar_t *h = calloc(1, sizeof *h);
    assert_non_null(h);
    fixture_tmpdir(h->dir);
    h->keys = keys_generate("liar");
    assert_non_null(h->keys);
    keys_public(h->keys, &h->pub);
    h->author = keys_generate("author");
    assert_non_null(h->author);
    h->ledger = fixture_ledger(h->dir, h->keys, &h->author, 1, n, 0);
    assert_int_equal(ledger_checkpoint_latest(h->ledger, h->note, sizeof h->note), 0);
    ledger_destroy(&h->ledger);
    if (edit)
        edit(h);
    assert_int_equal(ledger_open(&h->ledger, h->dir, NULL), 0);
    h->ctx = zmq_ctx_new();
    assert_non_null(h->ctx);
    h->zap = net_zap_start(h->ctx, s_allow, NULL);
    assert_non_null(h->zap);
    h->router = net_server_socket(h->ctx, ZMQ_ROUTER, h->keys);
    assert_non_null(h->router);
    assert_int_equal(zmq_bind(h->router, "tcp://127.0.0.1:*"), 0);
    size_t len = sizeof h->ep;
    assert_int_equal(zmq_getsockopt(h->router, ZMQ_LAST_ENDPOINT, h->ep, &len), 0);
    assert_int_equal(pthread_create(&h->thread, NULL, s_liar_main, h), 0);
    return h;
}

static void
s_liar_stop(s_liar_t **h_p)
{
    s_liar_t *h = *h_p;
    atomic_store(&h->stop, 1);
    pthread_join(h->thread, NULL);
    zmq_close(h->router);
    net_zap_destroy(&h->zap);
    zmq_ctx_term(h->ctx);
    ledger_destroy(&h->ledger);
    keys_destroy(&h->keys);
    keys_destroy(&h->author);
    fixture_rmtree(h->dir);
    free(h);
    *h_p = NULL;
}

#define S_LIAR_N 400     /* note records the lying hub holds (plus genesis) */
#define S_BAD_AT 300     /* position it corrupts */

/* The signature of record S_BAD_AT no longer verifies. */
static void
s_edit_bad_sig(s_liar_t *h)
{
    ledger_t *l = NULL;
    uint8_t *rec = NULL;
    size_t len = 0;
    assert_int_equal(ledger_open(&l, h->dir, NULL), 0);
    assert_int_equal(ledger_get(l, S_BAD_AT, &rec, &len), 0);
    ledger_destroy(&l);
    free(rec);
    assert_int_equal(fixture_flip_record_byte(h->dir, S_BAD_AT, len - 1), 0);
}

/* Records S_BAD_AT and S_BAD_AT + 1 trade places. */
static void
s_edit_swap(s_liar_t *h)
{
    assert_int_equal(fixture_swap_records(h->dir, S_BAD_AT, S_BAD_AT + 1), 0);
}

static void
test_fetch_refuses_lying_hub_records(void **state)
{
    s_env_t *env = *state;
    void (*edits[])(s_liar_t *) = {s_edit_bad_sig, s_edit_swap};
    int codes[] = {COFAB_EBADSIG, COFAB_ERANGE};
    for (size_t i = 0; i < 2; i++) {
        s_liar_t *h = s_liar_start(S_LIAR_N, edits[i]);
        char dir[300];
        snprintf(dir, sizeof dir, "%s/liar%zu", env->tmp, i);
        fetch_report_t rep;
        assert_int_equal(fetch_ledger(h->ep, &h->pub, NULL, dir, NULL, &rep), codes[i]);
        assert_int_equal(rep.code, codes[i]);
        assert_int_equal(rep.bad_position, S_BAD_AT);
        /* Everything before the bad record is kept (a valid prefix). */
        assert_int_equal(rep.size, S_BAD_AT);
        assert_int_equal(rep.checkpoint_stored, 0);
        assert_non_null(strstr(rep.reason, "record 300"));
        ledger_t *l = NULL;
        assert_int_equal(ledger_open(&l, dir, NULL), 0);
        assert_int_equal(ledger_size(l), S_BAD_AT);
        ledger_destroy(&l);
        s_liar_stop(&h);
    }
}

static void
test_fetch_refuses_checkpoint_of_another_tree(void **state)
{
    s_env_t *env = *state;
    s_liar_t *h = s_liar_start(50, NULL);
    /* A checkpoint the hub really signed, over a root its records do not
     * have. */
    checkpoint_t cp;
    assert_int_equal(checkpoint_from_note(&cp, h->note, strlen(h->note)), 0);
    cp.root[5] ^= 0x40;
    char body[1024];
    size_t blen = 0;
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &blen), 0);
    assert_int_equal(note_sign(body, blen, keys_name(h->keys), keys_sign_sk(h->keys), h->note,
                               sizeof h->note), 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/fork", env->tmp);
    fetch_report_t rep;
    assert_int_equal(fetch_ledger(h->ep, &h->pub, NULL, dir, NULL, &rep), COFAB_EROOT);
    assert_int_equal(rep.checkpoint_size, 51);
    assert_int_equal(rep.checkpoint_stored, 0);
    assert_int_equal(rep.bad_position, 50);
    ledger_t *l = NULL;
    char *latest = malloc(LEDGER_CHECKPOINT_MAX);
    assert_non_null(latest);
    assert_int_equal(ledger_open(&l, dir, NULL), 0);
    assert_int_equal(ledger_checkpoint_latest(l, latest, LEDGER_CHECKPOINT_MAX), COFAB_ENOTFOUND);
    ledger_destroy(&l);
    /* A note signed by someone else is refused before any record. */
    keys_t *mallory = keys_generate("liar");
    assert_non_null(mallory);
    assert_int_equal(checkpoint_from_note(&cp, h->note, strlen(h->note)), 0);
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &blen), 0);
    assert_int_equal(note_sign(body, blen, "liar", keys_sign_sk(mallory), h->note,
                               sizeof h->note), 0);
    snprintf(dir, sizeof dir, "%s/forged", env->tmp);
    assert_int_equal(fetch_ledger(h->ep, &h->pub, NULL, dir, NULL, &rep), COFAB_ENOTFOUND);
    assert_non_null(strstr(rep.reason, "not signed by hub key"));
    assert_int_equal(ledger_open(&l, dir, NULL), COFAB_ENOTFOUND);
    keys_destroy(&mallory);
    free(latest);
    s_liar_stop(&h);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fetch_copies_then_resumes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_interrupted_then_resumed, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_refuses_another_log, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_unreachable_hub, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_wrong_hub_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_refuses_lying_hub_records, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_refuses_checkpoint_of_another_tree, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
