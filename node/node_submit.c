/* node_submit.c — the node's own envelopes: author chain, resends, capacity, assignments. */
#include "node_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"

int
node_capacity_build(const config_node_t *cfg, uint32_t today, payload_capacity_t *out)
{
    if (!cfg || !out || cfg->noffers == 0 || cfg->noffers > PAYLOAD_MAX_OFFERS)
        return COFAB_EINVAL;
    uint32_t horizon = cfg->horizon_days ? cfg->horizon_days : 30;
    uint32_t valid = cfg->valid_days ? cfg->valid_days : horizon;
    if (horizon > PAYLOAD_MAX_DAYS || (uint64_t) today + valid - 1 > UINT32_MAX ||
        !(fabs(cfg->lat) <= 90.0) || !(fabs(cfg->lon) <= 180.0) || cfg->reserve_pct > 100 ||
        cfg->reserve_pct < -1)
        return COFAB_EINVAL;
    memset(out, 0, sizeof *out);
    out->start_day = today;
    out->valid_until_day = (uint32_t) (today + valid - 1);
    out->lead_days = cfg->lead_days;
    out->lat_e6 = (int32_t) llround(cfg->lat * 1e6);
    out->lon_e6 = (int32_t) llround(cfg->lon * 1e6);
    out->reserve_pm = cfg->reserve_pct < 0 ? -1 : cfg->reserve_pct * 10;
    snprintf(out->location, sizeof out->location, "%s", cfg->location);
    for (size_t i = 0; i < cfg->noffers; i++) {
        const config_offer_t *c = &cfg->offers[i];
        payload_offer_t *o = &out->offers[i];
        if (c->nmaterials > PAYLOAD_MAX_MATERIALS)
            return COFAB_EINVAL;
        snprintf(o->process, sizeof o->process, "%s", c->process);
        for (uint32_t m = 0; m < c->nmaterials; m++)
            snprintf(o->materials[m], sizeof o->materials[m], "%s", c->materials[m]);
        o->nmaterials = c->nmaterials;
        o->unit_price = c->unit_price;
        o->setup_cost = c->setup_cost;
        o->moq = c->moq;
        o->max_qty = c->max_qty;
        o->ncap = horizon;
        for (uint32_t d = 0; d < horizon; d++) {
            unsigned weekday = (unsigned) (((uint64_t) today + d + 3) % 7); /* 0 = Monday */
            o->cap[d] = (c->days_off >> weekday) & 1 ? 0 : c->per_day;
        }
    }
    out->noffers = (uint32_t) cfg->noffers;
    return 0;
}

/* Sends the pending envelope until the hub answers (at most
 * NODE_SUBMIT_TRIES times, always the same bytes: the hub answers a
 * repeat with the original position). */
static int
s_send_pending(node_t *self, uint64_t *pos, char *reason)
{
    for (int t = 0; t < NODE_SUBMIT_TRIES && !(self->stop && *self->stop); t++) {
        net_msg_t m;
        int rc = node_request(self, WIRE_SUBMIT, self->pending, self->pending_len, &m);
        if (rc != 0)
            continue;
        if (m.type == WIRE_ACK && m.len == 9) {
            *pos = util_get_be64(m.body);
            self->pending_len = 0;
            if (self->pending_seq > self->acked_seq)
                self->acked_seq = self->pending_seq;
            net_msg_free(&m);
            return 0;
        }
        if (m.type == WIRE_ERR) {
            int code = 0;
            if (wire_err_decode(m.body, m.len, &code, reason) != 0)
                snprintf(reason, WIRE_MAX_REASON + 1, "malformed refusal");
            self->pending_len = 0;
            net_msg_free(&m);
            return code < 0 ? code : COFAB_EPERM;
        }
        net_msg_free(&m); /* nonsense: try again */
    }
    snprintf(reason, WIRE_MAX_REASON + 1, "hub unreachable");
    return COFAB_ENET;
}

int
node_submit_pending(node_t *self)
{
    if (self->pending_len == 0)
        return 0;
    uint64_t pos = 0;
    char reason[WIRE_MAX_REASON + 1] = "";
    int kind = self->pending_kind;
    int rc = s_send_pending(self, &pos, reason);
    if (rc == COFAB_ENET)
        return rc;
    if (rc == 0) {
        node_log(self, "earlier %s envelope acknowledged at %llu", envelope_kind_name(kind),
                 (unsigned long long) pos);
        if (kind == ENVELOPE_CAPACITY) {
            node_status_set(self, &self->status.capacity_seq, pos);
            node_status_add(self, &self->status.capacity_count, 1);
        }
    } else {
        node_log(self, "earlier %s envelope refused: %s", envelope_kind_name(kind), reason);
    }
    return 0;
}

