/* mcore.c — the generic assignment core: Lagrangian bound, regret
 * construction, ejection-chain local search and a small exact search.
 *
 * Everything is integer. Lagrange multipliers are fixed-point (scaled by
 * 2^F); sums that could overflow 64 bits use 128-bit accumulators, so the
 * bound is exact arithmetic on a valid multiplier vector and the run is
 * byte-reproducible. All loops are bounded by iteration budgets.
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

typedef __int128 s_i128;

typedef struct {
    const mcore_t *in;              /* the instance */
    const matcher_params_t *p;      /* budgets */
    uint32_t nthr;                  /* thresholds per resource */
    int64_t *slack;                 /* nres × nthr: capacity minus load */
    int64_t *sufmin;                /* nres × nthr: min slack over t' >= t */
    uint32_t *grpcnt;               /* ngroups: members per batching group */
    int32_t *choice;                /* njobs: candidate or -1 */
    int32_t *head;                  /* nagents: first job placed at agent */
    int32_t *next, *prev;           /* njobs: per-agent job list links */
    int64_t obj;                    /* objective of choice */
    uint64_t evals;                 /* local-search evaluations so far */
    uint64_t nodes;                 /* exact search nodes so far */
    int aborted;                    /* exact search hit its node budget */
    int32_t *best;                  /* njobs: best choice found */
    uint32_t perm[64];              /* exact search: job at each depth */
    int64_t best_obj;               /* its objective */
} s_state_t;

static const mcore_cand_t *
s_cand(const s_state_t *st, int32_t c)
{
    return &st->in->cands[c];
}

/* 1 if candidate c fits with threshold thr given the current load. */
static int
s_fits(const s_state_t *st, int32_t c, uint32_t thr)
{
    const mcore_cand_t *cd = s_cand(st, c);
    for (uint32_t u = 0; u < cd->nuse; u++) {
        const mcore_use_t *us = &st->in->uses[cd->use_off + u];
        if (st->sufmin[(size_t) us->res * st->nthr + thr] < us->amount)
            return 0;
    }
    return 1;
}

/* Adds (sign 1) or removes (sign -1) the load of candidate c. */
static void
s_apply(s_state_t *st, int32_t c, uint32_t thr, int sign)
{
    const mcore_cand_t *cd = s_cand(st, c);
    uint32_t nt = st->nthr;
    for (uint32_t u = 0; u < cd->nuse; u++) {
        const mcore_use_t *us = &st->in->uses[cd->use_off + u];
        int64_t *sl = st->slack + (size_t) us->res * nt;
        int64_t *sm = st->sufmin + (size_t) us->res * nt;
        for (uint32_t t = thr; t < nt; t++)
            sl[t] -= sign * us->amount;
        int64_t m = INT64_MAX;
        for (uint32_t t = nt; t-- > 0;) {
            if (sl[t] < m)
                m = sl[t];
            sm[t] = m;
        }
        if (us->group != UINT32_MAX)
            st->grpcnt[us->group] = (uint32_t) ((int64_t) st->grpcnt[us->group] + sign);
    }
}

/* Cost of adding candidate c now (setups of groups still empty). */
static int64_t
s_in_cost(const s_state_t *st, int32_t c)
{
    if (c < 0)
        return st->in->penalty;
    const mcore_cand_t *cd = s_cand(st, c);
    int64_t v = cd->cost;
    for (uint32_t u = 0; u < cd->nuse; u++) {
        const mcore_use_t *us = &st->in->uses[cd->use_off + u];
        if (us->group != UINT32_MAX && st->grpcnt[us->group] == 0)
            v += st->in->setup[us->group];
    }
    return v;
}

/* Cost saved by removing the placed candidate c (setups it pays alone). */
static int64_t
s_out_cost(const s_state_t *st, int32_t c)
{
    if (c < 0)
        return st->in->penalty;
    const mcore_cand_t *cd = s_cand(st, c);
    int64_t v = cd->cost;
    for (uint32_t u = 0; u < cd->nuse; u++) {
        const mcore_use_t *us = &st->in->uses[cd->use_off + u];
        if (us->group != UINT32_MAX && st->grpcnt[us->group] == 1)
            v += st->in->setup[us->group];
    }
    return v;
}

