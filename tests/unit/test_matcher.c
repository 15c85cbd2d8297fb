/* test_matcher.c — matcher tests: an independent feasibility checker,
 * hand-checked optima, unplaced reasons, split, redundancy, reassignment,
 * determinism under shuffling, and an exhaustive-search property test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/matcher.h"
#include "cofab/problem.h"

#define NF 24
#define NO 400
#define H 30

/* A mutable problem the tests build and shuffle. */
typedef struct {
    matcher_factory_t fac[NF];
    matcher_offer_t off[NF][4];
    int64_t cap[NF][4][H];
    int64_t load[NF][4][H];
    matcher_order_t ord[NO];
    matcher_item_t items[NO][3];
    uint8_t excl[NO][2][MATCHER_ID_LEN];
    matcher_problem_t pb;
} fx_t;

static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t
rng_in(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t) (rng_next(s) % (uint64_t) (hi - lo + 1));
}

static fx_t *
fx_new(uint32_t horizon)
{
    fx_t *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->pb.horizon = horizon;
    x->pb.factories = x->fac;
    x->pb.orders = x->ord;
    return x;
}

/* Adds factory i with id byte i+1 at (lat, lon) and one offer. */
static matcher_offer_t *
fx_factory(fx_t *x, int32_t lat, int32_t lon)
{
    uint32_t i = x->pb.nfactories++;
    matcher_factory_t *f = &x->fac[i];
    f->id[0] = (uint8_t) (0x10 + i);
    f->lat_e6 = lat;
    f->lon_e6 = lon;
    f->reserve_pm = 0;
    f->offers = x->off[i];
    return NULL;
}

static matcher_offer_t *
fx_offer(fx_t *x, uint32_t f, const char *proc, const char *mat, int64_t price, int64_t setup,
         int64_t moq, int64_t max, int64_t per_day)
{
    uint32_t k = x->fac[f].noffers++;
    matcher_offer_t *o = &x->off[f][k];
    snprintf(o->process, sizeof o->process, "%s", proc);
    snprintf(o->materials[0], sizeof o->materials[0], "%s", mat);
    o->nmaterials = 1;
    o->unit_price = price;
    o->setup_cost = setup;
    o->moq = moq;
    o->max_qty = max;
    for (int d = 0; d < H; d++)
        x->cap[f][k][d] = per_day;
    o->cap = x->cap[f][k];
    return o;
}

static matcher_order_t *
fx_order(fx_t *x, const char *proc, const char *mat, int64_t qty, int32_t due)
{
    uint32_t i = x->pb.norders++;
    matcher_order_t *o = &x->ord[i];
    memset(o, 0, sizeof *o);
    o->id[0] = (uint8_t) (i >> 8);
    o->id[1] = (uint8_t) i;
    o->id[2] = 0xAA;
    o->items = x->items[i];
    snprintf(x->items[i][0].process, sizeof x->items[i][0].process, "%s", proc);
    snprintf(x->items[i][0].material, sizeof x->items[i][0].material, "%s", mat);
    x->items[i][0].qty = qty;
    o->nitems = 1;
    o->due_day = due;
    return o;
}

/* Params with all distance/lateness/reliability terms off: cost is
 * price × qty + setups, so optima can be checked by hand. */
static void
plain_params(matcher_params_t *p)
{
    matcher_params_default(p);
    p->ship_per_km = 0;
    p->ship_per_unit_km_milli = 0;
    p->late_per_day = 0;
    p->reliability_pm = 0;
    p->reserve_pm = 0;
}

static const matcher_factory_t *
find_factory(const matcher_problem_t *pb, const uint8_t *id)
{
    for (uint32_t f = 0; f < pb->nfactories; f++)
        if (!memcmp(pb->factories[f].id, id, MATCHER_ID_LEN))
            return &pb->factories[f];
    return NULL;
}

static const matcher_order_t *
find_order(const matcher_problem_t *pb, const uint8_t *id)
{
    for (uint32_t o = 0; o < pb->norders; o++)
        if (!memcmp(pb->orders[o].id, id, MATCHER_ID_LEN))
            return &pb->orders[o];
    return NULL;
}

