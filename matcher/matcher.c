/* matcher.c — matcher parameters, problem validation, canonical order,
 * the cost model and the integer great-circle distance.
 */
#include "cofab/matcher.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

typedef __int128 s_i128;

void
matcher_params_default(matcher_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->ship_per_km = 50;                /* 0.50 per km per job */
    p->ship_per_unit_km_milli = 10;     /* 0.01 cent per unit per km */
    p->km_per_day = 500;
    p->late_per_day = 5000;             /* 50.00 per day late */
    p->reliability_pm = 50;             /* up to 5 % of goods */
    p->reliability_full = 20;
    p->reserve_pm = 100;                /* alliance default 10 % */
    p->batch_window = 7;
    p->min_capable = 1;
    p->max_candidates = 16;
    p->max_split = 4;
    p->unplaced_penalty = 10000000000000LL; /* 1e13 cents */
    p->lagr_iters = 60;
    p->ls_budget = 4000000;
    p->bnb_nodes = 200000;
}

int
matcher_params_check(const matcher_params_t *p)
{
    if (!p)
        return COFAB_EINVAL;
    if (p->ship_per_km < 0 || p->ship_per_km > 100000
        || p->ship_per_unit_km_milli < 0 || p->ship_per_unit_km_milli > 1000
        || p->km_per_day < 1 || p->km_per_day > 100000
        || p->late_per_day < 0 || p->late_per_day > MATCHER_MAX_SETUP
        || p->reliability_pm < 0 || p->reliability_pm > 1000
        || p->reliability_full < 1 || p->reliability_full > 1000000
        || p->reserve_pm < 0 || p->reserve_pm > 1000
        || p->batch_window < 1 || p->batch_window > MATCHER_MAX_DUE
        || p->min_capable < 1 || p->min_capable > 1000
        || p->max_candidates < 1 || p->max_candidates > 100000
        || p->max_split < 1 || p->max_split > 64
        || p->unplaced_penalty < 1 || p->unplaced_penalty > 10000000000000LL
        || p->lagr_iters < 1 || p->lagr_iters > 100000
        || p->ls_budget > 10000000000ULL || p->bnb_nodes > 100000000ULL)
        return COFAB_EINVAL;
    return 0;
}

const char *
matcher_status_name(matcher_status_t s)
{
    switch (s) {
    case MATCHER_PLACED: return "placed";
    case MATCHER_NO_CAPABLE: return "no-capable";
    case MATCHER_REDUNDANCY: return "redundancy";
    case MATCHER_BELOW_MOQ: return "below-moq";
    case MATCHER_ABOVE_MAX: return "above-max";
    case MATCHER_OVER_BUDGET: return "over-budget";
    case MATCHER_NO_CAPACITY: return "no-capacity";
    }
    return "unknown";
}

/* ---- validation ---------------------------------------------------- */

static int
s_fail(char *err, size_t errlen, int code, const char *what, uint32_t a, uint32_t b)
{
    if (err && errlen)
        snprintf(err, errlen, "%s (entry %u, %u)", what, a, b);
    return code;
}

/* 1 if name is a NUL-terminated [a-z0-9-]{1,32}. */
static int
s_name_ok(const char *name)
{
    size_t n = 0;
    while (n <= MATCHER_NAME_MAX && name[n]) {
        char c = name[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        n++;
    }
    return n >= 1 && n <= MATCHER_NAME_MAX;
}

static int
s_id_cmp(const void *a, const void *b)
{
    return memcmp(*(const uint8_t *const *) a, *(const uint8_t *const *) b, MATCHER_ID_LEN);
}

/* 1 if the n ids (stride bytes apart) are pairwise distinct. */
static int
s_unique_ids(const uint8_t *base, size_t stride, uint32_t n, int *oom)
{
    const uint8_t **v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        *oom = 1;
        return 0;
    }
    for (uint32_t i = 0; i < n; i++)
        v[i] = base + (size_t) i * stride;
    qsort(v, n, sizeof *v, s_id_cmp);
    int ok = 1;
    for (uint32_t i = 1; i < n && ok; i++)
        if (!memcmp(v[i - 1], v[i], MATCHER_ID_LEN))
            ok = 0;
    free(v);
    return ok;
}

static int
s_latlon_ok(int32_t lat, int32_t lon)
{
    return lat >= -90000000 && lat <= 90000000 && lon >= -180000000 && lon <= 180000000;
}

