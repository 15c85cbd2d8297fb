/* node.c — the factory node's lifecycle: keys, replica, hub link, heartbeats, main loop. */
#include "node_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/error.h"
#include "cofab/policy.h"
#include "cofab/util.h"

#define S_POLL_MS 100   /* longest the loop sleeps before re-checking its flags */
#define S_SLICE_MS 100  /* reply waits are cut in slices to watch the stop flag */

void
node_log(const node_t *self, const char *fmt, ...)
{
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    fprintf(stderr, "%02d:%02d:%02d node %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            self && self->keys ? keys_name(self->keys) : "-", line);
}

void
node_status_sync(node_t *self)
{
    uint64_t size = self->ledger ? ledger_size(self->ledger) : 0;
    uint8_t head[32] = {0};
    if (self->ledger)
        ledger_head(self->ledger, head);
    pthread_mutex_lock(&self->lock);
    self->status.size = size;
    memcpy(self->status.head, head, 32);
    self->status.connected = self->connected;
    self->status.halted = self->halted;
    pthread_mutex_unlock(&self->lock);
}

void
node_status_add(node_t *self, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&self->lock);
    *field += n;
    pthread_mutex_unlock(&self->lock);
}

void
node_status_set(node_t *self, uint64_t *field, uint64_t v)
{
    pthread_mutex_lock(&self->lock);
    *field = v;
    pthread_mutex_unlock(&self->lock);
}

void
node_status(node_t *self, node_status_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->status;
    pthread_mutex_unlock(&self->lock);
}

static void
s_close(void **sock)
{
    if (*sock) {
        zmq_close(*sock);
        *sock = NULL;
    }
}

void
node_lost(node_t *self, const char *why)
{
    s_close(&self->dealer);
    s_close(&self->sub);
    uint32_t max = self->cfg.reconnect_max_ms ? self->cfg.reconnect_max_ms : 5000;
    if (self->backoff_ms > max)
        self->backoff_ms = max;
    node_log(self, "hub lost (%s); reconnecting in %u ms", why, self->backoff_ms);
    self->next_attempt_ns = util_mono_ns() + (uint64_t) self->backoff_ms * 1000000u;
    self->backoff_ms = self->backoff_ms * 2 > max ? max : self->backoff_ms * 2;
    self->connected = 0;
    self->ping_outstanding = 0;
    self->missed = 0;
    node_status_add(self, &self->status.reconnects, 1);
    node_status_sync(self);
}

int
node_request(node_t *self, int type, const void *body, size_t len, net_msg_t *reply)
{
    memset(reply, 0, sizeof *reply);
    if (!self->dealer)
        return COFAB_ENET;
    uint64_t id;
    randombytes_buf(&id, sizeof id);
    if (net_send(self->dealer, NULL, 0, type, id, body, len) != 0)
        return COFAB_ENET;
    uint64_t deadline = util_mono_ns() + (uint64_t) NODE_REQUEST_MS * 1000000u;
    for (;;) {
        uint64_t now = util_mono_ns();
        if (now >= deadline || (self->stop && *self->stop))
            return COFAB_ENET;
        uint64_t left = (deadline - now) / 1000000u + 1;
        int rc = net_recv(self->dealer, 0, left < S_SLICE_MS ? (int) left : S_SLICE_MS, reply);
        if (rc == COFAB_ENOTFOUND)
            continue;
        if (rc == COFAB_ENET)
            return rc;
        if (rc == 0) {
            /* Any well-formed reply shows the hub is alive. */
            self->missed = 0;
            self->ping_outstanding = 0;
            if (reply->request_id == id)
                return 0;
        }
        net_msg_free(reply); /* a PONG or a reply to an earlier, timed-out request */
    }
}

int
node_evidence(node_t *self, const char *text, size_t len)
{
    char path[CONFIG_PATH_MAX + 64];
    uint64_t ms = util_now_ms();
    int rc = COFAB_EIO;
    for (int i = 0; i < 100; i++) {
        if (i == 0)
            snprintf(path, sizeof path, "%s/evidence-%llu.txt", self->cfg.data_dir,
                     (unsigned long long) ms);
        else
            snprintf(path, sizeof path, "%s/evidence-%llu-%d.txt", self->cfg.data_dir,
                     (unsigned long long) ms, i);
        rc = util_write_file_excl(path, text, len, 0644);
        if (rc != COFAB_EEXIST)
            break;
    }
    if (rc == 0) {
        node_log(self, "EVIDENCE written to %s", path);
        node_status_add(self, &self->status.evidence, 1);
    } else {
        node_log(self, "cannot write evidence file in %s: %s", self->cfg.data_dir,
                 cofab_strerror(rc));
    }
    return rc;
}

