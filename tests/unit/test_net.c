/* test_net.c — CURVE + ZAP on loopback: known keys talk, unknown keys are refused, bad frames too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/net.h"
#include "cofab/wire.h"

typedef struct {
    uint8_t allowed[32];  /* the one client transport key let in */
} s_policy_t;

static int
s_authorize(void *arg, const uint8_t key[32], char *user_id)
{
    s_policy_t *p = arg;
    if (sodium_memcmp(key, p->allowed, 32) != 0)
        return -1;
    snprintf(user_id, NET_USER_ID_MAX, "m:test");
    return 0;
}

static void
test_known_key_talks_unknown_key_refused(void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new();
    keys_t *server = keys_generate("server"), *good = keys_generate("good"),
           *stranger = keys_generate("stranger");
    s_policy_t policy;
    memcpy(policy.allowed, keys_curve_pk(good), 32);
    net_zap_t *zap = net_zap_start(ctx, s_authorize, &policy);
    assert_non_null(zap);
    void *router = net_server_socket(ctx, ZMQ_ROUTER, server);
    assert_non_null(router);
    assert_int_equal(zmq_bind(router, "tcp://127.0.0.1:*"), 0);
    char endpoint[128];
    size_t elen = sizeof endpoint;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &elen);

    void *a = net_client_socket(ctx, ZMQ_DEALER, good, keys_curve_pk(server));
    void *b = net_client_socket(ctx, ZMQ_DEALER, stranger, keys_curve_pk(server));
    assert_int_equal(zmq_connect(a, endpoint), 0);
    assert_int_equal(zmq_connect(b, endpoint), 0);
    assert_int_equal(net_send(b, NULL, 0, WIRE_PING, 2, NULL, 0), 0);
    assert_int_equal(net_send(a, NULL, 0, WIRE_PING, 1, "hi", 2), 0);

    /* Only the known client's message arrives, tagged with its User-Id. */
    net_msg_t m;
    assert_int_equal(net_recv(router, 1, 3000, &m), 0);
    assert_int_equal(m.type, WIRE_PING);
    assert_int_equal(m.request_id, 1);
    assert_int_equal(m.len, 2);
    assert_string_equal(m.user_id, "m:test");
    assert_int_equal(net_send(router, m.identity, m.identity_len, WIRE_PONG, m.request_id, NULL, 0), 0);
    net_msg_free(&m);
    assert_int_equal(net_recv(router, 1, 700, &m), COFAB_ENOTFOUND);
    net_msg_t reply;
    assert_int_equal(net_recv(a, 0, 3000, &reply), 0);
    assert_int_equal(reply.type, WIRE_PONG);
    net_msg_free(&reply);
    /* The stranger never gets an answer... */
    assert_int_equal(net_request(b, WIRE_PING, NULL, 0, 500, &reply), COFAB_ENET);
    /* ...and ZAP counted its refusals. */
    uint64_t allowed, refused;
    net_zap_counts(zap, &allowed, &refused);
    assert_true(allowed >= 1);
    assert_true(refused >= 1);

    /* Malformed messages are reported, with the sender known. */
    zmq_send(a, "xx", 2, ZMQ_SNDMORE);
    zmq_send(a, "yy", 2, 0);
    assert_int_equal(net_recv(router, 1, 3000, &m), COFAB_ETRUNCATED);
    assert_true(m.identity_len > 0);
    net_msg_free(&m);
    zmq_send(a, "only one frame", 14, 0);
    assert_int_equal(net_recv(router, 1, 3000, &m), COFAB_ETRUNCATED);
    net_msg_free(&m);
    uint8_t header[WIRE_HEADER_LEN];
    wire_header_encode(header, WIRE_PING, 9);
    header[2] = 7;
    zmq_send(a, header, sizeof header, ZMQ_SNDMORE);
    zmq_send(a, "", 0, 0);
    assert_int_equal(net_recv(router, 1, 3000, &m), COFAB_EVERSION);
    net_msg_free(&m);
    for (int i = 0; i < 4; i++)
        zmq_send(a, "f", 1, i < 3 ? ZMQ_SNDMORE : 0);
    assert_int_equal(net_recv(router, 1, 3000, &m), COFAB_EMALFORMED);
    net_msg_free(&m);
    /* A well-formed request/reply still works after all that. */
    assert_int_equal(net_send(a, NULL, 0, WIRE_PING, 5, NULL, 0), 0);
    assert_int_equal(net_recv(router, 1, 3000, &m), 0);
    assert_int_equal(m.request_id, 5);
    net_msg_free(&m);

    zmq_close(a);
    zmq_close(b);
    zmq_close(router);
    net_zap_destroy(&zap);
    net_zap_destroy(&zap);
    zmq_ctx_term(ctx);
    keys_destroy(&server);
    keys_destroy(&good);
    keys_destroy(&stranger);
}

static void
test_wire_codec(void **state)
{
    (void) state;
    uint8_t h[WIRE_HEADER_LEN];
    int type;
    uint64_t id;
    wire_header_encode(h, WIRE_SUBMIT, 0x0102030405060708ull);
    assert_int_equal(wire_header_decode(h, sizeof h, &type, &id), 0);
    assert_int_equal(type, WIRE_SUBMIT);
    assert_int_equal(id, 0x0102030405060708ull);
    assert_int_equal(wire_header_decode(h, 15, &type, &id), COFAB_ETRUNCATED);
    h[3] = 99;
    assert_int_equal(wire_header_decode(h, sizeof h, &type, &id), COFAB_EMALFORMED);

    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u64(&w, 42);
    wire_write_u32(&w, 7);
    wire_write_bytes(&w, "abc", 3);
    assert_int_equal(w.error, 0);
    wire_reader_t r;
    wire_reader_init(&r, w.data, w.len);
    assert_int_equal(wire_read_u64(&r), 42);
    assert_int_equal(wire_read_u32(&r), 7);
    assert_non_null(wire_read_bytes(&r, 3));
    assert_int_equal(wire_reader_end(&r), 0);
    wire_reader_init(&r, w.data, w.len);
    wire_read_u64(&r);
    assert_int_equal(wire_reader_end(&r), COFAB_ETRAILING);
    assert_null(wire_read_bytes(&r, 100));
    assert_int_equal(wire_read_u64(&r), 0); /* sticky */
    assert_int_equal(wire_reader_end(&r), COFAB_ETRUNCATED);
    wire_writer_free(&w);

    char reason[WIRE_MAX_REASON + 1];
    int code;
    wire_writer_init(&w);
    wire_err_encode(&w, COFAB_EREPLAY, "replayed\nsequence");
    assert_int_equal(wire_err_decode(w.data, w.len, &code, reason), 0);
    assert_int_equal(code, COFAB_EREPLAY);
    assert_string_equal(reason, "replayed?sequence");
    wire_writer_free(&w);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_codec),
        cmocka_unit_test(test_known_key_talks_unknown_key_refused),
    };
    return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
