/* config_keys.c — the keys of hub and factory configuration files and how their values are checked. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "cofab/config.h"
#include "cofab/error.h"
#include "config_internal.h"

#define S_F(T, f) offsetof(T, f), sizeof(((T *) 0)->f)

static const char *const s_customers[] = {"open", "listed", NULL};
static const char *const s_roles[] = {"factory", "witness", "customer", NULL};

static const config_key_t s_hub_keys[] = {
    {"origin", K_TEXT, 1, S_F(config_hub_t, origin), 1, 255, NULL},
    {"data_dir", K_PATH, 1, S_F(config_hub_t, data_dir), 0, 0, NULL},
    {"key", K_PATH, 1, S_F(config_hub_t, key), 0, 0, NULL},
    {"operator", K_PATH, 1, S_F(config_hub_t, operator_pub), 0, 0, NULL},
    {"submit", K_ENDPOINT, 1, S_F(config_hub_t, submit), 0, 0, NULL},
    {"feed", K_ENDPOINT, 1, S_F(config_hub_t, feed), 0, 0, NULL},
    {"batch_window_ms", K_INT, 0, S_F(config_hub_t, batch_window_ms), 0, 10000, NULL},
    {"max_batch", K_INT, 0, S_F(config_hub_t, max_batch), 1, 65536, NULL},
    {"checkpoint_every", K_INT, 0, S_F(config_hub_t, checkpoint_every), 1, 10000000, NULL},
    {"checkpoint_ms", K_INT, 0, S_F(config_hub_t, checkpoint_ms), 1, 86400000, NULL},
    {"match_interval_ms", K_INT, 0, S_F(config_hub_t, match_interval_ms), 0, 3600000, NULL},
    {"verify_threads", K_INT, 0, S_F(config_hub_t, verify_threads), 1, 64, NULL},
    {"map_max_mb", K_INT, 0, S_F(config_hub_t, map_max_mb), 0, 16777216, NULL},
    {"customer_rate", K_INT, 0, S_F(config_hub_t, customer_rate), 0, 1000000, NULL},
};

static const config_key_t s_alliance_keys[] = {
    {"customers", K_ENUM, 1, S_F(config_hub_t, customers), 0, 0, s_customers},
    {"witness_k", K_INT, 0, S_F(config_hub_t, witness_k), 0, CONFIG_MAX_MEMBERS, NULL},
    {"ack_timeout_s", K_INT, 0, S_F(config_hub_t, ack_timeout_s), 1, 604800, NULL},
};

static const config_key_t s_member_keys[] = {
    {"pub", K_PATH, 1, S_F(config_member_t, pub), 0, 0, NULL},
    {"role", K_ENUM, 1, S_F(config_member_t, role), 0, 0, s_roles},
};

/* Every matcher_params_t field; the range here is only the type's (unsigned
 * 64-bit fields stop at INT64_MAX), matcher_params_check does the rest. */
#define S_P(f, lo, hi) {#f, K_INT, 0, S_F(matcher_params_t, f), lo, hi, NULL}
static const config_key_t s_matcher_keys[] = {
    S_P(ship_per_km, INT64_MIN, INT64_MAX),
    S_P(ship_per_unit_km_milli, INT64_MIN, INT64_MAX),
    S_P(km_per_day, INT64_MIN, INT64_MAX),
    S_P(late_per_day, INT64_MIN, INT64_MAX),
    S_P(reliability_pm, INT32_MIN, INT32_MAX),
    S_P(reliability_full, 0, UINT32_MAX),
    S_P(reserve_pm, INT32_MIN, INT32_MAX),
    S_P(batch_window, 0, UINT32_MAX),
    S_P(min_capable, 0, UINT32_MAX),
    S_P(max_candidates, 0, UINT32_MAX),
    S_P(max_split, 0, UINT32_MAX),
    S_P(unplaced_penalty, INT64_MIN, INT64_MAX),
    S_P(lagr_iters, 0, UINT32_MAX),
    S_P(ls_budget, 0, INT64_MAX),
    S_P(bnb_nodes, 0, INT64_MAX),
};
/* A new matcher_params_t field must get a line in the table above. */
_Static_assert(sizeof(matcher_params_t) == 96,
               "matcher_params_t changed: update s_matcher_keys in node/config.c");

