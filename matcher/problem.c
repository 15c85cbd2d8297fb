/* problem.c — readers for matcher input: the JSON problem format (via
 * jansson) and the OR-Library GAP text format (a bounded token reader).
 */
#include "cofab/problem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

struct problem_doc_s {
    matcher_problem_t pb;           /* the problem; arrays below */
    matcher_params_t params;        /* defaults + file overrides */
    matcher_factory_t *fac;         /* nfactories */
    matcher_offer_t *offers;        /* all offers */
    int64_t *cells;                 /* calendars: capacity and load */
    matcher_order_t *ord;           /* norders */
    matcher_item_t *items;          /* all items */
    uint8_t (*excl)[MATCHER_ID_LEN]; /* all exclusions */
};

/* Parse context: error text and running allocation positions. */
typedef struct {
    char *err;                      /* reason buffer or NULL */
    size_t errlen;
    problem_doc_t *d;               /* document being filled */
    size_t noff, ncell, nitem, nexcl; /* used entries */
} s_ctx_t;

static int s_err(s_ctx_t *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_err(s_ctx_t *c, int code, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Refuses keys outside the allowed list (typos must not pass silently). */
static int
s_keys(s_ctx_t *c, json_t *o, const char *what, const char *const *allowed)
{
    if (!json_is_object(o))
        return s_err(c, COFAB_EMALFORMED, "%s: expected an object", what);
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok)
            return s_err(c, COFAB_EMALFORMED, "%s: unknown key \"%.40s\"", what, key);
    }
    return 0;
}

/* Integer member in [lo, hi]; missing → def when !required. */
static int
s_int(s_ctx_t *c, json_t *o, const char *key, int64_t lo, int64_t hi, int required, int64_t def,
      int64_t *out, const char *what, size_t idx)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return s_err(c, COFAB_EMALFORMED, "%s %zu: missing \"%s\"", what, idx, key);
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return s_err(c, COFAB_EMALFORMED, "%s %zu: \"%s\" must be an integer", what, idx, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return s_err(c, COFAB_EMALFORMED, "%s %zu: \"%s\" = %lld out of range [%lld, %lld]", what,
                     idx, key, (long long) x, (long long) lo, (long long) hi);
    *out = (int64_t) x;
    return 0;
}

static int
s_name(s_ctx_t *c, json_t *v, char *dst, const char *what, size_t idx)
{
    if (!json_is_string(v))
        return s_err(c, COFAB_EMALFORMED, "%s %zu: name must be a string", what, idx);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < 1 || n > MATCHER_NAME_MAX || strlen(s) != n)
        return s_err(c, COFAB_EMALFORMED, "%s %zu: name length must be 1..%d", what, idx,
                     MATCHER_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return s_err(c, COFAB_EMALFORMED, "%s %zu: name must be [a-z0-9-]", what, idx);
    memcpy(dst, s, n + 1);
    return 0;
}

static int
s_hexid(s_ctx_t *c, json_t *v, uint8_t *dst, const char *what, size_t idx)
{
    if (!json_is_string(v) || json_string_length(v) != 2 * MATCHER_ID_LEN)
        return s_err(c, COFAB_EMALFORMED, "%s %zu: id must be %d hex digits", what, idx,
                     2 * MATCHER_ID_LEN);
    const char *s = json_string_value(v);
    for (int i = 0; i < 2 * MATCHER_ID_LEN; i++) {
        char h = s[i];
        int x = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (x < 0)
            return s_err(c, COFAB_EMALFORMED, "%s %zu: id must be %d hex digits", what, idx,
                         2 * MATCHER_ID_LEN);
        if (i % 2 == 0)
            dst[i / 2] = (uint8_t) (x << 4);
        else
            dst[i / 2] |= (uint8_t) x;
    }
    return 0;
}

