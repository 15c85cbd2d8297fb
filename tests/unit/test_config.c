/* test_config.c — hub and factory configuration files: values, defaults, paths and every refusal. */
#include <setjmp.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cofab/config.h"
#include "cofab/error.h"

/* The smallest valid files; error cases below change or append to them. */
#define HUB_MIN                                                                                    \
    "[hub]\norigin = test/alliance\ndata_dir = data\nkey = hub.key\noperator = op.pub\n"           \
    "submit = tcp://127.0.0.1:1\nfeed = tcp://127.0.0.1:2\n[alliance]\ncustomers = open\n"
/* The same with [hub] last, for appending [hub] keys. */
#define HUB_LAST                                                                                   \
    "[alliance]\ncustomers = open\n[hub]\norigin = test/alliance\ndata_dir = data\n"             \
    "key = hub.key\noperator = op.pub\nsubmit = tcp://127.0.0.1:1\nfeed = tcp://127.0.0.1:2\n"
#define NODE_HEAD                                                                                  \
    "[node]\nname = f1\nkey = f1.key\nhub_pub = hub.pub\nhub = tcp://127.0.0.1:1\n"                \
    "feed = tcp://127.0.0.1:2\ndata_dir = d\ncontrol = ipc:///tmp/f1.ctl\nauto_accept = no\n"      \
    "witness = no\n[capacity]\nlat = 1.5\nlon = -2.25\nlead_days = 2\nlocation = Here\n"
#define OFFER_SEW                                                                                  \
    "[offer.sewing]\nmaterials = cotton\nunit_price = 100\nsetup_cost = 0\nmoq = 1\n"               \
    "max_qty = 10\nper_day = 5\n"
#define NODE_MIN NODE_HEAD OFFER_SEW

typedef struct {
    char dir[64];                        /* mkdtemp directory */
    char real[PATH_MAX];                 /* its realpath */
    config_hub_t *hub;
    config_node_t *node;
} s_fx_t;

static int
s_setup(void **state)
{
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/cofab_cfg_XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_non_null(realpath(fx->dir, fx->real));
    fx->hub = malloc(sizeof *fx->hub);
    fx->node = malloc(sizeof *fx->node);
    assert_non_null(fx->hub);
    assert_non_null(fx->node);
    *state = fx;
    return 0;
}

static void
s_path(const s_fx_t *fx, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", fx->dir, name);
    assert_true(n > 0 && (size_t) n < size);
}

static int
s_teardown(void **state)
{
    s_fx_t *fx = *state;
    static const char *const files[] = {"hub.ini", "node.ini", "big.ini", "exact.ini"};
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        s_path(fx, files[i], p, sizeof p);
        unlink(p);
    }
    s_path(fx, "sub", p, sizeof p);
    rmdir(p);
    assert_int_equal(rmdir(fx->dir), 0);
    free(fx->hub);
    free(fx->node);
    free(fx);
    return 0;
}

