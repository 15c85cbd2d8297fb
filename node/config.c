/* config.c — hub and factory-node configuration files: libinih reads the syntax, this the rules. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "cofab/config.h"
#include "cofab/error.h"
#include "config_internal.h"

void
config_fail(config_ctx_t *c, unsigned line, const char *fmt, ...)
{
    if (c->rc)
        return;
    c->rc = COFAB_EMALFORMED;
    c->err_at = c->line;
    if (!c->err || c->errlen == 0)
        return;
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line)
        snprintf(c->err, c->errlen, "%s:%u: %s", c->src, line, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->src, msg);
}

/* ---- sections -------------------------------------------------------- */

/* Fails naming every required key of type t missing from seen. */
static void
s_required(config_ctx_t *c, int t, uint32_t seen, unsigned line, const char *sect)
{
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < config_sects[t].nkeys; i++) {
        if (!config_sects[t].keys[i].required || (seen >> i) & 1)
            continue;
        int r = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                         config_sects[t].keys[i].name);
        if (r > 0 && (size_t) r < sizeof list - used)
            used += (size_t) r;
    }
    if (used) {
        char q[CONFIG_CLIP + 1];
        config_fail(c, line, "[%s] missing required key(s): %s", config_clip(q, sect), list);
    }
}

/* The handler met the first key after a new header: find what the
 * section is and where its keys go. */
static void
s_open(config_ctx_t *c, const char *section)
{
    char q[CONFIG_CLIP + 1];
    const char *h = c->hdr;
    size_t il = strlen(section);
    c->type = -1;
    if (c->hdr_long) {
        config_fail(c, c->hdr_line, "section name longer than %d bytes", CONFIG_SECT_MAX);
        return;
    }
    /* inih truncates long section names; the reader kept the whole one. */
    if (strncmp(section, h, il) != 0) {
        config_fail(c, c->hdr_line, "section header not understood");
        return;
    }
    int t = -1;
    const char *sub = NULL;
    for (int i = 0; i < CONFIG_T_COUNT && t < 0; i++) {
        size_t sl = strlen(config_sects[i].name);
        if (config_sects[i].hub != c->is_hub || strncmp(h, config_sects[i].name, sl) != 0)
            continue;
        if (!config_sects[i].multi && h[sl] == '\0')
            t = i;
        else if (config_sects[i].multi && h[sl] == '.')
            t = i, sub = h + sl + 1;
    }
    if (t < 0) {
        config_fail(c, c->hdr_line, "unknown section [%s]", config_clip(q, h));
        return;
    }
    if (!config_sects[t].multi) {
        if (c->sects_seen & (1u << t)) {
            config_fail(c, c->hdr_line, "duplicate section [%s]", h);
            return;
        }
        c->sects_seen |= 1u << t;
        c->base = t == CONFIG_T_MATCHER   ? (void *) &c->hub->params
                  : t == CONFIG_T_GATEWAY ? (void *) &c->hub->gateway
                  : c->is_hub             ? (void *) c->hub
                                          : (void *) c->node;
    } else if (t == CONFIG_T_MEMBER) {
        config_hub_t *g = c->hub;
        if (!config_name_ok(sub, strlen(sub), sizeof g->members[0].name - 1, 1)) {
            config_fail(c, c->hdr_line, "[%s] invalid member name (want [A-Za-z0-9._-]{1,64})",
                        config_clip(q, h));
            return;
        }
        for (size_t i = 0; i < g->nmembers; i++)
            if (strcmp(g->members[i].name, sub) == 0) {
                config_fail(c, c->hdr_line, "duplicate section [%s]", h);
                return;
            }
        if (g->nmembers == CONFIG_MAX_MEMBERS) {
            config_fail(c, c->hdr_line, "[%s] too many members (at most %d)", h,
                        CONFIG_MAX_MEMBERS);
            return;
        }
        config_member_t *m = &g->members[g->nmembers++];
        memset(m, 0, sizeof *m);
        memcpy(m->name, sub, strlen(sub) + 1);
        c->base = m;
    } else {
        config_node_t *nd = c->node;
        if (!config_name_ok(sub, strlen(sub), MATCHER_NAME_MAX, 0)) {
            config_fail(c, c->hdr_line, "[%s] invalid process name (want [a-z0-9-]{1,32})",
                        config_clip(q, h));
            return;
        }
        for (size_t i = 0; i < nd->noffers; i++)
            if (strcmp(nd->offers[i].process, sub) == 0) {
                config_fail(c, c->hdr_line, "duplicate section [%s]", h);
                return;
            }
        if (nd->noffers == CONFIG_MAX_OFFERS) {
            config_fail(c, c->hdr_line, "[%s] too many offers (at most %d)", h, CONFIG_MAX_OFFERS);
            return;
        }
        config_offer_t *o = &nd->offers[nd->noffers++];
        memset(o, 0, sizeof *o);
        memcpy(o->process, sub, strlen(sub) + 1);
        c->base = o;
    }
    c->type = t;
    c->seen[t] = 0;
    memset(c->kline[t], 0, sizeof c->kline[t]);
}