/* Moves job j to candidate c (-1: unplaced), keeping obj exact. */
static void
s_assign(s_state_t *st, uint32_t j, int32_t c)
{
    int32_t cur = st->choice[j];
    uint32_t thr = st->in->job_thr[j];
    if (cur == c)
        return;
    st->obj -= s_out_cost(st, cur);
    if (cur >= 0) {
        s_apply(st, cur, thr, -1);
        uint32_t a = s_cand(st, cur)->agent;
        if (st->prev[j] >= 0)
            st->next[st->prev[j]] = st->next[j];
        else
            st->head[a] = st->next[j];
        if (st->next[j] >= 0)
            st->prev[st->next[j]] = st->prev[j];
    }
    st->obj += s_in_cost(st, c);
    st->choice[j] = c;
    st->prev[j] = st->next[j] = -1;
    if (c >= 0) {
        s_apply(st, c, thr, 1);
        uint32_t a = s_cand(st, c)->agent;
        st->next[j] = st->head[a];
        if (st->head[a] >= 0)
            st->prev[st->head[a]] = (int32_t) j;
        st->head[a] = (int32_t) j;
    }
}

static void
s_reset(s_state_t *st)
{
    const mcore_t *in = st->in;
    size_t nrt = (size_t) in->nres * st->nthr;
    memcpy(st->slack, in->cap, nrt * sizeof(int64_t));
    for (uint32_t r = 0; r < in->nres; r++) {
        int64_t m = INT64_MAX;
        for (uint32_t t = st->nthr; t-- > 0;) {
            size_t k = (size_t) r * st->nthr + t;
            if (st->slack[k] < m)
                m = st->slack[k];
            st->sufmin[k] = m;
        }
    }
    memset(st->grpcnt, 0, in->ngroups * sizeof(uint32_t));
    for (uint32_t a = 0; a < in->nagents; a++)
        st->head[a] = -1;
    for (uint32_t j = 0; j < in->njobs; j++) {
        st->choice[j] = -1;
        st->next[j] = st->prev[j] = -1;
    }
    st->obj = (int64_t) in->njobs * in->penalty;
}

static void
s_keep_if_better(s_state_t *st)
{
    if (st->obj < st->best_obj) {
        st->best_obj = st->obj;
        memcpy(st->best, st->choice, st->in->njobs * sizeof(int32_t));
    }
}

static void
s_load_best(s_state_t *st)
{
    s_reset(st);
    for (uint32_t j = 0; j < st->in->njobs; j++)
        if (st->best[j] >= 0)
            s_assign(st, j, st->best[j]);
}

/* ---- local search -------------------------------------------------- */

/* Best improving single move of job j; returns 1 if applied. */
static int
s_try_shift(s_state_t *st, uint32_t j)
{
    const mcore_t *in = st->in;
    int32_t cur = st->choice[j];
    uint32_t thr = in->job_thr[j];
    int64_t out = s_out_cost(st, cur);
    int64_t best_d = 0;
    int32_t best_c = -2;
    if (cur >= 0 && in->penalty - out < 0) {
        best_d = in->penalty - out;
        best_c = -1;
    }
    for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
        const mcore_cand_t *cd = &in->cands[c];
        if ((int32_t) c == cur || !cd->primal_ok)
            continue;
        st->evals++;
        if (cd->cost - out >= best_d)
            continue;
        if (!s_fits(st, (int32_t) c, thr))
            continue;
        int64_t d = s_in_cost(st, (int32_t) c) - out;
        if (d < best_d) {
            best_d = d;
            best_c = (int32_t) c;
        }
    }
    if (best_c == -2)
        return 0;
    s_assign(st, j, best_c);
    return 1;
}

/* Ejection chain of depth 2: j moves to candidate b at agent B, pushing
 * a job k out of B to its best other place (or unplaced). First improving
 * chain is applied; returns 1 then. */