static int
s_check_offer(const matcher_offer_t *of, uint32_t horizon)
{
    if (!s_name_ok(of->process) || of->nmaterials < 1 || of->nmaterials > MATCHER_MAX_MATERIALS)
        return 0;
    for (uint32_t m = 0; m < of->nmaterials; m++) {
        if (!s_name_ok(of->materials[m]))
            return 0;
        for (uint32_t k = 0; k < m; k++)
            if (!strcmp(of->materials[k], of->materials[m]))
                return 0;
    }
    if (of->unit_price < 0 || of->unit_price > MATCHER_MAX_PRICE || of->setup_cost < 0
        || of->setup_cost > MATCHER_MAX_SETUP || of->moq < 1 || of->moq > MATCHER_MAX_QTY
        || of->max_qty < of->moq || of->max_qty > MATCHER_MAX_QTY || !of->cap)
        return 0;
    for (uint32_t d = 0; d < horizon; d++) {
        if (of->cap[d] < 0 || of->cap[d] > MATCHER_MAX_CAP)
            return 0;
        if (of->load && (of->load[d] < 0 || of->load[d] > MATCHER_MAX_CAP))
            return 0;
    }
    return 1;
}

int
matcher_problem_check(const matcher_problem_t *pb, char *err, size_t errlen)
{
    if (!pb)
        return COFAB_EINVAL;
    if (err && errlen)
        err[0] = '\0';
    if (pb->horizon < 1 || pb->horizon > MATCHER_MAX_HORIZON)
        return s_fail(err, errlen, COFAB_EMALFORMED, "horizon out of range", 0, 0);
    if (pb->nfactories > MATCHER_MAX_FACTORIES || pb->norders > MATCHER_MAX_ORDERS)
        return s_fail(err, errlen, COFAB_ETOOBIG, "too many factories or orders", 0, 0);
    if ((pb->nfactories && !pb->factories) || (pb->norders && !pb->orders))
        return COFAB_EINVAL;
    for (uint32_t f = 0; f < pb->nfactories; f++) {
        const matcher_factory_t *fa = &pb->factories[f];
        if (!s_latlon_ok(fa->lat_e6, fa->lon_e6) || fa->lead_days < 0
            || fa->lead_days > MATCHER_MAX_LEAD || fa->on_time_pm < 0 || fa->on_time_pm > 1000
            || fa->accept_pm < 0 || fa->accept_pm > 1000 || fa->reserve_pm < -1
            || fa->reserve_pm > 1000)
            return s_fail(err, errlen, COFAB_EMALFORMED, "factory field out of range", f, 0);
        if (fa->noffers < 1 || fa->noffers > MATCHER_MAX_OFFERS || !fa->offers)
            return s_fail(err, errlen, COFAB_EMALFORMED, "factory offer count", f, 0);
        for (uint32_t o = 0; o < fa->noffers; o++) {
            if (!s_check_offer(&fa->offers[o], pb->horizon))
                return s_fail(err, errlen, COFAB_EMALFORMED, "bad offer", f, o);
            for (uint32_t k = 0; k < o; k++)
                if (!strcmp(fa->offers[k].process, fa->offers[o].process))
                    return s_fail(err, errlen, COFAB_EMALFORMED, "duplicate process", f, o);
        }
    }
    for (uint32_t i = 0; i < pb->norders; i++) {
        const matcher_order_t *od = &pb->orders[i];
        if (od->nitems < 1 || od->nitems > MATCHER_MAX_ITEMS || !od->items)
            return s_fail(err, errlen, COFAB_EMALFORMED, "order item count", i, 0);
        if (od->due_day < 1 || od->due_day > MATCHER_MAX_DUE || !s_latlon_ok(od->lat_e6, od->lon_e6)
            || od->budget < 0 || od->budget > MATCHER_MAX_BUDGET
            || od->nexclude > MATCHER_MAX_EXCLUDE || (od->nexclude && !od->exclude))
            return s_fail(err, errlen, COFAB_EMALFORMED, "order field out of range", i, 0);
        for (uint32_t k = 0; k < od->nitems; k++) {
            const matcher_item_t *it = &od->items[k];
            if (!s_name_ok(it->process) || !s_name_ok(it->material) || it->qty < 1
                || it->qty > MATCHER_MAX_QTY)
                return s_fail(err, errlen, COFAB_EMALFORMED, "bad item", i, k);
            for (uint32_t q = 0; q < k; q++)
                if (!strcmp(od->items[q].process, it->process)
                    && !strcmp(od->items[q].material, it->material))
                    return s_fail(err, errlen, COFAB_EMALFORMED, "duplicate item", i, k);
        }
    }
    int oom = 0;
    if (pb->nfactories
        && !s_unique_ids(pb->factories[0].id, sizeof(matcher_factory_t), pb->nfactories, &oom))
        return oom ? COFAB_ENOMEM
                   : s_fail(err, errlen, COFAB_EMALFORMED, "duplicate factory id", 0, 0);
    if (pb->norders && !s_unique_ids(pb->orders[0].id, sizeof(matcher_order_t), pb->norders, &oom))
        return oom ? COFAB_ENOMEM
                   : s_fail(err, errlen, COFAB_EMALFORMED, "duplicate order id", 0, 0);
    return 0;
}

