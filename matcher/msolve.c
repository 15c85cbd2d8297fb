/* msolve.c — matcher_solve: runs the core on the canonical problem, splits
 * what must be split, checks order-level rules, plans production days and
 * assembles the result object.
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"

typedef __int128 s_i128;

struct matcher_result_s {
    matcher_params_t params;        /* parameters solved with */
    uint32_t norders;               /* orders, canonical order */
    matcher_order_result_t *orders; /* per order */
    matcher_piece_t *pieces;        /* all pieces, grouped by order */
    int64_t cost;                   /* placed orders' cost */
    int64_t objective;              /* cost + penalty × unplaced jobs */
    int64_t lower_bound;            /* proved bound on objective */
    int optimal;                    /* bound == objective */
    uint32_t nplaced;               /* placed orders */
    mcore_stats_t stats;            /* core statistics */
};

/* A piece while solving. */
typedef struct {
    uint32_t job;                   /* core job */
    uint32_t cand;                  /* core candidate it came from */
    uint32_t item;                  /* canonical item of the order */
    uint32_t res;                   /* resource */
    uint32_t group;                 /* batching group */
    int64_t qty;                    /* units */
    int64_t var;                    /* cost without setup */
    int live;                       /* 0 once withdrawn */
    int32_t first_day, last_day;    /* planned days */
} s_piece_t;

typedef struct {
    mbuild_t *b;                    /* canonical problem */
    s_piece_t *pc;                  /* pieces */
    uint32_t npc, cap;              /* count, allocated */
    int64_t *used;                  /* nres × nthr: load per threshold */
    int64_t *room;                  /* nres × nthr: free units for a job of threshold t */
    int32_t *warm;                  /* njobs: the core's first solution */
    int64_t *gsetup;                /* setup per batching group (core groups + new ones) */
    uint32_t ngroups, gcap;         /* groups, allocated */
} s_work_t;

/* Recomputes the free room of resource r: min over t' >= t of capacity
 * minus the load due by t'. */
static void
s_room(s_work_t *w, uint32_t r)
{
    const mcore_t *c = &w->b->core;
    size_t base = (size_t) r * c->nthr;
    int64_t cum = 0;
    for (uint32_t t = 0; t < c->nthr; t++) {
        cum += w->used[base + t];
        w->room[base + t] = c->cap[base + t] - cum;
    }
    for (uint32_t t = c->nthr - 1; t-- > 0;)
        if (w->room[base + t + 1] < w->room[base + t])
            w->room[base + t] = w->room[base + t + 1];
}

static int
s_add_piece(s_work_t *w, s_piece_t p)
{
    if (w->npc == w->cap) {
        uint32_t n = w->cap ? w->cap * 2 : 256;
        s_piece_t *q = realloc(w->pc, n * sizeof *q);
        if (!q)
            return COFAB_ENOMEM;
        w->pc = q;
        w->cap = n;
    }
    w->pc[w->npc++] = p;
    const mcore_t *c = &w->b->core;
    w->used[(size_t) p.res * c->nthr + c->job_thr[p.job]] += p.qty;
    s_room(w, p.res);
    return 0;
}

static void
s_drop_piece(s_work_t *w, uint32_t i)
{
    const mcore_t *c = &w->b->core;
    if (!w->pc[i].live)
        return;
    w->pc[i].live = 0;
    w->used[(size_t) w->pc[i].res * c->nthr + c->job_thr[w->pc[i].job]] -= w->pc[i].qty;
    s_room(w, w->pc[i].res);
}

/* Free units on resource r for a job with threshold thr. */
static int64_t
s_avail(const s_work_t *w, uint32_t r, uint32_t thr)
{
    return w->room[(size_t) r * w->b->core.nthr + thr];
}

static int
s_pc_cmp(const void *a, const void *c)
{
    const s_piece_t *x = a, *y = c;
    if (x->job != y->job)
        return x->job < y->job ? -1 : 1;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return x->cand < y->cand ? -1 : x->cand > y->cand;
}