static const matcher_offer_t *
find_offer(const matcher_factory_t *f, const char *proc, const char *mat)
{
    for (uint32_t k = 0; k < f->noffers; k++) {
        if (strcmp(f->offers[k].process, proc))
            continue;
        for (uint32_t m = 0; m < f->offers[k].nmaterials; m++)
            if (!strcmp(f->offers[k].materials[m], mat))
                return &f->offers[k];
    }
    return NULL;
}

/* A flat copy of a result's placements, so tests can tamper with it. */
typedef struct {
    uint8_t order[MATCHER_ID_LEN];
    uint8_t factory[MATCHER_ID_LEN];
    char process[MATCHER_NAME_MAX + 1], material[MATCHER_NAME_MAX + 1];
    int64_t qty, cost;
    int32_t first_day, last_day;
} flat_t;

static uint32_t
flatten(const matcher_result_t *r, flat_t *out, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t o = 0; o < matcher_result_norders(r); o++) {
        const matcher_order_result_t *or = matcher_result_order(r, o);
        for (uint32_t k = 0; k < or->npieces; k++) {
            assert_true(n < max);
            flat_t *f = &out[n++];
            memcpy(f->order, or->id, MATCHER_ID_LEN);
            memcpy(f->factory, or->pieces[k].factory, MATCHER_ID_LEN);
            memcpy(f->process, or->pieces[k].process, sizeof f->process);
            memcpy(f->material, or->pieces[k].material, sizeof f->material);
            f->qty = or->pieces[k].qty;
            f->cost = or->pieces[k].cost;
            f->first_day = or->pieces[k].first_day;
            f->last_day = or->pieces[k].last_day;
        }
    }
    return n;
}

/* Independent feasibility check of placements (split orders may have
 * several pieces per item). Returns NULL if feasible, else what is wrong. */
static const char *
check_flat(const matcher_problem_t *pb, const matcher_params_t *p, const flat_t *fl, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const matcher_order_t *od = find_order(pb, fl[i].order);
        const matcher_factory_t *fa = find_factory(pb, fl[i].factory);
        if (!od || !fa)
            return "unknown order or factory";
        const matcher_offer_t *of = find_offer(fa, fl[i].process, fl[i].material);
        if (!of)
            return "incapable factory";
        for (uint32_t e = 0; e < od->nexclude; e++)
            if (!memcmp(od->exclude[e], fa->id, MATCHER_ID_LEN))
                return "excluded factory";
        if (fl[i].qty < of->moq || fl[i].qty > of->max_qty)
            return "quantity outside MOQ..max";
        int32_t end = od->due_day < (int32_t) pb->horizon ? od->due_day : (int32_t) pb->horizon;
        if (fl[i].first_day < 0 || fl[i].last_day >= end || fl[i].first_day > fl[i].last_day)
            return "planned days outside the window";
        if (!od->split)
            for (uint32_t k = 0; k < n; k++)
                if (!memcmp(fl[k].order, fl[i].order, MATCHER_ID_LEN)
                    && memcmp(fl[k].factory, fl[i].factory, MATCHER_ID_LEN))
                    return "unsplittable order split";
    }
    for (uint32_t o = 0; o < pb->norders; o++) {   /* whole items, budget */
        const matcher_order_t *od = &pb->orders[o];
        int64_t total = 0;
        int any = 0;
        for (uint32_t k = 0; k < od->nitems; k++) {
            int64_t q = 0;
            uint32_t pieces = 0;
            for (uint32_t i = 0; i < n; i++)
                if (!memcmp(fl[i].order, od->id, MATCHER_ID_LEN)
                    && !strcmp(fl[i].process, od->items[k].process)
                    && !strcmp(fl[i].material, od->items[k].material)) {
                    q += fl[i].qty;
                    total += fl[i].cost;
                    pieces++;
                    any = 1;
                }
            if (any && q != od->items[k].qty)
                return "item quantity not covered exactly";
            if (pieces > p->max_split)
                return "too many pieces";
        }
        if (any && od->budget > 0 && total > od->budget)
            return "over budget";
    }
    /* capacity: per factory offer, units due by day D fit the usable
     * capacity of days < D (the exact condition for an EDF plan). */
    for (uint32_t f = 0; f < pb->nfactories; f++) {
        const matcher_factory_t *fa = &pb->factories[f];
        int32_t res = fa->reserve_pm >= 0 ? fa->reserve_pm : p->reserve_pm;
        for (uint32_t k = 0; k < fa->noffers; k++) {
            const matcher_offer_t *of = &fa->offers[k];
            int64_t capsum = 0;
            for (int32_t D = 1; D <= (int32_t) pb->horizon; D++) {
                int64_t u = of->cap[D - 1] * (1000 - res) / 1000 - (of->load ? of->load[D - 1] : 0);
                capsum += u > 0 ? u : 0;
                int64_t due_by = 0;
                for (uint32_t i = 0; i < n; i++) {
                    const matcher_order_t *od = find_order(pb, fl[i].order);
                    int32_t end = od->due_day < (int32_t) pb->horizon ? od->due_day
                                                                        : (int32_t) pb->horizon;
                    if (!memcmp(fl[i].factory, fa->id, MATCHER_ID_LEN)
                        && !strcmp(fl[i].process, of->process) && end <= D)
                        due_by += fl[i].qty;
                }
                if (due_by > capsum)
                    return "capacity overloaded";
            }
        }
    }
    return NULL;
}

