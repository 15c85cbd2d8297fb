/* cmd_order.c — `cofab order submit|cancel` and the ORDER.json reader (status is in cmd_order_status.c).
 *
 * ORDER.json, the file `cofab order submit --file` reads (UTF-8 JSON, at
 * most 64 KiB, unknown or repeated keys refused so a typo cannot silently
 * drop a field):
 *
 *   {
 *     "title": "Summer shirts",                 optional, <= 128 bytes
 *     "items": [                                1..8, distinct (process, material)
 *       {"process": "sewing", "material": "cotton", "qty": 120}
 *     ],                                        names [a-z0-9-]{1,32}, qty 1..1000000
 *     "due": "2026-12-20",                      ISO date (UTC day) ...
 *     "due_in_days": 14,                        ... or days from today (exactly one)
 *     "deliver_to": {"lat": 45.07, "lon": 7.68},  decimal degrees
 *     "budget_eur": 2500.00,                    optional, euros (to the cent); 0 = none
 *     "split": false                            optional: may be split across factories
 *   }
 *
 * The order id is 32 random bytes (the envelope's subject), printed in hex
 * only once the hub has acknowledged the record as durable.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cofab/cli.h"
#include "cofab/client.h"
#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/util.h"
#include "cmd_order_internal.h"

#define S_ORDER_FILE_MAX 65536
#define S_MAX_DUE_IN_DAYS 3660

void
order_usage(FILE *out)
{
    fprintf(out,
            "usage: cofab order submit --hub EP --hub-key HUB.pub --key K --file ORDER.json [--json]\n"
            "       cofab order status ID --hub EP --hub-key HUB.pub [--key K] [--json] "
            "[--receipt FILE] [--state DIR]\n"
            "       cofab order cancel ID --hub EP --hub-key HUB.pub --key K [--reason TEXT] "
            "[--json]\n"
            "  --timeout S  give up after S seconds without an answer (default %d): exit 3\n"
            "ORDER.json: {\"title\": \"...\", \"items\": [{\"process\": \"sewing\", "
            "\"material\": \"cotton\", \"qty\": 120}],\n"
            "  \"due\": \"2026-12-20\" | \"due_in_days\": 14, \"deliver_to\": {\"lat\": 45.07, "
            "\"lon\": 7.68},\n"
            "  \"budget_eur\": 2500.00, \"split\": false}\n",
            ORDER_DEFAULT_TIMEOUT_S);
}

int
order_parse_args(int argc, char **argv, order_args_t *a)
{
    static const struct option opts[] = {
        {"hub", required_argument, NULL, 'h'},     {"hub-key", required_argument, NULL, 'p'},
        {"key", required_argument, NULL, 'k'},     {"file", required_argument, NULL, 'f'},
        {"receipt", required_argument, NULL, 'r'}, {"reason", required_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
        {"pub", required_argument, NULL, 'P'},     {"role", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, '?'},          {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->timeout_ms = ORDER_DEFAULT_TIMEOUT_S * 1000;
    int c;
    uint64_t n;
    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': a->hub = optarg; break;
        case 'p': a->hub_key = optarg; break;
        case 'k': a->key = optarg; break;
        case 'f': a->file = optarg; break;
        case 'r': a->receipt = optarg; break;
        case 'R': a->reason = optarg; break;
        case 'P': a->pub = optarg; break;
        case 'o': a->role = optarg; break;
        case 'j': a->json = 1; break;
        case 't':
            if (cli_parse_u64(optarg, &n) != 0 || n == 0 || n > 3600)
                return -1;
            a->timeout_ms = (int) n * 1000;
            break;
        default:
            return -1;
        }
    }
    a->first_arg = optind;
    return 0;
}

int
order_connect(const char *prog, const order_args_t *a, keys_public_t *hub, keys_t **keys,
              client_t **client)
{
    int rc = keys_public_load(hub, a->hub_key);
    if (rc != 0) {
        fprintf(stderr, "%s: hub key %s: %s\n", prog, a->hub_key, cofab_strerror(rc));
        return CLI_USAGE;
    }
    if (a->key) {
        *keys = cli_load_key(prog, a->key);
    } else {
        /* Reading needs no identity: a throwaway transport key will do
         * where the alliance lets any key in. */
        *keys = keys_generate("reader");
    }
    if (!*keys)
        return CLI_USAGE;
    *client = client_new(a->hub, *keys, hub->curve_pk);
    if (!*client) {
        fprintf(stderr, "%s: bad hub endpoint %s\n", prog, a->hub);
        keys_destroy(keys);
        return CLI_USAGE;
    }
    return CLI_OK;
}