/* Pieces of the core's whole-job placements. */
static int
s_whole_pieces(s_work_t *w, const int32_t *choice)
{
    mbuild_t *b = w->b;
    for (uint32_t j = 0; j < b->njobs; j++) {
        if (choice[j] < 0)
            continue;
        const mcore_cand_t *cd = &b->cands[choice[j]];
        uint32_t o = b->job_order[j];
        int64_t rest = cd->cost;
        for (uint32_t i = 0; i < cd->nuse; i++) {
            const mcore_use_t *u = &b->uses[cd->use_off + i];
            s_piece_t p = {j, (uint32_t) choice[j], b->job_item[j] + i, u->res, u->group,
                           u->amount, 0, 1, -1, -1};
            if (i > 0) {            /* first piece carries the joint remainder */
                const matcher_offer_t *of = b->res_offer[u->res];
                p.var = mbuild_var_cost(b, o, cd->agent, b->cand_dist[choice[j]], &of, &u->amount, 1);
                rest -= p.var;
            }
            if (s_add_piece(w, p))
                return COFAB_ENOMEM;
        }
        w->pc[w->npc - cd->nuse].var = rest;
    }
    return 0;
}

/* Group of (resource, slot, window): a core group, or a new one. */
static int
s_group(s_work_t *w, uint32_t res, uint32_t slot, uint32_t win, uint32_t *g)
{
    *g = mbuild_group(w->b, res, slot, win);
    if (*g != UINT32_MAX)
        return 0;
    if (w->ngroups == w->gcap) {
        uint32_t n = w->gcap * 2 + 16;
        int64_t *q = realloc(w->gsetup, n * sizeof *q);
        if (!q)
            return COFAB_ENOMEM;
        w->gsetup = q;
        w->gcap = n;
    }
    *g = w->ngroups++;
    w->gsetup[*g] = w->b->res_offer[res]->setup_cost;
    return 0;
}

/* Resets the load tables to the empty calendar. */
static void
s_clear(s_work_t *w)
{
    size_t nrt = (size_t) w->b->nres * w->b->core.nthr;
    memset(w->used, 0, nrt * sizeof(int64_t));
    memcpy(w->room, w->b->cap, nrt * sizeof(int64_t));
    for (uint32_t r = 0; r < w->b->nres; r++)
        s_room(w, r);
}

/* Jobs the plain greedy cannot fit into their pruned candidates get, as
 * one more candidate, the cheapest factory that still has room after it.
 * The core then starts from a candidate set that can hold them, and its
 * first solutions do not carry many unplaced penalties (which would also
 * blow up the bound's subgradient steps). */
