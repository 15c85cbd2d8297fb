/* test_hub_rate.c — the hub's per-customer rate limit, seen from the wire: a burst is cut off, tokens come back with time, members are not limited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/net.h"
#include "cofab/util.h"
#include "cofab/wire.h"
#include "support/hubfix.h"

/* White-box: the hub's rate slots, to find two keys that share one. */
#include "../../node/hub_internal.h"

#define S_RATE 1          /* requests/s per customer key: burst of 2 */
#define S_BURST 20        /* requests sent at once */
#define S_WAIT_MS 10000

typedef struct {
    unsigned ok;          /* PONG replies */
    unsigned limited;     /* ERR COFAB_EPERM "rate limit" replies */
    unsigned other;       /* anything else */
    double secs;          /* from the first send to the last reply */
} s_tally_t;

/* Sends S_BURST pings on one connection of `who` without waiting, then
 * reads every reply. */
static s_tally_t
s_burst(hubfix_t *fx, const keys_t *who)
{
    s_tally_t t = {0, 0, 0, 0};
    void *ctx = zmq_ctx_new();
    assert_non_null(ctx);
    void *sock = net_client_socket(ctx, ZMQ_DEALER, who, fx->hub_pub.curve_pk);
    assert_non_null(sock);
    assert_int_equal(zmq_connect(sock, fx->ep), 0);
    uint64_t t0 = util_mono_ns();
    for (uint64_t i = 0; i < S_BURST; i++)
        assert_int_equal(net_send(sock, NULL, 0, WIRE_PING, i + 1, NULL, 0), 0);
    for (int i = 0; i < S_BURST; i++) {
        net_msg_t m;
        assert_int_equal(net_recv(sock, 0, S_WAIT_MS, &m), 0);
        int code = 0;
        char reason[WIRE_MAX_REASON + 1];
        if (m.type == WIRE_PONG)
            t.ok++;
        else if (m.type == WIRE_ERR && wire_err_decode(m.body, m.len, &code, reason) == 0 &&
                 code == COFAB_EPERM && strstr(reason, "rate limit"))
            t.limited++;
        else
            t.other++;
        net_msg_free(&m);
    }
    t.secs = (double) (util_mono_ns() - t0) / 1e9;
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return t;
}

/* At most the burst plus what refilled while the requests were served. */
static void
s_assert_limited(const s_tally_t *t)
{
    unsigned most = 2 * S_RATE + (unsigned) (t->secs * S_RATE) + 1;
    assert_int_equal(t->other, 0);
    assert_int_equal(t->ok + t->limited, S_BURST);
    assert_true(t->ok >= 1);
    assert_true(t->ok <= most);
}

static void
test_customer_burst_is_cut_off_and_refills(void **state)
{
    (void) state;
    hubfix_t *fx = hubfix_start_rate("test.cofab.example/rate", S_RATE);
    s_tally_t t = s_burst(fx, fx->alice);
    s_assert_limited(&t);
    /* A new connection with the same key does not get a fresh bucket. */
    s_tally_t again = s_burst(fx, fx->alice);
    assert_int_equal(again.other, 0);
    assert_true(again.ok <= 2 * S_RATE + (unsigned) ((t.secs + again.secs) * S_RATE) + 1);
    /* Tokens come back with time: after 2.5 s of silence the key may
     * make requests again. */
    struct timespec ts = {2, 500000000L};
    nanosleep(&ts, NULL);
    s_tally_t later = s_burst(fx, fx->alice);
    s_assert_limited(&later);
    hubfix_stop(&fx);
}

/* The rate slot of a customer transport key, as the hub computes it. */
static uint64_t
s_slot(hubfix_t *fx, const uint8_t curve_pk[32])
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, curve_pk, 32, fx->hub->rate_key);
    uint64_t slot;
    memcpy(&slot, h, sizeof slot);
    return slot % HUB_RATE_SLOTS;
}

/* Two customer keys in one slot share its bucket: the second key's burst
 * right after the first's gets only what refilled meanwhile, not a fresh
 * burst (a fresh bucket per key let a client alternate keys and never be
 * limited). */
static void
test_keys_sharing_a_slot_share_the_bucket(void **state)
{
    (void) state;
    hubfix_t *fx = hubfix_start_rate("test.cofab.example/rate", S_RATE);
    uint64_t want = s_slot(fx, keys_curve_pk(fx->alice));
    keys_t *bob = NULL;
    for (int i = 0; i < 200000 && !bob; i++) { /* about 4 096 tries expected */
        keys_t *k = keys_generate("bob");
        assert_non_null(k);
        if (s_slot(fx, keys_curve_pk(k)) == want)
            bob = k;
        else
            keys_destroy(&k);
    }
    assert_non_null(bob);
    uint64_t t0 = util_mono_ns();
    s_tally_t a = s_burst(fx, fx->alice);
    s_tally_t b = s_burst(fx, bob);
    double secs = (double) (util_mono_ns() - t0) / 1e9;
    s_assert_limited(&a);
    assert_int_equal(b.other, 0);
    assert_true(b.ok <= (unsigned) (secs * S_RATE));
    keys_destroy(&bob);
    hubfix_stop(&fx);
}

static void
test_members_are_not_rate_limited(void **state)
{
    (void) state;
    hubfix_t *fx = hubfix_start_rate("test.cofab.example/rate", S_RATE);
    s_tally_t t = s_burst(fx, fx->acme);
    assert_int_equal(t.ok, S_BURST);
    assert_int_equal(t.limited, 0);
    hubfix_stop(&fx);
}

static void
test_no_limit_when_rate_is_zero(void **state)
{
    (void) state;
    hubfix_t *fx = hubfix_start("test.cofab.example/rate");
    s_tally_t t = s_burst(fx, fx->alice);
    assert_int_equal(t.ok, S_BURST);
    hubfix_stop(&fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_customer_burst_is_cut_off_and_refills),
        cmocka_unit_test(test_keys_sharing_a_slot_share_the_bucket),
        cmocka_unit_test(test_members_are_not_rate_limited),
        cmocka_unit_test(test_no_limit_when_rate_is_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