/* A calendar: a number (every day) or an array of horizon numbers. */
static int
s_calendar(s_ctx_t *c, json_t *v, int64_t **dst, const char *what, size_t idx)
{
    uint32_t H = c->d->pb.horizon;
    if (c->ncell + H > PROBLEM_MAX_CELLS)
        return s_err(c, COFAB_ETOOBIG, "calendars exceed %d cells", PROBLEM_MAX_CELLS);
    int64_t *cal = c->d->cells + c->ncell;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > MATCHER_MAX_CAP)
            return s_err(c, COFAB_EMALFORMED, "%s %zu: calendar value out of range", what, idx);
        for (uint32_t d = 0; d < H; d++)
            cal[d] = (int64_t) x;
    } else if (json_is_array(v) && json_array_size(v) == H) {
        for (uint32_t d = 0; d < H; d++) {
            json_t *e = json_array_get(v, d);
            if (!json_is_integer(e) || json_integer_value(e) < 0
                || json_integer_value(e) > MATCHER_MAX_CAP)
                return s_err(c, COFAB_EMALFORMED, "%s %zu: calendar day %u out of range", what,
                             idx, d);
            cal[d] = (int64_t) json_integer_value(e);
        }
    } else {
        return s_err(c, COFAB_EMALFORMED, "%s %zu: calendar must be an integer or %u integers",
                     what, idx, H);
    }
    c->ncell += H;
    *dst = cal;
    return 0;
}

static const char *const s_offer_keys[] = {"process", "materials", "unit_price", "setup_cost",
    "moq", "max_qty", "capacity", "load", NULL};

static int
s_offer(s_ctx_t *c, json_t *o, matcher_offer_t *of, size_t idx)
{
    int rc;
    int64_t v;
    if ((rc = s_keys(c, o, "offer", s_offer_keys)) != 0
        || (rc = s_name(c, json_object_get(o, "process"), of->process, "offer", idx)) != 0)
        return rc;
    json_t *mats = json_object_get(o, "materials");
    if (!json_is_array(mats) || json_array_size(mats) < 1
        || json_array_size(mats) > MATCHER_MAX_MATERIALS)
        return s_err(c, COFAB_EMALFORMED, "offer %zu: materials must list 1..%d names", idx,
                     MATCHER_MAX_MATERIALS);
    of->nmaterials = (uint32_t) json_array_size(mats);
    for (uint32_t m = 0; m < of->nmaterials; m++)
        if ((rc = s_name(c, json_array_get(mats, m), of->materials[m], "offer", idx)) != 0)
            return rc;
    if ((rc = s_int(c, o, "unit_price", 0, MATCHER_MAX_PRICE, 1, 0, &of->unit_price, "offer", idx))
        || (rc = s_int(c, o, "setup_cost", 0, MATCHER_MAX_SETUP, 0, 0, &of->setup_cost, "offer", idx))
        || (rc = s_int(c, o, "moq", 1, MATCHER_MAX_QTY, 0, 1, &of->moq, "offer", idx))
        || (rc = s_int(c, o, "max_qty", 1, MATCHER_MAX_QTY, 0, MATCHER_MAX_QTY, &v, "offer", idx)))
        return rc;
    of->max_qty = v;
    json_t *cap = json_object_get(o, "capacity");
    if (!cap)
        return s_err(c, COFAB_EMALFORMED, "offer %zu: missing \"capacity\"", idx);
    int64_t *cal = NULL;
    if ((rc = s_calendar(c, cap, &cal, "offer", idx)) != 0)
        return rc;
    of->cap = cal;
    json_t *load = json_object_get(o, "load");
    if (load) {
        if ((rc = s_calendar(c, load, &cal, "offer", idx)) != 0)
            return rc;
        of->load = cal;
    }
    return 0;
}

static const char *const s_fac_keys[] = {"id", "lat_e6", "lon_e6", "lead_days", "on_time_pm",
    "accept_pm", "completed", "reserve_pm", "offers", NULL};

