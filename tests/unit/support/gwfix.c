/* gwfix.c — a gateway serving a real alliance history on 127.0.0.1 for tests, a tiny HTTP client, and ledger writers. */
#include "support/gwfix.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/tiles.h"
#include "cofab/util.h"
#include "support/fixture.h"

int
gwfix_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {10, 0}; /* every wait below is bounded */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof a), 0);
    return fd;
}

void
gwfix_http(const gwfix_t *fx, const char *method, const char *path, gwfix_resp_t *r)
{
    memset(r, 0, sizeof *r);
    int fd = gwfix_connect(fx->port);
    char req[2048];
    int body = strcmp(method, "POST") == 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s\r\n%s", method,
                     path, body ? "Content-Length: 3\r\n" : "", body ? "abc" : "");
    assert_true(n > 0 && (size_t) n < sizeof req);
    assert_int_equal(send(fd, req, (size_t) n, 0), n);
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap)
            assert_non_null(buf = realloc(buf, (cap *= 2) + 1));
        ssize_t got = recv(fd, buf + len, cap - len, 0);
        if (got <= 0)
            break;
        len += (size_t) got;
    }
    close(fd);
    buf[len] = 0;
    uint8_t *end = (uint8_t *) strstr((char *) buf, "\r\n\r\n");
    if (end && sscanf((char *) buf, "HTTP/1.1 %d", &r->status) == 1) {
        size_t hl = (size_t) (end - buf);
        assert_true(hl < sizeof r->head);
        memcpy(r->head, buf, hl);
        r->len = len - hl - 4;
        r->body = malloc(r->len + 1);
        memcpy(r->body, end + 4, r->len);
        r->body[r->len] = 0;
    }
    free(buf);
}

/* A header's value (case-insensitive name) into out, or NULL. */
const char *
gwfix_header(const gwfix_resp_t *r, const char *name, char *out, size_t max)
{
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        size_t n = strlen(name);
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, max, "%.*s", (int) (e ? (size_t) (e - v) : strlen(v)), v);
            return out;
        }
    }
    return NULL;
}

void
gwfix_resp_free(gwfix_resp_t *r)
{
    free(r->body);
}

void
gwfix_get_ok(const gwfix_t *fx, const char *path, gwfix_resp_t *r)
{
    gwfix_http(fx, "GET", path, r);
    if (r->status != 200)
        fail_msg("GET %s: %d %s", path, r->status, r->body ? (char *) r->body : "");
}

int
gwfix_status(const gwfix_t *fx, const char *method, const char *path)
{
    gwfix_resp_t r;
    gwfix_http(fx, method, path, &r);
    gwfix_resp_free(&r);
    return r.status;
}

void
gwfix_path(const char *prefix, const uint8_t id[32], char out[128])
{
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, id, 32);
    snprintf(out, 128, "%s%s", prefix, hex);
}

/* ---------- building the history ---------- */

/* Appends `count` envelopes of one kind by k (the same subject and
 * payload) under the alliance rules. No cmocka asserts, so a forked child
 * may call it. Returns 0 or the first failure. */
int
gwfix_append(const char *dir, const keys_t *k, int kind, const uint8_t *subject,
         const uint8_t *payload, size_t len, size_t count)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.no_sync = 1, .apply = policy_apply};
    uint8_t *buf = malloc(ENVELOPE_MAX);
    envelope_chain_t c = {0};
    int rc = buf ? ledger_open(&l, dir, &o) : COFAB_ENOMEM;
    if (rc == 0)
        rc = ledger_author_last(l, keys_sign_pk(k), &c.next_seq, c.prev);
    c.next_seq++;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = util_now_ms(),
                                .payload = payload, .payload_len = len};
        if (subject)
            memcpy(spec.subject, subject, 32);
        size_t elen = 0;
        envelope_t e;
        ledger_result_t res;
        rc = envelope_chain_seal(&c, &spec, k, buf, ENVELOPE_MAX, &elen);
        if (rc == 0)
            rc = envelope_open(&e, buf, elen);
        if (rc == 0)
            rc = ledger_append(l, &e, 1, util_now_ms(), &res);
        if (rc == 0)
            rc = res.code;
    }
    free(buf);
    ledger_destroy(&l);
    return rc;
}