static const char *
check_result(const matcher_problem_t *pb, const matcher_params_t *p, const matcher_result_t *r)
{
    static flat_t fl[4 * NO];    /* test-only scratch */
    uint32_t n = flatten(r, fl, 4 * NO);
    if (matcher_result_lower_bound(r) > matcher_result_objective(r))
        return "lower bound above objective";
    int64_t sum = 0;
    for (uint32_t o = 0; o < matcher_result_norders(r); o++) {
        const matcher_order_result_t *or = matcher_result_order(r, o);
        if ((or->status == MATCHER_PLACED) != (or->npieces > 0))
            return "status and pieces disagree";
        sum += or->cost;
        if (o && memcmp(matcher_result_order(r, o - 1)->id, or->id, MATCHER_ID_LEN) >= 0)
            return "orders not sorted by id";
    }
    if (sum != matcher_result_cost(r))
        return "cost does not add up";
    return check_flat(pb, p, fl, n);
}

static matcher_result_t *
solve_ok(const fx_t *x, const matcher_params_t *p)
{
    matcher_result_t *r = NULL;
    int rc = matcher_solve(&x->pb, p, &r);
    assert_int_equal(rc, 0);
    const char *why = check_result(&x->pb, p, r);
    if (why)
        fail_msg("infeasible result: %s", why);
    return r;
}

/* Two factories, three orders; by hand: A is cheaper (10/unit) but holds
 * 10 units/day × 2 days = 20 before day 2; B costs 12/unit. Orders of 10,
 * 10 and 5 units due day 2: optimum puts the two 10s... any 20 units on A
 * and 5 on B, or 15 on A... A: 10+10 = 20 (cost 200) + B: 5 (60) = 260,
 * versus A: 10+5 (150) + B: 10 (120) = 270. Optimum 260. */
static void
test_hand_checked(void **state)
{
    (void) state;
    matcher_params_t p;
    plain_params(&p);
    fx_t *x = fx_new(5);
    fx_factory(x, 0, 0);
    fx_offer(x, 0, "cnc-milling", "steel", 10, 0, 1, 100, 10);
    fx_factory(x, 0, 0);
    fx_offer(x, 1, "cnc-milling", "steel", 12, 0, 1, 100, 10);
    fx_order(x, "cnc-milling", "steel", 10, 2);
    fx_order(x, "cnc-milling", "steel", 10, 2);
    fx_order(x, "cnc-milling", "steel", 5, 2);
    matcher_result_t *r = solve_ok(x, &p);
    assert_int_equal(matcher_result_cost(r), 260);
    assert_int_equal(matcher_result_nplaced(r), 3);
    assert_true(matcher_result_optimal(r));
    assert_int_equal(matcher_result_lower_bound(r), 260);
    /* the 5-unit order goes to B, and names A as runner-up */
    const matcher_order_result_t *o3 = matcher_result_order(r, 2);
    assert_int_equal(o3->pieces[0].qty, 5);
    assert_int_equal(o3->pieces[0].factory[0], 0x11);
    assert_true(o3->has_runner_up);
    assert_int_equal(o3->runner_up[0], 0x10);
    matcher_result_destroy(&r);
    matcher_result_destroy(&r);
    assert_null(r);

    /* batching: two orders in the same window share A's setup of 100 */
    fx_t *y = fx_new(20);
    fx_factory(y, 0, 0);
    fx_offer(y, 0, "sewing", "cotton", 10, 100, 1, 100, 10);
    fx_factory(y, 0, 0);
    fx_offer(y, 1, "sewing", "cotton", 40, 0, 1, 100, 10);
    fx_order(y, "sewing", "cotton", 5, 10);
    fx_order(y, "sewing", "cotton", 5, 10);
    /* alone, 5 units cost 150 at A and 200 at B; together 200 at A */
    r = solve_ok(y, &p);
    assert_int_equal(matcher_result_cost(r), 200);
    assert_int_equal(matcher_result_order(r, 0)->cost + matcher_result_order(r, 1)->cost, 200);
    assert_true(matcher_result_lower_bound(r) <= 200);
    matcher_result_destroy(&r);
    free(x);
    free(y);
}

