/* test_gateway.c — the HTTP gateway over a real alliance history: pages, JSON, tiles, metrics, limits, live refresh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cofab/error.h"
#include "cofab/gateway.h"
#include "cofab/ledger.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/tiles.h"
#include "cofab/util.h"
#include "support/gwfix.h"
#include "support/tfix.h"

/* ---------- order pages ---------- */

/* Every string of `yes` is in text, none of `no` (NULL-terminated lists). */
static void
s_has(const char *text, const char *const *yes, const char *const *no)
{
    for (; yes && *yes; yes++)
        if (!strstr(text, *yes))
            fail_msg("missing: %s", *yes);
    for (; no && *no; no++)
        if (strstr(text, *no))
            fail_msg("present: %s", *no);
}

/* The text between the first `open` after `from` and the next `close`. */
static char *
s_between(const char *text, const char *open, const char *close)
{
    const char *a = strstr(text, open);
    assert_non_null(a);
    a += strlen(open);
    const char *b = strstr(a, close);
    assert_non_null(b);
    return strndup(a, (size_t) (b - a));
}

static void
test_order_page(void **state)
{
    gwfix_t *fx = *state;
    char path[128], v[1024];
    gwfix_resp_t r;
    gwfix_path("/orders/", fx->s.orders[0], path);
    gwfix_get_ok(fx, path, &r);
    const char *page = (const char *) r.body;
    assert_non_null(gwfix_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/html; charset=utf-8");
    assert_non_null(gwfix_header(&r, "X-Content-Type-Options", v, sizeof v));
    assert_string_equal(v, "nosniff");
    /* Readable on a phone, self-contained, works without JS. */
    s_has(page,
          (const char *const[]){"<meta name=\"viewport\" content=\"width=device-width",
                                "<h1>Brackets, batch 7</h1>", "<p class=\"state\">Delivered</p>",
                                "Order placed", "Assigned to ", "Accepted by ", "Shipped by ",
                                "Delivered by ", "\xe2\x9c\x93 Verified",
                                "cosigned by 1 of 2 witnesses (1 required)", NULL},
          (const char *const[]){"src=", "http://", "https://", "waiting for the next checkpoint",
                                NULL});
    /* The CSP allows exactly the page's inline script and style. */
    char *script = s_between(page, "<script>", "</script>");
    char *style = s_between(page, "<style>", "</style>");
    uint8_t h[32];
    char b64[64], want[128];
    crypto_hash_sha256(h, (const uint8_t *) script, strlen(script));
    sodium_bin2base64(b64, sizeof b64, h, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "script-src 'sha256-%s'", b64);
    assert_non_null(gwfix_header(&r, "Content-Security-Policy", v, sizeof v));
    assert_non_null(strstr(v, want));
    assert_non_null(strstr(v, "default-src 'none'"));
    crypto_hash_sha256(h, (const uint8_t *) style, strlen(style));
    sodium_bin2base64(b64, sizeof b64, h, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(want, sizeof want, "style-src 'sha256-%s'", b64);
    assert_non_null(strstr(v, want));
    /* The embedded proofs: one per record, each leading to the root. */
    char *data = s_between(page, "<script type=\"application/json\" id=\"proof-data\">", "</script>");
    json_error_t err;
    json_t *doc = json_loads(data, 0, &err);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "size")), (json_int_t) fx->cp_size);
    assert_true(json_array_size(json_object_get(doc, "entries")) >= 7);
    json_decref(doc);
    free(data);
    free(script);
    free(style);
    gwfix_resp_free(&r);
}