/* ---- canonical order and the cost model (used by mbuild.c) ------ */

typedef struct {
    const uint8_t *id;              /* sort key */
    uint32_t idx;                   /* input index */
} s_canon_t;

static int
s_canon_cmp(const void *a, const void *b)
{
    const s_canon_t *x = a, *y = b;
    return memcmp(x->id, y->id, MATCHER_ID_LEN);
}

uint32_t *
matcher_canon(const uint8_t *base, size_t stride, uint32_t n)
{
    s_canon_t *v = malloc((n ? n : 1) * sizeof *v);
    uint32_t *out = malloc((n ? n : 1) * sizeof *out);
    if (!v || !out) {
        free(v);
        free(out);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        v[i].id = base + (size_t) i * stride;
        v[i].idx = i;
    }
    qsort(v, n, sizeof *v, s_canon_cmp);
    for (uint32_t i = 0; i < n; i++)
        out[i] = v[i].idx;
    free(v);
    return out;
}

const matcher_item_t *
mbuild_item(const mbuild_t *b, uint32_t o, uint32_t k)
{
    return &b->pb->orders[b->ord[o]].items[b->item_idx[b->item_off[o] + k]];
}

int64_t
mbuild_var_cost(const mbuild_t *b, uint32_t o, uint32_t f, int64_t dist_m,
                const matcher_offer_t *const *offers, const int64_t *qty, uint32_t n)
{
    const matcher_params_t *p = &b->p;
    const matcher_order_t *od = &b->pb->orders[b->ord[o]];
    const matcher_factory_t *fa = &b->pb->factories[b->fac[f]];
    int64_t goods = 0, qtot = 0;
    for (uint32_t i = 0; i < n; i++) {
        goods += offers[i]->unit_price * qty[i];
        qtot += qty[i];
    }
    int64_t ship = dist_m * p->ship_per_km / 1000
                   + (int64_t) ((s_i128) dist_m * qtot * p->ship_per_unit_km_milli / 1000000);
    int64_t per_day = p->km_per_day * 1000;
    int64_t transit = (dist_m + per_day - 1) / per_day;
    int64_t late_days = fa->lead_days + transit - od->due_day;
    int64_t late = late_days > 0 ? late_days * p->late_per_day : 0;
    /* Credit in floor steps: goods × weight × on-time × acceptance × confidence. */
    int64_t credit = goods * p->reliability_pm / 1000;
    credit = credit * fa->on_time_pm / 1000;
    credit = credit * fa->accept_pm / 1000;
    uint32_t done = fa->completed < p->reliability_full ? fa->completed : p->reliability_full;
    credit = credit * done / p->reliability_full;
    return goods + ship + late - credit;
}

/* ---- integer great-circle distance ---------------------------------
 * Q30 fixed point throughout: angles in radians × 2^30, unit vectors
 * × 2^30. sin/cos are Taylor polynomials on [0, π/4] after exact range
 * reduction in integer micro-degrees; the chord between the two unit
 * vectors gives the central angle through asin (Abramowitz & Stegun
 * 4.4.46, |error| <= 2e-8). Only integer +, −, ×, shifts and an integer
 * square root are used, so every machine computes the same metres. */