static void
s_write(const s_fx_t *fx, const char *name, const char *text, size_t len)
{
    char p[PATH_MAX];
    s_path(fx, name, p, sizeof p);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void
s_join(char *out, size_t size, const char *a, const char *b)
{
    int n = snprintf(out, size, "%s/%s", a, b);
    assert_true(n > 0 && (size_t) n < size);
}

/* ---- valid files ---------------------------------------------------- */

static void
test_hub_full(void **state)
{
    s_fx_t *fx = *state;
    static const char text[] =
        "; a full hub file\n"
        "[hub]\n"
        "origin = example.org/alliance ünïcode\n"
        "data_dir = data/hub\n"
        "key = keys/hub.key\n"
        "operator = /etc/cofab/operator.pub\n"
        "submit = tcp://127.0.0.1:7701\n"
        "feed: tcp://127.0.0.1:7702\n"
        "batch_window_ms = 0\n"
        "max_batch = 65536\n"
        "checkpoint_every = 100 ; records\n"
        "checkpoint_ms = 2500\n"
        "match_interval_ms = 0\n"
        "verify_threads = 64\n"
        "map_max_mb = 16777216\n"
        "customer_rate = 0\n"
        "\n"
        "[alliance]\r\n"
        "customers = listed\r\n"
        "witness_k = 2\n"
        "ack_timeout_s = 604800\n"
        "  # an indented comment is fine\n"
        "[member.alpha]\n"
        "pub = keys/alpha.pub\n"
        "role = factory\n"
        "[member.Beta_2.x-y]\n"
        "role = witness\n"
        "pub = ../beta.pub\n"
        "[member.shop]\n"
        "pub = /abs/shop.pub\n"
        "role = customer\n"
        "[matcher]\n"
        "ship_per_km = 0\n"
        "late_per_day = 100000000\n"
        "reserve_pm = 250\n"
        "ls_budget = 10000000000\n"
        "bnb_nodes = 0\n"
        "min_capable = 2\n";
    s_write(fx, "hub.ini", text, sizeof text - 1);
    char p[PATH_MAX], want[PATH_MAX + 64], err[256] = "x";
    s_path(fx, "hub.ini", p, sizeof p);
    assert_int_equal(config_hub_load(p, fx->hub, err, sizeof err), 0);
    assert_string_equal(err, "");
    const config_hub_t *h = fx->hub;
    assert_string_equal(h->origin, "example.org/alliance ünïcode");
    s_join(want, sizeof want, fx->real, "data/hub");
    assert_string_equal(h->data_dir, want);
    s_join(want, sizeof want, fx->real, "keys/hub.key");
    assert_string_equal(h->key, want);
    assert_string_equal(h->operator_pub, "/etc/cofab/operator.pub");
    assert_string_equal(h->submit, "tcp://127.0.0.1:7701"); /* endpoints are not paths */
    assert_string_equal(h->feed, "tcp://127.0.0.1:7702");
    assert_int_equal(h->batch_window_ms, 0);
    assert_int_equal(h->max_batch, 65536);
    assert_int_equal(h->checkpoint_every, 100);
    assert_int_equal(h->checkpoint_ms, 2500);
    assert_int_equal(h->match_interval_ms, 0);
    assert_int_equal(h->verify_threads, 64);
    assert_int_equal(h->map_max_mb, 16777216);
    assert_int_equal(h->customer_rate, 0);
    assert_string_equal(h->customers, "listed");
    assert_int_equal(h->witness_k, 2);
    assert_int_equal(h->ack_timeout_s, 604800);
    assert_int_equal(h->nmembers, 3);
    assert_string_equal(h->members[0].name, "alpha");
    assert_string_equal(h->members[0].role, "factory");
    s_join(want, sizeof want, fx->real, "keys/alpha.pub");
    assert_string_equal(h->members[0].pub, want);
    assert_string_equal(h->members[1].name, "Beta_2.x-y");
    assert_string_equal(h->members[1].role, "witness");
    s_join(want, sizeof want, fx->real, "../beta.pub");
    assert_string_equal(h->members[1].pub, want);
    assert_string_equal(h->members[2].pub, "/abs/shop.pub");
    assert_string_equal(h->members[2].role, "customer");
    /* Given matcher keys replace the defaults; the others stay. */
    matcher_params_t d;
    matcher_params_default(&d);
    assert_int_equal(h->params.ship_per_km, 0);
    assert_int_equal(h->params.late_per_day, 100000000);
    assert_int_equal(h->params.reserve_pm, 250);
    assert_int_equal(h->params.ls_budget, 10000000000ULL);
    assert_int_equal(h->params.bnb_nodes, 0);
    assert_int_equal(h->params.min_capable, 2);
    assert_int_equal(h->params.km_per_day, d.km_per_day);
    assert_int_equal(h->params.unplaced_penalty, d.unplaced_penalty);
    assert_int_equal(h->params.lagr_iters, d.lagr_iters);
    assert_int_equal(h->params.max_split, d.max_split);
    assert_int_equal(matcher_params_check(&h->params), 0);
}

static void
test_hub_defaults(void **state)
{
    s_fx_t *fx = *state;
    char err[256];
    assert_int_equal(config_hub_parse_string(HUB_MIN, strlen(HUB_MIN), "/srv/cfg/", fx->hub, err,
                                             sizeof err),
                     0);
    const config_hub_t *h = fx->hub;
    assert_string_equal(h->data_dir, "/srv/cfg/data"); /* no doubled slash */
    assert_int_equal(h->batch_window_ms, 1);
    assert_int_equal(h->max_batch, 512);
    assert_int_equal(h->checkpoint_every, 256);
    assert_int_equal(h->checkpoint_ms, 1000);
    assert_int_equal(h->match_interval_ms, 200);
    assert_int_equal(h->verify_threads, 2);
    assert_int_equal(h->map_max_mb, 0);
    assert_int_equal(h->customer_rate, 200);
    assert_int_equal(h->witness_k, 0);
    assert_int_equal(h->ack_timeout_s, 3600);
    assert_int_equal(h->nmembers, 0);
    matcher_params_t d;
    matcher_params_default(&d);
    assert_memory_equal(&h->params, &d, sizeof d);
    /* Without a base directory relative paths stay as written. */
    assert_int_equal(config_hub_parse_string(HUB_MIN, strlen(HUB_MIN), NULL, fx->hub, err,
                                             sizeof err),
                     0);
    assert_string_equal(fx->hub->key, "hub.key");
}

static void
test_node_full(void **state)
{
    s_fx_t *fx = *state;
    static const char text[] =
        "\xEF\xBB\xBF[node]\n"
        "name = Factory.One_1\n"
        "key = keys/f1.key\n"
        "hub_pub = keys/hub.pub\n"
        "hub = tcp://hub.example:7701\n"
        "feed = tcp://hub.example:7702\n"
        "data_dir = data/f1\n"
        "control = ipc:///tmp/cofab-f1.ctl\n"
        "auto_accept = yes\n"
        "witness = no\n"
        "reconnect_max_ms = 750\n"
        "[capacity]\n"
        "lat = -33.8688\n"
        "lon = 151.2093\n"
        "location = Łódź, Polska\n"
        "lead_days = 0\n"
        "reserve_pct = 0\n"
        "horizon_days = 366\n"
        "[offer.sewing]\n"
        "materials = cotton,  linen ,denim\n"
        "unit_price = 1000000\n"
        "setup_cost = 100000000\n"
        "moq = 7\n"
        "max_qty = 7\n"
        "per_day = 0\n"
        "days_off = 6, 0,3\n"
        "[offer.laser-cutting-2]\n"
        "materials = steel\n"
        "unit_price = 0\n"
        "setup_cost = 12\n"
        "moq = 1\n"
        "max_qty = 1000000\n"
        "per_day = 10000000\n"
        "days_off = none\n";
    s_write(fx, "node.ini", text, sizeof text - 1);
    char p[PATH_MAX], want[PATH_MAX + 64], err[256];
    s_path(fx, "node.ini", p, sizeof p);
    assert_int_equal(config_node_load(p, fx->node, err, sizeof err), 0);
    const config_node_t *n = fx->node;
    assert_string_equal(n->name, "Factory.One_1");
    s_join(want, sizeof want, fx->real, "keys/f1.key");
    assert_string_equal(n->key, want);
    s_join(want, sizeof want, fx->real, "keys/hub.pub");
    assert_string_equal(n->hub_pub, want);
    s_join(want, sizeof want, fx->real, "data/f1");
    assert_string_equal(n->data_dir, want);
    assert_string_equal(n->hub, "tcp://hub.example:7701");
    assert_string_equal(n->feed, "tcp://hub.example:7702");
    assert_string_equal(n->control, "ipc:///tmp/cofab-f1.ctl");
    assert_int_equal(n->auto_accept, 1);
    assert_int_equal(n->witness, 0);
    assert_int_equal(n->reconnect_max_ms, 750);
    assert_true(n->lat == -33.8688 && n->lon == 151.2093);
    assert_string_equal(n->location, "Łódź, Polska");
    assert_int_equal(n->lead_days, 0);
    assert_int_equal(n->reserve_pct, 0);
    assert_int_equal(n->horizon_days, 366);
    assert_int_equal(n->valid_days, 366); /* defaults to the horizon */
    assert_int_equal(n->noffers, 2);
    const config_offer_t *o = &n->offers[0];
    assert_string_equal(o->process, "sewing");
    assert_int_equal(o->nmaterials, 3);
    assert_string_equal(o->materials[0], "cotton");
    assert_string_equal(o->materials[1], "linen");
    assert_string_equal(o->materials[2], "denim");
    assert_int_equal(o->unit_price, 1000000);
    assert_int_equal(o->setup_cost, 100000000);
    assert_int_equal(o->moq, 7);
    assert_int_equal(o->max_qty, 7);
    assert_int_equal(o->per_day, 0);
    assert_int_equal(o->days_off, (1 << 6) | (1 << 0) | (1 << 3));
    o = &n->offers[1];
    assert_string_equal(o->process, "laser-cutting-2");
    assert_int_equal(o->nmaterials, 1);
    assert_int_equal(o->per_day, 10000000);
    assert_int_equal(o->days_off, 0);
}

static void
test_node_defaults(void **state)
{
    s_fx_t *fx = *state;
    char err[256];
    assert_int_equal(config_node_parse_string(NODE_MIN, strlen(NODE_MIN), "/b", fx->node, err,
                                              sizeof err),
                     0);
    const config_node_t *n = fx->node;
    assert_int_equal(n->reconnect_max_ms, 5000);
    assert_int_equal(n->reserve_pct, -1);
    assert_int_equal(n->horizon_days, 30);
    assert_int_equal(n->valid_days, 30);
    assert_int_equal(n->offers[0].days_off, 0);
    assert_string_equal(n->data_dir, "/b/d");
    static const char v7[] = NODE_HEAD "valid_days = 7\nhorizon_days = 10\n" OFFER_SEW;
    assert_int_equal(config_node_parse_string(v7, strlen(v7), "/b", fx->node, err, sizeof err), 0);
    assert_int_equal(fx->node->valid_days, 7);
    assert_int_equal(fx->node->horizon_days, 10);
}

/* Member names up to 64 bytes work although inih keeps 49 bytes of a
 * section name; two names alike in their first 49 bytes stay distinct. */
static void
test_long_member_names(void **state)
{
    s_fx_t *fx = *state;
    char name64[65], text[1024], err[256];
    memset(name64, 'n', 64);
    name64[64] = '\0';
    int len = snprintf(text, sizeof text,
                       HUB_MIN "[member.%s]\npub = a.pub\nrole = factory\n"
                               "[member.%.60sx]\npub = b.pub\nrole = factory\n",
                       name64, name64);
    assert_int_equal(config_hub_parse_string(text, (size_t) len, "/b", fx->hub, err, sizeof err),
                     0);
    assert_int_equal(fx->hub->nmembers, 2);
    assert_string_equal(fx->hub->members[0].name, name64);
    assert_int_equal(strlen(fx->hub->members[1].name), 61);
    len = snprintf(text, sizeof text, HUB_MIN "[member.%sn]\npub = a.pub\nrole = factory\n",
                   name64);
    assert_int_equal(config_hub_parse_string(text, (size_t) len, "/b", fx->hub, err, sizeof err),
                     COFAB_EMALFORMED);
    assert_non_null(strstr(err, "invalid member name"));
}

/* The six files in config/ parse, and form the alliance the demo needs. */
static void
test_examples(void **state)
{
    s_fx_t *fx = *state;
    static const char *const names[] = {"garments", "cnc", "print", "embroidery", "furniture"};
    char err[256], p[PATH_MAX], dir[PATH_MAX], want[PATH_MAX + 64];
    assert_non_null(realpath("config", dir));
    assert_int_equal(config_hub_load("config/hub.ini", fx->hub, err, sizeof err), 0);
    config_hub_t *h = fx->hub;
    assert_string_equal(h->origin, "cofab.example/alliance");
    s_join(want, sizeof want, dir, "data/hub");
    assert_string_equal(h->data_dir, want);
    s_join(want, sizeof want, dir, "keys/operator.pub");
    assert_string_equal(h->operator_pub, want);
    assert_string_equal(h->submit, "tcp://127.0.0.1:7701");
    assert_string_equal(h->feed, "tcp://127.0.0.1:7702");
    assert_int_equal(h->witness_k, 3); /* a strict majority of the 5 */
    assert_string_equal(h->customers, "open");
    assert_int_equal(h->ack_timeout_s, 20);
    assert_int_equal(h->nmembers, 5);
    int emb_cotton = 0, milling = 0, glass = 0;
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(h->members[i].name, names[i]);
        assert_string_equal(h->members[i].role, "factory");
        snprintf(p, sizeof p, "config/factory-%s.ini", names[i]);
        assert_int_equal(config_node_load(p, fx->node, err, sizeof err), 0);
        const config_node_t *n = fx->node;
        assert_string_equal(n->name, names[i]);
        assert_string_equal(n->hub, h->submit);
        assert_string_equal(n->feed, h->feed);
        snprintf(want, sizeof want, "%s/keys/%s.pub", dir, names[i]);
        assert_string_equal(h->members[i].pub, want);
        snprintf(want, sizeof want, "%s/data/%s", dir, names[i]);
        assert_string_equal(n->data_dir, want);
        snprintf(want, sizeof want, "ipc:///tmp/cofab-%s.ctl", names[i]);
        assert_string_equal(n->control, want);
        s_join(want, sizeof want, dir, "keys/hub.pub");
        assert_string_equal(n->hub_pub, want);
        assert_int_equal(n->auto_accept, 1);
        assert_int_equal(n->witness, 1);
        assert_true(n->lat > 35 && n->lat < 60 && n->lon > -10 && n->lon < 25); /* Europe */
        assert_true(n->location[0] != '\0');
        for (size_t k = 0; k < n->noffers; k++) {
            const config_offer_t *o = &n->offers[k];
            assert_true(o->unit_price > 0 && o->moq >= 1 && o->max_qty >= o->moq && o->per_day > 0);
            milling += strcmp(o->process, "cnc-milling") == 0;
            glass += strcmp(o->process, "glass-blowing") == 0;
            for (uint32_t m = 0; m < o->nmaterials; m++)
                emb_cotton += !strcmp(o->process, "embroidery") && !strcmp(o->materials[m], "cotton");
        }
    }
    assert_int_equal(emb_cotton, 2);
    assert_int_equal(milling, 2);
    assert_int_equal(glass, 0);
}

