/* mexact.c — the matcher core's exact depth-first branch and bound for
 * small instances (at most 64 jobs, no split pieces), with a node budget.
 */
#include "cofab/matcher.h"

#include <stdint.h>

static void
s_dfs(mcore_state_t *st, uint32_t i, const int64_t *rest)
{
    const mcore_t *in = st->in;
    if (st->aborted)
        return;
    if (++st->nodes > st->p->bnb_nodes) {
        st->aborted = 1;
        return;
    }
    if (i == in->njobs) {
        mcore_keep_if_better(st);
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
            if (in->cands[c].cost < m && mcore_fits(st, (int32_t) c, in->job_thr[j]))
                m = in->cands[c].cost;
        bound += m;
    }
    if (bound >= st->best_obj)
        return;
    uint32_t j = st->perm[i], thr = in->job_thr[j];
    for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1] && !st->aborted; c++) {
        if (!mcore_fits(st, (int32_t) c, thr))
            continue;
        mcore_assign(st, j, (int32_t) c);
        s_dfs(st, i + 1, rest);
        mcore_assign(st, j, -1);
    }
    if (!st->aborted)
        s_dfs(st, i + 1, rest);             /* job j stays unplaced */
}

int
mcore_exact(mcore_state_t *st)
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
    mcore_reset(st);
    st->aborted = 0;
    s_dfs(st, 0, rest);
    return !st->aborted;
}