static int
s_factory(s_ctx_t *c, json_t *o, matcher_factory_t *fa, size_t idx)
{
    int rc;
    int64_t lat, lon, lead, ot, ac, done, res;
    if ((rc = s_keys(c, o, "factory", s_fac_keys)) != 0
        || (rc = s_hexid(c, json_object_get(o, "id"), fa->id, "factory", idx)) != 0
        || (rc = s_int(c, o, "lat_e6", -90000000, 90000000, 1, 0, &lat, "factory", idx))
        || (rc = s_int(c, o, "lon_e6", -180000000, 180000000, 1, 0, &lon, "factory", idx))
        || (rc = s_int(c, o, "lead_days", 0, MATCHER_MAX_LEAD, 0, 0, &lead, "factory", idx))
        || (rc = s_int(c, o, "on_time_pm", 0, 1000, 0, 0, &ot, "factory", idx))
        || (rc = s_int(c, o, "accept_pm", 0, 1000, 0, 0, &ac, "factory", idx))
        || (rc = s_int(c, o, "completed", 0, UINT32_MAX, 0, 0, &done, "factory", idx))
        || (rc = s_int(c, o, "reserve_pm", -1, 1000, 0, -1, &res, "factory", idx)))
        return rc;
    fa->lat_e6 = (int32_t) lat;
    fa->lon_e6 = (int32_t) lon;
    fa->lead_days = (int32_t) lead;
    fa->on_time_pm = (int32_t) ot;
    fa->accept_pm = (int32_t) ac;
    fa->completed = (uint32_t) done;
    fa->reserve_pm = (int32_t) res;
    json_t *offs = json_object_get(o, "offers");
    if (!json_is_array(offs) || json_array_size(offs) < 1
        || json_array_size(offs) > MATCHER_MAX_OFFERS)
        return s_err(c, COFAB_EMALFORMED, "factory %zu: offers must list 1..%d", idx,
                     MATCHER_MAX_OFFERS);
    fa->offers = c->d->offers + c->noff;
    fa->noffers = (uint32_t) json_array_size(offs);
    for (uint32_t k = 0; k < fa->noffers; k++)
        if ((rc = s_offer(c, json_array_get(offs, k), &c->d->offers[c->noff++], idx)) != 0)
            return rc;
    return 0;
}

static const char *const s_item_keys[] = {"process", "material", "qty", NULL};
static const char *const s_ord_keys[] = {"id", "items", "due_day", "lat_e6", "lon_e6", "budget",
    "split", "exclude", NULL};