/* ---- refusals ------------------------------------------------------- */

typedef struct {
    const char *text;   /* whole file */
    const char *want;   /* must appear in the message */
} s_case_t;

static void
s_refused(s_fx_t *fx, int hub, const s_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        size_t len = strlen(cases[i].text);
        int rc = hub ? config_hub_parse_string(cases[i].text, len, "/b", fx->hub, err, sizeof err)
                     : config_node_parse_string(cases[i].text, len, "/b", fx->node, err,
                                                sizeof err);
        if (rc != COFAB_EMALFORMED || !strstr(err, cases[i].want) ||
            strncmp(err, "(string)", 8) != 0)
            fail_msg("case %zu: rc %d, message '%s', want '%s'", i, rc, err, cases[i].want);
    }
}

static void
test_hub_refused(void **state)
{
    char err[256];
    s_fx_t *fx = *state;
    /* The base file is valid, so each refusal below is its change's doing. */
    assert_int_equal(config_hub_parse_string(HUB_MIN, strlen(HUB_MIN), "/b", fx->hub, err,
                                             sizeof err),
                     0);
    assert_int_equal(config_hub_parse_string(HUB_LAST, strlen(HUB_LAST), "/b", fx->hub, err,
                                             sizeof err),
                     0);
    static const s_case_t cases[] = {
        {HUB_LAST "maxbatch = 5\n", "unknown key 'maxbatch'"},
        {HUB_MIN "[hubb]\nx = 1\n", "unknown section [hubb]"},
        {HUB_MIN "[node]\nname = x\n", "unknown section [node]"},
        {HUB_MIN "[member]\npub = x\n", "unknown section [member]"},
        {HUB_MIN "[hub]\nmax_batch = 5\n", ":10: duplicate section [hub]"},
        {HUB_MIN "customers = open\n", "customers: given twice (first on line 9)"},
        {HUB_MIN "[alliance]\nwitness_k = 0\n", "duplicate section [alliance]"},
        {"[hub]\norigin = o\n", "[hub] missing required key(s): data_dir, key, operator, submit, "
                                "feed"},
        {"[alliance]\ncustomers = open\n", "missing required key(s): origin, data_dir"},
        {"[hub]\norigin = o\ndata_dir = d\nkey = k\noperator = o\nsubmit = tcp://a:1\n"
         "feed = tcp://a:2\n",
         "[alliance] missing required key(s): customers"},
        {HUB_LAST "max_batch = 12x\n", "max_batch: '12x' is not a decimal integer"},
        {HUB_LAST "max_batch = +5\n", "max_batch"},
        {HUB_LAST "max_batch = 0x10\n", "max_batch"},
        {HUB_LAST "max_batch = 1.5\n", "max_batch"},
        {HUB_LAST "max_batch =\n", "max_batch"},
        {HUB_LAST "max_batch = 1 2\n", "max_batch"},
        {HUB_LAST "max_batch = 0\n", "max_batch: 0 is out of range 1..65536"},
        {HUB_LAST "max_batch = 65537\n", "max_batch: 65537 is out of range"},
        {HUB_LAST "checkpoint_every = 99999999999999999999999\n", "checkpoint_every"},
        {HUB_LAST "map_max_mb = -1\n", "map_max_mb: -1 is out of range"},
        {HUB_MIN "ack_timeout_s = 0\n", "ack_timeout_s"},
        {HUB_MIN "witness_k = -1\n", "witness_k"},
        {HUB_MIN "witness_k = 1\n", "witness_k: 1 is more than the 0 factory and witness"},
        {HUB_MIN "witness_k = 2\n[member.a]\npub = a\nrole = factory\n[member.c]\npub = c\n"
                 "role = customer\n",
         "witness_k: 2 is more than the 1"},
        {HUB_MIN "customers = closed\n", "customers"},
        {HUB_MIN "[member.a]\npub = a.pub\nrole = boss\n", "role: 'boss' is not one of "
                                                           "factory|witness|customer"},
        {HUB_MIN "[member.a]\npub = a.pub\n", "[member.a] missing required key(s): role"},
        {HUB_MIN "[member.a]\nrole = factory\n", "missing required key(s): pub"},
        {HUB_MIN "[member.a]\nrole = factory\npub =\n", "pub: empty path"},
        {HUB_MIN "[member.a]\npub = a\nrole = factory\n[member.b]\npub = b\nrole = factory\n"
                 "[member.a]\npub = c\nrole = factory\n",
         ":16: duplicate section [member.a]"},
        {HUB_MIN "[member.a]\npub = a\nrole = factory\n[member.a]\nrole = factory\npub = c\n",
         "duplicate section [member.a]"},
        {HUB_MIN "[member.a b]\npub = a\nrole = factory\n", "[member.a b] invalid member name"},
        {HUB_MIN "[member.]\npub = a\nrole = factory\n", "invalid member name"},
        {HUB_MIN "[member.a/b]\npub = a\nrole = factory\n", "invalid member name"},
        {HUB_MIN "[matcher]\nmax_split = 0\n", "max_split: out of range"},
        {HUB_MIN "[matcher]\nship_per_km = 5\nlagr_iters = 100001\n", "lagr_iters"},
        {HUB_MIN "[matcher]\nls_budget = -1\n", "ls_budget"},
        /* Overflow is out of range, not clamped to INT64_MAX / INT64_MIN. */
        {HUB_MIN "[matcher]\nls_budget = 9223372036854775808\n",
         "ls_budget: 9223372036854775808 is out of range"},
        {HUB_MIN "[matcher]\nship_per_km = -9223372036854775809\n",
         "ship_per_km: -9223372036854775809 is out of range"},
        {HUB_MIN "[matcher]\nreserve_pm = 2147483648\n", "reserve_pm"},
        {HUB_MIN "[matcher]\nfoo = 1\n", "unknown key 'foo'"},
        {HUB_MIN "[matcher]\n", "empty section [matcher]"},
        {HUB_MIN "[matcher]\n; nothing\n[member.a]\npub = a\nrole = factory\n", "empty section"},
        {HUB_LAST "submit2 = tcp://x:1\n", "submit2"},
        {HUB_MIN "[hub]\n", ":10: empty section [hub]"},
        {"origin = o\n" HUB_MIN, "key 'origin' before any [section]"},
        {HUB_MIN "garbage line\n", ":10: syntax error"},
        {HUB_MIN "[alliance\n", ":10: syntax error"},
        {HUB_MIN " witness_k = 1\n", ":10: indented line"},
        {HUB_MIN "\twitness_k = 1\n", "indented line"},
        {HUB_MIN "ack_timeout_s = 5\x01\n", ":10: control character"},
        {HUB_MIN "ack_timeout_s = 5\r\r\n", "control character"},
        {HUB_MIN "ack_timeout_s = 5\xc2\x85\n", "control character"},
        {HUB_MIN "ack_timeout_s = 5\xff\n", ":10: not valid UTF-8"},
        {HUB_MIN "ack_timeout_s = \xc0\xb5\n", "not valid UTF-8"},
        {HUB_MIN "ack_timeout_s = \xed\xa0\x80\n", "not valid UTF-8"},
        {HUB_MIN "ack_timeout_s = \xe2\x82\n", "not valid UTF-8"},
        {"[hub]\norigin =\ndata_dir = d\n", "origin: want 1 to 255 bytes"},
        {"[hub]\nsubmit = 127.0.0.1:7701\n", "submit: '127.0.0.1:7701' is not a ZeroMQ"},
        {"[hub]\nfeed = tcp:// x\n", "feed"},
        {"[hub]\nfeed = ://x\n", "feed"},
    };
    s_refused(fx, 1, cases, sizeof cases / sizeof cases[0]);
}