/* mkdir -p with mode 0700 for the components it creates. */
static int
s_mkdirs(const char *path)
{
    char buf[CONFIG_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char saved = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        buf[i] = saved;
    }
    return 0;
}

/* Opens the replica if data_dir holds one, and checks it is this hub's. */
static int
s_open_replica(node_t *self)
{
    ledger_options_t o = {.apply = policy_apply};
    int rc = ledger_open(&self->ledger, self->cfg.data_dir, &o);
    if (rc == COFAB_ENOTFOUND)
        return 0; /* created from the hub's genesis on first contact */
    if (rc != 0) {
        node_log(self, "replica %s: %s", self->cfg.data_dir, cofab_strerror(rc));
        return rc;
    }
    policy_alliance_t a;
    if (policy_alliance(self->ledger, &a) != 0 ||
        sodium_memcmp(a.hub, self->hub_pub.sign_pk, 32) != 0) {
        node_log(self, "the replica in %s belongs to another hub key than %s",
                 self->cfg.data_dir, self->cfg.hub_pub);
        return COFAB_EKEYMISMATCH;
    }
    return 0;
}

node_t *
node_new(const config_node_t *cfg, const char *config_path)
{
    if (!cfg)
        return NULL;
    node_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (config_path)
        snprintf(self->config_path, sizeof self->config_path, "%s", config_path);
    pthread_mutex_init(&self->lock, NULL);
    self->backoff_ms = NODE_BACKOFF_MIN_MS;
    self->capacity_due = 1;
    int rc = keys_load(cfg->key, &self->keys);
    if (rc != 0) {
        node_log(NULL, "key %s: %s", cfg->key, cofab_strerror(rc));
        goto fail;
    }
    if (cfg->name[0] && strcmp(cfg->name, keys_name(self->keys)) != 0)
        node_log(self, "warning: config name '%s' differs from the key's name; the key's is used",
                 cfg->name);
    rc = keys_public_load(&self->hub_pub, cfg->hub_pub);
    if (rc == 0)
        rc = note_verifier_init(&self->hub_verifier, self->hub_pub.name, self->hub_pub.sign_pk);
    if (rc != 0) {
        node_log(self, "hub key %s: %s", cfg->hub_pub, cofab_strerror(rc));
        goto fail;
    }
    if (s_mkdirs(cfg->data_dir) != 0) {
        node_log(self, "cannot create %s: %s", cfg->data_dir, strerror(errno));
        goto fail;
    }
    self->pending = malloc(ENVELOPE_MAX);
    self->seen.text = malloc(NOTE_MAX_LEN + 1);
    self->cosigned.text = malloc(NOTE_MAX_LEN + 1);
    self->future.text = malloc(NOTE_MAX_LEN + 1);
    if (!self->pending || !self->seen.text || !self->cosigned.text || !self->future.text)
        goto fail;
    if (s_open_replica(self) != 0 || node_witness_load(self) != 0)
        goto fail;
    self->zctx = zmq_ctx_new();
    if (!self->zctx || node_control_bind(self) != 0)
        goto fail;
    node_status_sync(self);
    node_log(self, "replica %s holds %llu records; hub %s, feed %s", cfg->data_dir,
             (unsigned long long) self->status.size, cfg->hub, cfg->feed);
    return self;
fail:
    node_destroy(&self);
    return NULL;
}

void
node_destroy(node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_t *self = *self_p;
    s_close(&self->dealer);
    s_close(&self->sub);
    s_close(&self->control);
    if (self->control_bound)
        unlink(self->cfg.control + 6); /* `cofab factory` then fails fast: no node */
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    ledger_destroy(&self->ledger);
    keys_destroy(&self->keys);
    node_witness_free(self);
    free(self->pending);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* Creates the hub sockets: the feed first (Clone pattern), then requests. */
static int
s_connect(node_t *self)
{
    int sndtimeo = 1000;
    self->dealer = net_client_socket(self->zctx, ZMQ_DEALER, self->keys, self->hub_pub.curve_pk);
    if (!self->dealer ||
        zmq_setsockopt(self->dealer, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo) != 0)
        return COFAB_ENET;
    if (!self->halted) {
        self->sub = net_client_socket(self->zctx, ZMQ_SUB, self->keys, self->hub_pub.curve_pk);
        if (!self->sub || zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "R", 1) != 0 ||
            zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, "C", 1) != 0 ||
            zmq_connect(self->sub, self->cfg.feed) != 0) {
            node_log(self, "cannot connect to the feed %s: %s", self->cfg.feed,
                     zmq_strerror(zmq_errno()));
            return COFAB_ENET;
        }
    }
    if (zmq_connect(self->dealer, self->cfg.hub) != 0) {
        node_log(self, "cannot connect to %s: %s", self->cfg.hub, zmq_strerror(zmq_errno()));
        return COFAB_ENET;
    }
    return 0;
}