static int
s_order(s_ctx_t *c, json_t *o, matcher_order_t *od, size_t idx)
{
    int rc;
    int64_t due, lat, lon;
    if ((rc = s_keys(c, o, "order", s_ord_keys)) != 0
        || (rc = s_hexid(c, json_object_get(o, "id"), od->id, "order", idx)) != 0
        || (rc = s_int(c, o, "due_day", 1, MATCHER_MAX_DUE, 1, 0, &due, "order", idx))
        || (rc = s_int(c, o, "lat_e6", -90000000, 90000000, 1, 0, &lat, "order", idx))
        || (rc = s_int(c, o, "lon_e6", -180000000, 180000000, 1, 0, &lon, "order", idx))
        || (rc = s_int(c, o, "budget", 0, MATCHER_MAX_BUDGET, 0, 0, &od->budget, "order", idx)))
        return rc;
    od->due_day = (int32_t) due;
    od->lat_e6 = (int32_t) lat;
    od->lon_e6 = (int32_t) lon;
    json_t *sp = json_object_get(o, "split");
    if (sp && !json_is_boolean(sp))
        return s_err(c, COFAB_EMALFORMED, "order %zu: \"split\" must be true or false", idx);
    od->split = sp && json_is_true(sp);
    json_t *items = json_object_get(o, "items");
    if (!json_is_array(items) || json_array_size(items) < 1
        || json_array_size(items) > MATCHER_MAX_ITEMS)
        return s_err(c, COFAB_EMALFORMED, "order %zu: items must list 1..%d", idx,
                     MATCHER_MAX_ITEMS);
    matcher_item_t *it = c->d->items + c->nitem;
    od->items = it;
    od->nitems = (uint32_t) json_array_size(items);
    for (uint32_t k = 0; k < od->nitems; k++) {
        json_t *e = json_array_get(items, k);
        if ((rc = s_keys(c, e, "item", s_item_keys)) != 0
            || (rc = s_name(c, json_object_get(e, "process"), it[k].process, "order", idx))
            || (rc = s_name(c, json_object_get(e, "material"), it[k].material, "order", idx))
            || (rc = s_int(c, e, "qty", 1, MATCHER_MAX_QTY, 1, 0, &it[k].qty, "order", idx)))
            return rc;
    }
    c->nitem += od->nitems;
    json_t *ex = json_object_get(o, "exclude");
    if (ex) {
        if (!json_is_array(ex) || json_array_size(ex) > MATCHER_MAX_EXCLUDE)
            return s_err(c, COFAB_EMALFORMED, "order %zu: exclude must list 0..%d ids", idx,
                         MATCHER_MAX_EXCLUDE);
        od->exclude = (const uint8_t(*)[MATCHER_ID_LEN]) (c->d->excl + c->nexcl);
        od->nexclude = (uint32_t) json_array_size(ex);
        for (uint32_t k = 0; k < od->nexclude; k++)
            if ((rc = s_hexid(c, json_array_get(ex, k), c->d->excl[c->nexcl++], "order", idx)))
                return rc;
    }
    return 0;
}

static const char *const s_param_keys[] = {"ship_per_km", "ship_per_unit_km_milli", "km_per_day",
    "late_per_day", "reliability_pm", "reliability_full", "reserve_pm", "batch_window",
    "min_capable", "max_candidates", "max_split", "unplaced_penalty", "lagr_iters", "ls_budget",
    "bnb_nodes", NULL};

static int
s_params(s_ctx_t *c, json_t *o, matcher_params_t *p)
{
    int rc = s_keys(c, o, "params", s_param_keys);
    if (rc)
        return rc;
    int64_t *dst64[] = {&p->ship_per_km, &p->ship_per_unit_km_milli, &p->km_per_day,
                        &p->late_per_day, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                        &p->unplaced_penalty};
    for (size_t i = 0; s_param_keys[i]; i++) {
        json_t *v = json_object_get(o, s_param_keys[i]);
        if (!v)
            continue;
        int64_t x;
        if ((rc = s_int(c, o, s_param_keys[i], 0, INT64_MAX, 1, 0, &x, "params", 0)) != 0)
            return rc;
        if (i < 12 && dst64[i]) {
            *dst64[i] = x;
            continue;
        }
        if (x > UINT32_MAX && i != 13 && i != 14)
            return s_err(c, COFAB_EMALFORMED, "params: \"%s\" out of range", s_param_keys[i]);
        switch (i) {
        case 4: p->reliability_pm = (int32_t) x; break;
        case 5: p->reliability_full = (uint32_t) x; break;
        case 6: p->reserve_pm = (int32_t) x; break;
        case 7: p->batch_window = (uint32_t) x; break;
        case 8: p->min_capable = (uint32_t) x; break;
        case 9: p->max_candidates = (uint32_t) x; break;
        case 10: p->max_split = (uint32_t) x; break;
        case 12: p->lagr_iters = (uint32_t) x; break;
        case 13: p->ls_budget = (uint64_t) x; break;
        default: p->bnb_nodes = (uint64_t) x; break;
        }
    }
    if (matcher_params_check(p) != 0)
        return s_err(c, COFAB_EMALFORMED, "params: a value is out of its range");
    return 0;
}

static const char *const s_top_keys[] = {"format", "version", "horizon", "params", "factories",
    "orders", NULL};

