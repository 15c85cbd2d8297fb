/* test_gateway_prom.c — the gateway's checker of the hub's hub.prom, what the hub writes, and the [gateway] configuration section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cofab/client.h"
#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/gateway.h"
#include "cofab/util.h"
#include "support/hubfix.h"

#define S_OK_TEXT                                                                                \
    "# HELP cofab_hub_acked_total Envelopes stored.\n"                                           \
    "# TYPE cofab_hub_acked_total counter\n"                                                     \
    "cofab_hub_acked_total 12\n"                                                                 \
    "# TYPE cofab_hub_refusals_total counter\n"                                                  \
    "cofab_hub_refusals_total{reason=\"COFAB_EPERM\"} 3\n"                                       \
    "cofab_hub_refusals_total{reason=\"COFAB_EREPLAY\",extra=\"a\\\\b\\\"c\\nd\"} 1e3\n"        \
    "# HELP cofab_hub_nodes_connected Nodes (escaped \\\\ and \\n in help).\n"                   \
    "# TYPE cofab_hub_nodes_connected gauge\n"                                                   \
    "cofab_hub_nodes_connected +Inf\n"                                                           \
    "# TYPE cofab_hub_x untyped\ncofab_hub_x NaN\ncofab_hub_x{a=\"1\"} -0.5\ncofab_hub_x{a=\"2\"} .5\n"

static int
s_check(const char *text, unsigned *line)
{
    return gateway_prom_check(text, strlen(text), line);
}

static void
test_prom_accepts(void **state)
{
    (void) state;
    unsigned line = 99;
    assert_int_equal(s_check(S_OK_TEXT, &line), 0);
    assert_int_equal(line, 0);
    assert_int_equal(s_check("", &line), 0); /* an empty file: nothing to add */
    assert_int_equal(gateway_prom_check(NULL, 0, NULL), 0);
    assert_int_equal(gateway_prom_check(NULL, 1, NULL), COFAB_EINVAL);
}

/* Each case breaks one rule; `at` is the line named. */
static void
test_prom_rejects(void **state)
{
    (void) state;
    static const struct {
        const char *text;
        unsigned at;
    } bad[] = {
        {"cofab_hub_a 1\n", 1},                                              /* no TYPE */
        {"# TYPE cofab_hub_a counter\ncofab_hub_a 1\n", 1},                  /* counter not _total */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a 1\ncofab_hub_a 2\n", 3},     /* same series */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{x=\"1\",y=\"2\"} 1\ncofab_hub_a{y=\"2\",x=\"1\"} 1\n",
         3},                                                                 /* same, reordered */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{x=\"1\",x=\"2\"} 1\n", 2},   /* label twice */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{__x=\"1\"} 1\n", 2},         /* reserved label */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{x=\"\\t\"} 1\n", 2},         /* bad escape */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{x=\"1\",} 1\n", 2},          /* trailing comma */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{x=\"1\" 1\n", 2},            /* unclosed */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a 1,5\n", 2},                  /* not a float */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a 0x10\n", 2},
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a inf\n", 2},
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a 1 1700000000000\n", 2},      /* timestamp */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a  1\n", 2},                   /* two spaces */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a 1", 0},                      /* no final newline */
        {"# TYPE cofab_hub_a gauge\n\ncofab_hub_a 1\n", 2},                  /* empty line */
        {"# TYPE cofab_ledger_up gauge\ncofab_ledger_up 1\n", 1},            /* not cofab_hub_ */
        {"# TYPE cofab_hub_ gauge\n", 1},                                    /* prefix alone */
        {"# TYPE cofab_hub_a gauge\n# TYPE cofab_hub_a gauge\n", 2},         /* TYPE twice */
        {"# HELP cofab_hub_a x\n# HELP cofab_hub_a y\n", 2},                 /* HELP twice */
        {"# HELP cofab_hub_a bad \\t escape\n", 1},
        {"# TYPE cofab_hub_a histogram\n", 1},                               /* unsupported */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a 1\n# HELP cofab_hub_a late\n", 3},
        {"# TYPE cofab_hub_a gauge\n# TYPE cofab_hub_b gauge\ncofab_hub_a 1\n", 3}, /* apart */
        {"# a comment\n", 1},                                                /* other comment */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{x=\"\xc3\xa9\"} 1\n", 2},    /* not ASCII */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{x=\"\x01\"} 1\n", 2},        /* control byte */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a{1x=\"1\"} 1\n", 2},          /* label name */
        {"# TYPE cofab_hub_a gauge\ncofab_hub_a\n", 2},                      /* no value */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned line = 99;
        int rc = s_check(bad[i].text, &line);
        if (rc != COFAB_EMALFORMED || line != bad[i].at)
            fail_msg("case %zu: %s at line %u, want line %u", i, cofab_errname(rc), line,
                     bad[i].at);
    }
}

static void
test_prom_limits(void **state)
{
    (void) state;
    size_t max = GATEWAY_PROM_MAX + 1;
    char *big = malloc(max + 1);
    assert_non_null(big);
    /* Over the size limit: refused unread. */
    memset(big, '#', max);
    big[max - 1] = '\n';
    big[max] = '\0';
    assert_int_equal(gateway_prom_check(big, max, NULL), COFAB_ETOOBIG);
    /* A line over GATEWAY_PROM_LINE_MAX. */
    size_t n = (size_t) snprintf(big, max, "# HELP cofab_hub_a ");
    memset(big + n, 'h', GATEWAY_PROM_LINE_MAX);
    big[n + GATEWAY_PROM_LINE_MAX] = '\n';
    unsigned line = 0;
    assert_int_equal(gateway_prom_check(big, n + GATEWAY_PROM_LINE_MAX + 1, &line),
                     COFAB_ETOOBIG);
    assert_int_equal(line, 1);
    /* Too many lines, each fine on its own. */
    n = (size_t) snprintf(big, max, "# TYPE cofab_hub_a gauge\n");
    for (unsigned i = 0; i < GATEWAY_PROM_LINES && n + 40 < max; i++)
        n += (size_t) snprintf(big + n, max - n, "cofab_hub_a{i=\"%u\"} 1\n", i);
    assert_int_equal(gateway_prom_check(big, n, &line), COFAB_ETOOBIG);
    assert_int_equal(line, GATEWAY_PROM_LINES + 1);
    free(big);
}