static const config_key_t s_node_keys[] = {
    {"name", K_KEYNAME, 1, S_F(config_node_t, name), 0, 0, NULL},
    {"key", K_PATH, 1, S_F(config_node_t, key), 0, 0, NULL},
    {"hub_pub", K_PATH, 1, S_F(config_node_t, hub_pub), 0, 0, NULL},
    {"hub", K_ENDPOINT, 1, S_F(config_node_t, hub), 0, 0, NULL},
    {"feed", K_ENDPOINT, 1, S_F(config_node_t, feed), 0, 0, NULL},
    {"data_dir", K_PATH, 1, S_F(config_node_t, data_dir), 0, 0, NULL},
    {"control", K_IPC, 1, S_F(config_node_t, control), 0, 0, NULL},
    {"auto_accept", K_YESNO, 1, S_F(config_node_t, auto_accept), 0, 0, NULL},
    {"witness", K_YESNO, 1, S_F(config_node_t, witness), 0, 0, NULL},
    {"reconnect_max_ms", K_INT, 0, S_F(config_node_t, reconnect_max_ms), 1, 3600000, NULL},
};

static const config_key_t s_capacity_keys[] = {
    {"lat", K_DBL, 1, S_F(config_node_t, lat), -90, 90, NULL},
    {"lon", K_DBL, 1, S_F(config_node_t, lon), -180, 180, NULL},
    {"lead_days", K_INT, 1, S_F(config_node_t, lead_days), 0, MATCHER_MAX_LEAD, NULL},
    {"reserve_pct", K_INT, 0, S_F(config_node_t, reserve_pct), -1, 100, NULL},
    {"horizon_days", K_INT, 0, S_F(config_node_t, horizon_days), 1, MATCHER_MAX_HORIZON, NULL},
    {"location", K_TEXT, 1, S_F(config_node_t, location), 0, 64, NULL},
    {"valid_days", K_INT, 0, S_F(config_node_t, valid_days), 1, MATCHER_MAX_HORIZON, NULL},
};

static const config_key_t s_offer_keys[] = {
    {"materials", K_MATERIALS, 1, S_F(config_offer_t, materials), 0, 0, NULL},
    {"unit_price", K_INT, 1, S_F(config_offer_t, unit_price), 0, MATCHER_MAX_PRICE, NULL},
    {"setup_cost", K_INT, 1, S_F(config_offer_t, setup_cost), 0, MATCHER_MAX_SETUP, NULL},
    {"moq", K_INT, 1, S_F(config_offer_t, moq), 1, MATCHER_MAX_QTY, NULL},
    {"max_qty", K_INT, 1, S_F(config_offer_t, max_qty), 1, MATCHER_MAX_QTY, NULL},
    {"per_day", K_INT, 1, S_F(config_offer_t, per_day), 0, MATCHER_MAX_CAP, NULL},
    {"days_off", K_DAYS, 0, S_F(config_offer_t, days_off), 0, 0, NULL},
};

static const config_key_t s_gateway_keys[] = {
    {"listen", K_TEXT, 0, S_F(config_gateway_t, listen), 3, 64, NULL},
    {"max_connections", K_INT, 0, S_F(config_gateway_t, max_connections), 1, 10000, NULL},
    {"max_per_ip", K_INT, 0, S_F(config_gateway_t, max_per_ip), 1, 10000, NULL},
    {"timeout_s", K_INT, 0, S_F(config_gateway_t, timeout_s), 1, 3600, NULL},
    {"threads", K_INT, 0, S_F(config_gateway_t, threads), 1, 64, NULL},
};

#define S_KEYS(a) a, sizeof a / sizeof a[0]
const config_sect_t config_sects[CONFIG_T_COUNT] = {
    [CONFIG_T_HUB] = {"hub", 1, 0, S_KEYS(s_hub_keys)},
    [CONFIG_T_ALLIANCE] = {"alliance", 1, 0, S_KEYS(s_alliance_keys)},
    [CONFIG_T_MATCHER] = {"matcher", 1, 0, S_KEYS(s_matcher_keys)},
    [CONFIG_T_MEMBER] = {"member", 1, 1, S_KEYS(s_member_keys)},
    [CONFIG_T_NODE] = {"node", 0, 0, S_KEYS(s_node_keys)},
    [CONFIG_T_CAPACITY] = {"capacity", 0, 0, S_KEYS(s_capacity_keys)},
    [CONFIG_T_OFFER] = {"offer", 0, 1, S_KEYS(s_offer_keys)},
    [CONFIG_T_GATEWAY] = {"gateway", 1, 0, S_KEYS(s_gateway_keys)},
};
_Static_assert(sizeof s_hub_keys / sizeof s_hub_keys[0] <= CONFIG_MAX_KEYS, "too many keys");
_Static_assert(sizeof s_matcher_keys / sizeof s_matcher_keys[0] <= CONFIG_MAX_KEYS,
               "too many keys");