static int
s_try_eject(s_state_t *st, uint32_t j)
{
    const mcore_t *in = st->in;
    int32_t cur = st->choice[j];
    uint32_t thr = in->job_thr[j];
    for (uint32_t b = in->cand_off[j]; b < in->cand_off[j + 1]; b++) {
        const mcore_cand_t *bd = &in->cands[b];
        if ((int32_t) b == cur || !bd->primal_ok)
            continue;
        if (st->evals >= st->p->ls_budget)
            return 0;
        int64_t out_j = s_out_cost(st, cur);
        if (bd->cost >= out_j)
            continue;                       /* not cheaper for j itself */
        if (s_fits(st, (int32_t) b, thr))
            continue;                       /* plain shift territory */
        for (int32_t k = st->head[bd->agent]; k >= 0;) {
            int32_t knext = st->next[k];
            int32_t kc = st->choice[k];
            int64_t obj0 = st->obj;
            st->evals++;
            s_assign(st, (uint32_t) k, -1);
            if (!s_fits(st, (int32_t) b, thr)) {
                s_assign(st, (uint32_t) k, kc);
                k = knext;
                continue;
            }
            s_assign(st, j, (int32_t) b);
            /* best new home for k (j's old agent included: a swap) */
            uint32_t kthr = in->job_thr[k];
            int64_t best_in = in->penalty;
            int32_t best_h = -1;
            for (uint32_t h = in->cand_off[k]; h < in->cand_off[k + 1]; h++) {
                const mcore_cand_t *hd = &in->cands[h];
                st->evals++;
                if ((int32_t) h == kc || !hd->primal_ok || hd->cost >= best_in)
                    continue;
                if (!s_fits(st, (int32_t) h, kthr))
                    continue;
                int64_t v = s_in_cost(st, (int32_t) h);
                if (v < best_in) {
                    best_in = v;
                    best_h = (int32_t) h;
                }
            }
            s_assign(st, (uint32_t) k, best_h);
            if (st->obj < obj0)
                return 1;
            s_assign(st, (uint32_t) k, -1);
            s_assign(st, j, cur);
            s_assign(st, (uint32_t) k, kc);
            k = knext;
        }
    }
    return 0;
}

/* Best fitting home of job k other than candidate not (or -1). */
static int32_t
s_best_home(s_state_t *st, uint32_t k, int32_t not)
{
    const mcore_t *in = st->in;
    int64_t best = in->penalty;
    int32_t bh = -1;
    for (uint32_t h = in->cand_off[k]; h < in->cand_off[k + 1]; h++) {
        const mcore_cand_t *hd = &in->cands[h];
        st->evals++;
        if ((int32_t) h == not || !hd->primal_ok || hd->cost >= best
            || !s_fits(st, (int32_t) h, in->job_thr[k]))
            continue;
        int64_t v = s_in_cost(st, (int32_t) h);
        if (v < best) {
            best = v;
            bh = (int32_t) h;
        }
    }
    return bh;
}

/* For an unplaced job: empty room at a candidate factory by taking out up
 * to four of its jobs, place the job, and re-home the others; kept only
 * if the objective drops. Returns 1 then. */
static int
s_try_room(s_state_t *st, uint32_t j)
{
    const mcore_t *in = st->in;
    uint32_t thr = in->job_thr[j];
    for (uint32_t b = in->cand_off[j]; b < in->cand_off[j + 1]; b++) {
        if (!in->cands[b].primal_ok)
            continue;
        if (st->evals >= st->p->ls_budget)
            return 0;
        int64_t obj0 = st->obj;
        uint32_t out[4];
        int32_t was[4];
        int ne = 0;
        for (int32_t k = st->head[in->cands[b].agent]; k >= 0 && ne < 4
                                                       && !s_fits(st, (int32_t) b, thr);) {
            int32_t knext = st->next[k];
            out[ne] = (uint32_t) k;
            was[ne++] = st->choice[k];
            s_assign(st, (uint32_t) k, -1);
            k = knext;
        }
        st->evals += (uint64_t) ne + 1;
        int fits = s_fits(st, (int32_t) b, thr);
        if (fits) {
            s_assign(st, j, (int32_t) b);
            for (int e = 0; e < ne; e++)
                s_assign(st, out[e], s_best_home(st, out[e], was[e]));
            if (st->obj < obj0)
                return 1;
            for (int e = ne; e-- > 0;)
                s_assign(st, out[e], -1);
            s_assign(st, j, -1);
        }
        for (int e = ne; e-- > 0;)
            s_assign(st, out[e], was[e]);
    }
    return 0;
}