static void
test_reasons(void **state)
{
    (void) state;
    matcher_params_t p;
    plain_params(&p);
    fx_t *x = fx_new(10);
    fx_factory(x, 0, 0);
    fx_offer(x, 0, "baking", "flour", 10, 0, 50, 200, 100);
    fx_order(x, "baking", "sugar", 60, 5);                   /* no capable */
    fx_order(x, "baking", "flour", 10, 5);                   /* below moq */
    fx_order(x, "baking", "flour", 300, 9);                  /* above max */
    fx_order(x, "baking", "flour", 100, 5)->budget = 999;    /* over budget */
    fx_order(x, "baking", "flour", 150, 1);                  /* 100 units/day × 1 day */
    fx_order(x, "baking", "flour", 100, 9);                  /* fine */
    matcher_result_t *r = solve_ok(x, &p);
    static const matcher_status_t want[] = {MATCHER_NO_CAPABLE, MATCHER_BELOW_MOQ,
        MATCHER_ABOVE_MAX, MATCHER_OVER_BUDGET, MATCHER_NO_CAPACITY, MATCHER_PLACED};
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(matcher_result_order(r, i)->status, want[i]);
    assert_string_equal(matcher_status_name(MATCHER_OVER_BUDGET), "over-budget");
    matcher_result_destroy(&r);

    /* capacity lost in competition: room for one of two; the penalty is
     * per job, so the cheaper one (80 units) is placed */
    fx_t *y = fx_new(10);
    fx_factory(y, 0, 0);
    fx_offer(y, 0, "baking", "flour", 10, 0, 1, 200, 100);
    fx_order(y, "baking", "flour", 100, 1);
    fx_order(y, "baking", "flour", 80, 1);
    r = solve_ok(y, &p);
    assert_int_equal(matcher_result_nplaced(r), 1);
    assert_int_equal(matcher_result_order(r, 0)->status, MATCHER_NO_CAPACITY);
    assert_int_equal(matcher_result_order(r, 1)->status, MATCHER_PLACED);
    assert_int_equal(matcher_result_objective(r), 800 + p.unplaced_penalty);
    assert_true(matcher_result_optimal(r));
    matcher_result_destroy(&r);
    free(x);
    free(y);
}