/* Copies at most CONFIG_CLIP bytes of s without cutting a UTF-8 sequence (the
 * input was checked to be UTF-8, so the message stays UTF-8); tabs, the one
 * control character the input may hold, become spaces. */
const char *
config_clip(char out[CONFIG_CLIP + 1], const char *s)
{
    size_t n = strnlen(s, CONFIG_CLIP + 1);
    if (n > CONFIG_CLIP) {
        n = CONFIG_CLIP;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] == '\t' ? ' ' : s[i];
    out[n] = '\0';
    return out;
}

/* ---- values --------------------------------------------------------- */

/* 0 ok, -1 not a decimal integer, -2 outside lo..hi (or int64). */
static int
s_int(const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    const char *d = v[0] == '-' ? v + 1 : v;
    if (*d == '\0')
        return -1;
    for (const char *q = d; *q; q++)
        if (*q < '0' || *q > '9')
            return -1;
    errno = 0;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0')
        return -1;
    if (errno == ERANGE || x < lo || x > hi)
        return -2;
    *out = x;
    return 0;
}

/* Same for a decimal number: [-]digits[.digits][e[+-]digits] as strtod
 * reads it, but never hex, inf or nan. */
static int
s_dbl(const char *v, double lo, double hi, double *out)
{
    const char *d = v[0] == '-' ? v + 1 : v;
    if (*d < '0' || *d > '9')
        return -1;
    for (const char *q = d; *q; q++)
        if (!strchr("0123456789.eE+-", *q))
            return -1;
    errno = 0;
    char *end = NULL;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || !isfinite(x))
        return -1;
    if (errno == ERANGE || x < lo || x > hi)
        return -2;
    *out = x;
    return 0;
}

/* 1 if s[0..n) is 1..max bytes of [a-z0-9-] (lower) or [A-Za-z0-9._-]. */
int
config_name_ok(const char *s, size_t n, size_t max, int keyname)
{
    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                 (keyname && ((ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '_'));
        if (!ok)
            return 0;
    }
    return 1;
}

/* 1 if v looks like transport://address in printable ASCII. */
static int
s_endpoint_ok(const char *v, size_t size, int ipc_only)
{
    size_t n = strlen(v);
    const char *sep = strstr(v, "://");
    if (n == 0 || n >= size || !sep || sep == v || sep[3] == '\0')
        return 0;
    for (const char *p = v; p < sep; p++)
        if (*p < 'a' || *p > 'z')
            return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] <= ' ' || v[i] > '~')
            return 0;
    return !ipc_only || strncmp(v, "ipc://", 6) == 0;
}

/* Splits a comma list; calls item(c, k, piece, n, arg) for each trimmed
 * piece until an error. */
static void
s_list(config_ctx_t *c, const config_key_t *k, const char *v,
       void (*item)(config_ctx_t *, const config_key_t *, const char *, size_t, void *), void *arg)
{
    const char *p = v;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t) (e - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        item(c, k, p, n, arg);
        if (c->rc || !e)
            return;
        p = e + 1;
    }
}