static int
s_augment(s_work_t *w)
{
    mbuild_t *b = w->b;
    const mcore_t *c = &b->core;
    int rc = COFAB_ENOMEM;
    int32_t *g = malloc((b->njobs + 1) * sizeof *g);
    w->warm = malloc((b->njobs + 1) * sizeof *w->warm);
    uint32_t *jobs = malloc((b->njobs + 1) * sizeof *jobs);
    mbuild_cand_t *extra = malloc((b->njobs + 1) * sizeof *extra);
    if (!g || !jobs || !extra || !w->warm || mcore_greedy(c, &b->p, g) != 0)
        goto out;
    for (uint32_t j = 0; j < b->njobs; j++) {
        if (g[j] < 0)
            continue;
        const mcore_cand_t *cd = &c->cands[g[j]];
        for (uint32_t u = 0; u < cd->nuse; u++)
            w->used[(size_t) c->uses[cd->use_off + u].res * c->nthr + c->job_thr[j]]
                += c->uses[cd->use_off + u].amount;
    }
    for (uint32_t r = 0; r < b->nres; r++)
        s_room(w, r);
    uint32_t n = 0;
    for (uint32_t j = 0; j < b->njobs; j++) {
        if (g[j] >= 0)
            continue;
        const mbuild_cand_t *a = mbuild_job_fit(b, j, w->room);
        if (!a)
            continue;
        jobs[n] = j;
        extra[n++] = *a;
        for (uint32_t i = 0; i < b->job_nitems[j]; i++) {
            w->used[(size_t) a->res[i] * c->nthr + c->job_thr[j]]
                += mbuild_item(b, b->job_order[j], b->job_item[j] + i)->qty;
            s_room(w, a->res[i]);
        }
    }
    s_clear(w);
    /* the greedy's agents plus the new candidates: the core's first
     * solution, mapped to the candidate indices after the augmentation */
    for (uint32_t j = 0, x = 0; j < b->njobs; j++) {
        if (x < n && jobs[x] == j)
            g[j] = (int32_t) extra[x++].fac;
        else if (g[j] >= 0)
            g[j] = (int32_t) c->cands[g[j]].agent;
    }
    if (n && (rc = mbuild_augment(b, jobs, extra, n)) != 0)
        goto out;
    for (uint32_t j = 0; j < b->njobs; j++) {
        int32_t a = g[j];
        w->warm[j] = -1;
        for (uint32_t k = c->cand_off[j]; a >= 0 && k < c->cand_off[j + 1]; k++)
            if (c->cands[k].agent == (uint32_t) a)
                w->warm[j] = (int32_t) k;
    }
    b->core.warm = n ? w->warm : NULL;  /* the greedy alone: the core finds it too */
    rc = 0;
out:
    free(g);
    free(jobs);
    free(extra);
    return rc;
}

/* Second chance for whole jobs the core left unplaced: every capable
 * factory, not only the pruned candidates; the cheapest that fits. */
static int
s_fallback(s_work_t *w, const int32_t *choice)
{
    mbuild_t *b = w->b;
    for (uint32_t j = 0; j < b->njobs; j++) {
        uint32_t o = b->job_order[j];
        const matcher_order_t *od = &b->pb->orders[b->ord[o]];
        if (choice[j] >= 0 || od->split)
            continue;
        const mbuild_cand_t *a = mbuild_job_fit(b, j, w->room);
        if (!a)
            continue;
        uint32_t win = (uint32_t) od->due_day / b->p.batch_window;
        int64_t rest = a->cost;
        uint32_t first = w->npc;
        for (uint32_t i = 0; i < b->job_nitems[j]; i++) {
            uint32_t g;
            const matcher_offer_t *of = b->res_offer[a->res[i]];
            int64_t q = mbuild_item(b, o, b->job_item[j] + i)->qty;
            if (s_group(w, a->res[i], a->slot[i], win, &g))
                return COFAB_ENOMEM;
            s_piece_t p = {j, UINT32_MAX, b->job_item[j] + i, a->res[i], g, q, 0, 1, -1, -1};
            if (i > 0) {
                p.var = mbuild_var_cost(b, o, a->fac, a->dist, &of, &q, 1);
                rest -= p.var;
            }
            if (s_add_piece(w, p))
                return COFAB_ENOMEM;
        }
        w->pc[first].var = rest;
    }
    return 0;
}

/* Greedy split of unplaced split-order items over their candidates in
 * cost order, each piece within MOQ..max and the free capacity. */