/* The block of the last header is complete (next header or end). */
static void
s_close(config_ctx_t *c)
{
    if (c->rc || c->hdr_count == 0)
        return;
    if (c->open_count != c->hdr_count) {
        char q[CONFIG_CLIP + 1];
        config_fail(c, c->hdr_line, "empty section [%s]", config_clip(q, c->hdr));
        return;
    }
    if (c->type < 0)
        return;
    s_required(c, c->type, c->seen[c->type], c->hdr_line, c->hdr);
    if (c->type == CONFIG_T_OFFER && !c->rc) {
        const config_offer_t *o = c->base;
        if (o->max_qty < o->moq)
            config_fail(c, c->kline[CONFIG_T_OFFER][config_key_index(CONFIG_T_OFFER, "max_qty")],
                        "[%s] max_qty: %lld is below moq %lld", c->hdr, (long long) o->max_qty,
                        (long long) o->moq);
    }
}

/* inih handler: one name = value pair of the current section. */
static int
s_on_pair(void *user, const char *section, const char *name, const char *value)
{
    config_ctx_t *c = user;
    char q[CONFIG_CLIP + 1], kq[CONFIG_CLIP + 1];
    if (c->rc)
        return 0;
    if (!name)
        return 1; /* a section-start call, in builds that make one */
    if (c->open_count != c->hdr_count) {
        c->open_count = c->hdr_count;
        s_open(c, section ? section : "");
        if (c->rc)
            return 0;
    }
    if (c->hdr_count == 0) {
        config_fail(c, c->line, "key '%s' before any [section]", config_clip(kq, name));
        return 0;
    }
    if (c->type < 0)
        return 0;
    const char *sect = config_clip(q, c->hdr);
    if (!value) {
        config_fail(c, c->line, "[%s] %s: no value", sect, config_clip(kq, name));
        return 0;
    }
    const config_key_t *keys = config_sects[c->type].keys;
    size_t i = 0, nk = config_sects[c->type].nkeys;
    while (i < nk && strcmp(keys[i].name, name) != 0)
        i++;
    if (i == nk) {
        config_fail(c, c->line, "[%s] unknown key '%s'", sect, config_clip(kq, name));
        return 0;
    }
    if ((c->seen[c->type] >> i) & 1) {
        config_fail(c, c->line, "[%s] %s: given twice (first on line %u)", sect, keys[i].name,
                    c->kline[c->type][i]);
        return 0;
    }
    c->seen[c->type] |= 1u << i;
    c->kline[c->type][i] = c->line;
    config_set(c, &keys[i], value);
    return c->rc == 0;
}

/* inih reader: hands over one physical line at a time, refusing what inih
 * would silently split (long lines) or join (indented continuation lines),
 * and noting section headers, whose names inih would truncate. */
static char *
s_reader(char *str, int num, void *stream)
{
    config_ctx_t *c = stream;
    if (c->rc || c->eof)
        return NULL;
    if (c->pos >= c->len) {
        c->eof = 1;
        c->line++; /* errors found at the end come after any inih found */
        s_close(c);
        return NULL;
    }
    const char *p = c->text + c->pos;
    size_t rest = c->len - c->pos;
    const char *nl = memchr(p, '\n', rest);
    size_t n = nl ? (size_t) (nl - p) + 1 : rest;
    c->pos += n;
    c->line++;
    size_t body = nl ? n - 1 : n;
    if (body > 0 && p[body - 1] == '\r')
        body--;
    if (c->line == 1 && body >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        n -= 3;
        body -= 3;
    }
    if (num < 4 || body > (size_t) num - 3) {
        config_fail(c, c->line, "line longer than %d bytes", num < 4 ? 0 : num - 3);
        return NULL;
    }
    if (body > 0 && (p[0] == ' ' || p[0] == '\t')) {
        size_t k = 0;
        while (k < body && (p[k] == ' ' || p[k] == '\t'))
            k++;
        if (k < body && p[k] != ';' && p[k] != '#') {
            config_fail(c, c->line, "indented line (only comments may be indented)");
            return NULL;
        }
    }
    if (body > 0 && p[0] == '[') {
        s_close(c);
        if (c->rc)
            return NULL;
        size_t h = 0;
        while (1 + h < body && p[1 + h] != ']')
            h++;
        c->hdr_long = h > CONFIG_SECT_MAX;
        if (c->hdr_long)
            h = 0;
        memcpy(c->hdr, p + 1, h);
        c->hdr[h] = '\0';
        c->hdr_count++;
        c->hdr_line = c->line;
    }
    memcpy(str, p, n);
    str[n] = '\0';
    return str;
}

