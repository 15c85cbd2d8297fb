/* match_input.c — turns the ledger's pending orders and declared capacity into a matcher problem. */
#include "cofab/match_input.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/policy.h"

#define S_DAY_MS 86400000ull

/* One factory's storage: the decoded capacity and the matcher views of it. */
typedef struct {
    payload_capacity_t cap;                         /* latest capacity record */
    matcher_offer_t offers[MATCHER_MAX_OFFERS];     /* views into cap */
    int64_t cal[MATCHER_MAX_OFFERS][MATCHER_MAX_HORIZON];  /* shifted calendars */
    int64_t load[MATCHER_MAX_OFFERS][MATCHER_MAX_HORIZON]; /* assigned, unshipped */
} s_factory_t;

typedef struct {
    payload_order_t order;                          /* decoded order record */
    uint8_t exclude[POLICY_MAX_EXCLUDE][32];        /* factories it left */
} s_order_t;

/* A decoded capacity record, by factory and position. */
typedef struct {
    uint8_t factory[32];            /* its author */
    uint64_t seq;                   /* its position in the ledger */
    payload_capacity_t cap;         /* decoded payload */
} s_cached_t;

struct match_input_cache_t {
    s_cached_t *entries;            /* sorted by factory */
    uint32_t n, cap;                /* used, allocated */
};

struct match_input_t {
    ledger_t *ledger;               /* read during build only */
    match_input_cache_t *cache;     /* decoded capacities, or NULL (build only) */
    uint64_t basis;                 /* ledger size the input describes */
    uint32_t today;                 /* epoch day of matcher day 0 */
    matcher_params_t params;        /* from genesis */
    s_factory_t *fstore;            /* per factory */
    matcher_factory_t *factories;   /* the problem's factories */
    uint32_t nfactories, fcap;      /* used, allocated */
    s_order_t *ostore;              /* per order */
    matcher_order_t *orders;        /* the problem's orders */
    uint32_t norders, ocap;         /* used, allocated */
    matcher_problem_t problem;      /* points into the arrays above */
    int error;                      /* first error met in a scan callback */
    const matcher_result_t *digested; /* the result whose digest is cached, or NULL */
    uint8_t digest[32];             /* its digest: one per round, not one per order */
};

/* Decodes the envelope payload of record seq with decode(). */
static int
s_record_payload(ledger_t *ledger, uint64_t seq, int kind, envelope_t *e, uint8_t **buf)
{
    size_t len = 0;
    ledger_record_t r;
    int rc = ledger_get(ledger, seq, buf, &len);
    if (rc == 0)
        rc = ledger_record_decode(&r, *buf, len);
    if (rc == 0)
        rc = envelope_decode(e, r.envelope, r.envelope_len);
    if (rc == 0 && e->kind != kind)
        rc = COFAB_EMALFORMED;
    return rc;
}

static int
s_genesis(match_input_t *self)
{
    payload_genesis_t *g = malloc(sizeof *g);
    int rc = g ? policy_genesis(self->ledger, g) : COFAB_ENOMEM;
    if (rc == 0)
        self->params = g->params;
    free(g);
    return rc;
}

/* Adds an assigned, unshipped piece's units to the factory's load. */
static int
s_add_load(void *ctx, const uint8_t order_id[32])
{
    struct {
        match_input_t *in;
        s_factory_t *f;
        const uint8_t *factory;
    } *c = ctx;
    policy_order_t o;
    envelope_t e;
    uint8_t *buf = NULL;
    payload_assign_t *a = malloc(sizeof *a);
    int rc = a ? policy_order(c->in->ledger, order_id, &o) : COFAB_ENOMEM;
    if (rc == 0 && o.assign_seq)
        rc = s_record_payload(c->in->ledger, o.assign_seq, ENVELOPE_ASSIGN, &e, &buf);
    if (rc == 0 && o.assign_seq)
        rc = payload_assign_decode(a, e.payload, e.payload_len);
    for (uint32_t i = 0; rc == 0 && o.assign_seq && i < a->npieces; i++) {
        const payload_piece_t *p = &a->pieces[i];
        if (memcmp(p->factory, c->factory, 32) != 0)
            continue;
        for (uint32_t k = 0; k < c->f->cap.noffers; k++) {
            if (strcmp(c->f->cap.offers[k].process, p->process) != 0)
                continue;
            /* Spread the units evenly over the planned days still ahead. */
            uint32_t days = p->last_day - p->first_day + 1;
            for (uint32_t d = p->first_day; d <= p->last_day; d++) {
                if (d < c->in->today || d - c->in->today >= MATCHER_MAX_HORIZON)
                    continue;
                int64_t share = p->qty / days + ((int64_t) (d - p->first_day) < p->qty % days);
                c->f->load[k][d - c->in->today] += share;
            }
        }
    }
    free(a);
    free(buf);
    return rc;
}