static int
s_split(s_work_t *w, const int32_t *choice)
{
    mbuild_t *b = w->b;
    for (uint32_t j = 0; j < b->njobs; j++) {
        uint32_t o = b->job_order[j];
        const matcher_order_t *od = &b->pb->orders[b->ord[o]];
        if (choice[j] >= 0 || !od->split)
            continue;
        const mbuild_cand_t *alt = NULL;
        uint32_t n = mbuild_job_all(b, j, &alt);  /* every capable factory, cheapest first */
        uint32_t win = (uint32_t) od->due_day / b->p.batch_window;
        int64_t rem = mbuild_item(b, o, b->job_item[j])->qty;
        uint32_t start = w->npc, npieces = 0;
        for (uint32_t k = 0; k < n && rem > 0 && npieces < b->p.max_split; k++) {
            const matcher_offer_t *of = b->res_offer[alt[k].res[0]];
            int64_t q = s_avail(w, alt[k].res[0], b->job_thr[j]);
            if (q > rem)
                q = rem;
            if (q > of->max_qty)
                q = of->max_qty;
            /* a piece must be big enough to finish within max_split pieces */
            int64_t left = (int64_t) (b->p.max_split - npieces);
            if (q < of->moq || q < (rem + left - 1) / left)
                continue;
            uint32_t g;
            if (s_group(w, alt[k].res[0], alt[k].slot[0], win, &g))
                return COFAB_ENOMEM;
            s_piece_t p = {j, k, b->job_item[j], alt[k].res[0], g, q, 0, 1, -1, -1};
            p.var = mbuild_var_cost(b, o, alt[k].fac, alt[k].dist, &of, &q, 1);
            if (s_add_piece(w, p))
                return COFAB_ENOMEM;
            rem -= q;
            npieces++;
        }
        if (rem > 0)
            for (uint32_t i = start; i < w->npc; i++)
                s_drop_piece(w, i);
    }
    return 0;
}

/* Order rules: every job placed; split orders within budget. Sets
 * ord_status for entered orders and withdraws pieces of failed ones. */
static void
s_order_rules(s_work_t *w, matcher_status_t *status)
{
    mbuild_t *b = w->b;
    int64_t *qty = calloc(b->njobs + 1, sizeof(int64_t));
    int64_t *full = calloc(b->no + 1, sizeof(int64_t));
    if (!qty || !full) {            /* cannot happen for sizes already allocated */
        free(qty);
        free(full);
        return;
    }
    for (uint32_t i = 0; i < w->npc; i++) {
        if (!w->pc[i].live)
            continue;
        qty[w->pc[i].job] += w->pc[i].qty;
        full[b->job_order[w->pc[i].job]] += w->pc[i].var + w->gsetup[w->pc[i].group];
    }
    for (uint32_t o = 0; o < b->no; o++) {
        status[o] = b->ord_status[o];
        if (!b->ord_njobs[o])
            continue;
        const matcher_order_t *od = &b->pb->orders[b->ord[o]];
        for (uint32_t j = b->ord_job[o]; j < b->ord_job[o] + b->ord_njobs[o]; j++) {
            int64_t need = 0;
            for (uint32_t k = 0; k < b->job_nitems[j]; k++)
                need += mbuild_item(b, o, b->job_item[j] + k)->qty;
            if (qty[j] != need)
                status[o] = MATCHER_NO_CAPACITY;
        }
        if (status[o] == MATCHER_PLACED && od->split && od->budget > 0 && full[o] > od->budget)
            status[o] = MATCHER_OVER_BUDGET;
    }
    for (uint32_t i = 0; i < w->npc; i++)
        if (status[b->job_order[w->pc[i].job]] != MATCHER_PLACED)
            s_drop_piece(w, i);
    free(qty);
    free(full);
}

typedef struct {
    int32_t due;                    /* effective due day */
    uint32_t piece;                 /* tie-break: canonical piece order */
} s_edf_t;

static int
s_edf_cmp(const void *a, const void *c)
{
    const s_edf_t *x = a, *y = c;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    return x->piece < y->piece ? -1 : x->piece > y->piece;
}