/* Counts what the document will hold, to allocate it in one go. */
static int
s_sizes(s_ctx_t *c, json_t *facs, json_t *ords, size_t *noff, size_t *nitem, size_t *nexcl)
{
    *noff = *nitem = *nexcl = 0;
    for (size_t i = 0; i < json_array_size(facs); i++) {
        json_t *o = json_object_get(json_array_get(facs, i), "offers");
        *noff += json_is_array(o) ? json_array_size(o) : 0;
    }
    for (size_t i = 0; i < json_array_size(ords); i++) {
        json_t *o = json_array_get(ords, i);
        json_t *it = json_object_get(o, "items"), *ex = json_object_get(o, "exclude");
        *nitem += json_is_array(it) ? json_array_size(it) : 0;
        *nexcl += json_is_array(ex) ? json_array_size(ex) : 0;
    }
    if (*noff > (size_t) MATCHER_MAX_FACTORIES * MATCHER_MAX_OFFERS
        || *nitem > (size_t) MATCHER_MAX_ORDERS * MATCHER_MAX_ITEMS
        || *nexcl > (size_t) MATCHER_MAX_ORDERS * MATCHER_MAX_EXCLUDE)
        return s_err(c, COFAB_ETOOBIG, "too many offers, items or exclusions");
    return 0;
}

int
problem_parse_json(const char *buf, size_t len, problem_doc_t **out, char *err, size_t errlen)
{
    s_ctx_t c = {err, errlen, NULL, 0, 0, 0, 0};
    if (err && errlen)
        err[0] = '\0';
    if (!buf || !out)
        return COFAB_EINVAL;
    if (len > PROBLEM_MAX_BYTES)
        return s_err(&c, COFAB_ETOOBIG, "problem larger than %zu bytes", PROBLEM_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return s_err(&c, COFAB_EMALFORMED, "JSON error at line %d column %d: %.80s", je.line,
                     je.column, je.text);
    int rc;
    int64_t ver, horizon;
    size_t noff, nitem, nexcl;
    json_t *fmt = json_object_get(root, "format");
    json_t *facs = json_object_get(root, "factories"), *ords = json_object_get(root, "orders");
    if ((rc = s_keys(&c, root, "problem", s_top_keys)) != 0)
        goto out;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "cofab-match-problem")) {
        rc = s_err(&c, COFAB_EVERSION, "format must be \"cofab-match-problem\"");
        goto out;
    }
    if ((rc = s_int(&c, root, "version", 0, INT32_MAX, 1, 0, &ver, "problem", 0)) != 0)
        goto out;
    if (ver != 1) {
        rc = s_err(&c, COFAB_EVERSION, "unknown problem version %lld", (long long) ver);
        goto out;
    }
    if ((rc = s_int(&c, root, "horizon", 1, MATCHER_MAX_HORIZON, 1, 0, &horizon, "problem", 0)))
        goto out;
    if (!json_is_array(facs) || !json_is_array(ords)) {
        rc = s_err(&c, COFAB_EMALFORMED, "factories and orders must be arrays");
        goto out;
    }
    if (json_array_size(facs) > MATCHER_MAX_FACTORIES || json_array_size(ords) > MATCHER_MAX_ORDERS) {
        rc = s_err(&c, COFAB_ETOOBIG, "too many factories or orders");
        goto out;
    }
    if ((rc = s_sizes(&c, facs, ords, &noff, &nitem, &nexcl)) != 0)
        goto out;
    rc = COFAB_ENOMEM;
    problem_doc_t *d = c.d = calloc(1, sizeof *d);
    if (!d)
        goto out;
    size_t ncells = noff * 2 * (size_t) horizon;
    if (ncells > PROBLEM_MAX_CELLS)
        ncells = PROBLEM_MAX_CELLS;
    d->pb.horizon = (uint32_t) horizon;
    d->fac = calloc(json_array_size(facs) + 1, sizeof *d->fac);
    d->offers = calloc(noff + 1, sizeof *d->offers);
    d->cells = calloc(ncells + 1, sizeof *d->cells);
    d->ord = calloc(json_array_size(ords) + 1, sizeof *d->ord);
    d->items = calloc(nitem + 1, sizeof *d->items);
    d->excl = calloc(nexcl + 1, sizeof *d->excl);
    if (!d->fac || !d->offers || !d->cells || !d->ord || !d->items || !d->excl)
        goto out;
    matcher_params_default(&d->params);
    json_t *pj = json_object_get(root, "params");
    if (pj && (rc = s_params(&c, pj, &d->params)) != 0)
        goto out;
    for (size_t i = 0; i < json_array_size(facs); i++)
        if ((rc = s_factory(&c, json_array_get(facs, i), &d->fac[i], i)) != 0)
            goto out;
    for (size_t i = 0; i < json_array_size(ords); i++)
        if ((rc = s_order(&c, json_array_get(ords, i), &d->ord[i], i)) != 0)
            goto out;
    d->pb.factories = d->fac;
    d->pb.nfactories = (uint32_t) json_array_size(facs);
    d->pb.orders = d->ord;
    d->pb.norders = (uint32_t) json_array_size(ords);
    char why[160];
    rc = matcher_problem_check(&d->pb, why, sizeof why);
    if (rc != 0) {
        if (rc != COFAB_ENOMEM)
            rc = s_err(&c, rc, "%s", why);
        goto out;
    }
    *out = d;
    c.d = NULL;