/* The hub's own hub.prom passes the gateway's check, and counts refusals. */
static void
test_hub_writes_prom(void **state)
{
    (void) state;
    hubfix_t *fx = hubfix_start("prom.example/log");
    hubfix_orders(fx, 3);
    /* Two refusals: bytes that are no envelope. */
    client_t *c = client_new(fx->ep, fx->alice, fx->hub_pub.curve_pk);
    uint8_t junk[8] = {1, 2, 3};
    uint64_t pos = 0;
    assert_non_null(c);
    for (int i = 0; i < 2; i++)
        assert_int_equal(client_submit_envelope(c, junk, sizeof junk, 5000, &pos, NULL, NULL),
                         COFAB_ETRUNCATED);
    client_destroy(&c);
    char path[CONFIG_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", fx->cfg->data_dir, GATEWAY_HUB_PROM);
    uint8_t *text = NULL;
    size_t len = 0;
    /* Rewritten about once a second: wait (bounded) for one that counts them. */
    for (int i = 0; i < 100; i++) {
        free(text);
        text = NULL;
        if (util_read_file(path, GATEWAY_PROM_MAX, &text, &len) == 0 &&
            strstr((char *) text, "cofab_hub_acked_total 3\n") &&
            strstr((char *) text, "\ncofab_hub_refusals_total{reason=\"COFAB_ETRUNCATED\"} 2\n"))
            break;
        usleep(100 * 1000);
    }
    assert_non_null(text);
    assert_non_null(strstr((char *) text, "cofab_hub_acked_total 3\n"));
    assert_non_null(strstr((char *) text, "reason=\"COFAB_ETRUNCATED\"} 2\n"));
    unsigned line = 99;
    assert_int_equal(gateway_prom_check((char *) text, len, &line), 0);
    assert_non_null(strstr((char *) text, "# TYPE cofab_hub_nodes_connected gauge\n"));
    assert_non_null(strstr((char *) text, "# TYPE cofab_hub_refusals_total counter\n"));
    free(text);
    hubfix_stop(&fx);
    /* A stopped hub leaves no live figures behind. */
    assert_int_not_equal(access(path, F_OK), 0);
}

static void
test_config_gateway(void **state)
{
    (void) state;
    static const char base[] = "[hub]\norigin = o.example/x\ndata_dir = d\nkey = k.key\n"
                               "operator = op.pub\nsubmit = tcp://127.0.0.1:1\n"
                               "feed = tcp://127.0.0.1:2\n[alliance]\ncustomers = open\n";
    config_hub_t *cfg = malloc(sizeof *cfg);
    char text[1024], err[256];
    assert_non_null(cfg);
    /* Absent: loopback defaults. */
    assert_int_equal(config_hub_parse_string(base, strlen(base), "/b", cfg, err, sizeof err), 0);
    assert_string_equal(cfg->gateway.listen, "127.0.0.1:7780");
    assert_int_equal(cfg->gateway.max_connections, 64);
    assert_int_equal(cfg->gateway.threads, 2);
    gateway_options_t o;
    gateway_options_from_config(&o, cfg);
    assert_string_equal(o.data_dir, "/b/d");
    snprintf(text, sizeof text, "%s[gateway]\nlisten = [::1]:0\nmax_connections = 10\n"
                                "max_per_ip = 10\ntimeout_s = 5\nthreads = 4\n", base);
    assert_int_equal(config_hub_parse_string(text, strlen(text), "/b", cfg, err, sizeof err), 0);
    assert_string_equal(cfg->gateway.listen, "[::1]:0");
    assert_int_equal(cfg->gateway.threads, 4);
    static const char *const wrong[] = {
        "listen = localhost:80\n",   "listen = 127.0.0.1\n",      "listen = 127.0.0.1:65536\n",
        "listen = ::1:80\n",         "listen = 127.0.0.1:-1\n",   "threads = 0\n",
        "max_connections = 4\nmax_per_ip = 5\n", "timeout_s = 0\n", "port = 1\n",
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        snprintf(text, sizeof text, "%s[gateway]\n%s", base, wrong[i]);
        if (config_hub_parse_string(text, strlen(text), "/b", cfg, err, sizeof err) !=
            COFAB_EMALFORMED)
            fail_msg("accepted: %s", wrong[i]);
        assert_non_null(strstr(err, "[gateway]"));
    }
    char host[64];
    uint16_t port = 0;
    assert_int_equal(config_listen_parse("0.0.0.0:8080", host, sizeof host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 8080);
    assert_int_equal(config_listen_parse("[fe80::1]:1", host, sizeof host, &port), 0);
    assert_string_equal(host, "fe80::1");
    assert_int_equal(config_listen_parse("[1.2.3.4]:1", host, sizeof host, &port),
                     COFAB_EMALFORMED);
    assert_int_equal(config_listen_parse(NULL, host, sizeof host, &port), COFAB_EINVAL);
    free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_accepts),    cmocka_unit_test(test_prom_rejects),
        cmocka_unit_test(test_prom_limits),     cmocka_unit_test(test_hub_writes_prom),
        cmocka_unit_test(test_config_gateway),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