/* Earliest-deadline-first production plan per resource. */
static int
s_plan(s_work_t *w)
{
    mbuild_t *b = w->b;
    size_t H = b->pb->horizon;
    uint32_t *cnt = calloc(b->nres + 1, sizeof(uint32_t));
    uint32_t *off = calloc(b->nres + 2, sizeof(uint32_t));
    s_edf_t *v = malloc((w->npc + 1) * sizeof *v);
    int64_t *left = malloc((H + 1) * sizeof(int64_t));
    if (!cnt || !off || !v || !left) {
        free(cnt);
        free(off);
        free(v);
        free(left);
        return COFAB_ENOMEM;
    }
    for (uint32_t i = 0; i < w->npc; i++)
        if (w->pc[i].live)
            cnt[w->pc[i].res]++;
    for (uint32_t r = 0; r < b->nres; r++)
        off[r + 1] = off[r] + cnt[r];
    memset(cnt, 0, (b->nres + 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < w->npc; i++) {
        if (!w->pc[i].live)
            continue;
        uint32_t r = w->pc[i].res;
        v[off[r] + cnt[r]++] = (s_edf_t){b->thr_day[b->job_thr[w->pc[i].job]], i};
    }
    for (uint32_t r = 0; r < b->nres; r++) {
        if (off[r] == off[r + 1])
            continue;
        qsort(v + off[r], off[r + 1] - off[r], sizeof *v, s_edf_cmp);
        memcpy(left, b->usable + (size_t) r * H, H * sizeof(int64_t));
        size_t d = 0;
        for (uint32_t k = off[r]; k < off[r + 1]; k++) {
            s_piece_t *p = &w->pc[v[k].piece];
            int64_t rem = p->qty;
            while (rem > 0 && d < H) {
                if (left[d] == 0) {
                    d++;
                    continue;
                }
                int64_t take = left[d] < rem ? left[d] : rem;
                if (p->first_day < 0)
                    p->first_day = (int32_t) d;
                p->last_day = (int32_t) d;
                left[d] -= take;
                rem -= take;
            }
        }
    }
    free(cnt);
    free(off);
    free(v);
    free(left);
    return 0;
}

static int
s_piece_cmp(const void *a, const void *c)
{
    const matcher_piece_t *x = a, *y = c;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return memcmp(x->factory, y->factory, MATCHER_ID_LEN);
}

/* Result assembly: setup shares, order costs, runner-ups, objective. */
static int
s_result(s_work_t *w, const matcher_status_t *status, const mcore_stats_t *st,
         matcher_result_t *res)
{
    mbuild_t *b = w->b;
    uint32_t ng = w->ngroups;
    uint32_t *members = calloc(ng + 1, sizeof(uint32_t));
    uint32_t *seen = calloc(ng + 1, sizeof(uint32_t));
    res->orders = calloc(b->no + 1, sizeof *res->orders);
    res->pieces = calloc(w->npc + 1, sizeof *res->pieces);
    if (!members || !seen || !res->orders || !res->pieces) {
        free(members);
        free(seen);
        return COFAB_ENOMEM;
    }
    for (uint32_t i = 0; i < w->npc; i++)
        if (w->pc[i].live)
            members[w->pc[i].group]++;
    res->norders = b->no;
    int64_t unplaced_jobs = 0;
    uint32_t np = 0, i = 0;
    int any_split = 0;
    for (uint32_t o = 0; o < b->no; o++) {
        const matcher_order_t *od = &b->pb->orders[b->ord[o]];
        matcher_order_result_t *or = &res->orders[o];
        memcpy(or->id, od->id, MATCHER_ID_LEN);
        or->status = status[o];
        or->pieces = res->pieces + np;
        if (b->ord_njobs[o] && od->split)
            any_split = 1;
        if (status[o] != MATCHER_PLACED && b->ord_njobs[o])
            unplaced_jobs += b->ord_njobs[o];
        for (; i < w->npc && b->job_order[w->pc[i].job] == o; i++) {
            const s_piece_t *p = &w->pc[i];
            if (!p->live)
                continue;
            matcher_piece_t *q = &res->pieces[np++];
            int64_t s = w->gsetup[p->group], m = members[p->group];
            int64_t share = s / m + (seen[p->group]++ == 0 ? s % m : 0);
            memcpy(q->factory, b->pb->factories[b->fac[b->res_fac[p->res]]].id, MATCHER_ID_LEN);
            q->item = p->item;
            const matcher_item_t *it = mbuild_item(b, o, p->item);
            memcpy(q->process, it->process, sizeof q->process);
            memcpy(q->material, it->material, sizeof q->material);
            q->qty = p->qty;
            q->first_day = p->first_day;
            q->last_day = p->last_day;
            q->cost = p->var + share;
            or->cost += q->cost;
            or->npieces++;
        }
        qsort((void *) or->pieces, or->npieces, sizeof *or->pieces, s_piece_cmp);
        res->cost += or->cost;
        if (status[o] == MATCHER_PLACED) {
            res->nplaced++;
            /* runner-up: cheapest standalone candidate not used by the order */
            uint32_t j = b->ord_job[o];
            int64_t best = INT64_MAX;
            for (uint32_t c = b->cand_off[j]; c < b->cand_off[j + 1]; c++) {
                const uint8_t *fid = b->pb->factories[b->fac[b->cands[c].agent]].id;
                int used = 0;
                for (uint32_t k = 0; k < or->npieces && !used; k++)
                    used = !memcmp(or->pieces[k].factory, fid, MATCHER_ID_LEN);
                if (!used && (b->cand_full[c] < best
                              || (b->cand_full[c] == best
                                  && memcmp(fid, or->runner_up, MATCHER_ID_LEN) < 0))) {
                    best = b->cand_full[c];
                    memcpy(or->runner_up, fid, MATCHER_ID_LEN);
                    or->has_runner_up = 1;
                }
            }
        }
    }
    free(members);
    free(seen);
    res->objective = res->cost + unplaced_jobs * b->p.unplaced_penalty;
    res->lower_bound = st->lower_bound;
    if (st->optimal && !any_split)
        res->lower_bound = res->objective;
    res->optimal = res->lower_bound >= res->objective;
    res->stats = *st;
    return 0;
}

int
matcher_solve(const matcher_problem_t *pb, const matcher_params_t *params,
              matcher_result_t **out)
{
    matcher_params_t def;
    if (!params) {
        matcher_params_default(&def);
        params = &def;
    }
    if (!pb || !out || matcher_params_check(params) != 0)
        return COFAB_EINVAL;
    int rc = matcher_problem_check(pb, NULL, 0);
    if (rc != 0)
        return rc;
    rc = COFAB_ENOMEM;
    s_work_t w;
    memset(&w, 0, sizeof w);
    int32_t *choice = NULL;
    matcher_status_t *status = NULL;
    matcher_result_t *res = calloc(1, sizeof *res);
    if (!res || (rc = mbuild_new(pb, params, &w.b)) != 0)
        goto out;
    rc = COFAB_ENOMEM;
    res->params = *params;
    choice = malloc((w.b->njobs + 1) * sizeof(int32_t));
    status = calloc(w.b->no + 1, sizeof *status);
    w.used = calloc((size_t) w.b->nres * w.b->core.nthr + 1, sizeof(int64_t));
    w.room = malloc(((size_t) w.b->nres * w.b->core.nthr + 1) * sizeof(int64_t));
    if (!choice || !status || !w.used || !w.room)
        goto out;
    s_clear(&w);
    if ((rc = s_augment(&w)) != 0)
        goto out;
    rc = COFAB_ENOMEM;
    mcore_stats_t st;
    if ((rc = mcore_solve(&w.b->core, params, choice, &st)) != 0)
        goto out;
    rc = COFAB_ENOMEM;
    w.gcap = w.ngroups = w.b->core.ngroups;
    w.gsetup = malloc((w.gcap + 1) * sizeof *w.gsetup);
    if (!w.gsetup)
        goto out;
    memcpy(w.gsetup, w.b->setup, w.gcap * sizeof *w.gsetup);
    if (s_whole_pieces(&w, choice) || s_fallback(&w, choice) || s_split(&w, choice))
        goto out;
    s_order_rules(&w, status);
    /* Split orders that could not be completed gave their room back: the
     * whole orders still unplaced get one more look. */
    for (uint32_t i = 0; i < w.npc; i++)
        if (w.pc[i].live)
            choice[w.pc[i].job] = 0;        /* only "has pieces" matters from here */
    if (s_fallback(&w, choice))
        goto out;
    s_order_rules(&w, status);
    /* pieces in canonical (job, item, candidate) order */
    if (w.npc)
        qsort(w.pc, w.npc, sizeof *w.pc, s_pc_cmp);
    if (s_plan(&w) || s_result(&w, status, &st, res))
        goto out;
    *out = res;
    res = NULL;
    rc = 0;
out:
    matcher_result_destroy(&res);
    mbuild_destroy(&w.b);
    free(w.pc);
    free(w.used);
    free(w.room);
    free(w.warm);
    free(w.gsetup);
    free(choice);
    free(status);
    return rc;
}

void
matcher_result_destroy(matcher_result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->orders);
    free((*self_p)->pieces);
    free(*self_p);
    *self_p = NULL;
}