int
order_exit_code(int rc)
{
    return rc == 0 ? CLI_OK : rc == COFAB_ENET ? CLI_UNREACHABLE : CLI_FAIL;
}

/* ---- ORDER.json ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (y, m 1..12, d). */
static int64_t
s_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int
order_parse_date(const char *text, uint32_t *day)
{
    if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return COFAB_EMALFORMED;
    int v[3] = {0, 0, 0}, idx[3][2] = {{0, 4}, {5, 2}, {8, 2}};
    for (int f = 0; f < 3; f++)
        for (int i = 0; i < idx[f][1]; i++) {
            char ch = text[idx[f][0] + i];
            if (ch < '0' || ch > '9')
                return COFAB_EMALFORMED;
            v[f] = v[f] * 10 + (ch - '0');
        }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
    if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] ||
        (v[1] == 2 && !leap && v[2] > 28))
        return COFAB_EMALFORMED;
    *day = (uint32_t) s_days_from_civil(v[0], v[1], v[2]);
    return 0;
}

static int
s_bad(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return COFAB_EMALFORMED;
}

/* Copies a JSON string (no NUL inside, at most max bytes). */
static int
s_str(json_t *v, char *out, size_t max)
{
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return COFAB_EMALFORMED;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int
s_only_keys(json_t *obj, const char *const *allowed, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            snprintf(err, errlen, "unknown key \"%s\"", key);
            return COFAB_EMALFORMED;
        }
    }
    return 0;
}

static int
s_items(json_t *items, payload_order_t *o, char *err, size_t errlen)
{
    static const char *const item_keys[] = {"process", "material", "qty", NULL};
    if (!json_is_array(items) || json_array_size(items) == 0 ||
        json_array_size(items) > PAYLOAD_MAX_ITEMS)
        return s_bad(err, errlen, "\"items\" must be a list of 1 to 8 items");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        matcher_item_t *m = &o->items[i];
        if (!json_is_object(it))
            return s_bad(err, errlen, "each item must be an object");
        int rc = s_only_keys(it, item_keys, err, errlen);
        if (rc != 0)
            return rc;
        json_t *qty = json_object_get(it, "qty");
        if (s_str(json_object_get(it, "process"), m->process, PAYLOAD_NAME_MAX) != 0 ||
            s_str(json_object_get(it, "material"), m->material, PAYLOAD_NAME_MAX) != 0)
            return s_bad(err, errlen, "each item needs \"process\" and \"material\" names "
                                      "[a-z0-9-]{1,32}");
        if (!json_is_integer(qty) || json_integer_value(qty) < 1 ||
            json_integer_value(qty) > MATCHER_MAX_QTY)
            return s_bad(err, errlen, "each item needs a whole \"qty\" of at least 1");
        m->qty = json_integer_value(qty);
    }
    o->nitems = (uint32_t) json_array_size(items);
    return 0;
}

static int
s_due(json_t *due, json_t *in_days, payload_order_t *o, char *err, size_t errlen)
{
    if (!due == !in_days)
        return s_bad(err, errlen, "give exactly one of \"due\" and \"due_in_days\"");
    if (due)
        return json_is_string(due) && order_parse_date(json_string_value(due), &o->due_day) == 0
                   ? 0
                   : s_bad(err, errlen, "\"due\" must be a date YYYY-MM-DD");
    if (!json_is_integer(in_days) || json_integer_value(in_days) < 1 ||
        json_integer_value(in_days) > S_MAX_DUE_IN_DAYS)
        return s_bad(err, errlen, "\"due_in_days\" must be a whole number 1..3660");
    o->due_day = (uint32_t) (util_now_ms() / 86400000u + (uint64_t) json_integer_value(in_days));
    return 0;
}