static void
test_split_redundancy_exclusion(void **state)
{
    (void) state;
    matcher_params_t p;
    plain_params(&p);
    fx_t *x = fx_new(10);
    for (uint32_t f = 0; f < 3; f++) {
        fx_factory(x, 0, 0);
        fx_offer(x, f, "laser-cutting", "acrylic", 10 + f, 0, 5, 60, 100);
    }
    fx_order(x, "laser-cutting", "acrylic", 100, 9)->split = 1;
    fx_order(x, "laser-cutting", "acrylic", 100, 9);             /* no split: above max */
    matcher_result_t *r = solve_ok(x, &p);
    const matcher_order_result_t *o0 = matcher_result_order(r, 0);
    assert_int_equal(o0->status, MATCHER_PLACED);
    assert_int_equal(o0->npieces, 2);
    assert_int_equal(o0->pieces[0].qty + o0->pieces[1].qty, 100);
    assert_int_equal(o0->pieces[0].factory[0], 0x10);           /* the cheapest first, 60 */
    assert_int_equal(o0->pieces[0].qty, 60);
    assert_int_equal(o0->cost, 60 * 10 + 40 * 11);
    assert_int_equal(matcher_result_order(r, 1)->status, MATCHER_ABOVE_MAX);
    assert_true(matcher_result_lower_bound(r) <= matcher_result_objective(r));
    matcher_result_destroy(&r);

    /* redundancy: require 4 capable factories, there are 3 */
    p.min_capable = 4;
    r = solve_ok(x, &p);
    assert_int_equal(matcher_result_order(r, 0)->status, MATCHER_REDUNDANCY);
    matcher_result_destroy(&r);
    p.min_capable = 3;
    r = solve_ok(x, &p);
    assert_int_equal(matcher_result_order(r, 0)->status, MATCHER_PLACED);
    matcher_result_destroy(&r);
    p.min_capable = 1;

    /* reassignment: a 50-unit order goes to factory 0x10 and names 0x11
     * as runner-up; excluding 0x10 moves it to 0x11. */
    x->pb.norders = 0;
    matcher_order_t *o = fx_order(x, "laser-cutting", "acrylic", 50, 9);
    r = solve_ok(x, &p);
    assert_int_equal(matcher_result_order(r, 0)->pieces[0].factory[0], 0x10);
    assert_int_equal(matcher_result_order(r, 0)->runner_up[0], 0x11);
    matcher_result_destroy(&r);
    memcpy(x->excl[0][0], x->fac[0].id, MATCHER_ID_LEN);
    o->exclude = (const uint8_t(*)[MATCHER_ID_LEN]) x->excl[0];
    o->nexclude = 1;
    r = solve_ok(x, &p);
    assert_int_equal(matcher_result_order(r, 0)->pieces[0].factory[0], 0x11);
    assert_int_equal(matcher_result_order(r, 0)->runner_up[0], 0x12);
    matcher_result_destroy(&r);
    memcpy(x->excl[0][1], x->fac[1].id, MATCHER_ID_LEN);
    o->nexclude = 2;
    x->fac[2].offers = NULL;        /* malformed problem is refused */
    assert_int_equal(matcher_solve(&x->pb, &p, &r), COFAB_EMALFORMED);
    assert_null(r);
    free(x);
}

/* The tamper test: a checker that cannot fail would prove nothing. */
static void
test_checker_catches_violations(void **state)
{
    (void) state;
    matcher_params_t p;
    plain_params(&p);
    fx_t *x = fx_new(5);
    fx_factory(x, 0, 0);
    fx_offer(x, 0, "cnc-milling", "steel", 10, 0, 5, 100, 10);
    fx_factory(x, 0, 0);
    fx_offer(x, 1, "sewing", "steel", 12, 0, 5, 100, 10);
    fx_offer(x, 1, "cnc-milling", "steel", 12, 0, 5, 100, 10);
    fx_order(x, "cnc-milling", "steel", 10, 2);
    fx_order(x, "cnc-milling", "steel", 10, 2);
    fx_order(x, "cnc-milling", "steel", 6, 2);
    matcher_result_t *r = solve_ok(x, &p);
    flat_t fl[8], bad[8];
    uint32_t n = flatten(r, fl, 8);
    assert_int_equal(n, 3);
    assert_null(check_flat(&x->pb, &p, fl, n));
    memcpy(bad, fl, sizeof fl);                 /* below MOQ */
    bad[2].qty = 4;
    assert_string_equal(check_flat(&x->pb, &p, bad, n), "quantity outside MOQ..max");
    memcpy(bad, fl, sizeof fl);                 /* everything on one factory: overload */
    for (uint32_t i = 0; i < n; i++)
        bad[i].factory[0] = 0x10;
    assert_string_equal(check_flat(&x->pb, &p, bad, n), "capacity overloaded");
    memcpy(bad, fl, sizeof fl);                 /* factory 0x10 does not sew */
    snprintf(bad[0].process, sizeof bad[0].process, "sewing");
    bad[0].factory[0] = 0x10;
    assert_string_equal(check_flat(&x->pb, &p, bad, n), "incapable factory");
    memcpy(bad, fl, sizeof fl);                 /* a day after the due day */
    bad[1].last_day = 2;
    assert_string_equal(check_flat(&x->pb, &p, bad, n), "planned days outside the window");
    x->ord[0].budget = 99;                      /* costs 100 or more */
    assert_string_equal(check_flat(&x->pb, &p, fl, n), "over budget");
    matcher_result_destroy(&r);
    free(x);
}