static void
s_local_search(s_state_t *st)
{
    int improved = 1;
    while (improved && st->evals < st->p->ls_budget) {
        improved = 0;
        for (uint32_t j = 0; j < st->in->njobs && st->evals < st->p->ls_budget; j++) {
            if (s_try_shift(st, j) || s_try_eject(st, j)
                || (st->choice[j] < 0 && s_try_room(st, j)))
                improved = 1;
        }
    }
}

/* Iterated local search on what is left of the budget: knock out a few
 * jobs chosen by a fixed-seed generator, re-place them greedily, polish,
 * keep the best. Deterministic: the seed is a constant. */
static void
s_iterate(s_state_t *st)
{
    const mcore_t *in = st->in;
    uint64_t seed = 0x636f666162ULL;        /* fixed: same run everywhere */
    uint32_t kick = in->njobs / 20 > 2 ? in->njobs / 20 : 2;
    for (int round = 0; round < 100 && in->njobs > 1 && st->evals < st->p->ls_budget; round++) {
        s_load_best(st);
        for (uint32_t k = 0; k < kick; k++) {
            seed += 0x9e3779b97f4a7c15ULL;  /* splitmix64 */
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            uint32_t j = (uint32_t) ((z ^ (z >> 31)) % in->njobs);
            if (st->choice[j] < 0)
                continue;
            s_assign(st, j, -1);
            int32_t h = s_best_home(st, j, st->best[j]);   /* somewhere else if it can */
            s_assign(st, j, h);
        }
        s_local_search(st);
        s_keep_if_better(st);
    }
}

/* ---- construction -------------------------------------------------- */

typedef struct {
    int first;                      /* 1: placed before the others */
    s_i128 regret;                  /* second best − best reduced cost */
    uint32_t job;                   /* tie-break */
} s_rank_t;

static int
s_rank_cmp(const void *a, const void *b)
{
    const s_rank_t *x = a, *y = b;
    if (x->first != y->first)
        return x->first ? -1 : 1;
    if (x->regret != y->regret)
        return x->regret > y->regret ? -1 : 1;
    return x->job < y->job ? -1 : x->job > y->job;
}

/* Reduced cost of candidate c for threshold thr under suffix multipliers S. */
static s_i128
s_reduced(const s_state_t *st, const int64_t *S, int32_t c, uint32_t thr, int64_t base, int F)
{
    const mcore_cand_t *cd = s_cand(st, c);
    s_i128 v = (s_i128) base << F;
    for (uint32_t u = 0; u < cd->nuse; u++) {
        const mcore_use_t *us = &st->in->uses[cd->use_off + u];
        v += (s_i128) us->amount * S[(size_t) us->res * st->nthr + thr];
    }
    return v;
}

/* Regret-ordered greedy under multipliers S (jobs flagged in first, if
 * given, go before all others); polished by local search and kept if best. */
static int
s_construct(s_state_t *st, const int64_t *S, int F, const int32_t *first)
{
    const mcore_t *in = st->in;
    s_rank_t *rank = malloc((in->njobs ? in->njobs : 1) * sizeof *rank);
    if (!rank)
        return COFAB_ENOMEM;
    s_i128 pen = (s_i128) in->penalty << F;
    for (uint32_t j = 0; j < in->njobs; j++) {
        s_i128 b1 = pen, b2 = pen;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
            if (!in->cands[c].primal_ok)
                continue;
            s_i128 v = s_reduced(st, S, (int32_t) c, in->job_thr[j], in->cands[c].cost, F);
            if (v < b1) {
                b2 = b1;
                b1 = v;
            } else if (v < b2) {
                b2 = v;
            }
        }
        rank[j].regret = b2 - b1;
        rank[j].job = j;
        rank[j].first = first && first[j] < 0;
    }
    qsort(rank, in->njobs, sizeof *rank, s_rank_cmp);
    s_reset(st);
    for (uint32_t i = 0; i < in->njobs; i++) {
        uint32_t j = rank[i].job, thr = in->job_thr[j];
        s_i128 best = pen;
        int32_t bc = -1;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
            if (!in->cands[c].primal_ok || !s_fits(st, (int32_t) c, thr))
                continue;
            s_i128 v = s_reduced(st, S, (int32_t) c, thr, s_in_cost(st, (int32_t) c), F);
            if (v < best) {
                best = v;
                bc = (int32_t) c;
            }
        }
        if (bc >= 0)
            s_assign(st, j, bc);
    }
    free(rank);
    s_local_search(st);             /* every start gets polished */
    s_keep_if_better(st);
    return 0;
}