/* count hub notes of plen bytes each. */
int
gwfix_notes(const char *dir, const keys_t *hub, size_t count, size_t plen)
{
    uint8_t *payload = malloc(plen);
    if (!payload)
        return COFAB_ENOMEM;
    memset(payload, 'n', plen);
    int rc = gwfix_append(dir, hub, ENVELOPE_NOTE, NULL, payload, plen, count);
    free(payload);
    return rc;
}

/* An order by alice (due in 25 days) with the given id and title. */
int
gwfix_order(const char *dir, const keys_t *alice, const uint8_t id[32], const char *title)
{
    payload_order_t o = {.items = {{.process = "glass-blowing", .material = "glass", .qty = 12}},
                         .nitems = 1, .lat_e6 = 48856613, .lon_e6 = 2352222};
    o.due_day = (uint32_t) (util_now_ms() / 86400000u) + 25;
    snprintf(o.title, sizeof o.title, "%s", title);
    uint8_t *p = NULL;
    size_t n = 0;
    int rc = payload_order_encode(&o, &p, &n);
    if (rc == 0)
        rc = gwfix_append(dir, alice, ENVELOPE_ORDER, id, p, n, 1);
    free(p);
    return rc;
}

/* A checkpoint of the whole ledger, signed by the hub, cosigned by north. */
int
gwfix_checkpoint(const char *dir, const scen_t *s)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.no_sync = 1};
    char note[LEDGER_CHECKPOINT_MAX], cosigned[LEDGER_CHECKPOINT_MAX];
    checkpoint_t cp;
    int rc = ledger_open(&l, dir, &o);
    if (rc == 0)
        rc = ledger_checkpoint_sign(l, s->hub, note, sizeof note);
    if (rc == 0)
        rc = note_cosign(note, strlen(note), keys_name(s->north), keys_sign_sk(s->north),
                         util_now_ms() / 1000, cosigned, sizeof cosigned);
    if (rc == 0)
        rc = checkpoint_from_note(&cp, cosigned, strlen(cosigned));
    if (rc == 0)
        rc = ledger_checkpoint_put(l, cp.size, cosigned, strlen(cosigned));
    ledger_destroy(&l);
    return rc;
}

int
gwfix_setup(void **state)
{
    gwfix_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fixture_tmpdir(fx->dir);
    snprintf(fx->ledger, sizeof fx->ledger, "%s/ledger", fx->dir);
    snprintf(fx->bundle, sizeof fx->bundle, "%s/bundle", fx->dir);
    scen_build(&fx->s, fx->ledger, 0);
    randombytes_buf(fx->hostile, 32);
    randombytes_buf(fx->pending, 32);
    assert_int_equal(gwfix_order(fx->ledger, fx->s.alice, fx->hostile, GWFIX_HOSTILE), 0);
    assert_int_equal(gwfix_notes(fx->ledger, fx->s.hub, GWFIX_NOTES, 100), 0);
    assert_int_equal(gwfix_checkpoint(fx->ledger, &fx->s), 0);
    assert_int_equal(gwfix_order(fx->ledger, fx->s.alice, fx->pending, "Late order"), 0);
    /* Everything the tests compare with is read now: once the gateway has
     * the ledger open, this process must not open it again (LMDB). */
    ledger_t *l = NULL;
    ledger_options_t ro = {.read_only = 1};
    tiles_stats_t st;
    assert_int_equal(ledger_open(&l, fx->ledger, &ro), 0);
    assert_int_equal(tiles_export(l, fx->bundle, &st), 0);
    fx->size = ledger_size(l);
    fx->cp_size = st.size;
    ledger_destroy(&l);
    assert_true(fx->cp_size > 512 && fx->cp_size + 1 == fx->size);

    gateway_options_t o = {.listen = "127.0.0.1:0", .max_connections = 64, .max_per_ip = 8,
                           .timeout_s = 2, .threads = 2, .refresh_ms = 600000};
    snprintf(o.data_dir, sizeof o.data_dir, "%s", fx->ledger);
    fx->gw = gateway_new(&o);
    assert_non_null(fx->gw);
    fx->port = gateway_port(fx->gw);
    assert_true(fx->port > 0);
    *state = fx;
    return 0;
}

int
gwfix_teardown(void **state)
{
    gwfix_t *fx = *state;
    gateway_destroy(&fx->gw);
    gateway_destroy(&fx->gw); /* safe twice */
    assert_null(fx->gw);
    scen_free(&fx->s);
    fixture_rmtree(fx->dir);
    free(fx);
    return 0;
}