static void
test_distance(void **state)
{
    (void) state;
    /* one degree of longitude on the equator, R = 6371009 m */
    int64_t d = matcher_distance_m(0, 0, 0, 1000000);
    assert_true(d >= 111194 && d <= 111197);
    assert_int_equal(matcher_distance_m(10, 20, 10, 20), 0);
    uint64_t s = 7;
    for (int i = 0; i < 2000; i++) {
        int32_t la1 = (int32_t) rng_in(&s, -90000000, 90000000);
        int32_t lo1 = (int32_t) rng_in(&s, -180000000, 180000000);
        int32_t la2 = (int32_t) rng_in(&s, -90000000, 90000000);
        int32_t lo2 = (int32_t) rng_in(&s, -180000000, 180000000);
        double r = M_PI / 180e6;
        double a = sin((la2 - la1) * r / 2), b = sin((lo2 - lo1) * r / 2);
        double h = a * a + cos(la1 * r) * cos(la2 * r) * b * b;
        double ref = 2 * 6371009.0 * asin(sqrt(h));
        int64_t got = matcher_distance_m(la1, lo1, la2, lo2);
        assert_true(fabs((double) got - ref) < 3.0);
        assert_int_equal(got, matcher_distance_m(la2, lo2, la1, lo1));
    }
}

static const char *const s_procs[] = {"cnc-milling", "sewing"};
static const char *const s_mats[] = {"steel", "cotton"};

/* Random instance; split/exclusions/multi-item only when rich. */
static void
gen_random(fx_t *x, uint64_t seed, uint32_t nf, uint32_t no, uint32_t horizon, int rich)
{
    uint64_t s = seed;
    memset(x, 0, sizeof *x);
    x->pb.horizon = horizon;
    x->pb.factories = x->fac;
    x->pb.orders = x->ord;
    for (uint32_t f = 0; f < nf; f++) {
        fx_factory(x, (int32_t) rng_in(&s, -3000000, 3000000), (int32_t) rng_in(&s, -3000000, 3000000));
        matcher_factory_t *fa = &x->fac[f];
        fa->id[5] = (uint8_t) rng_next(&s);
        fa->lead_days = (int32_t) rng_in(&s, 0, 4);
        fa->on_time_pm = (int32_t) rng_in(&s, 500, 1000);
        fa->accept_pm = (int32_t) rng_in(&s, 500, 1000);
        fa->completed = (uint32_t) rng_in(&s, 0, 40);
        fa->reserve_pm = (int32_t) rng_in(&s, -1, 200);
        uint32_t noff = (uint32_t) rng_in(&s, 1, 2), p0 = (uint32_t) rng_in(&s, 0, 1);
        for (uint32_t k = 0; k < noff; k++) {
            matcher_offer_t *o = fx_offer(x, f, s_procs[(p0 + k) % 2], s_mats[rng_in(&s, 0, 1)],
                                          rng_in(&s, 5, 20), rng_in(&s, 0, 60), rng_in(&s, 1, 4),
                                          rng_in(&s, 15, 60), 0);
            if (rng_in(&s, 0, 1)) {
                snprintf(o->materials[1], sizeof o->materials[1], "%s",
                         strcmp(o->materials[0], "steel") ? "steel" : "cotton");
                o->nmaterials = 2;
            }
            for (uint32_t d = 0; d < horizon; d++) {
                x->cap[f][k][d] = rng_in(&s, 0, rich ? 12 : 7);
                x->load[f][k][d] = rng_in(&s, 0, 3) == 0 ? rng_in(&s, 0, 2) : 0;
            }
            o->load = rng_in(&s, 0, 1) ? x->load[f][k] : NULL;
        }
    }
    for (uint32_t i = 0; i < no; i++) {
        uint32_t pi = (uint32_t) rng_in(&s, 0, 1), mi = (uint32_t) rng_in(&s, 0, 1);
        matcher_order_t *o = fx_order(x, s_procs[pi], s_mats[mi], rng_in(&s, 1, 25),
                                      (int32_t) rng_in(&s, 2, (int64_t) horizon + 2));
        o->id[7] = (uint8_t) rng_next(&s);
        o->lat_e6 = (int32_t) rng_in(&s, -3000000, 3000000);
        o->lon_e6 = (int32_t) rng_in(&s, -3000000, 3000000);
        if (rng_in(&s, 0, 3) == 0)
            o->budget = rng_in(&s, 100, 600);
        if (rich && rng_in(&s, 0, 2) == 0) {
            snprintf(x->items[i][1].process, sizeof x->items[i][1].process, "%s", s_procs[1 - pi]);
            snprintf(x->items[i][1].material, sizeof x->items[i][1].material, "%s", s_mats[mi]);
            x->items[i][1].qty = rng_in(&s, 1, 25);
            o->nitems = 2;
        }
        if (rich && rng_in(&s, 0, 3) == 0)
            o->split = 1;
        if (rich && rng_in(&s, 0, 4) == 0) {
            memcpy(x->excl[i][0], x->fac[rng_in(&s, 0, nf - 1)].id, MATCHER_ID_LEN);
            o->exclude = (const uint8_t(*)[MATCHER_ID_LEN]) x->excl[i];
            o->nexclude = 1;
        }
    }
}