static int
s_place(json_t *to, payload_order_t *o, char *err, size_t errlen)
{
    static const char *const place_keys[] = {"lat", "lon", NULL};
    if (!json_is_object(to) || s_only_keys(to, place_keys, err, errlen) != 0)
        return s_bad(err, errlen, "\"deliver_to\" must be {\"lat\": ..., \"lon\": ...}");
    json_t *lat = json_object_get(to, "lat"), *lon = json_object_get(to, "lon");
    if (!json_is_number(lat) || !json_is_number(lon))
        return s_bad(err, errlen, "\"deliver_to\" needs numbers \"lat\" and \"lon\"");
    double la = json_number_value(lat), lo = json_number_value(lon);
    if (!(fabs(la) <= 90.0) || !(fabs(lo) <= 180.0))
        return s_bad(err, errlen, "\"deliver_to\" is off the globe");
    o->lat_e6 = (int32_t) llround(la * 1e6);
    o->lon_e6 = (int32_t) llround(lo * 1e6);
    return 0;
}

int
order_from_json(const char *text, size_t len, payload_order_t *o, char *err, size_t errlen)
{
    static const char *const keys[] = {"title", "items", "due", "due_in_days", "deliver_to",
                                       "budget_eur", "split", NULL};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "line %d: %s", je.line, je.text);
        return COFAB_EMALFORMED;
    }
    memset(o, 0, sizeof *o);
    int rc = json_is_object(root) ? s_only_keys(root, keys, err, errlen)
                                  : s_bad(err, errlen, "not a JSON object");
    json_t *title = json_object_get(root, "title"), *budget = json_object_get(root, "budget_eur"),
           *split = json_object_get(root, "split");
    if (rc == 0 && title && s_str(title, o->title, PAYLOAD_MAX_TITLE) != 0)
        rc = s_bad(err, errlen, "\"title\" must be text of at most 128 bytes");
    if (rc == 0)
        rc = s_items(json_object_get(root, "items"), o, err, errlen);
    if (rc == 0)
        rc = s_due(json_object_get(root, "due"), json_object_get(root, "due_in_days"), o, err,
                   errlen);
    if (rc == 0)
        rc = s_place(json_object_get(root, "deliver_to"), o, err, errlen);
    if (rc == 0 && budget) {
        double eur = json_is_number(budget) ? json_number_value(budget) : -1.0;
        if (!(eur >= 0.0) || eur * 100.0 > (double) MATCHER_MAX_BUDGET)
            rc = s_bad(err, errlen, "\"budget_eur\" must be a non-negative amount");
        else
            o->budget = (int64_t) llround(eur * 100.0);
    }
    if (rc == 0 && split) {
        if (!json_is_boolean(split))
            rc = s_bad(err, errlen, "\"split\" must be true or false");
        o->split = json_is_true(split);
    }
    json_decref(root);
    if (rc == 0) { /* the payload's own rules: names, distinct items, ranges */
        uint8_t *buf = NULL;
        size_t n = 0;
        rc = payload_order_encode(o, &buf, &n);
        free(buf);
        if (rc != 0)
            snprintf(err, errlen, "order breaks the rules (names [a-z0-9-]{1,32}, distinct "
                                  "items, quantities): %s", cofab_strerror(rc));
    }
    return rc;
}

/* ---- submit ---- */