static void
test_order_words(void **state)
{
    gwfix_t *fx = *state;
    char path[128];
    gwfix_resp_t r;
    /* Order 1: declined, reassigned, placed again; order 2: cancelled. */
    gwfix_path("/orders/", fx->s.orders[1], path);
    gwfix_get_ok(fx, path, &r);
    s_has((char *) r.body,
          (const char *const[]){"Declined by ", "Reason: milling machine down",
                                "Reassigned: the factory declined", NULL}, NULL);
    gwfix_resp_free(&r);
    gwfix_path("/orders/", fx->s.orders[2], path);
    gwfix_get_ok(fx, path, &r);
    s_has((char *) r.body,
          (const char *const[]){"<p class=\"state\">Cancelled</p>", "Reason: design changed", NULL},
          NULL);
    gwfix_resp_free(&r);
    /* A title full of HTML is text, never markup; the proof data cannot
     * close its script element. */
    gwfix_path("/orders/", fx->hostile, path);
    gwfix_get_ok(fx, path, &r);
    s_has((char *) r.body,
          (const char *const[]){"&lt;b&gt;&quot;Tom&#39;s&quot; &amp; &lt;/script&gt;",
                                "Waiting for a factory", NULL},
          (const char *const[]){"<b>", "alert(1)</script>", NULL});
    char *data = s_between((char *) r.body, "id=\"proof-data\">", "</script>");
    assert_null(strchr(data, '<'));
    free(data);
    gwfix_resp_free(&r);
    /* Newer than the checkpoint: shown, not claimed as verified. */
    gwfix_path("/orders/", fx->pending, path);
    gwfix_get_ok(fx, path, &r);
    s_has((char *) r.body,
          (const char *const[]){"Not verified yet", "waiting for the next checkpoint", NULL},
          (const char *const[]){"\xe2\x9c\x93 Verified", NULL});
    gwfix_resp_free(&r);
    /* Upper-case hex names the same order. */
    gwfix_path("/orders/", fx->s.orders[0], path);
    for (char *p = path + 8; *p; p++)
        *p = (char) (*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    assert_int_equal(gwfix_status(fx, "GET", path), 200);
}

static void
test_not_found(void **state)
{
    gwfix_t *fx = *state;
    uint8_t unknown[32];
    char path[128], hex[65];
    randombytes_buf(unknown, 32);
    gwfix_path("/orders/", unknown, path);
    gwfix_resp_t r;
    gwfix_http(fx, "GET", path, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal((char *) r.body, "not found\n"); /* plain: no hints */
    gwfix_resp_free(&r);
    gwfix_path("/api/orders/", unknown, path);
    assert_int_equal(gwfix_status(fx, "GET", path), 404);
    sodium_bin2hex(hex, sizeof hex, fx->s.orders[0], 32);
    const char *bad[] = {"/orders/", "/orders/xyz", "/orders/zz", "/nope", "/orders", "/api/orders/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gwfix_status(fx, "GET", bad[i]), 404);
    snprintf(path, sizeof path, "/orders/%.63s", hex); /* one digit short */
    assert_int_equal(gwfix_status(fx, "GET", path), 404);
    snprintf(path, sizeof path, "/orders/%s0", hex); /* one too many */
    assert_int_equal(gwfix_status(fx, "GET", path), 404);
    snprintf(path, sizeof path, "/orders/%s/x", hex);
    assert_int_equal(gwfix_status(fx, "GET", path), 404);
    snprintf(path, sizeof path, "/orders/%.62sgg", hex);
    assert_int_equal(gwfix_status(fx, "GET", path), 404);
}

/* GET /api/orders/<id> as parsed JSON (new reference). */
static json_t *
s_api(const gwfix_t *fx, const uint8_t id[32])
{
    char path[128];
    gwfix_resp_t r;
    json_error_t err;
    gwfix_path("/api/orders/", id, path);
    gwfix_get_ok(fx, path, &r);
    json_t *doc = json_loads((char *) r.body, 0, &err);
    assert_non_null(doc);
    gwfix_resp_free(&r);
    return doc;
}

/* Base64 text to bytes; returns the length. */
static size_t
s_unb64(const char *text, uint8_t *out, size_t max)
{
    size_t len = 0;
    assert_int_equal(sodium_base642bin(out, max, text, strlen(text), NULL, &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    return len;
}

static void
test_api_json(void **state)
{
    gwfix_t *fx = *state;
    json_t *doc = s_api(fx, fx->s.orders[1]);
    json_t *ver = json_object_get(doc, "verification"), *proofs = json_object_get(doc, "proofs");
    assert_true(json_is_true(json_object_get(ver, "verified")));
    assert_int_equal(json_integer_value(json_object_get(ver, "cosignatures")), 1);
    assert_int_equal(json_integer_value(json_object_get(ver, "quorum")), 1);
    json_t *events = json_object_get(doc, "events"), *entries = json_object_get(proofs, "entries");
    assert_true(json_array_size(events) >= 5);
    assert_int_equal(json_array_size(entries), json_array_size(events));
    assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "kind")),
                        "order");
    /* Check every proof here, independently of the server's verdict. */
    const char *note = json_string_value(json_object_get(proofs, "checkpoint"));
    checkpoint_t cp;
    assert_int_equal(checkpoint_from_note(&cp, note, strlen(note)), 0);
    assert_int_equal(cp.size, fx->cp_size);
    int reassigned = 0;
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *e = json_array_get(entries, i), *proof = json_object_get(e, "proof");
        uint8_t rec[LEDGER_RECORD_MAX], hashes[64][32], leaf[32];
        size_t k = json_array_size(proof);
        size_t len = s_unb64(json_string_value(json_object_get(e, "record")), rec, sizeof rec);
        ledger_record_t lr;
        assert_int_equal(ledger_record_decode(&lr, rec, len), 0);
        assert_int_equal(lr.seq, (uint64_t) json_integer_value(json_object_get(e, "index")));
        assert_true(k <= 64);
        for (size_t j = 0; j < k; j++)
            assert_int_equal(s_unb64(json_string_value(json_array_get(proof, j)), hashes[j], 32),
                             32);
        merkle_leaf_hash(rec, len, leaf);
        assert_int_equal(merkle_verify_inclusion(lr.seq, cp.size, leaf,
                                                 (const uint8_t(*)[32]) hashes, k, cp.root), 0);
        const char *ev = json_string_value(json_object_get(json_array_get(events, i), "event"));
        reassigned |= strcmp(ev, "Reassigned: the factory declined") == 0;
    }
    assert_true(reassigned);
    json_decref(doc);
    /* The order newer than the checkpoint: no proof yet, said so. */
    doc = s_api(fx, fx->pending);
    ver = json_object_get(doc, "verification");
    assert_true(json_is_false(json_object_get(ver, "verified")));
    assert_int_equal(json_integer_value(json_object_get(ver, "not_checkpointed")), 1);
    json_t *e0 = json_array_get(json_object_get(json_object_get(doc, "proofs"), "entries"), 0);
    assert_true(json_is_null(json_object_get(e0, "proof")));
    json_decref(doc);
}

/* ---------- the log as tiles ---------- */

/* Every file below dir (inside the exported bundle) is served byte for
 * byte, cached long when full, briefly when partial. Returns the count. */
static size_t
s_walk(const gwfix_t *fx, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    size_t n = 0;
    assert_non_null(d);
    while ((ent = readdir(d)) != NULL) {
        char path[512], url[256], v[128];
        struct stat st;
        if (ent->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
        assert_int_equal(lstat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            n += s_walk(fx, path);
            continue;
        }
        const char *rel = path + strlen(fx->bundle) + 1;
        gwfix_resp_t r;
        size_t len = 0;
        uint8_t *file = tfix_slurp(fx->bundle, rel, &len);
        snprintf(url, sizeof url, "/%s", rel);
        gwfix_get_ok(fx, url, &r);
        assert_int_equal(r.len, len);
        assert_memory_equal(r.body, file, len);
        assert_non_null(gwfix_header(&r, "Cache-Control", v, sizeof v));
        assert_string_equal(v, strstr(rel, ".p/") ? "public, max-age=10"
                                                  : "public, max-age=31536000, immutable");
        assert_non_null(gwfix_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
        free(file);
        gwfix_resp_free(&r);
        n++;
    }
    closedir(d);
    return n;
}

static void
test_tiles(void **state)
{
    gwfix_t *fx = *state;
    char dir[320], url[128];
    snprintf(dir, sizeof dir, "%s/tile", fx->bundle);
    /* 3 bundles and 3 level-0 tiles (2 full, 1 partial), a partial level-1 tile. */
    assert_int_equal(s_walk(fx, dir), 7);
    uint64_t w0 = fx->cp_size % 256, w1 = fx->cp_size / 256;
    /* A narrower partial tile is a prefix of the wider one. */
    gwfix_resp_t r, wide;
    snprintf(url, sizeof url, "/tile/0/002.p/%llu", (unsigned long long) w0);
    gwfix_get_ok(fx, url, &wide);
    snprintf(url, sizeof url, "/tile/0/002.p/%llu", (unsigned long long) w0 - 1);
    gwfix_get_ok(fx, url, &r);
    assert_int_equal(r.len, (w0 - 1) * 32);
    assert_memory_equal(r.body, wide.body, r.len);
    gwfix_resp_free(&r);
    gwfix_resp_free(&wide);
    snprintf(url, sizeof url, "/tile/1/000.p/%llu", (unsigned long long) w1);
    assert_int_equal(gwfix_status(fx, "GET", url), 200);
    /* Outside the checkpoint's tree, or not canonical: 404. */
    const char *out[] = {"/tile/0/002", "/tile/entries/002", "/tile/0/003.p/1", "/tile/1/000",
                         "/tile/2/000.p/1", "/tile/8/000.p/1", "/tile/0/0000", "/tile/0/x000/001",
                         "/tile/0/002.p/0", "/tile/0/002.p/256", "/tile/", "/tile/entries/1"};
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
        if (gwfix_status(fx, "GET", out[i]) != 404)
            fail_msg("%s is served", out[i]);
    snprintf(url, sizeof url, "/tile/0/002.p/%llu", (unsigned long long) w0 + 1);
    assert_int_equal(gwfix_status(fx, "GET", url), 404);
    snprintf(url, sizeof url, "/tile/1/000.p/%llu", (unsigned long long) w1 + 1);
    assert_int_equal(gwfix_status(fx, "GET", url), 404);
}

static void
test_checkpoint_health(void **state)
{
    gwfix_t *fx = *state;
    char v[64];
    gwfix_resp_t r;
    size_t len = 0;
    uint8_t *file = tfix_slurp(fx->bundle, "checkpoint", &len);
    gwfix_get_ok(fx, "/checkpoint", &r);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, file, len);
    assert_non_null(gwfix_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; charset=utf-8");
    gwfix_resp_free(&r);
    /* HEAD: the same headers, no body. */
    gwfix_http(fx, "HEAD", "/checkpoint", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_non_null(gwfix_header(&r, "Content-Length", v, sizeof v));
    assert_int_equal(strtoull(v, NULL, 10), len);
    gwfix_resp_free(&r);
    gwfix_get_ok(fx, "/healthz", &r);
    assert_string_equal((char *) r.body, "ok\n");
    gwfix_resp_free(&r);
    free(file);
}

static void
test_methods_limits(void **state)
{
    gwfix_t *fx = *state;
    char path[700], v[64];
    gwfix_resp_t r;
    gwfix_path("/orders/", fx->s.orders[0], path);
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        gwfix_http(fx, methods[i], i % 2 ? "/healthz" : path, &r);
        assert_int_equal(r.status, 405);
        assert_non_null(gwfix_header(&r, "Allow", v, sizeof v));
        assert_string_equal(v, "GET, HEAD");
        gwfix_resp_free(&r);
    }
    memset(path, 'a', sizeof path);
    memcpy(path, "/orders/", 8);
    path[GATEWAY_URL_MAX + 8] = '\0';
    assert_int_equal(gwfix_status(fx, "GET", path), 414);
    /* At most max_per_ip (8) connections from one address: the next one is
     * closed at once. Idle ones are closed after timeout_s (2 s). */
    int fds[9];
    char c;
    for (int i = 0; i < 8; i++)
        fds[i] = gwfix_connect(fx->port);
    usleep(200 * 1000); /* let the server accept them */
    fds[8] = gwfix_connect(fx->port);
    assert_int_equal(recv(fds[8], &c, 1, 0), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(recv(fds[i], &c, 1, 0), 0); /* closed by the idle timeout */
        close(fds[i]);
    }
    close(fds[8]);
    /* Served again once the server has seen those closes (on a loaded
     * machine that can take a moment: bounded retries, 5 s at most). */
    int status = 0;
    for (int i = 0; i < 50 && status != 200; i++) {
        status = gwfix_status(fx, "GET", "/healthz");
        if (status != 200)
            usleep(100 * 1000);
    }
    assert_int_equal(status, 200);
}

/* ---------- metrics ---------- */

/* The value of the sample line "name value", or -1. */
static double
s_metric(const char *text, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Every sample's family was typed before it. */
static void
s_metrics_shape(const char *text)
{
    char *copy = strdup(text), *save = NULL, typed[64][96];
    size_t ntyped = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t n = strcspn(line, "{ "), ok = 0;
        if (strncmp(line, "# TYPE ", 7) == 0 && ntyped < 64)
            sscanf(line + 7, "%95s", typed[ntyped++]);
        for (size_t i = 0; line[0] != '#' && i < ntyped; i++)
            ok |= strlen(typed[i]) == n && strncmp(typed[i], line, n) == 0;
        if (line[0] != '#' && !ok)
            fail_msg("sample before its TYPE: %s", line);
    }
    free(copy);
}

static void
s_hub_prom(const gwfix_t *fx, const char *text, int age_s)
{
    char path[400], tmp[420];
    snprintf(path, sizeof path, "%s/%s", fx->ledger, GATEWAY_HUB_PROM);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    assert_int_equal(util_write_file_excl(tmp, text, strlen(text), 0644), 0);
    struct timespec ts[2] = {{time(NULL) - age_s, 0}, {time(NULL) - age_s, 0}};
    assert_int_equal(utimensat(AT_FDCWD, tmp, ts, 0), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void
test_metrics(void **state)
{
    gwfix_t *fx = *state;
    gwfix_resp_t r;
    char v[128];
    gwfix_get_ok(fx, "/metrics", &r);
    assert_non_null(gwfix_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; version=0.0.4; charset=utf-8");
    const char *m = (const char *) r.body;
    s_metrics_shape(m);
    assert_true(s_metric(m, "cofab_ledger_records_total") == (double) fx->size);
    assert_true(s_metric(m, "cofab_checkpoint_size") == (double) fx->cp_size);
    assert_true(s_metric(m, "cofab_checkpoint_uncovered_records") == 1);
    assert_true(s_metric(m, "cofab_checkpoint_cosignatures") == 1);
    assert_true(s_metric(m, "cofab_checkpoint_quorum") == 1);
    assert_true(s_metric(m, "cofab_checkpoint_witnesses") == 2);
    assert_true(s_metric(m, "cofab_checkpoint_verified") == 1);
    assert_true(s_metric(m, "cofab_orders_unplaced") >= 2); /* the two glass orders */
    assert_true(s_metric(m, "cofab_ledger_ingest_rate") > 0); /* all written moments ago */
    assert_true(s_metric(m, "cofab_hub_up") == 0);              /* no hub.prom */
    gwfix_resp_free(&r);

    const char *hub = "# HELP cofab_hub_nodes_connected Nodes.\n"
                      "# TYPE cofab_hub_nodes_connected gauge\ncofab_hub_nodes_connected 3\n"
                      "# TYPE cofab_hub_refusals_total counter\n"
                      "cofab_hub_refusals_total{reason=\"COFAB_EPERM\"} 4\n";
    s_hub_prom(fx, hub, 0);
    gwfix_get_ok(fx, "/metrics", &r);
    s_metrics_shape((char *) r.body);
    assert_true(s_metric((char *) r.body, "cofab_hub_up") == 1);
    assert_true(s_metric((char *) r.body, "cofab_hub_nodes_connected") == 3);
    assert_non_null(strstr((char *) r.body, "\ncofab_hub_refusals_total{reason=\"COFAB_EPERM\"} 4\n"));
    gwfix_resp_free(&r);
    /* Stale (older than 10 s): not served. */
    s_hub_prom(fx, hub, 60);
    gwfix_get_ok(fx, "/metrics", &r);
    assert_true(s_metric((char *) r.body, "cofab_hub_up") == 0);
    assert_true(s_metric((char *) r.body, "cofab_hub_metrics_age_seconds") >= 59);
    assert_true(s_metric((char *) r.body, "cofab_hub_nodes_connected") < 0);
    gwfix_resp_free(&r);
    /* Invalid (a sample of an untyped family, a gateway family name): not served. */
    s_hub_prom(fx, "cofab_hub_nodes_connected 3\n", 0);
    gwfix_get_ok(fx, "/metrics", &r);
    assert_true(s_metric((char *) r.body, "cofab_hub_up") == 0);
    assert_true(s_metric((char *) r.body, "cofab_hub_nodes_connected") < 0);
    gwfix_resp_free(&r);
    s_hub_prom(fx, "# TYPE cofab_ledger_up gauge\ncofab_ledger_up 0\n", 0);
    gwfix_get_ok(fx, "/metrics", &r);
    assert_true(s_metric((char *) r.body, "cofab_hub_up") == 0);
    assert_true(s_metric((char *) r.body, "cofab_ledger_up") == 1);
    s_metrics_shape((char *) r.body);
    gwfix_resp_free(&r);
    char path[400];
    snprintf(path, sizeof path, "%s/%s", fx->ledger, GATEWAY_HUB_PROM);
    unlink(path);
}

/* ---------- live: the hub appends while the gateway serves ---------- */

/* In a child process, as the hub would: `notes` notes of plen bytes, an
 * order with this id (when id is not NULL), a cosigned checkpoint. */
static void
s_hub_appends(const gwfix_t *fx, size_t notes, size_t plen, const uint8_t *id)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc = gwfix_notes(fx->ledger, fx->s.hub, notes, plen);
        if (rc == 0 && id)
            rc = gwfix_order(fx->ledger, fx->s.alice, id, "Fresh order");
        if (rc == 0)
            rc = gwfix_checkpoint(fx->ledger, &fx->s);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
test_live_refresh(void **state)
{
    gwfix_t *fx = *state;
    uint8_t fresh[32];
    char path[128];
    gwfix_resp_t r;
    randombytes_buf(fresh, 32);
    gwfix_path("/orders/", fresh, path);
    assert_int_equal(gwfix_status(fx, "GET", path), 404);
    /* The hub appends enough to grow the map past the 64 MiB the gateway
     * mapped (MDB_MAP_RESIZED; not under valgrind, too slow there), a new
     * order and a checkpoint. The gateway reopens by age only every 600 s
     * here: the first request after must notice by itself, from a failed
     * read or a checkpoint beyond what it sees. */
    size_t notes = getenv("COFAB_UNDER_VALGRIND") ? 10 : 1100, size = fx->size + notes + 1;
    s_hub_appends(fx, notes, 60000, fresh);
    gwfix_get_ok(fx, path, &r);
    assert_non_null(strstr((char *) r.body, "Fresh order"));
    assert_non_null(strstr((char *) r.body, "\xe2\x9c\x93 Verified"));
    gwfix_resp_free(&r);
    /* Again, and /metrics is the first to look; then a tile of the new tree. */
    s_hub_appends(fx, 300, 100, NULL);
    size += 300;
    gwfix_get_ok(fx, "/metrics", &r);
    assert_true(s_metric((char *) r.body, "cofab_ledger_records_total") == (double) size);
    assert_true(s_metric((char *) r.body, "cofab_checkpoint_size") == (double) size);
    assert_true(s_metric((char *) r.body, "cofab_checkpoint_uncovered_records") == 0);
    gwfix_resp_free(&r);
    s_hub_appends(fx, 300, 100, NULL);
    size += 300;
    char url[64];
    snprintf(url, sizeof url, "/tile/0/%03zu.p/%zu", size / 256, size % 256);
    assert_true(size % 256 != 0 && size / 256 < 1000);
    gwfix_get_ok(fx, url, &r);
    assert_int_equal(r.len, (size % 256) * 32);
    gwfix_resp_free(&r);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_page),     cmocka_unit_test(test_order_words),
        cmocka_unit_test(test_not_found),      cmocka_unit_test(test_api_json),
        cmocka_unit_test(test_tiles),          cmocka_unit_test(test_checkpoint_health),
        cmocka_unit_test(test_methods_limits), cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_live_refresh),
    };
    return cmocka_run_group_tests(tests, gwfix_setup, gwfix_teardown);
}