static void
shuffle_fx(fx_t *x, uint64_t seed)
{
    uint64_t s = seed;
    for (uint32_t i = x->pb.nfactories; i > 1; i--) {
        uint32_t j = (uint32_t) rng_in(&s, 0, i - 1);
        matcher_factory_t t = x->fac[i - 1];
        x->fac[i - 1] = x->fac[j];
        x->fac[j] = t;
    }
    for (uint32_t f = 0; f < x->pb.nfactories; f++) {
        matcher_offer_t *of = (matcher_offer_t *) x->fac[f].offers;
        if (x->fac[f].noffers == 2 && rng_in(&s, 0, 1)) {
            matcher_offer_t t = of[0];
            of[0] = of[1];
            of[1] = t;
        }
        for (uint32_t k = 0; k < x->fac[f].noffers; k++)
            if (of[k].nmaterials == 2) {
                char t[MATCHER_NAME_MAX + 1];
                memcpy(t, of[k].materials[0], sizeof t);
                memcpy(of[k].materials[0], of[k].materials[1], sizeof t);
                memcpy(of[k].materials[1], t, sizeof t);
            }
    }
    for (uint32_t i = x->pb.norders; i > 1; i--) {
        uint32_t j = (uint32_t) rng_in(&s, 0, i - 1);
        matcher_order_t t = x->ord[i - 1];
        x->ord[i - 1] = x->ord[j];
        x->ord[j] = t;
    }
    for (uint32_t o = 0; o < x->pb.norders; o++)
        if (x->ord[o].nitems == 2) {
            matcher_item_t *it = (matcher_item_t *) x->ord[o].items, t = it[0];
            it[0] = it[1];
            it[1] = t;
        }
}

static void
test_determinism(void **state)
{
    (void) state;
    fx_t *x = malloc(sizeof *x);
    assert_non_null(x);
    matcher_params_t p;
    matcher_params_default(&p);
    p.max_candidates = 6;                       /* exercise pruning too */
    gen_random(x, 42, NF, NO, H, 1);
    matcher_result_t *r = solve_ok(x, &p);
    char *j1 = NULL, *j2 = NULL;
    size_t n1 = 0, n2 = 0;
    uint8_t d1[32], d2[32];
    assert_int_equal(matcher_result_json(r, &j1, &n1), 0);
    assert_int_equal(matcher_result_digest(r, d1), 0);
    assert_true(matcher_result_nplaced(r) > NO / 2);
    uint32_t split_pieces = 0;
    for (uint32_t o = 0; o < matcher_result_norders(r); o++)
        split_pieces += matcher_result_order(r, o)->npieces > 2;
    matcher_result_destroy(&r);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        shuffle_fx(x, seed);
        r = solve_ok(x, &p);
        assert_int_equal(matcher_result_json(r, &j2, &n2), 0);
        assert_int_equal(matcher_result_digest(r, d2), 0);
        assert_int_equal(n1, n2);
        assert_memory_equal(j1, j2, n1);
        assert_memory_equal(d1, d2, 32);
        free(j2);
        matcher_result_destroy(&r);
    }
    /* a different parameter gives different bytes */
    p.late_per_day++;
    r = solve_ok(x, &p);
    assert_int_equal(matcher_result_json(r, &j2, &n2), 0);
    assert_true(n1 != n2 || memcmp(j1, j2, n1) != 0);
    print_message("determinism: %zu JSON bytes, %u orders with >2 pieces\n", n1, split_pieces);
    free(j2);
    free(j1);
    matcher_result_destroy(&r);
    free(x);
}