static int
s_submit(int argc, char **argv)
{
    const char *prog = "cofab order submit";
    order_args_t a;
    if (order_parse_args(argc, argv, &a) != 0 || !a.hub || !a.hub_key || !a.key || !a.file ||
        a.first_arg != argc || a.receipt || a.reason || a.pub || a.role) {
        order_usage(stderr);
        return CLI_USAGE;
    }
    uint8_t *text = NULL, *payload = NULL;
    size_t len = 0, plen = 0;
    char err[256] = "";
    payload_order_t o;
    int rc = util_read_file(a.file, S_ORDER_FILE_MAX, &text, &len);
    if (rc != 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, a.file, cofab_strerror(rc));
        return CLI_USAGE;
    }
    rc = order_from_json((const char *) text, len, &o, err, sizeof err);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, a.file, err);
        return CLI_USAGE;
    }
    if (payload_order_encode(&o, &payload, &plen) != 0)
        return CLI_FAIL;
    keys_public_t hub;
    keys_t *keys = NULL;
    client_t *client = NULL;
    int code = order_connect(prog, &a, &hub, &keys, &client);
    if (code != CLI_OK) {
        free(payload);
        return code;
    }
    uint8_t id[32];
    uint64_t pos = 0;
    char reason[WIRE_MAX_REASON + 1] = "";
    randombytes_buf(id, sizeof id);
    rc = client_submit(client, ENVELOPE_ORDER, id, payload, plen, a.timeout_ms, &pos, reason);
    code = order_exit_code(rc);
    char hex[65];
    cli_hex32(id, hex);
    if (rc == 0 && a.json)
        printf("{\"order\": \"%s\", \"position\": %llu}\n", hex, (unsigned long long) pos);
    else if (rc == 0)
        printf("%s\n", hex);
    else
        client_report_failure(prog, a.hub, a.timeout_ms, rc, reason);
    client_destroy(&client);
    keys_destroy(&keys);
    free(payload);
    return code;
}

/* ---- cancel ---- */

static int
s_cancel(int argc, char **argv)
{
    const char *prog = "cofab order cancel";
    order_args_t a;
    uint8_t id[32];
    if (order_parse_args(argc, argv, &a) != 0 || !a.hub || !a.hub_key || !a.key ||
        a.first_arg != argc - 1 || cli_parse_hex32(argv[a.first_arg], id) != 0 || a.file ||
        a.receipt || a.pub || a.role) {
        order_usage(stderr);
        return CLI_USAGE;
    }
    payload_cancel_t c;
    memset(&c, 0, sizeof c);
    if (a.reason && strlen(a.reason) > PAYLOAD_MAX_TEXT) {
        fprintf(stderr, "%s: --reason is longer than %d bytes\n", prog, PAYLOAD_MAX_TEXT);
        return CLI_USAGE;
    }
    snprintf(c.reason, sizeof c.reason, "%s", a.reason ? a.reason : "");
    uint8_t *payload = NULL;
    size_t plen = 0;
    int rc = payload_cancel_encode(&c, &payload, &plen);
    if (rc != 0) {
        fprintf(stderr, "%s: bad --reason: %s\n", prog, cofab_strerror(rc));
        return CLI_USAGE;
    }
    keys_public_t hub;
    keys_t *keys = NULL;
    client_t *client = NULL;
    int code = order_connect(prog, &a, &hub, &keys, &client);
    if (code != CLI_OK) {
        free(payload);
        return code;
    }
    uint64_t pos = 0;
    char reason[WIRE_MAX_REASON + 1] = "";
    rc = client_submit(client, ENVELOPE_CANCEL, id, payload, plen, a.timeout_ms, &pos, reason);
    code = order_exit_code(rc);
    if (rc == 0 && a.json)
        printf("{\"order\": \"%s\", \"cancelled\": true, \"position\": %llu}\n",
               argv[a.first_arg], (unsigned long long) pos);
    else if (rc == 0)
        printf("cancelled %s at position %llu\n", argv[a.first_arg], (unsigned long long) pos);
    else
        client_report_failure(prog, a.hub, a.timeout_ms, rc, reason);
    client_destroy(&client);
    keys_destroy(&keys);
    free(payload);
    return code;
}

int
order_main(int argc, char **argv)
{
    if (argc < 2) {
        order_usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        order_usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "submit"))
        return s_submit(argc - 1, argv + 1);
    if (!strcmp(argv[1], "status"))
        return order_status_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "cancel"))
        return s_cancel(argc - 1, argv + 1);
    fprintf(stderr, "cofab order: unknown action '%s'\n", argv[1]);
    order_usage(stderr);
    return CLI_USAGE;
}