static void
test_node_refused(void **state)
{
    char err[256];
    s_fx_t *fx = *state;
    assert_int_equal(config_node_parse_string(NODE_MIN, strlen(NODE_MIN), "/b", fx->node, err,
                                              sizeof err),
                     0);
    static const s_case_t cases[] = {
        {NODE_MIN "per_dya = 5\n", "[offer.sewing] unknown key 'per_dya'"},
        {NODE_MIN "[hub]\norigin = x\n", "unknown section [hub]"},
        {NODE_MIN "[offer.Sewing]\nmoq = 1\n", "[offer.Sewing] invalid process name"},
        {NODE_MIN "[offer.s_ewing]\nmoq = 1\n", "invalid process name"},
        {NODE_MIN "[offer.abcdefghijabcdefghijabcdefghijabc]\nmoq = 1\n", "invalid process name"},
        {NODE_MIN OFFER_SEW, "duplicate section [offer.sewing]"},
        {NODE_HEAD, "no [offer.PROCESS] section"},
        {NODE_HEAD "[offer.x]\nmaterials = a\nunit_price = 1\nmoq = 1\nmax_qty = 1\n",
         "[offer.x] missing required key(s): setup_cost, per_day"},
        {NODE_MIN "[node]\nname = x\n", "duplicate section [node]"},
        {NODE_HEAD "reserve_pct = -2\n" OFFER_SEW, "reserve_pct: -2 is out of range -1..100"},
        {NODE_HEAD "reserve_pct = 101\n" OFFER_SEW, "reserve_pct"},
        {NODE_HEAD "horizon_days = 367\n" OFFER_SEW, "horizon_days"},
        {NODE_HEAD "valid_days = 31\n" OFFER_SEW, "valid_days: 31 is more than horizon_days 30"},
        {NODE_HEAD "lead_days = 1\n" OFFER_SEW, "lead_days: given twice"},
        {NODE_HEAD "horizon_days = 0\n" OFFER_SEW, "horizon_days"},
        {NODE_MIN "unit_price = 1000001\n", "unit_price"},
        {NODE_MIN "[offer.b]\nmaterials = a\nunit_price = 1\nsetup_cost = 1\nmoq = 0\n"
                  "max_qty = 1\nper_day = 1\n",
         "moq: 0 is out of range"},
        {NODE_MIN "[offer.b]\nmaterials = a\nunit_price = 1\nsetup_cost = 1\nmoq = 5\n"
                  "max_qty = 4\nper_day = 1\n",
         "max_qty: 4 is below moq 5"},
        {NODE_MIN "[offer.b]\nmaterials = a\nunit_price = -1\n", "unit_price: -1 is out of range"},
        {NODE_MIN "[offer.b]\nmaterials = a\nper_day = 10000001\n", "per_day"},
        {NODE_MIN "[offer.b]\nmaterials = Cotton\n", "materials: invalid material 'Cotton'"},
        {NODE_MIN "[offer.b]\nmaterials = a, a\n", "materials: material 'a' listed twice"},
        {NODE_MIN "[offer.b]\nmaterials = a,,b\n", "materials: invalid material ''"},
        {NODE_MIN "[offer.b]\nmaterials =\n", "materials"},
        {NODE_MIN "[offer.b]\nmaterials = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n",
         "more than 16 materials"},
        {NODE_MIN "[offer.b]\ndays_off = 7\n", "days_off"},
        {NODE_MIN "[offer.b]\ndays_off = 1, 1\n", "days_off: day 1 listed twice"},
        {NODE_MIN "[offer.b]\ndays_off = 12\n", "days_off"},
        {NODE_MIN "[offer.b]\ndays_off =\n", "days_off"},
        {"[capacity]\nlat = 90.0001\n", "lat: 90.0001 is out of range -90..90"},
        {"[capacity]\nlon = -180.5\n", "lon"},
        {"[capacity]\nlat = nan\n", "lat: 'nan' is not a decimal number"},
        {"[capacity]\nlat = inf\n", "lat"},
        {"[capacity]\nlat = 0x1p3\n", "lat"},
        {"[capacity]\nlat = 1e999\n", "lat"},
        {"[capacity]\nlat = .5\n", "lat"},
        {"[capacity]\nlat = 1.5.2\n", "lat"},
        {"[capacity]\nlocation = 0123456789012345678901234567890123456789012345678901234567890"
         "1234\n",
         "location: want 0 to 64 bytes of text, not 65"},
        {"[node]\nname = bad name\n", "name: invalid name 'bad name'"},
        {"[node]\nname =\n", "name: invalid name"},
        {"[node]\nauto_accept = true\n", "auto_accept: want yes or no"},
        {"[node]\nwitness = YES\n", "witness"},
        {"[node]\ncontrol = tcp://127.0.0.1:9\n", "control: 'tcp://127.0.0.1:9' is not an ipc://"},
        {"[node]\nreconnect_max_ms = 0\n", "reconnect_max_ms"},
        {"[node]\nname = f\n", "[node] missing required key(s): key, hub_pub, hub, feed, "
                               "data_dir, control, auto_accept, witness"},
        {NODE_HEAD OFFER_SEW "[capacity]\nlat = 1\n", "duplicate section [capacity]"},
    };
    s_refused(fx, 0, cases, sizeof cases / sizeof cases[0]);
}