/* Asks for the latest checkpoint and checks it. */
static int
s_fetch_checkpoint(node_t *self)
{
    net_msg_t m;
    int rc = node_request(self, WIRE_GET_CHECKPOINT, NULL, 0, &m);
    if (rc != 0)
        return rc;
    if (m.type == WIRE_CHECKPOINT) {
        rc = node_witness_checkpoint(self, (const char *) m.body, m.len, 1);
    } else if (m.type != WIRE_ERR) {
        node_log(self, "unexpected %s reply to GET_CHECKPOINT", wire_type_name(m.type)
                                                                   ? wire_type_name(m.type)
                                                                   : "unknown");
    }
    net_msg_free(&m);
    return rc;
}

/* After (re)connecting: genesis, catch-up, the latest checkpoint, then our
 * own business (a pending envelope, capacity, assignments). */
static int
s_sync(node_t *self)
{
    int rc = 0;
    if (!self->halted) {
        rc = node_sync_genesis(self);
        if (rc == 0 && !self->halted)
            rc = node_sync_catch_up(self);
        if (rc == 0 && !self->halted)
            rc = s_fetch_checkpoint(self);
        if (rc == 0 && !self->halted)
            rc = node_witness_pending(self);
    } else {
        /* Still answer the operator, so test the link once. */
        net_msg_t m;
        rc = node_request(self, WIRE_PING, NULL, 0, &m);
        net_msg_free(&m);
    }
    if (rc != 0)
        return rc;
    self->connected = 1;
    self->backoff_ms = NODE_BACKOFF_MIN_MS;
    self->last_ping_ns = util_mono_ns();
    node_status_sync(self);
    node_log(self, "connected to the hub; replica at %llu records",
             (unsigned long long) self->status.size);
    rc = node_submit_pending(self);
    if (rc == 0 && self->ledger && !self->halted)
        rc = node_assign_scan(self);
    return rc;
}

static void
s_reload(node_t *self)
{
    if (self->config_path[0]) {
        config_node_t *fresh = malloc(sizeof *fresh);
        char err[256] = "";
        int rc = fresh ? config_node_load(self->config_path, fresh, err, sizeof err)
                       : COFAB_ENOMEM;
        if (rc != 0) {
            node_log(self, "reload of %s failed, keeping the old configuration: %s",
                     self->config_path, err[0] ? err : cofab_strerror(rc));
            free(fresh);
            return;
        }
        const config_node_t *o = &self->cfg;
        if (strcmp(o->key, fresh->key) || strcmp(o->hub_pub, fresh->hub_pub) ||
            strcmp(o->hub, fresh->hub) || strcmp(o->feed, fresh->feed) ||
            strcmp(o->data_dir, fresh->data_dir) || strcmp(o->control, fresh->control) ||
            strcmp(o->name, fresh->name))
            node_log(self, "changed keys, endpoints or directories take effect after a restart");
        config_node_t *c = &self->cfg;
        c->auto_accept = fresh->auto_accept;
        c->witness = fresh->witness;
        c->reconnect_max_ms = fresh->reconnect_max_ms;
        c->lat = fresh->lat;
        c->lon = fresh->lon;
        c->lead_days = fresh->lead_days;
        c->reserve_pct = fresh->reserve_pct;
        c->horizon_days = fresh->horizon_days;
        c->valid_days = fresh->valid_days;
        memcpy(c->location, fresh->location, sizeof c->location);
        memcpy(c->offers, fresh->offers, sizeof c->offers);
        c->noffers = fresh->noffers;
        free(fresh);
        node_log(self, "configuration reloaded from %s", self->config_path);
    }
    self->capacity_due = 1;
}

static void
s_drain_dealer(node_t *self)
{
    for (;;) {
        net_msg_t m;
        int rc = net_recv(self->dealer, 0, 0, &m);
        if (rc == COFAB_ENOTFOUND || rc == COFAB_ENET)
            break;
        if (rc == 0 && m.type == WIRE_PONG && m.request_id == self->ping_id) {
            self->ping_outstanding = 0;
            self->missed = 0;
        }
        net_msg_free(&m);
    }
}