int
node_submit(node_t *self, int kind, const uint8_t subject[32], const uint8_t *payload,
            size_t payload_len, uint64_t *pos, char *reason)
{
    reason[0] = 0;
    if (!self->dealer) {
        snprintf(reason, WIRE_MAX_REASON + 1, "hub unreachable");
        return COFAB_ENET;
    }
    int rc = node_submit_pending(self);
    if (rc != 0) {
        snprintf(reason, WIRE_MAX_REASON + 1, "hub unreachable");
        return rc;
    }
    /* The hub's view of our chain is authoritative: the replica may lag. */
    net_msg_t m;
    rc = node_request(self, WIRE_GET_AUTHOR, keys_sign_pk(self->keys), 32, &m);
    if (rc != 0) {
        snprintf(reason, WIRE_MAX_REASON + 1, "hub unreachable");
        return rc;
    }
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = payload_len};
    if (m.type != WIRE_AUTHOR || m.len != 40 || util_get_be64(m.body) == UINT64_MAX) {
        net_msg_free(&m);
        snprintf(reason, WIRE_MAX_REASON + 1, "bad GET_AUTHOR reply from the hub");
        return COFAB_EMALFORMED;
    }
    uint64_t last = util_get_be64(m.body), held = 0;
    uint8_t hash[32];
    spec.author_seq = last + 1;
    memcpy(spec.author_prev, m.body + 8, 32);
    net_msg_free(&m);
    /* Never let a hub that forgets our chain make us sign two envelopes
     * with one number: that would be proof of a fork by us. */
    if (self->ledger &&
        ledger_author_last(self->ledger, keys_sign_pk(self->keys), &held, hash) != 0)
        held = 0;
    if (held > last || self->acked_seq > last) {
        snprintf(reason, WIRE_MAX_REASON + 1,
                 "hub reports our chain at %llu but it already holds %llu",
                 (unsigned long long) last,
                 (unsigned long long) (held > self->acked_seq ? held : self->acked_seq));
        node_log(self, "not signing: %s", reason);
        return COFAB_EINCONSISTENT;
    }
    if (subject)
        memcpy(spec.subject, subject, 32);
    rc = envelope_seal(&spec, self->keys, self->pending, ENVELOPE_MAX, &self->pending_len);
    if (rc != 0) {
        self->pending_len = 0;
        snprintf(reason, WIRE_MAX_REASON + 1, "cannot seal: %s", cofab_strerror(rc));
        return rc;
    }
    self->pending_kind = kind;
    self->pending_seq = spec.author_seq;
    return s_send_pending(self, pos, reason);
}

int
node_submit_capacity(node_t *self)
{
    uint32_t today = (uint32_t) (util_now_ms() / NODE_DAY_MS);
    payload_capacity_t *cap = malloc(sizeof *cap);
    uint8_t *payload = NULL;
    size_t plen = 0;
    uint64_t pos = 0;
    char reason[WIRE_MAX_REASON + 1] = "";
    int rc = cap ? node_capacity_build(&self->cfg, today, cap) : COFAB_ENOMEM;
    if (rc == 0)
        rc = payload_capacity_encode(cap, &payload, &plen);
    if (rc != 0) {
        node_log(self, "capacity not published: the configuration does not make a valid "
                       "capacity record (%s)", cofab_strerror(rc));
        self->capacity_due = 0;
        self->capacity_day = today;
        goto out;
    }
    if (self->pending_len && self->pending_kind == ENVELOPE_CAPACITY)
        rc = s_send_pending(self, &pos, reason); /* the same bytes as before */
    else
        rc = node_submit(self, ENVELOPE_CAPACITY, NULL, payload, plen, &pos, reason);
    if (rc == COFAB_ENET)
        goto out;
    self->capacity_due = 0;
    self->capacity_day = today;
    if (rc == 0) {
        node_log(self, "capacity published at %llu: %u offers from day %u, valid until day %u",
                 (unsigned long long) pos, cap->noffers, cap->start_day, cap->valid_until_day);
        node_status_set(self, &self->status.capacity_seq, pos);
        node_status_add(self, &self->status.capacity_count, 1);
    } else {
        node_log(self, "hub refused our capacity: %s", reason);
        rc = 0;
    }
out:
    free(payload);
    free(cap);
    return rc;
}

void
node_assign_note(node_t *self, const uint8_t order[32])
{
    for (size_t i = 0; i < self->ntodo; i++)
        if (memcmp(self->todo[i], order, 32) == 0)
            return;
    if (self->ntodo == NODE_TODO_MAX) {
        self->rescan = 1; /* found again by the scan */
        return;
    }
    memcpy(self->todo[self->ntodo++], order, 32);
}

static int
s_scan_one(void *ctx, const uint8_t order_id[32])
{
    node_assign_note(ctx, order_id);
    return 0;
}

