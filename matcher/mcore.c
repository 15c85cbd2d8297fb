/* mcore.c — the generic assignment core: state and exact move costs,
 * regret construction, local search (shift, swap, ejection chain, make
 * room), the fixed-seed iterated search and the solve driver.
 *
 * Everything is integer and every loop is bounded by a budget, so a run is
 * byte-reproducible. The Lagrangian is in mlagr.c, the two-factory
 * re-packing in mlns.c, the exact search in mexact.c.
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

static const mcore_cand_t *
s_cand(const mcore_state_t *st, int32_t c)
{
    return &st->in->cands[c];
}

int
mcore_fits(const mcore_state_t *st, int32_t c, uint32_t thr)
{
    const mcore_cand_t *cd = s_cand(st, c);
    const mcore_use_t *uses = st->in->uses + cd->use_off;
    for (uint32_t u = 0; u < cd->nuse; u++) {
        /* items of one job on one offer (two materials) load the same
         * resource: they must fit together */
        int64_t need = uses[u].amount;
        for (uint32_t v = 0; v < cd->nuse; v++)
            if (v != u && uses[v].res == uses[u].res)
                need += uses[v].amount;
        if (st->sufmin[(size_t) uses[u].res * st->nthr + thr] < need)
            return 0;
    }
    return 1;
}

/* Adds (sign 1) or removes (sign -1) the load of candidate c. Only the
 * thresholds from thr on change, so only their suffix minima are redone
 * and the walk down stops as soon as a minimum is unchanged. */
static void
s_apply(mcore_state_t *st, int32_t c, uint32_t thr, int sign)
{
    const mcore_cand_t *cd = s_cand(st, c);
    uint32_t nt = st->nthr;
    for (uint32_t u = 0; u < cd->nuse; u++) {
        const mcore_use_t *us = &st->in->uses[cd->use_off + u];
        int64_t *sl = st->slack + (size_t) us->res * nt;
        int64_t *sm = st->sufmin + (size_t) us->res * nt;
        int64_t d = sign * us->amount;
        for (uint32_t t = thr; t < nt; t++) {
            sl[t] -= d;
            sm[t] -= d;                     /* every suffix from thr on moved by d */
        }
        int64_t m = thr + 1 < nt ? sm[thr + 1] : INT64_MAX;
        if (sl[thr] < m)
            m = sl[thr];
        sm[thr] = m;
        for (uint32_t t = thr; t-- > 0;) {
            int64_t v = sl[t] < m ? sl[t] : m;
            if (sm[t] == v)
                break;                      /* lower suffixes unchanged too */
            sm[t] = m = v;
        }
        if (us->group != UINT32_MAX)
            st->grpcnt[us->group] = (uint32_t) ((int64_t) st->grpcnt[us->group] + sign);
    }
}

int64_t
mcore_in_cost(const mcore_state_t *st, int32_t c)
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
s_out_cost(const mcore_state_t *st, int32_t c)
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

void
mcore_assign(mcore_state_t *st, uint32_t j, int32_t c)
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
    st->obj += mcore_in_cost(st, c);
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

void
mcore_reset(mcore_state_t *st)
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

void
mcore_keep_if_better(mcore_state_t *st)
{
    if (st->obj < st->best_obj) {
        st->best_obj = st->obj;
        memcpy(st->best, st->choice, st->in->njobs * sizeof(int32_t));
    }
}

void
mcore_load_best(mcore_state_t *st)
{
    mcore_reset(st);
    for (uint32_t j = 0; j < st->in->njobs; j++)
        if (st->best[j] >= 0)
            mcore_assign(st, j, st->best[j]);
}

/* ---- local search -------------------------------------------------- */

static int
s_spent(const mcore_state_t *st)
{
    return st->evals >= st->budget;
}

/* Best improving single move of job j; returns 1 if applied. */
static int
s_try_shift(mcore_state_t *st, uint32_t j)
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
        st->evals++;
        if (cd->cost - out >= best_d || (int32_t) c == cur || !cd->primal_ok)
            continue;
        if (!mcore_fits(st, (int32_t) c, thr))
            continue;
        int64_t d = mcore_in_cost(st, (int32_t) c) - out;
        if (d < best_d) {
            best_d = d;
            best_c = (int32_t) c;
        }
    }
    if (best_c == -2)
        return 0;
    mcore_assign(st, j, best_c);
    return 1;
}