/* Limits: members, offers, line length, path length, sizes. */
static void
test_limits(void **state)
{
    s_fx_t *fx = *state;
    size_t cap = 64 * 1024;
    char *text = malloc(cap), err[256];
    assert_non_null(text);
    for (int members = 64; members <= 65; members++) {
        size_t len = (size_t) snprintf(text, cap, "%s", HUB_MIN);
        for (int i = 0; i < members; i++)
            len += (size_t) snprintf(text + len, cap - len,
                                     "[member.m%d]\npub = m.pub\nrole = factory\n", i);
        int rc = config_hub_parse_string(text, len, "/b", fx->hub, err, sizeof err);
        if (members == 64) {
            assert_int_equal(rc, 0);
            assert_int_equal(fx->hub->nmembers, 64);
        } else {
            assert_int_equal(rc, COFAB_EMALFORMED);
            assert_non_null(strstr(err, "[member.m64] too many members (at most 64)"));
        }
    }
    for (int offers = 32; offers <= 33; offers++) {
        size_t len = (size_t) snprintf(text, cap, "%s", NODE_HEAD);
        for (int i = 0; i < offers; i++)
            len += (size_t) snprintf(text + len, cap - len,
                                     "[offer.p%d]\nmaterials = a\nunit_price = 1\nsetup_cost = 1\n"
                                     "moq = 1\nmax_qty = 1\nper_day = 1\n",
                                     i);
        int rc = config_node_parse_string(text, len, "/b", fx->node, err, sizeof err);
        if (offers == 32) {
            assert_int_equal(rc, 0);
            assert_int_equal(fx->node->noffers, 32);
        } else {
            assert_int_equal(rc, COFAB_EMALFORMED);
            assert_non_null(strstr(err, "[offer.p32] too many offers (at most 32)"));
        }
    }
    /* inih splits long lines; they are refused instead. 197 bytes is fine. */
    for (int width = 197; width <= 198; width++) {
        int pad = width - (int) strlen("location = ");
        int len = snprintf(text, cap, "[capacity]\nlocation = %0*d\n", pad, 0);
        assert_true(len > 0);
        config_node_parse_string(text, (size_t) len, "/b", fx->node, err, sizeof err);
        if (width == 197)
            assert_non_null(strstr(err, "location: want 0 to 64 bytes"));
        else
            assert_non_null(strstr(err, ":2: line longer than 197 bytes"));
    }
    /* A resolved path must fit CONFIG_PATH_MAX. */
    char base[CONFIG_PATH_MAX];
    memset(base, 'b', sizeof base - 3);
    base[0] = '/';
    base[sizeof base - 3] = '\0'; /* + "/data" is one byte too many */
    assert_int_equal(config_hub_parse_string(HUB_MIN, strlen(HUB_MIN), base, fx->hub, err,
                                             sizeof err),
                     COFAB_EMALFORMED);
    assert_non_null(strstr(err, "data_dir: path longer than 1023 bytes"));
    /* Text with a NUL inside, oversize text, bad arguments. */
    assert_int_equal(config_hub_parse_string("[hub]\0x", 7, NULL, fx->hub, err, sizeof err),
                     COFAB_EMALFORMED);
    assert_non_null(strstr(err, "control character 0x00"));
    assert_int_equal(config_hub_parse_string(text, CONFIG_FILE_MAX + 1, NULL, fx->hub, err,
                                             sizeof err),
                     COFAB_ETOOBIG);
    assert_int_equal(config_hub_parse_string(NULL, 1, NULL, fx->hub, err, sizeof err),
                     COFAB_EINVAL);
    assert_int_equal(config_node_parse_string("", 0, NULL, NULL, err, sizeof err), COFAB_EINVAL);
    assert_int_equal(config_hub_load(NULL, fx->hub, err, sizeof err), COFAB_EINVAL);
    /* A message that does not fit is cut, never overrun; no buffer is fine. */
    char small[8];
    assert_int_equal(config_hub_parse_string("[x]\na=1\n", 8, NULL, fx->hub, small, sizeof small),
                     COFAB_EMALFORMED);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(config_hub_parse_string("[x]\na=1\n", 8, NULL, fx->hub, NULL, 0),
                     COFAB_EMALFORMED);
    free(text);
}