static void
s_heartbeat(node_t *self, uint64_t now)
{
    if (now - self->last_ping_ns < (uint64_t) NODE_PING_MS * 1000000u)
        return;
    if (self->ping_outstanding && ++self->missed >= NODE_PING_MISSES) {
        node_lost(self, "no answer to 3 PINGs");
        return;
    }
    randombytes_buf(&self->ping_id, sizeof self->ping_id);
    self->last_ping_ns = now;
    self->ping_outstanding = 1;
    if (net_send(self->dealer, NULL, 0, WIRE_PING, self->ping_id, NULL, 0) != 0)
        node_lost(self, "cannot send PING");
}

/* Work a connected node does between messages. Returns 0, COFAB_ENET (the
 * caller declares the hub lost) or a fatal store error. */
static int
s_duties(node_t *self)
{
    int rc = 0;
    if (self->need_catchup && !self->halted) {
        self->need_catchup = 0;
        rc = node_sync_catch_up(self);
        if (rc == 0 && !self->halted)
            rc = node_witness_pending(self);
    }
    uint32_t today = (uint32_t) (util_now_ms() / NODE_DAY_MS);
    if (rc == 0 && self->capacity_day != today)
        self->capacity_due = 1;
    /* A hub caught misbehaving gets nothing from us unasked. */
    if (rc == 0 && self->capacity_due && !self->halted)
        rc = node_submit_capacity(self);
    if (rc == 0 && (self->ntodo || self->rescan) && self->ledger && !self->halted)
        rc = node_assign_process(self);
    /* A checkpoint lost on the feed (slow joiner, full queue) is fetched:
     * while the newest one seen is behind our records, or its witnesses'
     * cosignatures have not reached us yet, ask now and then. */
    uint64_t now = util_mono_ns();
    if (rc == 0 && !self->halted && self->ledger &&
        now - self->last_cp_poll_ns >= (uint64_t) NODE_PING_MS * 1000000u &&
        (!self->seen.set || self->seen.cp.size < ledger_size(self->ledger) ||
         node_witness_missing(self))) {
        self->last_cp_poll_ns = now;
        rc = s_fetch_checkpoint(self);
    }
    return rc;
}

int
node_run(node_t *self, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
    if (!self || !stop)
        return COFAB_EINVAL;
    self->stop = stop;
    int rc = 0;
    while (!*stop) {
        if (reload && *reload) {
            *reload = 0;
            s_reload(self);
        }
        uint64_t now = util_mono_ns();
        if (!self->dealer && now >= self->next_attempt_ns) {
            rc = s_connect(self);
            if (rc == 0)
                rc = s_sync(self);
            if (rc == COFAB_ENET) {
                if (!*stop)
                    node_lost(self, "the hub does not answer");
                rc = 0;
            } else if (rc != 0) {
                break;
            }
        }
        if (self->connected) {
            rc = s_duties(self);
            if (rc == COFAB_ENET) {
                if (!*stop)
                    node_lost(self, "a request timed out");
                rc = 0;
            } else if (rc != 0) {
                break;
            }
        }
        if (self->connected)
            s_heartbeat(self, util_mono_ns());
        zmq_pollitem_t items[3] = {{self->control, 0, ZMQ_POLLIN, 0}};
        int nitems = 1;
        if (self->connected && self->sub)
            items[nitems++] = (zmq_pollitem_t){self->sub, 0, ZMQ_POLLIN, 0};
        if (self->connected && self->dealer)
            items[nitems++] = (zmq_pollitem_t){self->dealer, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, nitems, S_POLL_MS) < 0)
            continue; /* EINTR from a signal: re-check the flags */
        if (items[0].revents & ZMQ_POLLIN)
            node_control_handle(self);
        for (int i = 1; i < nitems && self->connected; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            if (items[i].socket == self->dealer) {
                s_drain_dealer(self);
            } else if (items[i].socket == self->sub) {
                rc = node_sync_feed(self);
                if (rc == COFAB_ENET) {
                    if (!*stop)
                        node_lost(self, "catch-up timed out");
                    rc = 0;
                    break;
                }
                if (rc != 0)
                    break;
            }
        }
        if (rc != 0)
            break;
    }
    if (rc != 0)
        node_log(self, "stopping on a replica error: %s", cofab_strerror(rc));
    else
        node_log(self, "stopping");
    self->stop = NULL;
    return rc;
}