static int
s_cache_cmp(const void *key, const void *entry)
{
    return memcmp(key, ((const s_cached_t *) entry)->factory, 32);
}

/* The capacity record at seq, by factory: from the cache when it holds
 * that very record, else decoded (and kept, when there is a cache). */
static int
s_capacity(match_input_t *self, const uint8_t factory[32], uint64_t seq, payload_capacity_t *out)
{
    match_input_cache_t *c = self->cache;
    s_cached_t *hit = c && c->n ? bsearch(factory, c->entries, c->n, sizeof *hit, s_cache_cmp) : NULL;
    if (hit && hit->seq == seq) {
        *out = hit->cap;
        return 0;
    }
    envelope_t e;
    uint8_t *buf = NULL;
    int rc = s_record_payload(self->ledger, seq, ENVELOPE_CAPACITY, &e, &buf);
    if (rc == 0)
        rc = payload_capacity_decode(out, e.payload, e.payload_len);
    free(buf);
    if (rc != 0 || !c)
        return rc;
    if (!hit) { /* insert in order; a full cache just stops learning */
        if (c->n == MATCHER_MAX_FACTORIES)
            return 0;
        if (c->n == c->cap) {
            uint32_t cap = c->cap ? c->cap * 2 : 16;
            s_cached_t *grown = realloc(c->entries, cap * sizeof *grown);
            if (!grown)
                return 0; /* the cache is an optimisation: go on without it */
            c->entries = grown;
            c->cap = cap;
        }
        uint32_t at = 0;
        while (at < c->n && memcmp(c->entries[at].factory, factory, 32) < 0)
            at++;
        memmove(&c->entries[at + 1], &c->entries[at], (c->n - at) * sizeof *hit);
        c->n++;
        hit = &c->entries[at];
        memcpy(hit->factory, factory, 32);
    }
    hit->seq = seq;
    hit->cap = *out;
    return 0;
}