int
node_assign_scan(node_t *self)
{
    self->rescan = 0;
    int rc = policy_factory_orders(self->ledger, keys_sign_pk(self->keys), s_scan_one, self);
    return rc == COFAB_ENOTFOUND ? 0 : rc;
}

static void
s_day_text(uint32_t day, char out[16])
{
    time_t t = (time_t) day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 16, "%Y-%m-%d", &tm) == 0)
        snprintf(out, 16, "day %u", day);
}

/* Logs a new assignment once: order, our pieces and their days. */
static void
s_announce(node_t *self, const uint8_t order[32], const policy_order_t *o)
{
    size_t known = self->nseen < NODE_SEEN_MAX ? self->nseen : NODE_SEEN_MAX;
    for (size_t i = 0; i < known; i++)
        if (self->seen_assign[i].assign_seq == o->assign_seq &&
            memcmp(self->seen_assign[i].order, order, 32) == 0)
            return;
    node_seen_t *s = &self->seen_assign[self->nseen++ % NODE_SEEN_MAX];
    memcpy(s->order, order, 32);
    s->assign_seq = o->assign_seq;

    char hex[65], pieces[480] = "";
    size_t used = 0;
    unsigned mine = 0;
    sodium_bin2hex(hex, sizeof hex, order, 32);
    uint8_t *rec = NULL;
    size_t len = 0;
    ledger_record_t r;
    envelope_t e;
    payload_assign_t *a = malloc(sizeof *a);
    if (a && ledger_get(self->ledger, o->assign_seq, &rec, &len) == 0 &&
        ledger_record_decode(&r, rec, len) == 0 &&
        envelope_decode(&e, r.envelope, r.envelope_len) == 0 &&
        payload_assign_decode(a, e.payload, e.payload_len) == 0) {
        for (uint32_t i = 0; i < a->npieces; i++) {
            const payload_piece_t *p = &a->pieces[i];
            if (sodium_memcmp(p->factory, keys_sign_pk(self->keys), 32) != 0)
                continue;
            char d1[16], d2[16];
            s_day_text(p->first_day, d1);
            s_day_text(p->last_day, d2);
            int n = snprintf(pieces + used, sizeof pieces - used, "%s%s/%s x%lld %s..%s",
                             mine ? "; " : "", p->process, p->material, (long long) p->qty, d1,
                             d2);
            if (n > 0 && (size_t) n < sizeof pieces - used)
                used += (size_t) n;
            mine++;
        }
    }
    free(a);
    free(rec);
    node_log(self, "assignment: order %.16s… (record %llu), %u piece(s) for us: %s%s", hex,
             (unsigned long long) o->assign_seq, mine, pieces,
             self->cfg.auto_accept ? "" : "; waiting for `cofab factory accept|decline`");
    if (!self->cfg.auto_accept)
        node_log(self, "  order id %s", hex);
}

int
node_assign_process(node_t *self)
{
    if (self->rescan) {
        int src = node_assign_scan(self);
        if (src != 0)
            return src;
    }
    uint8_t (*list)[32] = malloc(sizeof self->todo);
    if (!list)
        return COFAB_ENOMEM;
    size_t n = self->ntodo;
    memcpy(list, self->todo, n * 32);
    self->ntodo = 0;
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        if (rc == COFAB_ENET) { /* keep the rest for the next connection */
            node_assign_note(self, list[k]);
            continue;
        }
        policy_order_t o;
        if (policy_order(self->ledger, list[k], &o) != 0)
            continue;
        int mine = -1;
        for (unsigned i = 0; i < o.nfactories && i < POLICY_MAX_FACTORIES; i++)
            if (sodium_memcmp(o.factories[i], keys_sign_pk(self->keys), 32) == 0)
                mine = (int) i;
        if (mine < 0 || o.fstate[mine] != POLICY_ASSIGNED || o.state == POLICY_CANCELLED)
            continue;
        s_announce(self, list[k], &o);
        if (!self->cfg.auto_accept)
            continue;
        payload_accept_t acc = {.note = ""};
        uint8_t *payload = NULL;
        size_t plen = 0;
        uint64_t pos = 0;
        char reason[WIRE_MAX_REASON + 1] = "";
        char hex[17];
        sodium_bin2hex(hex, sizeof hex, list[k], 8);
        rc = payload_accept_encode(&acc, &payload, &plen);
        if (rc == 0)
            rc = node_submit(self, ENVELOPE_ACCEPT, list[k], payload, plen, &pos, reason);
        free(payload);
        if (rc == 0) {
            node_log(self, "accepted order %s… at %llu", hex, (unsigned long long) pos);
            node_status_add(self, &self->status.accepted, 1);
        } else if (rc == COFAB_ENET) {
            node_assign_note(self, list[k]);
        } else {
            node_log(self, "could not accept order %s…: %s", hex,
                     reason[0] ? reason : cofab_strerror(rc));
            rc = 0;
        }
    }
    free(list);
    return rc;
}