/* [gateway]: the listen address parses, the per-address limit fits. */
static void
s_finish_gateway(config_ctx_t *c)
{
    const config_gateway_t *gw = &c->hub->gateway;
    char host[64], q[CONFIG_CLIP + 1];
    uint16_t port;
    if (config_listen_parse(gw->listen, host, sizeof host, &port) != 0)
        config_fail(c, c->kline[CONFIG_T_GATEWAY][config_key_index(CONFIG_T_GATEWAY, "listen")],
                    "[gateway] listen: '%s' is not host:port (an IPv4 address, or an IPv6 "
                    "address in brackets, and a port 0..65535)",
                    config_clip(q, gw->listen));
    else if (gw->max_per_ip > gw->max_connections)
        config_fail(c,
                    c->kline[CONFIG_T_GATEWAY][config_key_index(CONFIG_T_GATEWAY, "max_per_ip")],
                    "[gateway] max_per_ip: %u is more than max_connections %u", gw->max_per_ip,
                    gw->max_connections);
}

/* Checks that need the whole file. */
static void
s_finish(config_ctx_t *c)
{
    c->line = 0;
    if (c->is_hub) {
        config_hub_t *g = c->hub;
        if (!(c->sects_seen & (1u << CONFIG_T_HUB)))
            s_required(c, CONFIG_T_HUB, 0, 0, "hub");
        if (!(c->sects_seen & (1u << CONFIG_T_ALLIANCE)))
            s_required(c, CONFIG_T_ALLIANCE, 0, 0, "alliance");
        uint32_t witnesses = 0;
        for (size_t i = 0; i < g->nmembers; i++)
            witnesses += strcmp(g->members[i].role, "customer") != 0;
        if (g->witness_k > witnesses)
            config_fail(
                c, c->kline[CONFIG_T_ALLIANCE][config_key_index(CONFIG_T_ALLIANCE, "witness_k")],
                "[alliance] witness_k: %u is more than the %u factory and witness members",
                g->witness_k, witnesses);
        s_finish_gateway(c);
        if (c->rc || matcher_params_check(&g->params) == 0)
            return;
        /* Name the first given key that fails on its own. */
        for (size_t i = 0; i < config_sects[CONFIG_T_MATCHER].nkeys; i++) {
            const config_key_t *k = &config_sects[CONFIG_T_MATCHER].keys[i];
            matcher_params_t one;
            if (!((c->seen[CONFIG_T_MATCHER] >> i) & 1))
                continue;
            matcher_params_default(&one);
            memcpy((char *) &one + k->off, (const char *) &g->params + k->off, k->size);
            if (matcher_params_check(&one) != 0) {
                config_fail(c, c->kline[CONFIG_T_MATCHER][i],
                            "[matcher] %s: out of range (see matcher_params_check)", k->name);
                return;
            }
        }
        config_fail(c, 0, "[matcher] parameters out of range (see matcher_params_check)");
    } else {
        config_node_t *nd = c->node;
        if (!(c->sects_seen & (1u << CONFIG_T_NODE)))
            s_required(c, CONFIG_T_NODE, 0, 0, "node");
        if (!(c->sects_seen & (1u << CONFIG_T_CAPACITY)))
            s_required(c, CONFIG_T_CAPACITY, 0, 0, "capacity");
        if (!c->rc && nd->noffers == 0)
            config_fail(c, 0, "no [offer.PROCESS] section");
        size_t vi = config_key_index(CONFIG_T_CAPACITY, "valid_days");
        if (!((c->seen[CONFIG_T_CAPACITY] >> vi) & 1))
            nd->valid_days = nd->horizon_days;
        else if (nd->valid_days > nd->horizon_days)
            config_fail(c, c->kline[CONFIG_T_CAPACITY][vi],
                        "[capacity] valid_days: %u is more than horizon_days %u", nd->valid_days,
                        nd->horizon_days);
    }
}

static void
s_defaults(config_ctx_t *c)
{
    if (c->is_hub) {
        config_hub_t *g = c->hub;
        memset(g, 0, sizeof *g);
        g->batch_window_ms = 1;
        g->max_batch = 512;
        g->checkpoint_every = 256;
        g->checkpoint_ms = 1000;
        g->match_interval_ms = 200;
        g->verify_threads = 2;
        g->map_max_mb = 0;
        g->customer_rate = 200;
        g->witness_k = 0;
        g->ack_timeout_s = 3600;
        matcher_params_default(&g->params);
        snprintf(g->gateway.listen, sizeof g->gateway.listen, "127.0.0.1:7780");
        g->gateway.max_connections = 64;
        g->gateway.max_per_ip = 32;
        g->gateway.timeout_s = 10;
        g->gateway.threads = 2;
    } else {
        config_node_t *nd = c->node;
        memset(nd, 0, sizeof *nd);
        nd->reconnect_max_ms = 5000;
        nd->reserve_pct = -1;
        nd->horizon_days = 30;
    }
}

