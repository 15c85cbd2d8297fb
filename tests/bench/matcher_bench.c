/* matcher_bench.c — matcher speed and quality: seeded instances of
 * 100×10, 1k×100 and 10k orders × 1k factories (median wall and CPU time
 * per solve, gap to the proved lower bound), exact optima from the cbc MIP
 * solver where it can solve them, and OR-Library / generated GAP instances.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cofab/matcher.h"
#include "cofab/problem.h"
#include "cofab/util.h"

extern char **environ;

#define H 30

static const char *const s_proc[] = {"cnc-milling", "laser-cutting", "sewing", "fdm-print"};
static const char *const s_mat[] = {"steel", "acrylic", "cotton"};

/* A generated matcher instance and its storage. */
typedef struct {
    matcher_problem_t pb;
    matcher_factory_t *fac;
    matcher_offer_t *off;
    int64_t *cal;
    matcher_order_t *ord;
    matcher_item_t *items;
} inst_t;

static uint64_t
rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t
rin(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t) (rnd(s) % (uint64_t) (hi - lo + 1));
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of the process (all threads): on a shared machine the wall
 * time also counts other people's jobs. */
static double
cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
gen(inst_t *in, uint32_t nf, uint32_t no, uint64_t seed, int splits)
{
    uint64_t s = seed;
    memset(in, 0, sizeof *in);
    in->fac = calloc(nf, sizeof *in->fac);
    in->off = calloc((size_t) nf * 3, sizeof *in->off);
    in->cal = calloc((size_t) nf * 3 * H, sizeof *in->cal);
    in->ord = calloc(no, sizeof *in->ord);
    in->items = calloc((size_t) no * 2, sizeof *in->items);
    if (!in->fac || !in->off || !in->cal || !in->ord || !in->items) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    for (uint32_t f = 0; f < nf; f++) {
        matcher_factory_t *fa = &in->fac[f];
        for (int b = 0; b < 8; b++)
            fa->id[b] = (uint8_t) rnd(&s);
        fa->lat_e6 = (int32_t) rin(&s, 36000000, 60000000);
        fa->lon_e6 = (int32_t) rin(&s, -10000000, 30000000);
        fa->lead_days = (int32_t) rin(&s, 1, 5);
        fa->on_time_pm = (int32_t) rin(&s, 800, 1000);
        fa->accept_pm = (int32_t) rin(&s, 850, 1000);
        fa->completed = (uint32_t) rin(&s, 0, 50);
        fa->reserve_pm = -1;
        fa->offers = &in->off[(size_t) f * 3];
        uint32_t n = (uint32_t) rin(&s, 2, 3), p0 = (uint32_t) rin(&s, 0, 3);
        for (uint32_t k = 0; k < n; k++) {
            matcher_offer_t *o = &in->off[(size_t) f * 3 + k];
            snprintf(o->process, sizeof o->process, "%s", s_proc[(p0 + k) % 4]);
            uint32_t nm = (uint32_t) rin(&s, 1, 3), m0 = (uint32_t) rin(&s, 0, 2);
            for (uint32_t m = 0; m < nm; m++)
                snprintf(o->materials[m], sizeof o->materials[m], "%s", s_mat[(m0 + m) % 3]);
            o->nmaterials = nm;
            o->unit_price = rin(&s, 100, 5000);
            o->setup_cost = rin(&s, 0, 20000);
            o->moq = rin(&s, 1, 20);
            o->max_qty = rin(&s, 200, 2000);
            int64_t *cal = &in->cal[((size_t) f * 3 + k) * H];
            int64_t base = rin(&s, 10, 60);
            for (int d = 0; d < H; d++)
                cal[d] = (d % 7 >= 5) ? 0 : base;
            o->cap = cal;
        }
        fa->noffers = n;
    }
    for (uint32_t i = 0; i < no; i++) {
        matcher_order_t *o = &in->ord[i];
        for (int b = 0; b < 8; b++)
            o->id[b] = (uint8_t) rnd(&s);
        o->items = &in->items[(size_t) i * 2];
        matcher_item_t *it = &in->items[(size_t) i * 2];
        uint32_t p = (uint32_t) rin(&s, 0, 3), m = (uint32_t) rin(&s, 0, 2);
        snprintf(it[0].process, sizeof it[0].process, "%s", s_proc[p]);
        snprintf(it[0].material, sizeof it[0].material, "%s", s_mat[m]);
        it[0].qty = rin(&s, 5, 150);
        o->nitems = 1;
        if (rin(&s, 0, 4) == 0) {
            snprintf(it[1].process, sizeof it[1].process, "%s", s_proc[(p + 1) % 4]);
            snprintf(it[1].material, sizeof it[1].material, "%s", s_mat[m]);
            it[1].qty = rin(&s, 5, 150);
            o->nitems = 2;
        }
        o->due_day = (int32_t) rin(&s, 5, H);
        o->lat_e6 = (int32_t) rin(&s, 36000000, 60000000);
        o->lon_e6 = (int32_t) rin(&s, -10000000, 30000000);
        o->split = splits && rin(&s, 0, 9) == 0;
    }
    in->pb = (matcher_problem_t){H, in->fac, nf, in->ord, no};
}