static int
s_add_factory(void *ctx, const uint8_t factory[32])
{
    match_input_t *self = ctx;
    policy_member_t m;
    uint64_t seq;
    if (policy_member(self->ledger, factory, &m) != 0 || !m.active ||
        m.role != PAYLOAD_ROLE_FACTORY)
        return 0; /* removed factories get no new work */
    int rc = policy_capacity_seq(self->ledger, factory, &seq);
    if (rc != 0)
        return rc;
    if (self->nfactories == MATCHER_MAX_FACTORIES)
        return COFAB_ETOOBIG;
    if (self->nfactories == self->fcap) {
        uint32_t cap = self->fcap ? self->fcap * 2 : 8;
        s_factory_t *fs = realloc(self->fstore, cap * sizeof *fs);
        if (fs)
            self->fstore = fs;
        matcher_factory_t *mf = realloc(self->factories, cap * sizeof *mf);
        if (mf)
            self->factories = mf;
        if (!fs || !mf)
            return COFAB_ENOMEM;
        self->fcap = cap;
    }
    s_factory_t *f = &self->fstore[self->nfactories];
    memset(f, 0, sizeof *f);
    rc = s_capacity(self, factory, seq, &f->cap);
    if (rc != 0)
        return rc;
    /* Day d of the matcher is epoch day today + d. */
    for (uint32_t k = 0; k < f->cap.noffers; k++) {
        const payload_offer_t *o = &f->cap.offers[k];
        for (uint32_t d = 0; d < MATCHER_MAX_HORIZON; d++) {
            uint64_t day = (uint64_t) self->today + d;
            if (day >= f->cap.start_day && day - f->cap.start_day < o->ncap &&
                day <= f->cap.valid_until_day)
                f->cal[k][d] = o->cap[day - f->cap.start_day];
        }
    }
    struct {
        match_input_t *in;
        s_factory_t *f;
        const uint8_t *factory;
    } lc = {self, f, factory};
    rc = policy_factory_orders(self->ledger, factory, s_add_load, &lc);
    if (rc != 0)
        return rc;
    /* s_add_load may have grown nothing; views are set last. */
    for (uint32_t k = 0; k < f->cap.noffers; k++) {
        const payload_offer_t *o = &f->cap.offers[k];
        matcher_offer_t *mo = &f->offers[k];
        memset(mo, 0, sizeof *mo);
        memcpy(mo->process, o->process, sizeof mo->process);
        memcpy(mo->materials, o->materials, sizeof mo->materials);
        mo->nmaterials = o->nmaterials;
        mo->unit_price = o->unit_price;
        mo->setup_cost = o->setup_cost;
        mo->moq = o->moq;
        mo->max_qty = o->max_qty;
        for (uint32_t d = 0; d < MATCHER_MAX_HORIZON; d++)
            if (f->load[k][d] > f->cal[k][d])
                f->load[k][d] = f->cal[k][d]; /* the matcher wants load <= cap */
    }
    policy_reliability_t rel;
    rc = policy_reliability(self->ledger, factory, &rel);
    if (rc != 0)
        return rc;
    matcher_factory_t *mf = &self->factories[self->nfactories];
    memset(mf, 0, sizeof *mf);
    memcpy(mf->id, factory, 32);
    mf->lat_e6 = f->cap.lat_e6;
    mf->lon_e6 = f->cap.lon_e6;
    mf->lead_days = f->cap.lead_days;
    mf->on_time_pm = rel.delivered ? (int32_t) (1000ull * rel.on_time / rel.delivered) : 0;
    mf->accept_pm = rel.assigned ? (int32_t) (1000ull * rel.accepted / rel.assigned) : 0;
    mf->completed = rel.delivered;
    mf->reserve_pm = f->cap.reserve_pm;
    mf->noffers = f->cap.noffers;
    self->nfactories++;
    return 0;
}

static int
s_add_order(void *ctx, const uint8_t order_id[32])
{
    match_input_t *self = ctx;
    policy_order_t o;
    int rc = policy_order(self->ledger, order_id, &o);
    if (rc != 0)
        return rc;
    if (self->norders == MATCHER_MAX_ORDERS)
        return 0; /* the rest wait for the next round */
    if (self->norders == self->ocap) {
        uint32_t cap = self->ocap ? self->ocap * 2 : 16;
        s_order_t *os = realloc(self->ostore, cap * sizeof *os);
        if (os)
            self->ostore = os;
        matcher_order_t *mo = realloc(self->orders, cap * sizeof *mo);
        if (mo)
            self->orders = mo;
        if (!os || !mo)
            return COFAB_ENOMEM;
        self->ocap = cap;
    }
    s_order_t *so = &self->ostore[self->norders];
    envelope_t e;
    uint8_t *buf = NULL;
    rc = s_record_payload(self->ledger, o.order_seq, ENVELOPE_ORDER, &e, &buf);
    if (rc == 0)
        rc = payload_order_decode(&so->order, e.payload, e.payload_len);
    free(buf);
    if (rc != 0)
        return rc;
    memcpy(so->exclude, o.exclude, sizeof so->exclude);
    matcher_order_t *mo = &self->orders[self->norders];
    memset(mo, 0, sizeof *mo);
    memcpy(mo->id, order_id, 32);
    mo->nitems = so->order.nitems;
    int64_t due = (int64_t) so->order.due_day - self->today;
    mo->due_day = (int32_t) (due < 1 ? 1 : due > MATCHER_MAX_DUE ? MATCHER_MAX_DUE : due);
    mo->lat_e6 = so->order.lat_e6;
    mo->lon_e6 = so->order.lon_e6;
    mo->budget = so->order.budget;
    mo->split = so->order.split;
    mo->nexclude = o.nexclude;
    self->norders++;
    return 0;
}

match_input_cache_t *
match_input_cache_new(void)
{
    return calloc(1, sizeof(match_input_cache_t));
}