uint32_t matcher_result_norders(const matcher_result_t *r) { return r->norders; }
int64_t matcher_result_cost(const matcher_result_t *r) { return r->cost; }
int64_t matcher_result_objective(const matcher_result_t *r) { return r->objective; }
int64_t matcher_result_lower_bound(const matcher_result_t *r) { return r->lower_bound; }
int matcher_result_optimal(const matcher_result_t *r) { return r->optimal; }
uint32_t matcher_result_nplaced(const matcher_result_t *r) { return r->nplaced; }

const matcher_order_result_t *
matcher_result_order(const matcher_result_t *r, uint32_t i)
{
    return i < r->norders ? &r->orders[i] : NULL;
}

int64_t
matcher_result_gap_ppm(const matcher_result_t *r)
{
    if (r->objective <= 0 || r->lower_bound >= r->objective)
        return 0;
    return (int64_t) ((s_i128) (r->objective - r->lower_bound) * 1000000 / r->objective);
}

/* ---- canonical JSON ------------------------------------------------ */

static void
s_params_json(mjson_t *b, const matcher_params_t *p)
{
    mjson_str(b, "{");
    mjson_kv(b, "ship_per_km", p->ship_per_km);
    mjson_str(b, ",");
    mjson_kv(b, "ship_per_unit_km_milli", p->ship_per_unit_km_milli);
    mjson_str(b, ",");
    mjson_kv(b, "km_per_day", p->km_per_day);
    mjson_str(b, ",");
    mjson_kv(b, "late_per_day", p->late_per_day);
    mjson_str(b, ",");
    mjson_kv(b, "reliability_pm", p->reliability_pm);
    mjson_str(b, ",");
    mjson_kv(b, "reliability_full", p->reliability_full);
    mjson_str(b, ",");
    mjson_kv(b, "reserve_pm", p->reserve_pm);
    mjson_str(b, ",");
    mjson_kv(b, "batch_window", p->batch_window);
    mjson_str(b, ",");
    mjson_kv(b, "min_capable", p->min_capable);
    mjson_str(b, ",");
    mjson_kv(b, "max_candidates", p->max_candidates);
    mjson_str(b, ",");
    mjson_kv(b, "max_split", p->max_split);
    mjson_str(b, ",");
    mjson_kv(b, "unplaced_penalty", p->unplaced_penalty);
    mjson_str(b, ",");
    mjson_kv(b, "lagr_iters", p->lagr_iters);
    mjson_str(b, ",");
    mjson_kv(b, "ls_budget", (int64_t) p->ls_budget);
    mjson_str(b, ",");
    mjson_kv(b, "bnb_nodes", (int64_t) p->bnb_nodes);
    mjson_str(b, "}");
}

