/* gateway_metrics.c — /metrics: figures derived from the ledger, then the hub's live ones from hub.prom (checked first). */
#include "gateway_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cofab/error.h"
#include "cofab/policy.h"
#include "cofab/util.h"

#define S_RATE_WINDOW_MS 60000 /* ingest rate: records sequenced over this much hub time */

/* "# HELP" and "# TYPE" lines of one family. */
static void
s_family(gw_buf_t *b, const char *name, const char *type, const char *help)
{
    gw_buf_catf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
s_gauge(gw_buf_t *b, const char *name, const char *help, double v)
{
    s_family(b, name, "gauge", help);
    gw_buf_catf(b, "%s %.15g\n", name, v);
}

/* Hub time of record seq. */
static int
s_time_at(ledger_t *l, uint64_t seq, uint64_t *t)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    ledger_record_t r;
    int rc = ledger_get(l, seq, &rec, &len);
    if (rc == 0)
        rc = ledger_record_decode(&r, rec, len);
    if (rc == 0)
        *t = r.time_ms;
    free(rec);
    return rc;
}

/* Records of [0, size) sequenced at or after since_ms: hub time only grows,
 * so the first such record is found by bisection, O(log n) reads. */
static uint64_t
s_since(ledger_t *l, uint64_t size, uint64_t since_ms)
{
    uint64_t lo = 0, hi = size, t = 0;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (s_time_at(l, mid, &t) != 0)
            return 0;
        if (t < since_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return size - lo;
}

static int
s_count(void *ctx, const uint8_t id[32])
{
    (void) id;
    (*(uint64_t *) ctx)++;
    return 0;
}

static void
s_ledger_metrics(gateway_t *gw, gw_buf_t *b)
{
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    gw_cp_t cp;
    int rc = COFAB_ESTORE;
    ledger_t *l = NULL;
    /* A first read that fails (the hub grew the map) or meets a newer
     * checkpoint is retried once on a reopened ledger. */
    for (int attempt = 0; note && attempt < 2; attempt++) {
        l = gw_ledger_get(gw, 1);
        memset(&cp, 0, sizeof cp);
        rc = l ? gw_checkpoint(gw, l, note, &cp) : COFAB_ESTORE;
        if (rc == 0 || rc == COFAB_ENOTFOUND || (rc == COFAB_ERANGE && attempt == 1) || !l)
            break;
        gw_ledger_put(gw);
        gw_ledger_stale(gw);
        l = NULL;
    }
    s_gauge(b, "cofab_ledger_up", "1 when the gateway can read the hub's ledger.", l ? 1 : 0);
    if (!l) {
        free(note);
        return;
    }
    uint64_t now = util_now_ms(), size = ledger_size(l), unplaced = 0, waiting = 0;
    uint64_t recent = s_since(l, size, now > S_RATE_WINDOW_MS ? now - S_RATE_WINDOW_MS : 0);
    int has_cp = rc == 0 || rc == COFAB_ERANGE;
    uint64_t cp_time = 0;
    if (has_cp && cp.cp.size > 0 && cp.cp.size <= size)
        s_time_at(l, cp.cp.size - 1, &cp_time);
    if (policy_pending_orders(l, s_count, &unplaced) != 0 ||
        policy_waiting_orders(l, s_count, &waiting) != 0)
        gw_ledger_stale(gw);
    gw_ledger_put(gw);
    if (rc == COFAB_ERANGE)
        gw_ledger_stale(gw); /* a newer checkpoint: the next scrape sees its records */
    free(note);

    s_family(b, "cofab_ledger_records_total", "counter", "Records in the hub's ledger.");
    gw_buf_catf(b, "cofab_ledger_records_total %llu\n", (unsigned long long) size);
    s_gauge(b, "cofab_ledger_ingest_rate",
            "Records per second the hub sequenced over the last 60 s of its clock.",
            (double) recent / (S_RATE_WINDOW_MS / 1000.0));
    if (has_cp) {
        s_gauge(b, "cofab_checkpoint_size", "Tree size of the latest checkpoint.",
                (double) cp.cp.size);
        s_gauge(b, "cofab_checkpoint_uncovered_records",
                "Records newer than the latest checkpoint.",
                (double) (size > cp.cp.size ? size - cp.cp.size : 0));
        s_gauge(b, "cofab_checkpoint_age_seconds",
                "Seconds since the hub sequenced the last record the latest checkpoint covers.",
                cp_time && now > cp_time ? (double) (now - cp_time) / 1000.0 : 0);
        s_gauge(b, "cofab_checkpoint_cosignatures",
                "Valid witness cosignatures on the latest checkpoint.", cp.cosigned);
        s_gauge(b, "cofab_checkpoint_verified",
                "1 when the latest checkpoint is signed by the hub and cosigned by a quorum.",
                cp.witnessed);
    }
    s_gauge(b, "cofab_checkpoint_quorum", "Witness cosignatures a checkpoint needs.",
            gw->trust.witnesses.quorum);
    s_gauge(b, "cofab_checkpoint_witnesses", "Witnesses whose cosignatures count.",
            gw->trust.witnesses.n);
    s_gauge(b, "cofab_orders_unplaced",
            "Orders waiting for a factory (new, or back after a decline or a timeout).",
            (double) unplaced);
    s_gauge(b, "cofab_orders_awaiting_acceptance",
            "Orders assigned and not yet accepted by every factory.", (double) waiting);
}

/* Reads hub.prom: regular file, bounded size. Sets *age_ms. */
static int
s_read_prom(const char *dir, char **text, size_t *len, uint64_t *age_ms)
{
    char path[CONFIG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", dir, GATEWAY_HUB_PROM);
    *text = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        return errno == ENOENT ? COFAB_ENOTFOUND : COFAB_EIO;
    int rc = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = COFAB_EIO;
    else if (st.st_size > GATEWAY_PROM_MAX)
        rc = COFAB_ETOOBIG;
    char *buf = rc == 0 ? malloc(GATEWAY_PROM_MAX + 1) : NULL;
    size_t n = 0;
    if (rc == 0 && !buf)
        rc = COFAB_ENOMEM;
    while (rc == 0 && n <= GATEWAY_PROM_MAX) { /* one byte past the limit: it may grow */
        ssize_t r = read(fd, buf + n, GATEWAY_PROM_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = COFAB_EIO;
        if (r <= 0)
            break;
        n += (size_t) r;
    }
    close(fd);
    if (rc == 0 && n > GATEWAY_PROM_MAX)
        rc = COFAB_ETOOBIG;
    if (rc != 0) {
        free(buf);
        return rc;
    }
    uint64_t mtime = (uint64_t) st.st_mtim.tv_sec * 1000 + (uint64_t) st.st_mtim.tv_nsec / 1000000;
    uint64_t now = util_now_ms();
    *age_ms = now > mtime ? now - mtime : 0;
    *text = buf;
    *len = n;
    return 0;
}

static void
s_hub_metrics(gateway_t *gw, gw_buf_t *b)
{
    char *text = NULL;
    size_t len = 0;
    uint64_t age = 0;
    int rc = s_read_prom(gw->opts.data_dir, &text, &len, &age);
    unsigned bad = 0;
    int check = rc == 0 ? gateway_prom_check(text, len, &bad) : rc;
    int up = rc == 0 && check == 0 && age <= GATEWAY_PROM_STALE_MS;
    s_gauge(b, "cofab_hub_up",
            "1 when the hub's own figures (hub.prom) are present, valid and at most 10 s old.",
            up);
    if (rc == 0)
        s_gauge(b, "cofab_hub_metrics_age_seconds", "Age of the hub's hub.prom file.",
                (double) age / 1000.0);
    if (rc == 0 && check != 0)
        fprintf(stderr, "cofab gateway: %s/%s line %u: %s; not served\n", gw->opts.data_dir,
                GATEWAY_HUB_PROM, bad, cofab_strerror(check));
    if (up)
        gw_buf_catn(b, text, len);
    free(text);
}

void
gw_metrics_reply(gateway_t *gw, gw_reply_t *r)
{
    gw_buf_t *b = &r->body;
    s_ledger_metrics(gw, b);
    s_family(b, "cofab_gateway_responses_total", "counter",
             "HTTP responses the gateway sent, by status class.");
    static const char *const classes[] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 1; i < 6; i++)
        gw_buf_catf(b, "cofab_gateway_responses_total{class=\"%s\"} %llu\n", classes[i],
                    (unsigned long long) atomic_load(&gw->replies[i]));
    const union MHD_DaemonInfo *info =
        gw->daemon ? MHD_get_daemon_info(gw->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
    s_gauge(b, "cofab_gateway_connections", "Open HTTP connections.",
            info ? (double) info->num_connections : 0);
    s_hub_metrics(gw, b);
    r->status = 200;
    r->type = "text/plain; version=0.0.4; charset=utf-8";
    r->cache = "no-store";
}