/* ---- Lagrangian relaxation of the capacity constraints ------------- */

static int
s_bitlen(uint64_t v)
{
    int n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

static int
s_lagrange(s_state_t *st, int64_t *lb_out, uint32_t *iters_out)
{
    const mcore_t *in = st->in;
    uint32_t nt = st->nthr;
    size_t nrt = (size_t) in->nres * nt;
    int rc = COFAB_ENOMEM;
    int64_t *lam = calloc(nrt ? nrt : 1, sizeof(int64_t));
    int64_t *S = calloc(nrt ? nrt : 1, sizeof(int64_t));
    int64_t *bestS = calloc(nrt ? nrt : 1, sizeof(int64_t));
    int64_t *add = calloc(nrt ? nrt : 1, sizeof(int64_t));
    int64_t *G = calloc(nrt ? nrt : 1, sizeof(int64_t));
    if (!lam || !S || !bestS || !add || !G)
        goto out;

    /* Scale F keeps every reduced cost below 2^60; LAMMAX bounds Λ·amount. */
    uint64_t maxc = (uint64_t) in->penalty, amax = 1;
    for (uint32_t j = 0; j < in->njobs; j++) {
        if (in->cutoff[j] != INT64_MAX && (uint64_t) in->cutoff[j] > maxc)
            maxc = (uint64_t) in->cutoff[j];
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
            const mcore_cand_t *cd = &in->cands[c];
            if ((uint64_t) cd->cost > maxc)
                maxc = (uint64_t) cd->cost;
            if ((uint64_t) cd->lbcost > maxc)
                maxc = (uint64_t) cd->lbcost;
            for (uint32_t u = 0; u < cd->nuse; u++)
                if ((uint64_t) in->uses[cd->use_off + u].amount > amax)
                    amax = (uint64_t) in->uses[cd->use_off + u].amount;
        }
    }
    int bl = s_bitlen(maxc);
    int F = bl >= 52 ? 0 : (52 - bl > 20 ? 20 : 52 - bl);
    int64_t lammax = (int64_t) (((uint64_t) 1 << 56) / (amax * (nt ? nt : 1)));
    if (lammax < 1)
        lammax = 1;

    int64_t best_lb = INT64_MIN;
    int64_t theta_pm = 2000;
    uint32_t stall = 0, it = 0;
    uint32_t every = st->p->lagr_iters / 4 ? st->p->lagr_iters / 4 : 1;
    for (it = 0; it < st->p->lagr_iters; it++) {
        for (uint32_t r = 0; r < in->nres; r++) {
            int64_t s = 0;
            for (uint32_t t = nt; t-- > 0;) {
                s += lam[(size_t) r * nt + t];
                S[(size_t) r * nt + t] = s;
            }
        }
        memset(add, 0, nrt * sizeof(int64_t));
        s_i128 L = 0;
        for (uint32_t j = 0; j < in->njobs; j++) {
            uint32_t thr = in->job_thr[j];
            s_i128 best = (s_i128) in->penalty << F;
            int32_t bc = -1;
            for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
                s_i128 v = s_reduced(st, S, (int32_t) c, thr, in->cands[c].lbcost, F);
                if (v < best) {
                    best = v;
                    bc = (int32_t) c;
                }
            }
            if (in->cutoff[j] != INT64_MAX && ((s_i128) in->cutoff[j] << F) < best) {
                best = (s_i128) in->cutoff[j] << F;
                bc = -1;
            }
            L += best;
            if (bc >= 0) {
                const mcore_cand_t *cd = &in->cands[bc];
                for (uint32_t u = 0; u < cd->nuse; u++) {
                    const mcore_use_t *us = &in->uses[cd->use_off + u];
                    add[(size_t) us->res * nt + thr] += us->amount;
                }
            }
        }
        for (size_t k = 0; k < nrt; k++)
            L -= (s_i128) lam[k] * in->cap[k];
        /* The optimum is an integer >= L / 2^F: round up. */
        s_i128 q = L >> F;
        if (L & (((s_i128) 1 << F) - 1))
            q++;
        int64_t lb = (int64_t) q;
        if (lb > best_lb) {
            best_lb = lb;
            stall = 0;
            memcpy(bestS, S, nrt * sizeof(int64_t));
        } else if (++stall >= 5) {
            theta_pm = theta_pm / 2 > 1 ? theta_pm / 2 : 1;
            stall = 0;
        }
        if (it % every == 0) {
            if (s_construct(st, S, F, NULL) != 0)
                goto out;
        }
        if (best_lb >= st->best_obj)
            break;                          /* proved optimal */
        s_i128 norm2 = 0;
        for (uint32_t r = 0; r < in->nres; r++) {
            int64_t cum = 0;
            for (uint32_t t = 0; t < nt; t++) {
                size_t k = (size_t) r * nt + t;
                cum += add[k];
                int64_t g = cum - in->cap[k];
                if (lam[k] == 0 && g < 0)
                    g = 0;
                G[k] = g;
                norm2 += (s_i128) g * g;
            }
        }
        if (norm2 == 0)
            break;                          /* relaxed solution is feasible */
        s_i128 gap = ((s_i128) st->best_obj << F) - L;
        if (gap <= 0)
            break;
        for (size_t k = 0; k < nrt; k++) {
            if (G[k] == 0)
                continue;
            s_i128 d = (s_i128) theta_pm * gap * G[k] / ((s_i128) 1000 * norm2);
            s_i128 v = (s_i128) lam[k] + d;
            lam[k] = v < 0 ? 0 : v > lammax ? lammax : (int64_t) v;
        }
    }
    if (s_construct(st, bestS, F, NULL) != 0)
        goto out;
    /* Squeaky wheel: jobs the best solution leaves unplaced go first in a
     * new construction, a few rounds. */
    for (int round = 0; round < 4; round++) {
        uint32_t un = 0;
        for (uint32_t j = 0; j < in->njobs; j++)
            un += st->best[j] < 0 && in->cand_off[j + 1] > in->cand_off[j];
        if (!un || st->evals >= st->p->ls_budget)
            break;
        if (s_construct(st, bestS, F, st->best) != 0)
            goto out;
    }
    *lb_out = best_lb;
    *iters_out = it;
    rc = 0;