/* Best fitting home of job k other than candidate not (or -1). */
static int32_t
s_best_home(mcore_state_t *st, uint32_t k, int32_t not, int64_t *cost)
{
    const mcore_t *in = st->in;
    int64_t best = in->penalty;
    int32_t bh = -1;
    for (uint32_t h = in->cand_off[k]; h < in->cand_off[k + 1]; h++) {
        const mcore_cand_t *hd = &in->cands[h];
        st->evals++;
        if (hd->cost >= best || (int32_t) h == not || !hd->primal_ok
            || !mcore_fits(st, (int32_t) h, in->job_thr[k]))
            continue;
        int64_t v = mcore_in_cost(st, (int32_t) h);
        if (v < best) {
            best = v;
            bh = (int32_t) h;
        }
    }
    if (cost)
        *cost = best;
    return bh;
}

/* Ejection chain of depth 2 for a placed or unplaced job j: j moves to
 * candidate b at agent B where it does not fit, pushing one job k out of B
 * to k's best other place (j's old agent included, so this covers swaps).
 * The first improving chain is applied; returns 1 then. (A tried chain
 * leaves k first in B's job list: the order the next tries take.) */
static int
s_try_eject(mcore_state_t *st, uint32_t j)
{
    const mcore_t *in = st->in;
    int32_t cur = st->choice[j];
    uint32_t thr = in->job_thr[j];
    int64_t out_j = s_out_cost(st, cur);
    for (uint32_t b = in->cand_off[j]; b < in->cand_off[j + 1]; b++) {
        const mcore_cand_t *bd = &in->cands[b];
        st->evals++;
        if ((int32_t) b == cur || !bd->primal_ok || bd->cost >= out_j)
            continue;                       /* not cheaper for j itself */
        if (s_spent(st))
            return 0;
        if (mcore_fits(st, (int32_t) b, thr))
            continue;                       /* plain shift territory */
        for (int32_t k = st->head[bd->agent], kn; k >= 0; k = kn) {
            kn = st->next[k];
            int32_t kc = st->choice[k];
            st->evals++;
            int64_t obj0 = st->obj;
            mcore_assign(st, (uint32_t) k, -1);
            if (!mcore_fits(st, (int32_t) b, thr)) {
                mcore_assign(st, (uint32_t) k, kc);
                continue;
            }
            mcore_assign(st, j, (int32_t) b);
            mcore_assign(st, (uint32_t) k, s_best_home(st, (uint32_t) k, kc, NULL));
            if (st->obj < obj0)
                return 1;
            mcore_assign(st, (uint32_t) k, -1);
            mcore_assign(st, j, cur);
            mcore_assign(st, (uint32_t) k, kc);
        }
    }
    return 0;
}

/* For an unplaced job: empty room at a candidate factory by taking out up
 * to four of its jobs, place the job, and re-home the others; kept only
 * if the objective drops. Returns 1 then. Each try starts at another
 * place of the factory's job list, so it does not keep taking out the
 * same four. */
static int
s_try_room(mcore_state_t *st, uint32_t j)
{
    const mcore_t *in = st->in;
    uint32_t thr = in->job_thr[j];
    for (uint32_t b = in->cand_off[j]; b < in->cand_off[j + 1]; b++) {
        if (!in->cands[b].primal_ok)
            continue;
        if (s_spent(st))
            return 0;
        int64_t obj0 = st->obj;
        uint32_t out[4];
        int32_t was[4];
        int ne = 0;
        /* start at a different place of the agent's list each time */
        int32_t k = st->head[in->cands[b].agent];
        for (uint32_t skip = st->rot++ % 7; skip > 0 && k >= 0 && st->next[k] >= 0; skip--)
            k = st->next[k];
        int32_t first = k;
        while (k >= 0 && ne < 4 && !mcore_fits(st, (int32_t) b, thr)) {
            int32_t knext = st->next[k];
            out[ne] = (uint32_t) k;
            was[ne++] = st->choice[k];
            mcore_assign(st, (uint32_t) k, -1);
            k = knext >= 0 ? knext : st->head[in->cands[b].agent];
            if (k == first)
                break;
        }
        st->evals += (uint64_t) ne + 1;
        if (mcore_fits(st, (int32_t) b, thr)) {
            mcore_assign(st, j, (int32_t) b);
            for (int e = 0; e < ne; e++)
                mcore_assign(st, out[e], s_best_home(st, out[e], was[e], NULL));
            if (st->obj < obj0)
                return 1;
            for (int e = ne; e-- > 0;)
                mcore_assign(st, out[e], -1);
            mcore_assign(st, j, -1);
        }
        for (int e = ne; e-- > 0;)
            mcore_assign(st, out[e], was[e]);
    }
    return 0;
}

