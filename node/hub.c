/* hub.c — the hub's lifecycle, authentication and the ROUTER loop that answers queries. */
#include "hub_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/util.h"

void
hub_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    fprintf(stderr, "%02d:%02d:%02d hub: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, line);
}

void
hub_refused(hub_t *self, int code)
{
    atomic_fetch_add(&self->refused, 1);
    unsigned i = code < 0 && code > -HUB_REFUSAL_CODES ? (unsigned) -code : 0;
    atomic_fetch_add(&self->refusals[i], 1);
}

void
hub_saw(hub_t *self, const char *user_id)
{
    uint8_t key[32];
    size_t bin = 0;
    if (user_id[0] != 'm' || user_id[1] != ':' ||
        sodium_hex2bin(key, 32, user_id + 2, 64, NULL, &bin, NULL) != 0 || bin != 32)
        return;
    /* Its own slot, else a free one, else the stalest (a full table can
     * only under-count, never grow). */
    hub_seen_t *slot = &self->seen[0];
    for (size_t i = 0; i < HUB_SEEN_MAX; i++) {
        hub_seen_t *s = &self->seen[i];
        if (memcmp(s->key, key, 32) == 0) {
            slot = s;
            break;
        }
        if (s->last_ns < slot->last_ns)
            slot = s;
    }
    memcpy(slot->key, key, 32);
    slot->last_ns = util_mono_ns();
}

static void
s_path(const hub_t *self, const char *suffix, char *out, size_t max)
{
    snprintf(out, max, "%s/%s%s", self->cfg.data_dir, HUB_PROM_FILE, suffix);
}

