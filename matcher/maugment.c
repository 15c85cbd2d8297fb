/* maugment.c — one more candidate for the jobs whose pruned lists run out
 * of room: inserted in place into the builder's candidate arrays (grown,
 * not copied), with new batching groups where needed.
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

/* Group of (res, slot, win) for an added use: an existing one, or a new
 * one appended to the setups and to keys (merged into gkeys later). */
static int
s_new_use_group(mbuild_t *b, mbuild_gkey_t *keys, uint32_t *nkeys, uint32_t res, uint32_t slot,
                uint32_t win, uint32_t *g)
{
    *g = mbuild_group(b, res, slot, win);
    if (*g != UINT32_MAX)
        return 0;
    for (uint32_t i = 0; i < *nkeys; i++)
        if (keys[i].res == res && keys[i].slot == slot && keys[i].win == win) {
            *g = keys[i].id;
            return 0;
        }
    int64_t *q = realloc(b->setup, ((size_t) b->core.ngroups + 1) * sizeof *q);
    if (!q)
        return COFAB_ENOMEM;
    b->setup = q;
    *g = b->core.ngroups++;
    b->setup[*g] = b->res_offer[res]->setup_cost;
    keys[(*nkeys)++] = (mbuild_gkey_t){res, slot, win, *g};
    return 0;
}

/* 1 if extra candidate e sorts before core candidate c (bound cost,
 * then factory). */
static int
s_before(const mbuild_cand_t *e, const mcore_cand_t *c)
{
    return e->lbcost < c->lbcost || (e->lbcost == c->lbcost && e->fac < c->agent);
}

int
mbuild_augment(mbuild_t *b, const uint32_t *jobs, const mbuild_cand_t *extra, uint32_t n)
{
    mbuild_scratch_t *sc = b->scratch;
    uint32_t nc = b->cand_off[b->njobs];
    uint32_t nu = nc ? b->cands[nc - 1].use_off + b->cands[nc - 1].nuse : 0;
    uint32_t *upre = malloc(((size_t) n + 1) * sizeof *upre);
    if (!upre)
        return COFAB_ENOMEM;
    upre[0] = 0;                    /* uses of the extras before extra i */
    for (uint32_t i = 0; i < n; i++)
        upre[i + 1] = upre[i] + b->job_nitems[jobs[i]];
    uint32_t nu2 = nu + upre[n];
    /* grown in place (realloc): cheaper than fresh arrays */
    size_t cc = sc->cand_cap, c2 = sc->cand_cap;
    mbuild_gkey_t *keys = malloc(((size_t) upre[n] + 1) * sizeof *keys);
    if (!keys || mbuild_grow((void **) &b->cands, &sc->cand_cap, (size_t) nc + n + 1, sizeof *b->cands)
        || mbuild_grow((void **) &b->cand_full, &cc, sc->cand_cap, sizeof(int64_t))
        || mbuild_grow((void **) &b->cand_dist, &c2, sc->cand_cap, sizeof(int64_t))
        || mbuild_grow((void **) &b->uses, &sc->use_cap, (size_t) nu2 + 1, sizeof *b->uses)
        || mbuild_grow((void **) &sc->use_slot, &sc->slot_cap, sc->use_cap, sizeof(uint32_t))
        || mbuild_grow((void **) &sc->use_win, &sc->win_cap, sc->use_cap, sizeof(uint32_t))) {
        free(upre);
        free(keys);
        return COFAB_ENOMEM;
    }
    uint32_t nkeys = 0, x = n;
    /* From the last job down, each job's slice moves up by the extras of
     * the jobs before it (never onto data not yet moved); its own extra
     * goes to its sorted place, the extra's uses after the job's own. */
    for (uint32_t j = b->njobs; j-- > 0;) {
        const mbuild_cand_t *e = x > 0 && jobs[x - 1] == j ? &extra[--x] : NULL;
        uint32_t c0 = b->cand_off[j], c1 = b->cand_off[j + 1], cs = x, us = upre[x];
        uint32_t u0 = b->cands[c0].use_off;
        uint32_t u1 = b->cands[c1 - 1].use_off + b->cands[c1 - 1].nuse;
        memmove(b->uses + u0 + us, b->uses + u0, (u1 - u0) * sizeof *b->uses);
        memmove(sc->use_slot + u0 + us, sc->use_slot + u0, (u1 - u0) * sizeof(uint32_t));
        memmove(sc->use_win + u0 + us, sc->use_win + u0, (u1 - u0) * sizeof(uint32_t));
        uint32_t pos = c1;              /* source index the extra goes before */
        if (e) {
            pos = c0;
            while (pos < c1 && !s_before(e, &b->cands[pos]))
                pos++;
        }
        for (uint32_t c = c1; c-- > c0;) {
            uint32_t d = c + cs + (e && c >= pos);
            b->cands[d] = b->cands[c];
            b->cands[d].use_off += us;
            b->cand_full[d] = b->cand_full[c];
            b->cand_dist[d] = b->cand_dist[c];
        }
        if (e) {
            uint32_t d = pos + cs, eu = u1 + us, nk = b->job_nitems[j];
            uint32_t w = (uint32_t) b->pb->orders[b->ord[b->job_order[j]]].due_day / b->p.batch_window;
            b->cands[d] = (mcore_cand_t){e->fac, eu, nk, 1, e->cost, e->lbcost};
            b->cand_full[d] = e->full;
            b->cand_dist[d] = e->dist;
            for (uint32_t k = 0; k < nk; k++) {
                uint32_t g;
                if (s_new_use_group(b, keys, &nkeys, e->res[k], e->slot[k], w, &g)) {
                    free(upre);
                    free(keys);
                    return COFAB_ENOMEM;
                }
                int64_t q = mbuild_item(b, b->job_order[j], b->job_item[j] + k)->qty;
                b->uses[eu + k] = (mcore_use_t){e->res[k], g, q};
                sc->use_slot[eu + k] = e->slot[k];
                sc->use_win[eu + k] = w;
            }
        }
        b->cand_off[j + 1] = c1 + cs + (e != NULL);
    }
    free(upre);
    /* the new groups' keys join the sorted ones */
    int rc = 0;
    if (nkeys) {
        mbuild_gkey_t *all = malloc(((size_t) sc->ngkeys + nkeys) * sizeof *all);
        if (!all)
            rc = COFAB_ENOMEM;
        else {
            qsort(keys, nkeys, sizeof *keys, mbuild_gkey_cmp);
            uint32_t i = 0, k = 0, o = 0;
            while (i < sc->ngkeys || k < nkeys)
                all[o++] = k == nkeys || (i < sc->ngkeys && mbuild_gkey_cmp(&sc->gkeys[i], &keys[k]) < 0)
                               ? sc->gkeys[i++]
                               : keys[k++];
            free(sc->gkeys);
            sc->gkeys = all;
            sc->ngkeys = o;
        }
    }
    free(keys);
    b->core.cands = b->cands;
    b->core.uses = b->uses;
    b->core.setup = b->setup;
    return rc;
}