static void
inst_free(inst_t *in)
{
    free(in->fac);
    free(in->off);
    free(in->cal);
    free(in->ord);
    free(in->items);
}

/* ---- cbc ----------------------------------------------------------- */

typedef struct {
    int ran;                        /* cbc ran and wrote a solution file */
    int found;                      /* it found an integer solution */
    int optimal;                    /* proved optimal */
    double value;                   /* its objective (if found) */
    double bound;                   /* proved lower bound (LP or after cuts), 0 if none */
    double secs;                    /* wall time */
} cbc_t;

static int
cbc_available(void)
{
    return access("/usr/bin/cbc", X_OK) == 0 || access("/usr/local/bin/cbc", X_OK) == 0;
}

/* Runs cbc on dir/model.lp with a time limit; parses dir/sol.txt. */
static cbc_t
cbc_run(const char *dir, int limit_s)
{
    cbc_t r = {0, 0, 0, 0, 0, 0};
    char lp[256], sol[256], log[256], sec[32];
    snprintf(lp, sizeof lp, "%s/model.lp", dir);
    snprintf(sol, sizeof sol, "%s/sol.txt", dir);
    snprintf(log, sizeof log, "%s/cbc.log", dir);
    snprintf(sec, sizeof sec, "%d", limit_s);
    char *argv[] = {"cbc", lp, "-sec", sec, "-threads", "1", "-solve", "-solu", sol, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    double t0 = now_ms();
    int rc = posix_spawnp(&pid, "cbc", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return r;
    int st = 0;
    waitpid(pid, &st, 0);
    r.secs = (now_ms() - t0) / 1e3;
    /* First line of the solution file: "Optimal - objective value V",
     * "Stopped on time - objective value V" (an incumbent), or "Stopped on
     * time (no integer solution - continuous used) - objective value V":
     * then V is only the LP relaxation, a bound, not a solution. */
    FILE *f = fopen(sol, "r");
    char line[256];
    double v = 0;
    if (f && fgets(line, sizeof line, f)) {
        char *o = strstr(line, "objective value");
        if (o && sscanf(o, "objective value %lf", &v) == 1) {
            r.ran = 1;
            r.optimal = strncmp(line, "Optimal", 7) == 0;
            r.found = strstr(line, "no integer solution") == NULL && strstr(line, "nfeasible") == NULL;
            if (r.found)
                r.value = v;
            else
                r.bound = v;
        }
    }
    if (f)
        fclose(f);
    /* cbc's proved bound: the last "best possible X" of its log */
    f = fopen(log, "r");
    while (f && fgets(line, sizeof line, f)) {
        char *o = strstr(line, "best possible ");
        double b;
        if (o && sscanf(o, "best possible %lf", &b) == 1 && b > r.bound)
            r.bound = b;
    }
    if (f)
        fclose(f);
    if (r.optimal)
        r.bound = r.value;
    unlink(lp);
    unlink(sol);
    unlink(log);
    return r;
}

/* Independent cost model (same formulas as docs/matcher.md). */
static int64_t
var_cost(const matcher_params_t *p, const matcher_order_t *od, const matcher_factory_t *fa,
         const matcher_offer_t **of)
{
    int64_t goods = 0, q = 0;
    for (uint32_t k = 0; k < od->nitems; k++) {
        goods += of[k]->unit_price * od->items[k].qty;
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

static const matcher_offer_t *
offer_for(const matcher_factory_t *fa, const matcher_item_t *it)
{
    for (uint32_t k = 0; k < fa->noffers; k++) {
        if (strcmp(fa->offers[k].process, it->process))
            continue;
        for (uint32_t m = 0; m < fa->offers[k].nmaterials; m++)
            if (!strcmp(fa->offers[k].materials[m], it->material))
                return &fa->offers[k];
    }
    return NULL;
}

static int64_t
usable(const matcher_params_t *p, const matcher_factory_t *fa, const matcher_offer_t *of, int d)
{
    int32_t r = fa->reserve_pm >= 0 ? fa->reserve_pm : p->reserve_pm;
    int64_t u = of->cap[d] * (1000 - r) / 1000 - (of->load ? of->load[d] : 0);
    return u > 0 ? u : 0;
}

/* Writes the matcher model (no splits) as a MIP: x per feasible (order,
 * factory), y per batching group, u per order (unplaced), nested capacity
 * rows per factory offer and due day. */
static int
write_matcher_lp(const char *path, const inst_t *in, const matcher_params_t *p)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    const matcher_problem_t *pb = &in->pb;
    uint32_t nf = pb->nfactories, no = pb->norders;
    int8_t *ok = calloc((size_t) nf * no, 1);
    int64_t *vc = calloc((size_t) nf * no, sizeof *vc);
    for (uint32_t o = 0; o < no; o++) {
        const matcher_order_t *od = &pb->orders[o];
        int32_t end = od->due_day < H ? od->due_day : H;
        for (uint32_t k = 0; k < nf; k++) {
            const matcher_factory_t *fa = &pb->factories[k];
            const matcher_offer_t *of[2];
            int good = 1;
            for (uint32_t i = 0; i < od->nitems && good; i++) {
                of[i] = offer_for(fa, &od->items[i]);
                if (!of[i] || od->items[i].qty < of[i]->moq || od->items[i].qty > of[i]->max_qty)
                    good = 0;
                else {
                    int64_t room = 0;
                    for (int d = 0; d < end; d++)
                        room += usable(p, fa, of[i], d);
                    good = room >= od->items[i].qty;
                }
            }
            if (good) {
                ok[(size_t) o * nf + k] = 1;
                vc[(size_t) o * nf + k] = var_cost(p, od, fa, of);
            }
        }
    }
    fprintf(f, "Minimize\n obj:");
    for (uint32_t o = 0; o < no; o++) {
        int any = 0;
        for (uint32_t k = 0; k < nf; k++)
            if (ok[(size_t) o * nf + k]) {
                fprintf(f, " + %lld x%u_%u\n", (long long) vc[(size_t) o * nf + k], o, k);
                any = 1;
            }
        if (any)
            fprintf(f, " + %lld u%u\n", (long long) p->unplaced_penalty, o);
    }
    /* groups: factory k, offer index, material name, window */
    for (uint32_t k = 0; k < nf; k++)
        for (uint32_t q = 0; q < pb->factories[k].noffers; q++)
            for (uint32_t m = 0; m < pb->factories[k].offers[q].nmaterials; m++)
                for (int w = 0; w <= H / (int) p->batch_window; w++)
                    fprintf(f, " + %lld y%u_%u_%u_%d\n",
                            (long long) pb->factories[k].offers[q].setup_cost, k, q, m, w);
    fprintf(f, "Subject To\n");
    for (uint32_t o = 0; o < no; o++) {
        int any = 0;
        for (uint32_t k = 0; k < nf; k++)
            if (ok[(size_t) o * nf + k]) {
                if (!any)
                    fprintf(f, " a%u:", o);
                fprintf(f, " + x%u_%u", o, k);
                any = 1;
            }
        if (any)
            fprintf(f, " + u%u = 1\n", o);
    }
    for (uint32_t o = 0; o < no; o++) {
        const matcher_order_t *od = &pb->orders[o];
        for (uint32_t k = 0; k < nf; k++) {
            if (!ok[(size_t) o * nf + k])
                continue;
            const matcher_factory_t *fa = &pb->factories[k];
            for (uint32_t i = 0; i < od->nitems; i++) {
                const matcher_offer_t *of = offer_for(fa, &od->items[i]);
                uint32_t q = (uint32_t) (of - fa->offers), m = 0;
                while (strcmp(of->materials[m], od->items[i].material))
                    m++;
                fprintf(f, " x%u_%u - y%u_%u_%u_%d <= 0\n", o, k, k, q, m,
                        od->due_day / (int) p->batch_window);
            }
        }
    }
    /* nested capacity: units due by day D fit the usable days before D */
    for (uint32_t k = 0; k < nf; k++) {
        const matcher_factory_t *fa = &pb->factories[k];
        for (uint32_t q = 0; q < fa->noffers; q++) {
            const matcher_offer_t *of = &fa->offers[q];
            int64_t cum = 0;
            for (int D = 1; D <= H; D++) {
                cum += usable(p, fa, of, D - 1);
                int ends_here = 0;
                for (uint32_t o = 0; o < no && !ends_here; o++) {
                    int32_t end = pb->orders[o].due_day < H ? pb->orders[o].due_day : H;
                    if (ok[(size_t) o * nf + k] && end == D)
                        for (uint32_t i = 0; i < pb->orders[o].nitems; i++)
                            ends_here |= offer_for(fa, &pb->orders[o].items[i]) == of;
                }
                if (!ends_here)
                    continue;
                for (uint32_t o = 0; o < no; o++) {
                    const matcher_order_t *od = &pb->orders[o];
                    int32_t end = od->due_day < H ? od->due_day : H;
                    if (!ok[(size_t) o * nf + k] || end > D)
                        continue;
                    for (uint32_t i = 0; i < od->nitems; i++)
                        if (offer_for(fa, &od->items[i]) == of)
                            fprintf(f, " + %lld x%u_%u", (long long) od->items[i].qty, o, k);
                }
                fprintf(f, " <= %lld\n", (long long) cum);
            }
        }
    }
    fprintf(f, "Binary\n");
    for (uint32_t o = 0; o < no; o++) {
        int any = 0;
        for (uint32_t k = 0; k < nf; k++)
            if (ok[(size_t) o * nf + k]) {
                fprintf(f, " x%u_%u\n", o, k);
                any = 1;
            }
        if (any)
            fprintf(f, " u%u\n", o);
    }
    for (uint32_t k = 0; k < nf; k++)
        for (uint32_t q = 0; q < pb->factories[k].noffers; q++)
            for (uint32_t m = 0; m < pb->factories[k].offers[q].nmaterials; m++)
                for (int w = 0; w <= H / (int) p->batch_window; w++)
                    fprintf(f, " y%u_%u_%u_%d\n", k, q, m, w);
    fprintf(f, "End\n");
    int bad = ferror(f);
    fclose(f);
    free(ok);
    free(vc);
    return bad ? -1 : 0;
}

static int
write_gap_lp(const char *path, const matcher_gap_t *g)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "Minimize\n obj:");
    for (uint32_t i = 0; i < g->m; i++)
        for (uint32_t j = 0; j < g->n; j++)
            fprintf(f, " + %lld x%u_%u\n", (long long) g->cost[(size_t) i * g->n + j], i, j);
    fprintf(f, "Subject To\n");
    for (uint32_t j = 0; j < g->n; j++) {
        fprintf(f, " j%u:", j);
        for (uint32_t i = 0; i < g->m; i++)
            fprintf(f, " + x%u_%u", i, j);
        fprintf(f, " = 1\n");
    }
    for (uint32_t i = 0; i < g->m; i++) {
        fprintf(f, " c%u:", i);
        for (uint32_t j = 0; j < g->n; j++)
            fprintf(f, " + %lld x%u_%u", (long long) g->res[(size_t) i * g->n + j], i, j);
        fprintf(f, " <= %lld\n", (long long) g->cap[i]);
    }
    fprintf(f, "Binary\n");
    for (uint32_t i = 0; i < g->m; i++)
        for (uint32_t j = 0; j < g->n; j++)
            fprintf(f, " x%u_%u\n", i, j);
    fprintf(f, "End\n");
    int bad = ferror(f);
    fclose(f);
    return bad ? -1 : 0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* One matcher size: median time of runs, bound gap, cbc column. */
static void
bench_matcher(uint32_t no, uint32_t nf, int runs, int cbc_limit, const char *tmpdir)
{
    inst_t in;
    gen(&in, nf, no, 0xC0FAB + no, no >= 10000);  /* split orders only in the big one: the MIP has none */
    matcher_params_t p;
    matcher_params_default(&p);
    p.unplaced_penalty = 100000000;          /* 1e6.00: keeps the MIP well scaled */
    double t[9], cpu[9];
    matcher_result_t *r = NULL;
    for (int k = 0; k < runs; k++) {
        matcher_result_destroy(&r);
        double t0 = now_ms(), c0 = cpu_ms();
        if (matcher_solve(&in.pb, &p, &r) != 0) {
            fprintf(stderr, "bench: solve failed\n");
            exit(1);
        }
        t[k] = now_ms() - t0;
        cpu[k] = cpu_ms() - c0;
    }
    qsort(t, (size_t) runs, sizeof *t, cmp_double);
    qsort(cpu, (size_t) runs, sizeof *cpu, cmp_double);
    int64_t obj = matcher_result_objective(r), lb = matcher_result_lower_bound(r);
    printf("matcher %6u orders x %5u factories: median %8.2f ms (%d runs, %.2f .. %.2f; "
           "CPU median %.2f ms), placed %u, objective %lld, bound %lld, gap to bound %.3f%%%s\n",
           no, nf, t[runs / 2], runs, t[0], t[runs - 1], cpu[runs / 2], matcher_result_nplaced(r),
           (long long) obj, (long long) lb,
           obj ? 100.0 * (double) (obj - lb) / (double) obj : 0.0,
           matcher_result_optimal(r) ? " (proved optimal)" : "");
    if (cbc_limit > 0 && tmpdir) {
        char lp[256];
        snprintf(lp, sizeof lp, "%s/model.lp", tmpdir);
        if (write_matcher_lp(lp, &in, &p) == 0) {
            cbc_t c = cbc_run(tmpdir, cbc_limit);
            if (!c.ran)
                printf("    cbc: no result\n");
            else if (c.found)
                printf("    cbc: %s %.0f in %.1f s (bound %.0f); matcher gap to it %.3f%%, "
                       "to cbc's bound %.3f%%\n",
                       c.optimal ? "optimum" : "best found (time limit)", c.value, c.secs,
                       c.bound, 100.0 * ((double) obj - c.value) / c.value,
                       100.0 * ((double) obj - c.bound) / c.bound);
            else
                printf("    cbc: no integer solution in %.1f s; its proved bound %.0f, so the "
                       "matcher is at most %.3f%% above the optimum\n",
                       c.secs, c.bound, 100.0 * ((double) obj - c.bound) / c.bound);
        }
    }
    matcher_result_destroy(&r);
    inst_free(&in);
}

static void
bench_gap(const char *name, const matcher_gap_t *g, int maximize, int64_t published,
          int cbc_limit, const char *tmpdir)
{
    size_t mn = (size_t) g->m * g->n;
    int64_t top = 0, *c = malloc(mn * sizeof *c);
    if (!c)
        exit(1);
    for (size_t i = 0; i < mn; i++)
        top = g->cost[i] > top ? g->cost[i] : top;
    for (size_t i = 0; i < mn; i++)
        c[i] = maximize ? top - g->cost[i] : g->cost[i];
    matcher_gap_t h = {g->m, g->n, c, g->res, g->cap};
    matcher_params_t p;
    matcher_params_default(&p);
    matcher_gap_result_t r, r0;
    double t0 = now_ms();
    if (matcher_gap_solve(&h, &p, &r) != 0)
        exit(1);
    double ms = now_ms() - t0;
    p.bnb_nodes = 0;                         /* the heuristic alone, for comparison */
    if (matcher_gap_solve(&h, &p, &r0) != 0)
        exit(1);
    int64_t shift = (int64_t) g->n * top;
    int64_t v = maximize ? shift - r.cost : r.cost, v0 = maximize ? shift - r0.cost : r0.cost;
    int64_t b = maximize ? shift - r.lower_bound : r.lower_bound;
    printf("gap %-10s %3ux%-4u %6.2f ms  %s %lld (heuristic alone %lld) bound %lld%s%s",
           name, g->m, g->n, ms, maximize ? "max" : "min", (long long) v, (long long) v0,
           (long long) b, r.optimal ? " optimal" : "", r.feasible ? "" : " INFEASIBLE");
    if (published > 0)
        printf("  published %lld", (long long) published);
    if (cbc_limit > 0 && tmpdir) {
        char lp[256];
        snprintf(lp, sizeof lp, "%s/model.lp", tmpdir);
        if (write_gap_lp(lp, &h) == 0) {
            cbc_t cb = cbc_run(tmpdir, cbc_limit);
            if (cb.ran && cb.found) {
                double cv = maximize ? (double) shift - cb.value : cb.value;
                printf("  cbc %s %.0f (%.1f s) gap %.3f%% (alone %.3f%%)",
                       cb.optimal ? "opt" : "best", cv, cb.secs,
                       100.0 * (maximize ? cv - (double) v : (double) v - cv) / cv,
                       100.0 * (maximize ? cv - (double) v0 : (double) v0 - cv) / cv);
            }
        }
    }
    printf("\n");
    matcher_gap_result_free(&r);
    matcher_gap_result_free(&r0);
    free(c);
}

/* Chu & Beasley type C (kind 'C') or D instances, seeded. */
static matcher_gap_t
gen_gap(uint32_t m, uint32_t n, char kind, uint64_t seed, int64_t *buf)
{
    uint64_t s = seed;
    int64_t *c = buf, *r = buf + (size_t) m * n, *b = buf + 2 * (size_t) m * n;
    for (uint32_t i = 0; i < m; i++) {
        int64_t sum = 0;
        for (uint32_t j = 0; j < n; j++) {
            size_t k = (size_t) i * n + j;
            if (kind == 'C') {
                r[k] = rin(&s, 5, 25);
                c[k] = rin(&s, 10, 50);
            } else {
                r[k] = rin(&s, 1, 100);
                c[k] = 111 - r[k] + rin(&s, -10, 10);
            }
            sum += r[k];
        }
        b[i] = sum * 8 / 10 / m;
    }
    return (matcher_gap_t){m, n, c, r, b};
}

static void
usage(void)
{
    fprintf(stderr, "usage: matcher_bench [--no-cbc] [--only matcher|gap] [--runs N] "
                    "[--size 100|1000|10000]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int no_cbc = 0, runs = 0, do_matcher = 1, do_gap = 1;
    long size = 0;                           /* 0: every matcher size */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-cbc"))
            no_cbc = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            i++;
            do_matcher = !strcmp(argv[i], "matcher");
            do_gap = !strcmp(argv[i], "gap");
            if (!do_matcher && !do_gap)
                usage();
        } else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            size = atol(argv[++i]);
            if (size != 100 && size != 1000 && size != 10000)
                usage();
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = atoi(argv[++i]);
            if (runs < 1 || runs > 9)
                usage();
        } else
            usage();
    }
    int have_cbc = !no_cbc && cbc_available();
    char tmpl[] = "/tmp/cofab-bench-XXXXXX";
    const char *dir = have_cbc ? mkdtemp(tmpl) : NULL;
    if (!have_cbc && !no_cbc)
        printf("cbc not found (apt-get install coinor-cbc): exact column skipped\n");
    int lim = dir ? 60 : 0;
    if (do_matcher) {
        if (!size || size == 100)
            bench_matcher(100, 10, runs ? runs : 5, lim, dir);
        if (!size || size == 1000)
            bench_matcher(1000, 100, runs ? runs : 5, lim, dir);
        if (!size || size == 10000)
            bench_matcher(10000, 1000, runs ? runs : 5, 0, NULL);
    }
    if (!do_gap) {
        if (dir)
            rmdir(dir);
        return 0;
    }

    static const struct {
        const char *file;
        int64_t opt[5];
    } lib[] = {{"tests/matcher/gap/gap1.txt", {336, 327, 339, 341, 326}},
               {"tests/matcher/gap/gap2.txt", {434, 436, 420, 419, 428}},
               {"tests/matcher/gap/gap3.txt", {580, 564, 573, 570, 564}}};
    for (size_t f = 0; f < sizeof lib / sizeof lib[0]; f++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        problem_gapset_t *set = NULL;
        if (util_read_file(lib[f].file, PROBLEM_MAX_BYTES, &buf, &len) != 0
            || problem_parse_gap((const char *) buf, len, &set, NULL, 0) != 0) {
            printf("gap: cannot read %s\n", lib[f].file);
            free(buf);
            continue;
        }
        for (uint32_t k = 0; k < problem_gapset_count(set); k++) {
            char name[32];
            snprintf(name, sizeof name, "gap%zu-%u", f + 1, k + 1);
            bench_gap(name, problem_gapset_get(set, k), 1, lib[f].opt[k], dir ? 30 : 0, dir);
        }
        problem_gapset_destroy(&set);
        free(buf);
    }
    static const struct {
        uint32_t m, n;
        char kind;
    } gen_sizes[] = {{5, 100, 'C'}, {10, 100, 'C'}, {20, 100, 'C'}, {5, 100, 'D'},
                     {10, 100, 'D'}, {20, 200, 'D'}};
    for (size_t k = 0; k < sizeof gen_sizes / sizeof gen_sizes[0]; k++) {
        uint32_t m = gen_sizes[k].m, n = gen_sizes[k].n;
        int64_t *buf = malloc((2 * (size_t) m * n + m) * sizeof *buf);
        if (!buf)
            return 1;
        matcher_gap_t g = gen_gap(m, n, gen_sizes[k].kind, 77 + k, buf);
        char name[32];
        snprintf(name, sizeof name, "type%c-%u", gen_sizes[k].kind, (unsigned) k);
        bench_gap(name, &g, 0, 0, dir ? 60 : 0, dir);
        free(buf);
    }
    if (dir)
        rmdir(dir);
    return 0;
}