static int
s_parse(const char *text, size_t len, const char *base_dir, const char *src, int is_hub, void *cfg,
        char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!cfg || (!text && len > 0)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: no configuration given", src);
        return COFAB_EINVAL;
    }
    if (len > CONFIG_FILE_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %zu bytes, more than the %d allowed", src, len,
                     CONFIG_FILE_MAX);
        return COFAB_ETOOBIG;
    }
    config_ctx_t c;
    memset(&c, 0, sizeof c);
    c.src = src;
    c.base_dir = base_dir;
    c.text = text ? text : "";
    c.len = len;
    c.is_hub = is_hub;
    c.hub = is_hub ? cfg : NULL;
    c.node = is_hub ? NULL : cfg;
    c.type = -1;
    c.err = err;
    c.errlen = errlen;
    s_defaults(&c);
    if (config_scan(&c) != 0)
        return c.rc;
    int r = ini_parse_stream(s_reader, &c, s_on_pair, &c);
    /* inih flags a line it cannot read and goes on; the earliest error wins. */
    if (r > 0 && (!c.rc || (unsigned) r < c.err_at)) {
        c.rc = 0;
        c.line = (unsigned) r;
        config_fail(&c, (unsigned) r, "syntax error (want [section], key = value or a comment)");
    } else if (r < 0 && !c.rc) {
        if (err && errlen)
            snprintf(err, errlen, "%s: out of memory", src);
        return COFAB_ENOMEM;
    }
    if (!c.rc)
        s_finish(&c);
    return c.rc;
}

/* ---- files ---------------------------------------------------------- */

/* Reads at most CONFIG_FILE_MAX bytes of a regular file into a new buffer. */
static int
s_read(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    int rc = COFAB_EIO;
    char *buf = NULL;
    size_t n = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "%s: %lld bytes, more than the %d allowed", path,
                 (long long) st.st_size, CONFIG_FILE_MAX);
        rc = COFAB_ETOOBIG;
        goto out;
    }
    buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = COFAB_ENOMEM;
        goto out;
    }
    /* Read one byte past the limit: the file may have grown since fstat. */
    while (n <= CONFIG_FILE_MAX) {
        ssize_t r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t) r;
    }
    if (n > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "%s: more than %d bytes", path, CONFIG_FILE_MAX);
        rc = COFAB_ETOOBIG;
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

static int
s_load(const char *path, int is_hub, void *cfg, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || errlen == 0)
        err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (!path || !cfg) {
        snprintf(err, errlen, "no configuration file given");
        return COFAB_EINVAL;
    }
    char *text = NULL, *dir = NULL, *base = NULL;
    size_t len = 0;
    int rc = s_read(path, &text, &len, err, errlen);
    if (rc != 0)
        goto out;
    /* The file's directory, made absolute so paths survive a chdir. */
    const char *slash = strrchr(path, '/');
    size_t dl = !slash ? 0 : slash == path ? 1 : (size_t) (slash - path);
    dir = malloc(dl + 2);
    if (!dir) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = COFAB_ENOMEM;
        goto out;
    }
    if (dl)
        memcpy(dir, path, dl), dir[dl] = '\0';
    else
        memcpy(dir, ".", 2);
    base = realpath(dir, NULL);
    if (!base) {
        snprintf(err, errlen, "%s: cannot resolve its directory: %s", path, strerror(errno));
        rc = COFAB_EIO;
        goto out;
    }
    rc = s_parse(text, len, base, path, is_hub, cfg, err, errlen);
out:
    free(text);
    free(dir);
    free(base);
    return rc;
}

int
config_hub_load(const char *path, config_hub_t *cfg, char *err, size_t errlen)
{
    return s_load(path, 1, cfg, err, errlen);
}

int
config_node_load(const char *path, config_node_t *cfg, char *err, size_t errlen)
{
    return s_load(path, 0, cfg, err, errlen);
}

int
config_hub_parse_string(const char *text, size_t len, const char *base_dir, config_hub_t *cfg,
                        char *err, size_t errlen)
{
    return s_parse(text, len, base_dir, "(string)", 1, cfg, err, errlen);
}

int
config_node_parse_string(const char *text, size_t len, const char *base_dir, config_node_t *cfg,
                         char *err, size_t errlen)
{
    return s_parse(text, len, base_dir, "(string)", 0, cfg, err, errlen);
}