static void
s_material(config_ctx_t *c, const config_key_t *k, const char *p, size_t n, void *arg)
{
    config_offer_t *o = arg;
    char name[MATCHER_NAME_MAX + 1], q[CONFIG_CLIP + 1];
    if (!config_name_ok(p, n, MATCHER_NAME_MAX, 0)) {
        char raw[CONFIG_CLIP + 2], bad[CONFIG_CLIP + 1];
        snprintf(raw, sizeof raw, "%.*s", (int) (n <= CONFIG_CLIP ? n : CONFIG_CLIP + 1), p);
        config_fail(c, c->line, "[%s] %s: invalid material '%s' (want [a-z0-9-]{1,32})",
                    config_clip(q, c->hdr), k->name, config_clip(bad, raw));
        return;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    for (uint32_t i = 0; i < o->nmaterials; i++)
        if (strcmp(o->materials[i], name) == 0) {
            config_fail(c, c->line, "[%s] %s: material '%s' listed twice", config_clip(q, c->hdr),
                        k->name, name);
            return;
        }
    if (o->nmaterials == MATCHER_MAX_MATERIALS) {
        config_fail(c, c->line, "[%s] %s: more than %d materials", config_clip(q, c->hdr), k->name,
                    MATCHER_MAX_MATERIALS);
        return;
    }
    memcpy(o->materials[o->nmaterials++], name, n + 1);
}

static void
s_day(config_ctx_t *c, const config_key_t *k, const char *p, size_t n, void *arg)
{
    uint8_t *days = arg;
    char q[CONFIG_CLIP + 1];
    if (n != 1 || p[0] < '0' || p[0] > '6') {
        config_fail(c, c->line, "[%s] %s: want weekday numbers 0 (Monday) to 6 or \"none\"",
                    config_clip(q, c->hdr), k->name);
        return;
    }
    uint8_t bit = (uint8_t) (1u << (p[0] - '0'));
    if (*days & bit) {
        config_fail(c, c->line, "[%s] %s: day %c listed twice", config_clip(q, c->hdr), k->name,
                    p[0]);
        return;
    }
    *days |= bit;
}

static void
s_path(config_ctx_t *c, const config_key_t *k, const char *v, char *dst)
{
    char q[CONFIG_CLIP + 1];
    size_t n = strlen(v);
    int r = -1;
    if (n == 0) {
        config_fail(c, c->line, "[%s] %s: empty path", config_clip(q, c->hdr), k->name);
        return;
    }
    if (v[0] == '/' || !c->base_dir || !c->base_dir[0]) {
        r = snprintf(dst, k->size, "%s", v);
    } else {
        size_t bl = strlen(c->base_dir);
        r = snprintf(dst, k->size, "%s%s%s", c->base_dir, c->base_dir[bl - 1] == '/' ? "" : "/", v);
    }
    if (r < 0 || (size_t) r >= k->size)
        config_fail(c, c->line, "[%s] %s: path longer than %zu bytes", config_clip(q, c->hdr),
                    k->name, k->size - 1);
}

/* Stores an in-range integer into a field of 1, 4 or 8 bytes. */
static void
s_store_int(void *dst, size_t size, int64_t x)
{
    if (size == 8) {
        memcpy(dst, &x, 8);
    } else if (size == 4 && x < 0) {
        int32_t t = (int32_t) x;
        memcpy(dst, &t, 4);
    } else if (size == 4) {
        uint32_t t = (uint32_t) x;
        memcpy(dst, &t, 4);
    }
}

void
config_set(config_ctx_t *c, const config_key_t *k, const char *v)
{
    char *dst = (char *) c->base + k->off;
    char q[CONFIG_CLIP + 1], vq[CONFIG_CLIP + 1];
    const char *sect = config_clip(q, c->hdr);
    size_t n = strlen(v);
    int64_t x = 0;
    double d = 0;
    int r;

    switch (k->kind) {
    case K_TEXT:
        if (n < (size_t) k->lo || n > (size_t) k->hi || n >= k->size)
            config_fail(c, c->line, "[%s] %s: want %lld to %lld bytes of text, not %zu", sect,
                        k->name, (long long) k->lo, (long long) k->hi, n);
        else
            memcpy(dst, v, n + 1);
        break;
    case K_KEYNAME:
        if (!config_name_ok(v, n, k->size - 1, 1))
            config_fail(c, c->line, "[%s] %s: invalid name '%s' (want [A-Za-z0-9._-]{1,%zu})", sect,
                        k->name, config_clip(vq, v), k->size - 1);
        else
            memcpy(dst, v, n + 1);
        break;
    case K_PATH:
        s_path(c, k, v, dst);
        break;
    case K_ENDPOINT:
    case K_IPC:
        if (!s_endpoint_ok(v, k->size, k->kind == K_IPC))
            config_fail(c, c->line, "[%s] %s: '%s' is not a%s endpoint (transport://address)", sect,
                        k->name, config_clip(vq, v), k->kind == K_IPC ? "n ipc://" : " ZeroMQ");
        else
            memcpy(dst, v, n + 1);
        break;
    case K_INT:
        r = s_int(v, k->lo, k->hi, &x);
        if (r == -1)
            config_fail(c, c->line, "[%s] %s: '%s' is not a decimal integer", sect, k->name,
                        config_clip(vq, v));
        else if (r == -2)
            config_fail(c, c->line, "[%s] %s: %s is out of range %lld..%lld", sect, k->name,
                        config_clip(vq, v), (long long) k->lo, (long long) k->hi);
        else
            s_store_int(dst, k->size, x);
        break;
    case K_DBL:
        r = s_dbl(v, (double) k->lo, (double) k->hi, &d);
        if (r == -1)
            config_fail(c, c->line, "[%s] %s: '%s' is not a decimal number", sect, k->name,
                        config_clip(vq, v));
        else if (r == -2)
            config_fail(c, c->line, "[%s] %s: %s is out of range %lld..%lld", sect, k->name,
                        config_clip(vq, v), (long long) k->lo, (long long) k->hi);
        else
            memcpy(dst, &d, sizeof d);
        break;
    case K_YESNO:
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0) {
            config_fail(c, c->line, "[%s] %s: want yes or no, not '%s'", sect, k->name,
                        config_clip(vq, v));
        } else {
            int b = v[0] == 'y';
            memcpy(dst, &b, sizeof b);
        }
        break;
    case K_ENUM: {
        char set[64] = "";
        for (size_t i = 0; k->set[i]; i++) {
            if (strcmp(v, k->set[i]) == 0) {
                memcpy(dst, v, n + 1);
                return;
            }
            size_t used = strlen(set);
            snprintf(set + used, sizeof set - used, "%s%s", i ? "|" : "", k->set[i]);
        }
        config_fail(c, c->line, "[%s] %s: '%s' is not one of %s", sect, k->name, config_clip(vq, v),
                    set);
        break;
    }
    case K_MATERIALS:
        ((config_offer_t *) c->base)->nmaterials = 0;
        s_list(c, k, v, s_material, c->base);
        break;
    case K_DAYS:
        *(uint8_t *) dst = 0;
        if (strcmp(v, "none") != 0)
            s_list(c, k, v, s_day, dst);
        break;
    }
}