/* Reads a problem file (tests run from the repo root). */
static problem_doc_t *
read_problem(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static const size_t cap = 1 << 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n = fread(buf, 1, cap, f);
    assert_true(n > 0 && n < cap);
    fclose(f);
    problem_doc_t *d = NULL;
    char err[160];
    assert_int_equal(problem_parse_json(buf, n, &d, err, sizeof err), 0);
    free(buf);
    return d;
}

/* Fuzzer regression: three cnc jobs cannot all be placed whole, but the
 * split order's item can be cut over two factories. The exact search
 * (whole jobs only) proved a penalty into its "optimum" and that was
 * reported as the bound, 10^13 above the real objective. */
static void
test_bound_with_split(void **state)
{
    (void) state;
    problem_doc_t *d = read_problem("tests/fuzz/corpus/fuzz_problem/regress-bound-above-objective.json");
    const matcher_problem_t *pb = problem_doc_problem(d);
    matcher_params_t p = *problem_doc_params(d), fz = p;
    fz.lagr_iters = 20;                     /* the fuzz target's budgets */
    fz.ls_budget = 20000;
    fz.bnb_nodes = 2000;
    const matcher_params_t *ps[2] = {&p, &fz};
    for (int k = 0; k < 2; k++) {
        matcher_result_t *r = NULL;
        assert_int_equal(matcher_solve(pb, ps[k], &r), 0);
        /* every order that can be placed is: the split one in pieces */
        assert_int_equal(matcher_result_nplaced(r), 3);
        assert_int_equal(matcher_result_objective(r), matcher_result_cost(r));
        assert_true(matcher_result_lower_bound(r) <= matcher_result_objective(r));
        assert_true(!matcher_result_optimal(r)
                    || matcher_result_lower_bound(r) == matcher_result_objective(r));
        matcher_result_destroy(&r);
    }
    /* Without splitting the exact search decides: one cnc job must stay
     * out, and the bound proves it (penalty included, equal to the
     * objective). */
    matcher_order_t ord[8];
    assert_true(pb->norders <= 8);
    memcpy(ord, pb->orders, pb->norders * sizeof *ord);
    for (size_t o = 0; o < pb->norders; o++)
        ord[o].split = 0;
    matcher_problem_t whole = *pb;
    whole.orders = ord;
    matcher_result_t *r = NULL;
    assert_int_equal(matcher_solve(&whole, &p, &r), 0);
    assert_int_equal(matcher_result_nplaced(r), 2);
    assert_true(matcher_result_optimal(r));
    assert_int_equal(matcher_result_lower_bound(r), matcher_result_objective(r));
    assert_true(matcher_result_objective(r) > p.unplaced_penalty);
    matcher_result_destroy(&r);
    problem_doc_destroy(&d);

    /* Fuzzer regression: two items of one whole order on one offer (two
     * materials) were each checked against the offer's room alone, so
     * together they overloaded it and the objective undercut the bound. */
    d = read_problem("tests/fuzz/corpus/fuzz_problem/regress-same-offer-items.json");
    assert_int_equal(matcher_solve(problem_doc_problem(d), problem_doc_params(d), &r), 0);
    assert_true(matcher_result_lower_bound(r) <= matcher_result_objective(r));
    matcher_result_destroy(&r);
    problem_doc_destroy(&d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_checked),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_split_redundancy_exclusion),
        cmocka_unit_test(test_checker_catches_violations),
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_bound_with_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