#define S_Q 30
#define S_ONE ((int64_t) 1 << S_Q)
#define S_RAD_PER_UDEG 20122276272LL   /* π / 180e6 × 2^60 */
#define S_HALF_PI 1686629713LL         /* π / 2 × 2^30 */
#define S_EARTH_M 6371009LL            /* mean Earth radius, metres */

static int64_t
s_qmul(int64_t a, int64_t b)
{
    return (int64_t) (((s_i128) a * b) >> S_Q);
}

/* Exact floor(sqrt(v)) for v < 2^62: the double square root is only a
 * first guess, corrected to the exact integer, so the result does not
 * depend on how the machine rounds. */
static uint64_t
s_isqrt(uint64_t v)
{
    uint64_t r = (uint64_t) sqrt((double) v);
    while (r > 0 && r * r > v)
        r--;
    while ((r + 1) * (r + 1) <= v)
        r++;
    return r;
}

/* sin (odd = 1) or cos (odd = 0) of x in [0, π/4], Q30. */
static int64_t
s_series(int64_t x, int odd)
{
    int64_t x2 = s_qmul(x, x);
    int64_t term = odd ? x : S_ONE, sum = term;
    int k = odd ? 1 : 0;
    for (int i = 0; i < 7; i++) {
        term = s_qmul(term, x2) / ((k + 1) * (k + 2));
        k += 2;
        sum += (i % 2 == 0) ? -term : term;
    }
    return sum;
}

/* sin of an angle in micro-degrees, Q30. */
static int64_t
s_sin_udeg(int64_t a)
{
    a %= 360000000;
    if (a < 0)
        a += 360000000;
    int neg = 0;
    if (a >= 180000000) {
        a -= 180000000;
        neg = 1;
    }
    if (a > 90000000)
        a = 180000000 - a;
    int64_t v;
    if (a <= 45000000)
        v = s_series((int64_t) (((s_i128) a * S_RAD_PER_UDEG) >> 30), 1);
    else
        v = s_series((int64_t) (((s_i128) (90000000 - a) * S_RAD_PER_UDEG) >> 30), 0);
    return neg ? -v : v;
}

static int64_t
s_cos_udeg(int64_t a)
{
    return s_sin_udeg(a + 90000000);
}

/* asin of x in [0, 1] (Q30), Q30 radians. */
static int64_t
s_asin(int64_t x)
{
    static const int64_t a[8] = {1686629690, -230423709, 95540460, -53874249,
                                 33169905, -18348235, 7161955, -1355589};
    if (x <= 0)
        return 0;
    if (x >= S_ONE)
        return S_HALF_PI;
    int64_t p = a[7];
    for (int i = 6; i >= 0; i--)
        p = ((p * x) >> S_Q) + a[i];        /* |p|, x < 2^31: fits in 64 bits */
    int64_t root = (int64_t) s_isqrt((uint64_t) (S_ONE - x) << S_Q);
    int64_t v = S_HALF_PI - s_qmul(root, p);
    return v < 0 ? 0 : v;
}

void
matcher_unit_vector(int32_t lat, int32_t lon, int64_t v[3])
{
    int64_t c = s_cos_udeg(lat);
    v[0] = s_qmul(c, s_cos_udeg(lon));
    v[1] = s_qmul(c, s_sin_udeg(lon));
    v[2] = s_sin_udeg(lat);
}

int64_t
matcher_vec_distance_m(const int64_t a[3], const int64_t b[3])
{
    int64_t dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    uint64_t chord2 = (uint64_t) (dx * dx) + (uint64_t) (dy * dy) + (uint64_t) (dz * dz);
    int64_t half = (int64_t) s_isqrt(chord2) / 2;     /* sin(θ/2), Q30 */
    int64_t theta = 2 * s_asin(half);
    return (theta * S_EARTH_M) >> S_Q;
}

int64_t
matcher_vec_chord_m(const int64_t a[3], const int64_t b[3])
{
    int64_t dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    uint64_t chord2 = (uint64_t) (dx * dx) + (uint64_t) (dy * dy) + (uint64_t) (dz * dz);
    return ((int64_t) s_isqrt(chord2) * S_EARTH_M) >> S_Q;
}

int64_t
matcher_distance_m(int32_t lat1, int32_t lon1, int32_t lat2, int32_t lon2)
{
    int64_t a[3], b[3];
    matcher_unit_vector(lat1, lon1, a);
    matcher_unit_vector(lat2, lon2, b);
    return matcher_vec_distance_m(a, b);
}