out:
    free(lam);
    free(S);
    free(bestS);
    free(add);
    free(G);
    return rc;
}

/* ---- exact depth-first branch and bound (small instances) ---------- */

static void
s_dfs(s_state_t *st, uint32_t i, const int64_t *rest)
{
    const mcore_t *in = st->in;
    if (st->aborted)
        return;
    if (++st->nodes > st->p->bnb_nodes) {
        st->aborted = 1;
        return;
    }
    if (i == in->njobs) {
        s_keep_if_better(st);
        return;
    }
    int64_t base = st->obj - (int64_t) (in->njobs - i) * in->penalty;
    if (base + rest[i] >= st->best_obj)
        return;
    /* Sharper bound: each remaining job at its cheapest place that still
     * fits on its own (capacity only shrinks deeper in the tree). */
    int64_t bound = base;
    for (uint32_t d = i; d < in->njobs && bound < st->best_obj; d++) {
        uint32_t j = st->perm[d];
        int64_t m = in->penalty;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++)
            if (in->cands[c].cost < m && s_fits(st, (int32_t) c, in->job_thr[j]))
                m = in->cands[c].cost;
        bound += m;
    }
    if (bound >= st->best_obj)
        return;
    uint32_t j = st->perm[i], thr = in->job_thr[j];
    for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1] && !st->aborted; c++) {
        if (!s_fits(st, (int32_t) c, thr))
            continue;
        s_assign(st, j, (int32_t) c);
        s_dfs(st, i + 1, rest);
        s_assign(st, j, -1);
    }
    if (!st->aborted)
        s_dfs(st, i + 1, rest);             /* job j stays unplaced */
}