int
matcher_result_json(const matcher_result_t *r, char **json, size_t *len)
{
    mjson_t b = {NULL, 0, 0, 0};
    mjson_str(&b, "{\"format\":\"cofab-match-result\",");
    mjson_kv(&b, "version", 1);
    mjson_str(&b, ",\"params\":");
    s_params_json(&b, &r->params);
    mjson_str(&b, ",");
    mjson_kv(&b, "cost", r->cost);
    mjson_str(&b, ",");
    mjson_kv(&b, "objective", r->objective);
    mjson_str(&b, ",");
    mjson_kv(&b, "lower_bound", r->lower_bound);
    mjson_str(&b, ",");
    mjson_kv(&b, "gap_ppm", matcher_result_gap_ppm(r));
    mjson_str(&b, r->optimal ? ",\"optimal\":true," : ",\"optimal\":false,");
    mjson_kv(&b, "placed", r->nplaced);
    mjson_str(&b, ",");
    mjson_kv(&b, "unplaced", (int64_t) r->norders - r->nplaced);
    mjson_str(&b, ",\"stats\":{");
    mjson_kv(&b, "lagr_iters", r->stats.lagr_iters);
    mjson_str(&b, ",");
    mjson_kv(&b, "ls_evals", (int64_t) r->stats.ls_evals);
    mjson_str(&b, ",");
    mjson_kv(&b, "bnb_nodes", (int64_t) r->stats.bnb_nodes);
    mjson_str(&b, "},\"orders\":[");
    for (uint32_t o = 0; o < r->norders; o++) {
        const matcher_order_result_t *or = &r->orders[o];
        mjson_str(&b, o ? ",{\"id\":" : "{\"id\":");
        mjson_hex(&b, or->id);
        mjson_str(&b, ",\"status\":\"");
        mjson_str(&b, matcher_status_name(or->status));
        mjson_str(&b, "\",");
        mjson_kv(&b, "cost", or->cost);
        mjson_str(&b, ",\"runner_up\":");
        if (or->has_runner_up)
            mjson_hex(&b, or->runner_up);
        else
            mjson_str(&b, "null");
        mjson_str(&b, ",\"pieces\":[");
        for (uint32_t k = 0; k < or->npieces; k++) {
            const matcher_piece_t *p = &or->pieces[k];
            mjson_str(&b, k ? ",{\"factory\":" : "{\"factory\":");
            mjson_hex(&b, p->factory);
            mjson_str(&b, ",");
            mjson_kv(&b, "item", p->item);
            mjson_str(&b, ",\"process\":\"");
            mjson_str(&b, p->process);         /* [a-z0-9-]: no escaping needed */
            mjson_str(&b, "\",\"material\":\"");
            mjson_str(&b, p->material);
            mjson_str(&b, "\",");
            mjson_kv(&b, "qty", p->qty);
            mjson_str(&b, ",");
            mjson_kv(&b, "first_day", p->first_day);
            mjson_str(&b, ",");
            mjson_kv(&b, "last_day", p->last_day);
            mjson_str(&b, ",");
            mjson_kv(&b, "cost", p->cost);
            mjson_str(&b, "}");
        }
        mjson_str(&b, "]}");
    }
    mjson_str(&b, "]}");
    if (b.oom) {
        free(b.p);
        return COFAB_ENOMEM;
    }
    *json = b.p;
    *len = b.len;
    return 0;
}

int
matcher_result_digest(const matcher_result_t *r, uint8_t out[32])
{
    char *j = NULL;
    size_t n = 0;
    int rc = matcher_result_json(r, &j, &n);
    if (rc != 0)
        return rc;
    crypto_hash_sha256(out, (const unsigned char *) j, n);
    free(j);
    return 0;
}
