/* test_matcher_prop.c — property test: on a few hundred seeded random small
 * instances the matcher's objective equals the optimum of an exhaustive
 * search written independently here, and its lower bound never exceeds it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/matcher.h"

#define NF 4
#define NO 8
#define H 8

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

static matcher_result_t *
solve_ok(const fx_t *x, const matcher_params_t *p)
{
    matcher_result_t *r = NULL;
    assert_int_equal(matcher_solve(&x->pb, p, &r), 0);
    return r;
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

/* Exact capacity test of a candidate assignment: per factory offer, the
 * units due by day D fit the usable capacity of the days before D. */
static int
ex_capacity_ok(const fx_t *x, const matcher_params_t *p, const int32_t *pick)
{
    for (uint32_t f = 0; f < x->pb.nfactories; f++) {
        const matcher_factory_t *fa = &x->fac[f];
        int32_t res = fa->reserve_pm >= 0 ? fa->reserve_pm : p->reserve_pm;
        for (uint32_t k = 0; k < fa->noffers; k++) {
            const matcher_offer_t *of = &fa->offers[k];
            int64_t capsum = 0;
            for (int32_t D = 1; D <= (int32_t) x->pb.horizon; D++) {
                int64_t u = of->cap[D - 1] * (1000 - res) / 1000 - (of->load ? of->load[D - 1] : 0);
                capsum += u > 0 ? u : 0;
                int64_t due_by = 0;
                for (uint32_t o = 0; o < x->pb.norders; o++) {
                    const matcher_order_t *od = &x->ord[o];
                    int32_t end = od->due_day < (int32_t) x->pb.horizon ? od->due_day
                                                                        : (int32_t) x->pb.horizon;
                    if (pick[o] != (int32_t) f || end > D)
                        continue;
                    for (uint32_t i = 0; i < od->nitems; i++)
                        if (!strcmp(od->items[i].process, of->process))
                            due_by += od->items[i].qty;
                }
                if (due_by > capsum)
                    return 0;
            }
        }
    }
    return 1;
}

/* ---- exhaustive reference (independent of the matcher's code) -------- */

typedef struct {
    const fx_t *x;
    const matcher_params_t *p;
    int32_t pick[8];                /* factory per order, -1 unplaced */
    int64_t best;                   /* best objective */
} ex_t;

static int64_t
ex_var(const matcher_params_t *p, const matcher_order_t *od, const matcher_factory_t *fa)
{
    int64_t goods = 0, q = 0;
    for (uint32_t k = 0; k < od->nitems; k++) {
        goods += find_offer(fa, od->items[k].process, od->items[k].material)->unit_price
                 * od->items[k].qty;
        q += od->items[k].qty;
    }
    int64_t dist = matcher_distance_m(od->lat_e6, od->lon_e6, fa->lat_e6, fa->lon_e6);
    int64_t ship = dist * p->ship_per_km / 1000 + dist * q * p->ship_per_unit_km_milli / 1000000;
    int64_t transit = (dist + p->km_per_day * 1000 - 1) / (p->km_per_day * 1000);
    int64_t late = fa->lead_days + transit - od->due_day;
    int64_t cr = goods * p->reliability_pm / 1000 * fa->on_time_pm / 1000 * fa->accept_pm / 1000;
    uint32_t done = fa->completed < p->reliability_full ? fa->completed : p->reliability_full;
    cr = cr * done / p->reliability_full;
    return goods + ship + (late > 0 ? late * p->late_per_day : 0) - cr;
}

static int64_t
ex_setups(const matcher_order_t *od, const matcher_factory_t *fa)
{
    int64_t s = 0;
    for (uint32_t k = 0; k < od->nitems; k++)
        s += find_offer(fa, od->items[k].process, od->items[k].material)->setup_cost;
    return s;
}

/* Static options of order o at factory f (capability, MOQ/max, budget). */
static int
ex_option(const ex_t *e, uint32_t o, uint32_t f)
{
    const matcher_order_t *od = &e->x->ord[o];
    const matcher_factory_t *fa = &e->x->fac[f];
    for (uint32_t e2 = 0; e2 < od->nexclude; e2++)
        if (!memcmp(od->exclude[e2], fa->id, MATCHER_ID_LEN))
            return 0;
    for (uint32_t k = 0; k < od->nitems; k++) {
        const matcher_offer_t *of = find_offer(fa, od->items[k].process, od->items[k].material);
        if (!of || od->items[k].qty < of->moq || od->items[k].qty > of->max_qty)
            return 0;
    }
    return !(od->budget > 0 && ex_var(e->p, od, fa) + ex_setups(od, fa) > od->budget);
}

