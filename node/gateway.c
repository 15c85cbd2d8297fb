/* gateway.c — the gateway's HTTP server (libmicrohttpd): routing, limits, common headers, the shared read-only ledger. */
#include "gateway_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "cofab/error.h"
#include "cofab/policy.h"
#include "cofab/util.h"

#define S_MEMORY_LIMIT (16 * 1024) /* per connection: bounds request headers */

/* ---------- buffers ---------- */

static int
s_grow(gw_buf_t *b, size_t more)
{
    if (b->failed)
        return -1;
    if (b->cap - b->len > more)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len <= more) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void
gw_buf_catn(gw_buf_t *b, const char *s, size_t n)
{
    if (s_grow(b, n) != 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
gw_buf_cat(gw_buf_t *b, const char *s)
{
    gw_buf_catn(b, s, strlen(s));
}

void
gw_buf_catf(gw_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || s_grow(b, (size_t) n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void
gw_buf_html(gw_buf_t *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        const char *run = p;
        while (*p && !strchr("&<>\"'", *p))
            p++;
        gw_buf_catn(b, run, (size_t) (p - run));
        if (!*p)
            break;
        gw_buf_cat(b, *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;"
                      : *p == '"' ? "&quot;" : "&#39;");
    }
}

void
gw_buf_free(gw_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void
gw_reply_text(gw_reply_t *r, unsigned status, const char *text)
{
    gw_buf_free(&r->body);
    r->status = status;
    r->type = "text/plain; charset=utf-8";
    r->cache = "no-store";
    r->page = 0;
    gw_buf_cat(&r->body, text);
}

/* ---------- words ---------- */

const char *
gw_state_text(int state)
{
    switch (state) {
    case POLICY_SUBMITTED: return "Waiting for a factory";
    case POLICY_ASSIGNED: return "Assigned to a factory";
    case POLICY_ACCEPTED: return "Accepted by the factory";
    case POLICY_IN_PRODUCTION: return "In production";
    case POLICY_QC_PASSED: return "Quality check passed";
    case POLICY_SHIPPED: return "Shipped";
    case POLICY_DELIVERED: return "Delivered";
    case POLICY_CANCELLED: return "Cancelled";
    case POLICY_DECLINED: return "Declined, finding another factory";
    default: return "Unknown";
    }
}

void
gw_day_text(uint32_t day, char out[16])
{
    time_t t = (time_t) day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

void
gw_time_text(uint64_t ms, char out[32])
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ---------- the shared ledger ---------- */

static int
s_open(gateway_t *gw)
{
    ledger_options_t o = {.read_only = 1};
    ledger_destroy(&gw->ledger);
    int rc = ledger_open(&gw->ledger, gw->opts.data_dir, &o);
    gw->opened_ns = util_mono_ns();
    gw->stale = rc != 0;
    return rc;
}

ledger_t *
gw_ledger_get(gateway_t *gw, int fresh)
{
    pthread_mutex_lock(&gw->lock);
    for (;;) {
        if (gw->reopening) {
            pthread_cond_wait(&gw->cond, &gw->lock);
            continue;
        }
        uint64_t age = util_mono_ns() - gw->opened_ns;
        if (!gw->stale && gw->ledger &&
            (!fresh || age < (uint64_t) gw->opts.refresh_ms * 1000000u))
            break;
        /* Reopen: ledger_size(), which proofs and tiles are checked
         * against, is fixed at open, and a map the hub grew needs a new
         * mapping. */
        gw->reopening = 1;
        while (gw->readers > 0)
            pthread_cond_wait(&gw->cond, &gw->lock);
        int rc = s_open(gw);
        gw->reopening = 0;
        pthread_cond_broadcast(&gw->cond);
        if (rc != 0)
            fprintf(stderr, "cofab gateway: cannot open the ledger in %s: %s\n",
                    gw->opts.data_dir, cofab_strerror(rc));
        break;
    }
    ledger_t *l = gw->ledger;
    if (l)
        gw->readers++;
    pthread_mutex_unlock(&gw->lock);
    return l;
}

void
gw_ledger_put(gateway_t *gw)
{
    pthread_mutex_lock(&gw->lock);
    if (gw->readers > 0 && --gw->readers == 0)
        pthread_cond_broadcast(&gw->cond);
    pthread_mutex_unlock(&gw->lock);
}

void
gw_ledger_stale(gateway_t *gw)
{
    pthread_mutex_lock(&gw->lock);
    gw->stale = 1;
    pthread_mutex_unlock(&gw->lock);
}

/* ---------- the latest checkpoint, checked ---------- */

static int
s_check_checkpoint(const gateway_t *gw, const char *note, gw_cp_t *out)
{
    memset(out, 0, sizeof *out);
    note_t *n = malloc(sizeof *n);
    if (!n)
        return COFAB_ENOMEM;
    int rc = note_parse(n, note, strlen(note));
    if (rc == 0)
        rc = checkpoint_parse(&out->cp, n->body, n->body_len);
    if (rc == 0) {
        out->hub_signed = note_verify(n, &gw->trust.hub) == 0 &&
                          strcmp(out->cp.origin, gw->trust.origin) == 0;
        int forged = -1;
        out->forged = witness_policy_count(&gw->trust.witnesses, n, &out->cosigned, NULL,
                                           &forged) != 0;
        out->witnessed = out->hub_signed && !out->forged &&
                         out->cosigned >= gw->trust.witnesses.quorum;
    }
    free(n);
    return rc;
}

int
gw_checkpoint(gateway_t *gw, ledger_t *l, char *note, gw_cp_t *out)
{
    int rc = ledger_checkpoint_latest(l, note, LEDGER_CHECKPOINT_MAX);
    if (rc != 0)
        return rc;
    uint8_t h[32];
    crypto_hash_sha256(h, (const uint8_t *) note, strlen(note));
    pthread_mutex_lock(&gw->cp_lock);
    int hit = gw->cp_cache.valid && sodium_memcmp(gw->cp_cache.note_hash, h, 32) == 0;
    if (hit)
        *out = gw->cp_cache.cp;
    pthread_mutex_unlock(&gw->cp_lock);
    if (!hit) {
        /* Checked outside the lock: signature checks take a while. */
        rc = s_check_checkpoint(gw, note, out);
        if (rc != 0)
            return rc;
        pthread_mutex_lock(&gw->cp_lock);
        memcpy(gw->cp_cache.note_hash, h, 32);
        gw->cp_cache.cp = *out;
        gw->cp_cache.valid = 1;
        pthread_mutex_unlock(&gw->cp_lock);
    }
    return out->cp.size > ledger_size(l) ? COFAB_ERANGE : 0;
}

/* ---------- routing ---------- */

static void
s_healthz(gateway_t *gw, gw_reply_t *r)
{
    int rc = COFAB_ESTORE;
    for (int attempt = 0; rc != 0 && attempt < 2; attempt++) { /* once more, reopened */
        ledger_t *l = gw_ledger_get(gw, 1);
        uint8_t *rec = NULL;
        size_t len = 0;
        rc = l ? ledger_get(l, 0, &rec, &len) : COFAB_ESTORE;
        if (l)
            gw_ledger_put(gw);
        free(rec);
        if (rc != 0)
            gw_ledger_stale(gw);
    }
    gw_reply_text(r, rc == 0 ? 200 : 503, rc == 0 ? "ok\n" : "unavailable\n");
}

static void
s_index(gw_reply_t *r)
{
    gw_reply_text(r, 200,
                  "cofab gateway (read-only)\n\n"
                  "/orders/<order id>      an order's page\n"
                  "/api/orders/<order id>  the same as JSON\n"
                  "/checkpoint             the latest checkpoint (C2SP tlog-tiles)\n"
                  "/tile/...               the log's tiles and entry bundles\n"
                  "/metrics                Prometheus metrics\n"
                  "/healthz                health check\n");
}

/* Fills r for GET/HEAD of url. */
static void
s_route(gateway_t *gw, const char *url, gw_reply_t *r)
{
    if (strcmp(url, "/") == 0)
        s_index(r);
    else if (strcmp(url, "/healthz") == 0)
        s_healthz(gw, r);
    else if (strcmp(url, "/metrics") == 0)
        gw_metrics_reply(gw, r);
    else if (strcmp(url, "/checkpoint") == 0)
        gw_checkpoint_reply(gw, r);
    else if (strncmp(url, "/tile/", 6) == 0)
        gw_tile_reply(gw, url + 1, r);
    else if (strncmp(url, "/orders/", 8) == 0)
        gw_order_page(gw, url + 8, r);
    else if (strncmp(url, "/api/orders/", 12) == 0)
        gw_order_api(gw, url + 12, r);
    else
        gw_reply_text(r, 404, "not found\n");
}

static void
s_header(struct MHD_Response *resp, const char *name, const char *value)
{
    if (value)
        MHD_add_response_header(resp, name, value);
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void) version;
    (void) upload;
    gateway_t *gw = cls;
    int head_or_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                      strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    /* GET and HEAD are answered on the call after the whole request was
     * read (answering on the first call makes MHD close the connection);
     * anything else is refused at once, its body unread. */
    if (head_or_get && *upload_size) {
        *upload_size = 0; /* a body on a GET: ignored */
        return MHD_YES;
    }
    if (head_or_get && !*con_cls) {
        *con_cls = gw;
        return MHD_YES;
    }
    gw_reply_t r = {0};
    if (!head_or_get)
        gw_reply_text(&r, 405, "method not allowed: this gateway is read-only\n");
    else if (strlen(url) > GATEWAY_URL_MAX)
        gw_reply_text(&r, 414, "request path too long\n");
    else
        s_route(gw, url, &r);
    if (r.body.failed) {
        gw_buf_free(&r.body);
        gw_reply_text(&r, 503, "out of memory\n");
    }
    if (!r.body.data)
        gw_buf_cat(&r.body, "");
    size_t len = r.body.len;
    char *data = r.body.failed ? NULL : r.body.data;
    if (!data)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    s_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.type);
    s_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, r.cache);
    s_header(resp, "X-Content-Type-Options", "nosniff");
    s_header(resp, "Referrer-Policy", "no-referrer");
    s_header(resp, "X-Frame-Options", "DENY");
    s_header(resp, "Content-Security-Policy",
             r.page ? gw->csp_page : "default-src 'none'; frame-ancestors 'none'");
    if (r.cors)
        s_header(resp, "Access-Control-Allow-Origin", "*");
    if (r.status == 405)
        s_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ok = MHD_queue_response(c, r.status, resp);
    MHD_destroy_response(resp);
    atomic_fetch_add(&gw->replies[r.status / 100 < 6 ? r.status / 100 : 0], 1);
    return ok;
}

__attribute__((format(printf, 2, 0))) static void
s_log(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    fprintf(stderr, "cofab gateway: ");
    vfprintf(stderr, fmt, ap);
}

/* ---------- lifecycle ---------- */

void
gateway_options_from_config(gateway_options_t *o, const config_hub_t *cfg)
{
    memset(o, 0, sizeof *o);
    snprintf(o->data_dir, sizeof o->data_dir, "%s", cfg->data_dir);
    snprintf(o->listen, sizeof o->listen, "%s", cfg->gateway.listen);
    o->max_connections = cfg->gateway.max_connections;
    o->max_per_ip = cfg->gateway.max_per_ip;
    o->timeout_s = cfg->gateway.timeout_s;
    o->threads = cfg->gateway.threads;
}

/* Genesis: the hub's key, the witnesses and the quorum. */
static int
s_load_trust(gateway_t *gw)
{
    payload_genesis_t *g = malloc(sizeof *g);
    if (!g)
        return COFAB_ENOMEM;
    ledger_t *l = gw_ledger_get(gw, 0);
    int rc = l ? policy_genesis(l, g) : COFAB_ENOTFOUND;
    if (l)
        gw_ledger_put(gw);
    if (rc == 0) {
        snprintf(gw->trust.origin, sizeof gw->trust.origin, "%s", g->origin);
        gw->trust.hub = g->hub;
        witness_policy_from_genesis(&gw->trust.witnesses, g);
    }
    free(g);
    return rc;
}

static int
s_start(gateway_t *gw)
{
    char host[64];
    uint16_t port;
    if (config_listen_parse(gw->opts.listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "cofab gateway: listen: '%s' is not host:port\n", gw->opts.listen);
        return COFAB_EINVAL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_in *in4 = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        return COFAB_EINVAL;
    }
    unsigned pool = gw->opts.threads > 1 ? gw->opts.threads : 0;
    gw->daemon = MHD_start_daemon(
        flags | MHD_USE_AUTO, port, NULL, NULL, s_handle, gw, MHD_OPTION_EXTERNAL_LOGGER,
        s_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned) gw->opts.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned) gw->opts.max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned) gw->opts.timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t) S_MEMORY_LIMIT, MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_END);
    if (!gw->daemon) {
        fprintf(stderr, "cofab gateway: cannot listen on %s\n", gw->opts.listen);
        return COFAB_ENET;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(gw->daemon, MHD_DAEMON_INFO_BIND_PORT);
    gw->port = info ? info->port : port;
    return 0;
}