void
mcore_local_search(mcore_state_t *st)
{
    const mcore_t *in = st->in;
    int improved = 1;
    while (improved && !s_spent(st)) {
        improved = 0;
        for (uint32_t j = 0; j < in->njobs && !s_spent(st); j++) {
            if (s_try_shift(st, j) || s_try_eject(st, j)
                || (st->choice[j] < 0 && s_try_room(st, j)))
                improved = 1;
        }
    }
}

/* splitmix64 step: the fixed-seed generator of the iterated search. */
static uint64_t
s_next(uint64_t *seed)
{
    *seed += 0x9e3779b97f4a7c15ULL;
    uint64_t z = *seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
mcore_iterate(mcore_state_t *st)
{
    const mcore_t *in = st->in;
    uint64_t seed = 0x636f666162ULL;        /* fixed: same run everywhere */
    uint32_t kick = in->njobs / 20 > 2 ? in->njobs / 20 : 2;
    for (int round = 0; round < 100 && in->njobs > 1 && !s_spent(st); round++) {
        mcore_load_best(st);
        for (uint32_t k = 0; k < kick; k++) {
            uint32_t j = (uint32_t) (s_next(&seed) % in->njobs);
            if (st->choice[j] < 0)
                continue;
            mcore_assign(st, j, -1);
            mcore_assign(st, j, s_best_home(st, j, st->best[j], NULL));
        }
        mcore_local_search(st);
        mcore_keep_if_better(st);
    }
}

/* ---- construction -------------------------------------------------- */

typedef __int128 s_i128;

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

/* Reduced cost (2^F) of candidate c at threshold thr under suffix
 * multipliers S (NULL: none), starting from base (which may include
 * setups, hence 128 bits). */
static s_i128
s_reduced(const mcore_state_t *st, const int64_t *S, int32_t c, uint32_t thr, int64_t base, int F)
{
    s_i128 v = (s_i128) base << F;
    if (!S)
        return v;
    const mcore_cand_t *cd = s_cand(st, c);
    for (uint32_t u = 0; u < cd->nuse; u++) {
        const mcore_use_t *us = &st->in->uses[cd->use_off + u];
        v += (s_i128) us->amount * S[(size_t) us->res * st->nthr + thr];
    }
    return v;
}

int
mcore_construct(mcore_state_t *st, const int64_t *S, int F, const int32_t *first, int polish)
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
        rank[j] = (s_rank_t){first && first[j] < 0, b2 - b1, j};
    }
    qsort(rank, in->njobs, sizeof *rank, s_rank_cmp);
    mcore_reset(st);
    for (uint32_t i = 0; i < in->njobs; i++) {
        uint32_t j = rank[i].job, thr = in->job_thr[j];
        s_i128 best = pen;
        int32_t bc = -1;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
            if (!in->cands[c].primal_ok || !mcore_fits(st, (int32_t) c, thr))
                continue;
            s_i128 v = s_reduced(st, S, (int32_t) c, thr, mcore_in_cost(st, (int32_t) c), F);
            if (v < best) {
                best = v;
                bc = (int32_t) c;
            }
        }
        if (bc >= 0)
            mcore_assign(st, j, bc);
    }
    free(rank);
    if (polish)
        mcore_local_search(st);
    mcore_keep_if_better(st);
    return 0;
}

/* ---- driver -------------------------------------------------------- */

static void
s_free(mcore_state_t *st)
{
    free(st->slack);
    free(st->sufmin);
    free(st->grpcnt);
    free(st->head);
    free(st->choice);
    free(st->next);
    free(st->prev);
    free(st->best);
}

/* Allocates and empties the state of one solve. Returns 0 or COFAB_ENOMEM
 * (the state is then freed). */