void
hub_prom_write(hub_t *self)
{
    uint64_t now = util_mono_ns();
    if (self->prom_ns && now - self->prom_ns < (uint64_t) HUB_PROM_PERIOD_MS * 1000000u)
        return;
    self->prom_ns = now;
    unsigned nodes = 0;
    for (size_t i = 0; i < HUB_SEEN_MAX; i++)
        nodes += self->seen[i].last_ns &&
                 now - self->seen[i].last_ns < (uint64_t) HUB_SEEN_WINDOW_MS * 1000000u;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    fprintf(f, "# HELP cofab_hub_acked_total Envelopes the hub stored and acknowledged.\n"
               "# TYPE cofab_hub_acked_total counter\ncofab_hub_acked_total %llu\n"
               "# HELP cofab_hub_duplicates_total Resubmitted envelopes answered with their "
               "first position.\n"
               "# TYPE cofab_hub_duplicates_total counter\ncofab_hub_duplicates_total %llu\n"
               "# HELP cofab_hub_checkpoints_total Checkpoints the hub signed.\n"
               "# TYPE cofab_hub_checkpoints_total counter\ncofab_hub_checkpoints_total %llu\n"
               "# HELP cofab_hub_nodes_connected Member nodes heard from in the last 60 s.\n"
               "# TYPE cofab_hub_nodes_connected gauge\ncofab_hub_nodes_connected %u\n"
               "# HELP cofab_hub_start_time_seconds When the hub started, Unix time.\n"
               "# TYPE cofab_hub_start_time_seconds gauge\ncofab_hub_start_time_seconds %llu\n"
               "# HELP cofab_hub_refusals_total Requests the hub refused, by error code.\n"
               "# TYPE cofab_hub_refusals_total counter\n",
            (unsigned long long) atomic_load(&self->acked),
            (unsigned long long) atomic_load(&self->duplicates),
            (unsigned long long) atomic_load(&self->checkpoints), nodes,
            (unsigned long long) (self->started_ms / 1000));
    for (int i = 0; i < HUB_REFUSAL_CODES; i++) {
        uint64_t n = atomic_load(&self->refusals[i]);
        char reason[32];
        /* Codes without a name get their number: every label stays distinct. */
        snprintf(reason, sizeof reason, "%s", i ? cofab_errname(-i) : "other");
        if (i && strcmp(reason, "COFAB_EUNKNOWN") == 0)
            snprintf(reason, sizeof reason, "code%d", -i);
        if (n)
            fprintf(f, "cofab_hub_refusals_total{reason=\"%s\"} %llu\n", reason,
                    (unsigned long long) n);
    }
    if (fclose(f) != 0 || !text) {
        free(text);
        return;
    }
    /* The textfile pattern: readers see the old file or the new one, whole. */
    char tmp[CONFIG_PATH_MAX + 32], path[CONFIG_PATH_MAX + 32];
    s_path(self, ".tmp", tmp, sizeof tmp);
    s_path(self, "", path, sizeof path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    int ok = fd >= 0 && write(fd, text, len) == (ssize_t) len;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
    free(text);
}

void
hub_prom_remove(hub_t *self)
{
    char path[CONFIG_PATH_MAX + 32];
    s_path(self, "", path, sizeof path);
    unlink(path);
}

/* ZAP: who is this transport key? Members by the ledger's membership, the
 * operator by configuration, customers as the alliance allows. */
static int
s_authorize(void *arg, const uint8_t key[32], char *user_id)
{
    hub_t *self = arg;
    char hex[65];
    uint8_t sign[32];
    policy_member_t m;
    policy_alliance_t a;
    if (sodium_memcmp(key, self->operator_pub.curve_pk, 32) == 0) {
        sodium_bin2hex(hex, sizeof hex, self->operator_pub.sign_pk, 32);
        snprintf(user_id, NET_USER_ID_MAX, "o:%s", hex);
        return 0;
    }
    if (policy_member_by_transport(self->ledger, key, sign) == 0 &&
        policy_member(self->ledger, sign, &m) == 0 && m.active) {
        if (m.role == PAYLOAD_ROLE_CUSTOMER) {
            sodium_bin2hex(hex, sizeof hex, key, 32);
            snprintf(user_id, NET_USER_ID_MAX, "c:%s", hex);
        } else {
            sodium_bin2hex(hex, sizeof hex, sign, 32);
            snprintf(user_id, NET_USER_ID_MAX, "m:%s", hex);
        }
        return 0;
    }
    if (policy_alliance(self->ledger, &a) == 0 && a.customers == PAYLOAD_CUSTOMERS_OPEN) {
        sodium_bin2hex(hex, sizeof hex, key, 32);
        snprintf(user_id, NET_USER_ID_MAX, "c:%s", hex);
        return 0;
    }
    return -1;
}

/* Builds the genesis from the configuration, signed by the operator key
 * stored beside the operator's .pub. */
static int
s_genesis(hub_t *self, uint8_t *buf, size_t *len)
{
    char path[CONFIG_PATH_MAX + 8];
    size_t n = strlen(self->cfg.operator_pub);
    if (n < 4 || strcmp(self->cfg.operator_pub + n - 4, ".pub") != 0)
        return COFAB_EINVAL;
    snprintf(path, sizeof path, "%.*s.key", (int) (n - 4), self->cfg.operator_pub);
    keys_t *op = NULL;
    int rc = keys_load(path, &op);
    if (rc != 0) {
        hub_log("first start needs the operator's secret key %s to sign the genesis: %s", path,
                cofab_strerror(rc));
        return rc;
    }
    payload_genesis_t *g = malloc(sizeof *g);
    uint8_t *payload = NULL;
    size_t plen = 0;
    if (!g) {
        keys_destroy(&op);
        return COFAB_ENOMEM;
    }
    payload_genesis_init(g);
    snprintf(g->origin, sizeof g->origin, "%s", self->cfg.origin);
    keys_verifier(self->keys, &g->hub);
    memcpy(g->hub_transport, keys_curve_pk(self->keys), 32);
    keys_verifier(op, &g->operator_key);
    g->params = self->cfg.params;
    g->witness_k = self->cfg.witness_k;
    g->customers = payload_customers_parse(self->cfg.customers);
    g->ack_timeout_s = self->cfg.ack_timeout_s;
    for (size_t i = 0; rc == 0 && i < self->cfg.nmembers; i++) {
        keys_public_t p;
        rc = keys_public_load(&p, self->cfg.members[i].pub);
        if (rc != 0) {
            hub_log("member %s: cannot read %s: %s", self->cfg.members[i].name,
                    self->cfg.members[i].pub, cofab_strerror(rc));
            break;
        }
        payload_member_t *m = &g->members[g->nmembers++];
        note_verifier_init(&m->key, p.name, p.sign_pk);
        memcpy(m->transport, p.curve_pk, 32);
        m->role = payload_role_parse(self->cfg.members[i].role);
    }
    if (rc == 0)
        rc = payload_genesis_encode(g, &payload, &plen);
    envelope_spec_t spec = {.kind = ENVELOPE_GENESIS, .author_seq = 1,
                            .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = plen};
    if (rc == 0)
        rc = envelope_seal(&spec, op, buf, ENVELOPE_MAX, len);
    free(payload);
    free(g);
    keys_destroy(&op);
    return rc;
}

static int
s_open_ledger(hub_t *self)
{
    ledger_options_t o = {.apply = policy_apply,
                          .map_max = (size_t) self->cfg.map_max_mb << 20};
    int rc = ledger_open(&self->ledger, self->cfg.data_dir, &o);
    if (rc != COFAB_ENOTFOUND)
        return rc;
    uint8_t *buf = malloc(ENVELOPE_MAX);
    size_t len = 0;
    envelope_t g;
    if (!buf)
        return COFAB_ENOMEM;
    rc = s_genesis(self, buf, &len);
    if (rc == 0)
        rc = envelope_open(&g, buf, len);
    if (rc == 0)
        rc = ledger_create(&self->ledger, self->cfg.data_dir, self->cfg.origin, &g, &o);
    if (rc == 0)
        hub_log("created ledger %s for %s", self->cfg.data_dir, self->cfg.origin);
    free(buf);
    return rc;
}

static void *
s_bind(hub_t *self, int type, const char *endpoint, char *bound)
{
    void *sock = net_server_socket(self->zctx, type, self->keys);
    if (!sock)
        return NULL;
    if (zmq_bind(sock, endpoint) != 0) {
        hub_log("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    size_t n = HUB_ENDPOINT_MAX;
    zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &n);
    return sock;
}

hub_t *
hub_new(const config_hub_t *cfg)
{
    hub_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->started_ms = util_now_ms();
    int rc = keys_load(cfg->key, &self->keys);
    if (rc != 0) {
        hub_log("hub key %s: %s", cfg->key, cofab_strerror(rc));
        goto fail;
    }
    rc = keys_public_load(&self->operator_pub, cfg->operator_pub);
    if (rc != 0) {
        hub_log("operator key %s: %s", cfg->operator_pub, cofab_strerror(rc));
        goto fail;
    }
    rc = s_open_ledger(self);
    if (rc != 0) {
        hub_log("ledger %s: %s", cfg->data_dir, cofab_strerror(rc));
        goto fail;
    }
    policy_alliance_t a;
    if (policy_alliance(self->ledger, &a) != 0 ||
        sodium_memcmp(a.hub, keys_sign_pk(self->keys), 32) != 0) {
        hub_log("the ledger in %s belongs to another hub key", cfg->data_dir);
        goto fail;
    }
    self->buckets = calloc(HUB_RATE_SLOTS, sizeof *self->buckets);
    randombytes_buf(self->rate_key, sizeof self->rate_key);
    self->match_cache = match_input_cache_new();
    self->zctx = zmq_ctx_new();
    if (!self->buckets || !self->match_cache || !self->zctx)
        goto fail;
    snprintf(self->ep_write, sizeof self->ep_write, "inproc://hub-%p-write", (void *) self);
    snprintf(self->ep_reply, sizeof self->ep_reply, "inproc://hub-%p-reply", (void *) self);
    /* ZAP first: no connection may be accepted before it can be checked. */
    self->zap = net_zap_start(self->zctx, s_authorize, self);
    if (!self->zap)
        goto fail;
    self->router = s_bind(self, ZMQ_ROUTER, cfg->submit, self->submit_ep);
    self->pub = s_bind(self, ZMQ_PUB, cfg->feed, self->feed_ep);
    self->replies = zmq_socket(self->zctx, ZMQ_PULL);
    if (!self->router || !self->pub || !self->replies || zmq_bind(self->replies, self->ep_reply) != 0)
        goto fail;
    int linger = 0;
    self->nverify = cfg->verify_threads ? cfg->verify_threads : 2;
    if (self->nverify > HUB_MAX_VERIFIERS)
        self->nverify = HUB_MAX_VERIFIERS;
    for (unsigned i = 0; i < self->nverify; i++) {
        snprintf(self->ep_verify[i], sizeof self->ep_verify[i], "inproc://hub-%p-verify-%u",
                 (void *) self, i);
        self->to_verify[i] = zmq_socket(self->zctx, ZMQ_PUSH);
        if (!self->to_verify[i] || zmq_bind(self->to_verify[i], self->ep_verify[i]) != 0)
            goto fail;
        zmq_setsockopt(self->to_verify[i], ZMQ_LINGER, &linger, sizeof linger);
    }
    zmq_setsockopt(self->replies, ZMQ_LINGER, &linger, sizeof linger);
    hub_log("serving %s on %s (feed %s), ledger size %llu", cfg->origin, self->submit_ep,
            self->feed_ep, (unsigned long long) ledger_size(self->ledger));
    return self;
fail:
    hub_destroy(&self);
    return NULL;
}

const char *
hub_submit_endpoint(const hub_t *self)
{
    return self->submit_ep;
}

const char *
hub_feed_endpoint(const hub_t *self)
{
    return self->feed_ep;
}

static void
s_stop_threads(hub_t *self)
{
    atomic_store(&self->stop, 1);
    for (unsigned i = 0; i < self->nverifiers; i++)
        pthread_join(self->verifiers[i], NULL);
    self->nverifiers = 0;
    if (self->writer_started)
        pthread_join(self->writer, NULL);
    self->writer_started = 0;
}

void
hub_destroy(hub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hub_t *self = *self_p;
    s_stop_threads(self);
    if (self->router)
        zmq_close(self->router);
    if (self->pub)
        zmq_close(self->pub);
    for (unsigned i = 0; i < HUB_MAX_VERIFIERS; i++)
        if (self->to_verify[i])
            zmq_close(self->to_verify[i]);
    if (self->replies)
        zmq_close(self->replies);
    net_zap_destroy(&self->zap);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    ledger_destroy(&self->ledger);
    keys_destroy(&self->keys);
    free(self->buckets);
    match_input_cache_destroy(&self->match_cache);
    free(self);
    *self_p = NULL;
}