static void
ex_eval(ex_t *e, const int *placeable)
{
    const fx_t *x = e->x;
    uint32_t no = x->pb.norders;
    int64_t obj = 0;
    for (uint32_t o = 0; o < no; o++) {
        if (e->pick[o] < 0) {
            obj += placeable[o] ? e->p->unplaced_penalty : 0;
            continue;
        }
        const matcher_order_t *od = &x->ord[o];
        const matcher_factory_t *fa = &x->fac[e->pick[o]];
        obj += ex_var(e->p, od, fa);
        for (uint32_t k = 0; k < od->nitems; k++) {
            /* batching: a setup per (factory, process, material, window) */
            int first = 1;
            for (uint32_t q = 0; q < o && first; q++) {
                if (e->pick[q] != e->pick[o]
                    || x->ord[q].due_day / (int32_t) e->p->batch_window
                       != od->due_day / (int32_t) e->p->batch_window)
                    continue;
                for (uint32_t kk = 0; kk < x->ord[q].nitems; kk++)
                    if (!strcmp(x->ord[q].items[kk].process, od->items[k].process)
                        && !strcmp(x->ord[q].items[kk].material, od->items[k].material))
                        first = 0;
            }
            if (first)
                obj += find_offer(fa, od->items[k].process, od->items[k].material)->setup_cost;
        }
    }
    if (obj >= e->best)
        return;
    if (ex_capacity_ok(x, e->p, e->pick))
        e->best = obj;
}

static void
ex_rec(ex_t *e, uint32_t o, const int *placeable)
{
    if (o == e->x->pb.norders) {
        ex_eval(e, placeable);
        return;
    }
    e->pick[o] = -1;
    ex_rec(e, o + 1, placeable);
    for (uint32_t f = 0; f < e->x->pb.nfactories; f++) {
        if (!ex_option(e, o, f))
            continue;
        e->pick[o] = (int32_t) f;
        ex_rec(e, o + 1, placeable);
    }
    e->pick[o] = -1;
}

static int64_t
exhaustive(const fx_t *x, const matcher_params_t *p)
{
    ex_t e = {x, p, {0}, INT64_MAX};
    int placeable[8] = {0};
    /* an order counts in the objective if it fits somewhere on its own */
    for (uint32_t o = 0; o < x->pb.norders; o++)
        for (uint32_t f = 0; f < x->pb.nfactories && !placeable[o]; f++) {
            if (!ex_option(&e, o, f))
                continue;
            for (uint32_t q = 0; q < x->pb.norders; q++)
                e.pick[q] = -1;
            e.pick[o] = (int32_t) f;
            int64_t keep = e.best;
            e.best = INT64_MAX;
            int none[8] = {0};
            ex_eval(&e, none);
            placeable[o] = e.best != INT64_MAX;
            e.best = keep;
        }
    ex_rec(&e, 0, placeable);
    return e.best;
}

static void
test_property_exhaustive(void **state)
{
    (void) state;
    fx_t *x = malloc(sizeof *x);
    assert_non_null(x);
    matcher_params_t exact, heur;
    matcher_params_default(&exact);
    exact.batch_window = 3;
    heur = exact;
    heur.bnb_nodes = 0;                         /* Lagrangian + local search only */
    uint32_t equal_heur = 0, runs = 300, optimal_flag = 0, conflicts = 0, lb_tight = 0;
    int64_t worst = 0;
    for (uint32_t i = 0; i < runs; i++) {
        uint32_t nf = 2 + i % 3, no = 3 + i % 5;
        gen_random(x, 1000 + i, nf, no, 8, i % 2);
        for (uint32_t o = 0; o < no; o++) {     /* exhaustive reference: no splits */
            x->ord[o].split = 0;
            x->ord[o].nexclude = i % 5 == 0 ? x->ord[o].nexclude : 0;
        }
        int64_t opt = exhaustive(x, &exact);
        conflicts += opt >= exact.unplaced_penalty;
        matcher_result_t *r = solve_ok(x, &exact);
        assert_int_equal(matcher_result_objective(r), opt);
        assert_true(matcher_result_lower_bound(r) <= opt);
        optimal_flag += (uint32_t) matcher_result_optimal(r);
        matcher_result_destroy(&r);
        r = solve_ok(x, &heur);
        assert_true(matcher_result_lower_bound(r) <= opt);
        lb_tight += matcher_result_lower_bound(r) == opt;
        assert_true(matcher_result_objective(r) >= opt);
        if (matcher_result_objective(r) == opt)
            equal_heur++;
        else if (matcher_result_objective(r) - opt > worst)
            worst = matcher_result_objective(r) - opt;
        matcher_result_destroy(&r);
    }
    print_message("exhaustive: %u/%u proved optimal with the exact search; heuristic alone "
                  "equal on %u/%u (worst excess %lld cents), its bound tight on %u; %u instances "
                  "leave an order unplaced\n", optimal_flag, runs, equal_heur, runs,
                  (long long) worst, lb_tight, conflicts);
    assert_int_equal(optimal_flag, runs);
    /* documented claim (docs/matcher.md): without the exact search the
     * heuristic matches the optimum on at least 90% of these instances */
    assert_true(equal_heur * 10 >= runs * 9);
    free(x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_exhaustive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