static int
s_init(mcore_state_t *st, const mcore_t *in, const matcher_params_t *p)
{
    memset(st, 0, sizeof *st);
    st->in = in;
    st->p = p;
    st->nthr = in->nthr ? in->nthr : 1;
    /* ls_budget is for up to MCORE_FULL_JOBS jobs; bigger instances get
     * it in proportion, so the time of a solve stays bounded */
    st->budget = p->ls_budget;
    if (in->njobs > MCORE_FULL_JOBS)
        st->budget = (uint64_t) ((unsigned __int128) p->ls_budget * MCORE_FULL_JOBS / in->njobs);
    size_t nrt = (size_t) in->nres * st->nthr, nj = in->njobs ? in->njobs : 1;
    st->slack = malloc((nrt ? nrt : 1) * sizeof(int64_t));
    st->sufmin = malloc((nrt ? nrt : 1) * sizeof(int64_t));
    st->grpcnt = malloc((in->ngroups ? in->ngroups : 1) * sizeof(uint32_t));
    st->head = malloc((in->nagents ? in->nagents : 1) * sizeof(int32_t));
    st->choice = malloc(nj * sizeof(int32_t));
    st->next = malloc(nj * sizeof(int32_t));
    st->prev = malloc(nj * sizeof(int32_t));
    st->best = malloc(nj * sizeof(int32_t));
    if (!st->slack || !st->sufmin || !st->grpcnt || !st->head || !st->choice || !st->next
        || !st->prev || !st->best) {
        s_free(st);
        return COFAB_ENOMEM;
    }
    mcore_reset(st);
    st->best_obj = st->obj;
    memcpy(st->best, st->choice, in->njobs * sizeof(int32_t));
    if (in->warm) {                 /* the first solution, as far as it fits */
        for (uint32_t j = 0; j < in->njobs; j++) {
            int32_t c = in->warm[j];
            if (c >= (int32_t) in->cand_off[j] && c < (int32_t) in->cand_off[j + 1]
                && in->cands[c].primal_ok && mcore_fits(st, c, in->job_thr[j]))
                mcore_assign(st, j, c);
        }
        mcore_keep_if_better(st);
    }
    return 0;
}

int
mcore_greedy(const mcore_t *in, const matcher_params_t *p, int32_t *choice)
{
    mcore_state_t st;
    int rc = s_init(&st, in, p);
    if (rc != 0)
        return rc;
    if ((rc = mcore_construct(&st, NULL, 0, NULL, 0)) == 0)
        memcpy(choice, st.best, in->njobs * sizeof(int32_t));
    s_free(&st);
    return rc;
}

/* 1 if a completed exact search decides in: whole jobs only and every
 * job's full candidate list kept. */
static int
s_exact_proves(const mcore_t *in)
{
    if (!in->whole)
        return 0;
    for (uint32_t j = 0; j < in->njobs; j++)
        if (in->cutoff[j] != INT64_MAX)
            return 0;
    return 1;
}

int
mcore_solve(const mcore_t *in, const matcher_params_t *p, int32_t *choice, mcore_stats_t *stats)
{
    mcore_state_t st;
    memset(stats, 0, sizeof *stats);
    int rc = s_init(&st, in, p);
    if (rc != 0)
        return rc;
    int64_t lb = 0;
    if (in->warm) {                 /* polish the first solution before anything */
        mcore_load_best(&st);
        mcore_local_search(&st);
        mcore_keep_if_better(&st);
    }
    rc = mcore_lagrange(&st, &lb, &stats->lagr_iters);
    if (rc != 0)
        goto out;
    if (lb < st.best_obj) {
        mcore_load_best(&st);
        mcore_local_search(&st);
        mcore_keep_if_better(&st);
        mcore_iterate(&st);
        /* Mid-size instances: the exact two-factory re-packing,
         * alternating with the local search, on twice the local-search
         * budget (small ones have the exact search, big ones no time to
         * spare): on the 1 k bench instance it takes the cost from 1.7 %
         * to 0.8 % above the best solution known. */
        if (in->njobs > 64 && in->njobs <= MCORE_FULL_JOBS
            && (rc = mcore_lns(&st, 2 * p->ls_budget)) != 0)
            goto out;
    }
    stats->optimal = lb >= st.best_obj;
    /* The exact search only sees whole jobs on their kept candidates: its
     * completion is a proof only if no job will be split and none lost
     * candidates to pruning. Otherwise it still improves the solution,
     * but the bound stays the Lagrangian one (valid for both). */
    if (!stats->optimal && mcore_exact(&st) && s_exact_proves(in))
        stats->optimal = 1;
    if (stats->optimal)
        lb = st.best_obj;
    memcpy(choice, st.best, in->njobs * sizeof(int32_t));
    stats->objective = st.best_obj;
    stats->lower_bound = lb;
    stats->ls_evals = st.evals;
    stats->bnb_nodes = st.nodes;
out:
    s_free(&st);
    return rc;
}