void
match_input_cache_destroy(match_input_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->entries);
    free(*self_p);
    *self_p = NULL;
}

int
match_input_build(ledger_t *ledger, match_input_t **out)
{
    return match_input_build_cached(ledger, NULL, out);
}

int
match_input_build_cached(ledger_t *ledger, match_input_cache_t *cache, match_input_t **out)
{
    if (!ledger || !out)
        return COFAB_EINVAL;
    match_input_t *self = calloc(1, sizeof *self);
    if (!self)
        return COFAB_ENOMEM;
    self->ledger = ledger;
    self->cache = cache;
    self->basis = ledger_size(ledger);
    uint8_t *buf = NULL;
    size_t len = 0;
    ledger_record_t r;
    int rc = ledger_get(ledger, self->basis - 1, &buf, &len);
    if (rc == 0)
        rc = ledger_record_decode(&r, buf, len);
    if (rc == 0)
        self->today = (uint32_t) (r.time_ms / S_DAY_MS);
    free(buf);
    if (rc == 0)
        rc = s_genesis(self);
    if (rc == 0)
        rc = policy_factories(ledger, s_add_factory, self);
    if (rc == 0)
        rc = policy_pending_orders(ledger, s_add_order, self);
    if (rc != 0) {
        match_input_destroy(&self);
        return rc;
    }
    /* Arrays are final now: point the views at them. */
    for (uint32_t i = 0; i < self->nfactories; i++) {
        s_factory_t *f = &self->fstore[i];
        for (uint32_t k = 0; k < f->cap.noffers; k++) {
            f->offers[k].cap = f->cal[k];
            f->offers[k].load = f->load[k];
        }
        self->factories[i].offers = f->offers;
    }
    for (uint32_t i = 0; i < self->norders; i++) {
        self->orders[i].items = self->ostore[i].order.items;
        self->orders[i].exclude = (const uint8_t(*)[MATCHER_ID_LEN]) self->ostore[i].exclude;
    }
    self->problem.horizon = MATCHER_MAX_HORIZON;
    self->problem.factories = self->factories;
    self->problem.nfactories = self->nfactories;
    self->problem.orders = self->orders;
    self->problem.norders = self->norders;
    self->ledger = NULL;
    self->cache = NULL;
    *out = self;
    return 0;
}

void
match_input_destroy(match_input_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    match_input_t *self = *self_p;
    free(self->fstore);
    free(self->factories);
    free(self->ostore);
    free(self->orders);
    free(self);
    *self_p = NULL;
}

const matcher_problem_t *
match_input_problem(const match_input_t *self)
{
    return &self->problem;
}

const matcher_params_t *
match_input_params(const match_input_t *self)
{
    return &self->params;
}

uint64_t
match_input_basis(const match_input_t *self)
{
    return self->basis;
}

uint32_t
match_input_today(const match_input_t *self)
{
    return self->today;
}

int
match_input_assign(match_input_t *self, const matcher_result_t *r,
                   const matcher_order_result_t *o, payload_assign_t *out)
{
    if (!self || !r || !o || !out || o->status != MATCHER_PLACED || o->npieces == 0 ||
        o->npieces > PAYLOAD_MAX_PIECES)
        return COFAB_EINVAL;
    memset(out, 0, sizeof *out);
    out->basis = self->basis;
    for (uint32_t i = 0; i < o->npieces; i++) {
        const matcher_piece_t *p = &o->pieces[i];
        payload_piece_t *q = &out->pieces[i];
        memcpy(q->factory, p->factory, 32);
        memcpy(q->process, p->process, sizeof q->process);
        memcpy(q->material, p->material, sizeof q->material);
        q->qty = p->qty;
        q->first_day = self->today + (uint32_t) p->first_day;
        q->last_day = self->today + (uint32_t) p->last_day;
        q->cost = p->cost;
    }
    out->npieces = o->npieces;
    out->has_runner_up = o->has_runner_up;
    if (o->has_runner_up)
        memcpy(out->runner_up, o->runner_up, 32);
    if (self->digested != r) {
        int rc = matcher_result_digest(r, self->digest);
        if (rc != 0)
            return rc;
        self->digested = r;
    }
    memcpy(out->result, self->digest, 32);
    return 0;
}
