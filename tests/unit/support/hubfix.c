/* hubfix.c — an in-process hub on 127.0.0.1 for the tests, and fast ways to fill its ledger. */
#include "support/hubfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/client.h"
#include "cofab/error.h"
#include "cofab/matcher.h"
#include "cofab/net.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/util.h"
#include "cofab/wire.h"
#include "support/fixture.h"
/* White-box: the hub's ledger, so tests can compare against it. */
#include "../../../node/hub_internal.h"

#define S_WAIT_MS 10000          /* longest wait for one ACK */
#define S_SETTLE_ROUNDS 400      /* x 50 ms */

#define S_CHECK(cond)                                                               \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "hubfix failure at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                \
        }                                                                           \
    } while (0)

static void *
s_hub_main(void *arg)
{
    hubfix_t *fx = arg;
    hub_run(fx->hub, &fx->stop);
    return NULL;
}

/* Generates a key pair and writes its files into fx->dir. */
static keys_t *
s_keys(hubfix_t *fx, const char *name)
{
    keys_t *k = keys_generate(name);
    S_CHECK(k != NULL);
    S_CHECK(keys_write(k, fx->dir) == 0);
    return k;
}

hubfix_t *
hubfix_start(const char *origin)
{
    return hubfix_start_rate(origin, 0);
}

hubfix_t *
hubfix_start_rate(const char *origin, uint32_t customer_rate)
{
    S_CHECK(sodium_init() >= 0);
    hubfix_t *fx = calloc(1, sizeof *fx);
    S_CHECK(fx != NULL);
    fixture_tmpdir(fx->dir);
    keys_t *hub = s_keys(fx, "hub");
    keys_destroy(&hub);
    fx->op = s_keys(fx, "operator");
    fx->acme = s_keys(fx, "acme");
    fx->alice = keys_generate("alice");
    S_CHECK(fx->alice != NULL);
    envelope_chain_init(&fx->alice_chain);
    snprintf(fx->hub_pub_path, sizeof fx->hub_pub_path, "%s/hub.pub", fx->dir);
    S_CHECK(keys_public_load(&fx->hub_pub, fx->hub_pub_path) == 0);

    config_hub_t *h = fx->cfg = calloc(1, sizeof *h);
    S_CHECK(h != NULL);
    snprintf(h->origin, sizeof h->origin, "%s", origin);
    snprintf(h->data_dir, sizeof h->data_dir, "%s/ledger", fx->dir);
    snprintf(h->key, sizeof h->key, "%s/hub.key", fx->dir);
    snprintf(h->operator_pub, sizeof h->operator_pub, "%s/operator.pub", fx->dir);
    snprintf(h->submit, sizeof h->submit, "tcp://127.0.0.1:*");
    snprintf(h->feed, sizeof h->feed, "tcp://127.0.0.1:*");
    h->batch_window_ms = 2;
    h->max_batch = 512;
    h->checkpoint_every = 1;
    h->checkpoint_ms = 50;
    h->match_interval_ms = 50;
    h->verify_threads = 2;
    h->customer_rate = customer_rate;
    snprintf(h->customers, sizeof h->customers, "open");
    h->ack_timeout_s = 3600;
    snprintf(h->members[0].name, sizeof h->members[0].name, "acme");
    snprintf(h->members[0].pub, sizeof h->members[0].pub, "%s/acme.pub", fx->dir);
    snprintf(h->members[0].role, sizeof h->members[0].role, "factory");
    h->nmembers = 1;
    matcher_params_default(&h->params);
    fx->hub = hub_new(h);
    S_CHECK(fx->hub != NULL);
    fx->ep = hub_submit_endpoint(fx->hub);
    S_CHECK(pthread_create(&fx->thread, NULL, s_hub_main, fx) == 0);
    return fx;
}

void
hubfix_stop(hubfix_t **fx_p)
{
    if (!fx_p || !*fx_p)
        return;
    hubfix_t *fx = *fx_p;
    fx->stop = 1;
    pthread_join(fx->thread, NULL);
    hub_destroy(&fx->hub);
    keys_destroy(&fx->op);
    keys_destroy(&fx->acme);
    keys_destroy(&fx->alice);
    free(fx->cfg);
    fixture_rmtree(fx->dir);
    free(fx);
    *fx_p = NULL;
}

ledger_t *
hubfix_ledger(hubfix_t *fx)
{
    return fx->hub->ledger;
}

/* A small valid order (one item, due in 30 days). */
static void
s_order_payload(uint8_t **p, size_t *n)
{
    payload_order_t o = {.items = {{"sewing", "cotton", 120}}, .nitems = 1, .lat_e6 = 45070000,
                         .lon_e6 = 7680000, .title = "fixture shirts"};
    o.due_day = (uint32_t) (util_now_ms() / 86400000u + 30);
    S_CHECK(payload_order_encode(&o, p, n) == 0);
}

void
hubfix_orders(hubfix_t *fx, size_t n)
{
    void *ctx = zmq_ctx_new();
    S_CHECK(ctx != NULL);
    void *sock = net_client_socket(ctx, ZMQ_DEALER, fx->alice, fx->hub_pub.curve_pk);
    S_CHECK(sock != NULL);
    S_CHECK(zmq_connect(sock, fx->ep) == 0);
    uint8_t *payload = NULL, *buf = malloc(ENVELOPE_MAX);
    size_t plen = 0;
    S_CHECK(buf != NULL);
    s_order_payload(&payload, &plen);
    for (size_t i = 0; i < n; i++) {
        envelope_spec_t spec = {.kind = ENVELOPE_ORDER, .timestamp_ms = util_now_ms(),
                                .payload = payload, .payload_len = plen};
        randombytes_buf(spec.subject, sizeof spec.subject);
        size_t len = 0;
        S_CHECK(envelope_chain_seal(&fx->alice_chain, &spec, fx->alice, buf, ENVELOPE_MAX,
                                    &len) == 0);
        S_CHECK(net_send(sock, NULL, 0, WIRE_SUBMIT, i + 1, buf, len) == 0);
    }
    for (size_t i = 0; i < n; i++) {
        net_msg_t m;
        uint64_t pos = 0;
        int dup = -1;
        S_CHECK(net_recv(sock, 0, S_WAIT_MS, &m) == 0);
        S_CHECK(m.type == WIRE_ACK);
        S_CHECK(client_ack_decode(m.body, m.len, &pos, &dup) == 0 && dup == 0);
        net_msg_free(&m);
    }
    free(payload);
    free(buf);
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

uint64_t
hubfix_settle(hubfix_t *fx, char *note, size_t note_max)
{
    char *text = malloc(LEDGER_CHECKPOINT_MAX);
    S_CHECK(text != NULL);
    uint64_t last = UINT64_MAX;
    for (int i = 0; i < S_SETTLE_ROUNDS; i++) {
        uint64_t size = ledger_size(fx->hub->ledger);
        checkpoint_t cp = {.size = 0};
        if (ledger_checkpoint_latest(fx->hub->ledger, text, LEDGER_CHECKPOINT_MAX) == 0)
            S_CHECK(checkpoint_from_note(&cp, text, strlen(text)) == 0);
        if (cp.size == size && size == last) {
            if (note) {
                S_CHECK(strlen(text) < note_max);
                memcpy(note, text, strlen(text) + 1);
            }
            free(text);
            return size;
        }
        last = cp.size == size ? size : UINT64_MAX;
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    S_CHECK(!"the hub did not settle");
    return 0;
}