/* Returns 1 if the exact search completed (best is then optimal). */
static int
s_exact(s_state_t *st)
{
    const mcore_t *in = st->in;
    if (st->p->bnb_nodes == 0 || in->njobs > 64)
        return 0;
    for (uint32_t c = 0; c < in->cand_off[in->njobs]; c++)
        if (!in->cands[c].primal_ok)
            return 0;
    /* Depth order: jobs that are hardest to fit (largest smallest use)
     * first, so infeasible branches die early. */
    int64_t key[64];
    for (uint32_t j = 0; j < in->njobs; j++) {
        key[j] = INT64_MAX;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
            int64_t a = 0;
            for (uint32_t u = 0; u < in->cands[c].nuse; u++)
                a += in->uses[in->cands[c].use_off + u].amount;
            key[j] = a < key[j] ? a : key[j];
        }
        uint32_t d = j;
        while (d > 0 && key[st->perm[d - 1]] < key[j]) {
            st->perm[d] = st->perm[d - 1];
            d--;
        }
        st->perm[d] = j;
    }
    int64_t rest[65];
    rest[in->njobs] = 0;
    for (uint32_t d = in->njobs; d-- > 0;) {
        uint32_t j = st->perm[d];
        int64_t m = in->penalty;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++)
            if (in->cands[c].cost < m)
                m = in->cands[c].cost;
        rest[d] = rest[d + 1] + m;
    }
    s_reset(st);
    st->aborted = 0;
    s_dfs(st, 0, rest);
    return !st->aborted;
}

int
mcore_solve(const mcore_t *in, const matcher_params_t *p, int32_t *choice, mcore_stats_t *stats)
{
    int rc = COFAB_ENOMEM;
    s_state_t st;
    memset(&st, 0, sizeof st);
    memset(stats, 0, sizeof *stats);
    st.in = in;
    st.p = p;
    st.nthr = in->nthr ? in->nthr : 1;
    size_t nrt = (size_t) in->nres * st.nthr, nj = in->njobs ? in->njobs : 1;
    st.slack = malloc((nrt ? nrt : 1) * sizeof(int64_t));
    st.sufmin = malloc((nrt ? nrt : 1) * sizeof(int64_t));
    st.grpcnt = malloc((in->ngroups ? in->ngroups : 1) * sizeof(uint32_t));
    st.head = malloc((in->nagents ? in->nagents : 1) * sizeof(int32_t));
    st.choice = malloc(nj * sizeof(int32_t));
    st.next = malloc(nj * sizeof(int32_t));
    st.prev = malloc(nj * sizeof(int32_t));
    st.best = malloc(nj * sizeof(int32_t));
    if (!st.slack || !st.sufmin || !st.grpcnt || !st.head || !st.choice || !st.next
        || !st.prev || !st.best)
        goto out;
    s_reset(&st);
    st.best_obj = st.obj;
    memcpy(st.best, st.choice, in->njobs * sizeof(int32_t));

    int64_t lb = 0;
    rc = s_lagrange(&st, &lb, &stats->lagr_iters);
    if (rc != 0)
        goto out;
    if (lb < st.best_obj) {
        s_load_best(&st);
        s_local_search(&st);
        s_keep_if_better(&st);
        s_iterate(&st);
    }
    stats->optimal = lb >= st.best_obj;
    if (!stats->optimal && s_exact(&st)) {
        stats->optimal = 1;
        lb = st.best_obj;
    }
    if (stats->optimal)
        lb = st.best_obj;
    memcpy(choice, st.best, in->njobs * sizeof(int32_t));
    stats->objective = st.best_obj;
    stats->lower_bound = lb;
    stats->ls_evals = st.evals;
    stats->bnb_nodes = st.nodes;
    rc = 0;
out:
    free(st.slack);
    free(st.sufmin);
    free(st.grpcnt);
    free(st.head);
    free(st.choice);
    free(st.next);
    free(st.prev);
    free(st.best);
    return rc;
}