out:
    problem_doc_destroy(&c.d);
    json_decref(root);
    return rc;
}

const matcher_problem_t *problem_doc_problem(const problem_doc_t *d) { return &d->pb; }
const matcher_params_t *problem_doc_params(const problem_doc_t *d) { return &d->params; }

void
problem_doc_destroy(problem_doc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    problem_doc_t *d = *self_p;
    free(d->fac);
    free(d->offers);
    free(d->cells);
    free(d->ord);
    free(d->items);
    free(d->excl);
    free(d);
    *self_p = NULL;
}

/* ---- OR-Library GAP text format ------------------------------------ */

struct problem_gapset_s {
    uint32_t count;                 /* instances */
    matcher_gap_t *g;               /* count instances */
    int64_t **data;                 /* count buffers: cost, res, cap of each */
};

/* Token reader over the buffer. */
typedef struct {
    const char *p, *end;            /* cursor, end */
    uint64_t tok;                   /* tokens read, for messages */
    char *err;                      /* reason buffer */
    size_t errlen;
} s_tok_t;

static int
s_terr(s_tok_t *t, int code, const char *what)
{
    if (t->err && t->errlen)
        snprintf(t->err, t->errlen, "GAP token %llu: %s", (unsigned long long) t->tok + 1, what);
    return code;
}

static int
s_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* Next non-negative decimal integer <= max. */
static int
s_next(s_tok_t *t, int64_t max, int64_t *out)
{
    while (t->p < t->end && s_space(*t->p))
        t->p++;
    if (t->p == t->end)
        return s_terr(t, COFAB_ETRUNCATED, "file ends before the instance does");
    if (*t->p == '-')
        return s_terr(t, COFAB_EMALFORMED, "negative numbers are not allowed");
    int64_t v = 0;
    int digits = 0;
    while (t->p < t->end && !s_space(*t->p)) {
        char ch = *t->p++;
        if (ch < '0' || ch > '9')
            return s_terr(t, COFAB_EMALFORMED, "not a decimal integer");
        if (++digits > 12)
            return s_terr(t, COFAB_EMALFORMED, "number too long");
        v = v * 10 + (ch - '0');
    }
    if (v > max)
        return s_terr(t, COFAB_EMALFORMED, "value out of range");
    t->tok++;
    *out = v;
    return 0;
}