int
config_listen_parse(const char *listen, char *host, size_t host_max, uint16_t *port)
{
    if (!listen || !host || !port || host_max == 0)
        return COFAB_EINVAL;
    host[0] = '\0';
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return COFAB_EMALFORMED;
    const char *h = listen;
    size_t hl = (size_t) (colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
        h++, hl -= 2;
    else if (memchr(h, ':', hl)) /* an IPv6 literal needs brackets */
        return COFAB_EMALFORMED;
    int64_t p = 0;
    if (hl == 0 || hl >= host_max || hl > 45 || s_int(colon + 1, 0, 65535, &p) != 0 ||
        colon[1] == '-')
        return COFAB_EMALFORMED;
    char buf[46];
    memcpy(buf, h, hl);
    buf[hl] = '\0';
    unsigned char addr[16];
    if (inet_pton(h == listen ? AF_INET : AF_INET6, buf, addr) != 1)
        return COFAB_EMALFORMED;
    memcpy(host, buf, hl + 1);
    *port = (uint16_t) p;
    return 0;
}

/* Index of key name in section type t (the name must exist). */
size_t
config_key_index(int t, const char *name)
{
    size_t i = 0;
    while (i + 1 < config_sects[t].nkeys && strcmp(config_sects[t].keys[i].name, name) != 0)
        i++;
    return i;
}

/* 0 if the whole input is UTF-8 without control characters other than tab
 * and line ends; else fails naming the line. */
int
config_scan(config_ctx_t *c)
{
    const unsigned char *s = (const unsigned char *) c->text;
    unsigned line = 1;
    for (size_t i = 0; i < c->len;) {
        unsigned char b = s[i];
        if (b == '\n')
            line++;
        if (b == '\n' || b == '\t' || (b >= 0x20 && b < 0x7f) ||
            (b == '\r' && i + 1 < c->len && s[i + 1] == '\n')) {
            i++;
            continue;
        }
        size_t n = 0;
        uint32_t cp = 0, min = 0;
        if (b >= 0xC2 && b <= 0xDF)
            n = 2, cp = b & 0x1Fu, min = 0x80;
        else if (b >= 0xE0 && b <= 0xEF)
            n = 3, cp = b & 0x0Fu, min = 0x800;
        else if (b >= 0xF0 && b <= 0xF4)
            n = 4, cp = b & 0x07u, min = 0x10000;
        if (b < 0x80) {
            config_fail(c, line, "control character 0x%02x", b);
            return -1;
        }
        if (n == 0 || c->len - i < n)
            goto bad;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        if (cp <= 0x9F) {
            config_fail(c, line, "control character U+%04X", (unsigned) cp);
            return -1;
        }
        i += n;
    }
    return 0;
bad:
    config_fail(c, line, "not valid UTF-8");
    return -1;
}