gateway_t *
gateway_new(const gateway_options_t *o)
{
    if (!o || !o->data_dir[0])
        return NULL;
    gateway_t *gw = calloc(1, sizeof *gw);
    if (!gw)
        return NULL;
    gw->opts = *o;
    if (!gw->opts.max_connections)
        gw->opts.max_connections = 64;
    if (!gw->opts.max_per_ip || gw->opts.max_per_ip > gw->opts.max_connections)
        gw->opts.max_per_ip = gw->opts.max_connections;
    if (!gw->opts.timeout_s)
        gw->opts.timeout_s = 10;
    if (!gw->opts.threads)
        gw->opts.threads = 2;
    if (!gw->opts.refresh_ms)
        gw->opts.refresh_ms = 1000;
    pthread_mutex_init(&gw->lock, NULL);
    pthread_cond_init(&gw->cond, NULL);
    pthread_mutex_init(&gw->cp_lock, NULL);
    gw->stale = 1;
    gw_page_csp(gw->csp_page);
    int rc = s_load_trust(gw);
    if (rc != 0) {
        fprintf(stderr, "cofab gateway: %s: %s\n", gw->opts.data_dir,
                rc == COFAB_ENOTFOUND ? "no ledger there (start the hub first)"
                                      : cofab_strerror(rc));
        gateway_destroy(&gw);
        return NULL;
    }
    if (s_start(gw) != 0) {
        gateway_destroy(&gw);
        return NULL;
    }
    return gw;
}

uint16_t
gateway_port(const gateway_t *self)
{
    return self ? self->port : 0;
}

void
gateway_destroy(gateway_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_t *gw = *self_p;
    if (gw->daemon)
        MHD_stop_daemon(gw->daemon); /* joins its threads: no request runs after this */
    ledger_destroy(&gw->ledger);
    pthread_mutex_destroy(&gw->lock);
    pthread_cond_destroy(&gw->cond);
    pthread_mutex_destroy(&gw->cp_lock);
    free(gw);
    *self_p = NULL;
}