int
problem_parse_gap(const char *buf, size_t len, problem_gapset_t **out, char *err, size_t errlen)
{
    s_tok_t t = {buf, buf + len, 0, err, errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!buf || !out)
        return COFAB_EINVAL;
    if (len > PROBLEM_MAX_BYTES)
        return s_terr(&t, COFAB_ETOOBIG, "file too large");
    int64_t P, m, n, v;
    int rc = s_next(&t, INT64_MAX / 10, &P);
    if (rc != 0)
        return rc;
    if (P < 1)
        return s_terr(&t, COFAB_EMALFORMED, "no instances");
    if (P > PROBLEM_GAP_MAX_PROBLEMS)
        return s_terr(&t, COFAB_ETOOBIG, "too many instances");
    problem_gapset_t *s = calloc(1, sizeof *s);
    if (!s)
        return COFAB_ENOMEM;
    rc = COFAB_ENOMEM;
    s->g = calloc((size_t) P, sizeof *s->g);
    s->data = calloc((size_t) P + 1, sizeof *s->data);
    if (!s->g || !s->data)
        goto out;
    uint64_t total = 0;
    for (int64_t k = 0; k < P; k++) {
        if ((rc = s_next(&t, INT64_MAX / 10, &m)) != 0 || (rc = s_next(&t, INT64_MAX / 10, &n)) != 0)
            goto out;
        if (m < 1 || n < 1) {
            rc = s_terr(&t, COFAB_EMALFORMED, "an instance needs agents and jobs");
            goto out;
        }
        if (m > MATCHER_GAP_MAX_AGENTS || n > MATCHER_GAP_MAX_JOBS) {
            rc = s_terr(&t, COFAB_ETOOBIG, "too many agents or jobs");
            goto out;
        }
        size_t mn = (size_t) m * (size_t) n;
        total += mn;
        if (mn > MATCHER_GAP_MAX_CELLS || total > PROBLEM_GAP_MAX_TOTAL_CELLS) {
            rc = s_terr(&t, COFAB_ETOOBIG, "instance too large");
            goto out;
        }
        /* Never allocate more than the remaining bytes could describe. */
        if (((size_t) (t.end - t.p) + 1) / 2 < 2 * mn + (size_t) m) {
            rc = s_terr(&t, COFAB_ETRUNCATED, "file too short for the declared sizes");
            goto out;
        }
        int64_t *d = s->data[k] = malloc((2 * mn + (size_t) m) * sizeof *d);
        if (!d) {
            rc = COFAB_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < 2 * mn; i++) {
            if ((rc = s_next(&t, MATCHER_GAP_MAX_VALUE, &v)) != 0)
                goto out;
            d[i] = v;
        }
        for (size_t i = 0; i < (size_t) m; i++) {
            if ((rc = s_next(&t, MATCHER_GAP_MAX_CAP, &v)) != 0)
                goto out;
            d[2 * mn + i] = v;
        }
        s->g[k] = (matcher_gap_t){(uint32_t) m, (uint32_t) n, d, d + mn, d + 2 * mn};
        s->count++;
    }
    while (t.p < t.end && s_space(*t.p))
        t.p++;
    if (t.p != t.end) {
        rc = s_terr(&t, COFAB_ETRAILING, "data after the last instance");
        goto out;
    }
    *out = s;
    s = NULL;
    rc = 0;
out:
    problem_gapset_destroy(&s);
    return rc;
}

uint32_t problem_gapset_count(const problem_gapset_t *s) { return s->count; }

const matcher_gap_t *
problem_gapset_get(const problem_gapset_t *s, uint32_t i)
{
    return i < s->count ? &s->g[i] : NULL;
}

void
problem_gapset_destroy(problem_gapset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    problem_gapset_t *s = *self_p;
    if (s->data)
        for (uint32_t k = 0; k <= s->count && s->data; k++)
            free(s->data[k]);
    free(s->data);
    free(s->g);
    free(s);
    *self_p = NULL;
}