static void
test_files(void **state)
{
    s_fx_t *fx = *state;
    char p[PATH_MAX], err[256];
    /* Exactly CONFIG_FILE_MAX bytes (comment padding) is read... */
    size_t max = CONFIG_FILE_MAX;
    char *big = malloc(max + 2);
    assert_non_null(big);
    size_t head = strlen(HUB_MIN);
    memcpy(big, HUB_MIN, head);
    for (size_t i = head; i < max; i++)
        big[i] = (i - head) % 100 == 99 || i == max - 1 ? '\n' : (i - head) % 100 == 0 ? ';' : 'c';
    s_write(fx, "exact.ini", big, max);
    s_path(fx, "exact.ini", p, sizeof p);
    assert_int_equal(config_hub_load(p, fx->hub, err, sizeof err), 0);
    /* ...one more byte is refused before parsing. */
    big[max] = '\n';
    s_write(fx, "big.ini", big, max + 1);
    s_path(fx, "big.ini", p, sizeof p);
    assert_int_equal(config_hub_load(p, fx->hub, err, sizeof err), COFAB_ETOOBIG);
    assert_non_null(strstr(err, "262145 bytes, more than the 262144 allowed"));
    assert_int_equal(config_node_load(p, fx->node, err, sizeof err), COFAB_ETOOBIG);
    free(big);
    /* Missing file, directory, malformed file: I/O versus content. */
    s_path(fx, "none.ini", p, sizeof p);
    assert_int_equal(config_hub_load(p, fx->hub, err, sizeof err), COFAB_EIO);
    assert_non_null(strstr(err, "none.ini"));
    s_path(fx, "sub", p, sizeof p);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(config_hub_load(p, fx->hub, err, sizeof err), COFAB_EIO);
    assert_non_null(strstr(err, "not a regular file"));
    static const char bad[] = "[hub]\norigin = o\nmax_batch = many\n";
    s_write(fx, "hub.ini", bad, sizeof bad - 1);
    s_path(fx, "hub.ini", p, sizeof p);
    assert_int_equal(config_hub_load(p, fx->hub, err, sizeof err), COFAB_EMALFORMED);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:3: [hub] max_batch: 'many' is not a decimal integer", p);
    assert_string_equal(err, want);
    /* A hub file is not a node file. */
    assert_int_equal(config_node_load("config/hub.ini", fx->node, err, sizeof err),
                     COFAB_EMALFORMED);
    assert_non_null(strstr(err, "unknown section [hub]"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hub_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hub_defaults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_node_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_node_defaults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_long_member_names, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_examples, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hub_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_node_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_limits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_files, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
