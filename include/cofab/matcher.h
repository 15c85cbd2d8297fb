/* matcher.h — the deterministic, capacity-aware order → factory matcher.
 *
 * A pure library: no I/O, no clocks, no globals, no randomness. The same
 * problem and parameters give byte-identical results (see
 * matcher_result_json) on every machine, whatever the order of the input
 * arrays: factories are sorted by key id, orders by id, items by
 * (process, material), and every tie is broken by those keys. All money is
 * integer cents, all arithmetic is integer (int64, with 128-bit
 * accumulators where sums could overflow); great-circle distances use an
 * integer fixed-point haversine (see docs/matcher.md).
 *
 * The model (docs/matcher.md has the details):
 *   - A factory offers processes; each offer lists materials, a unit price,
 *     a setup cost per batch, MOQ and max quantity, and a calendar of units
 *     per day over the horizon (minus a fixed load of past orders and a
 *     reserve share).
 *   - An order has items (process, material, qty), a due day, a delivery
 *     location, an optional budget, may allow splitting, and may exclude
 *     factories (reassignment after a decline or timeout).
 *   - Units of an order must be produced on days before its due day. Cost =
 *     price × qty + setup (shared by the jobs of one factory, process,
 *     material and due window: batching) + shipping ∝ distance + lateness
 *     (lead time + transit past the due day) − reliability credit.
 *
 * The solver: each job keeps its K cheapest capable factories (plus spread
 * picks); a plain regret greedy finds the jobs those lists cannot hold and
 * gives each the cheapest factory that still has room, which also makes
 * the first solution. Lagrangian relaxation of the capacity constraints
 * (subgradient, fixed iteration count) gives a proved lower bound and
 * guides regret-ordered constructions; shift / ejection-chain / make-room
 * local search and a fixed-seed iterated search with a fixed evaluation
 * budget improve it; small instances are finished by an exact branch and
 * bound with a node budget. Jobs left unplaced get a second chance over
 * every capable factory; split orders that do not fit whole are split
 * greedily afterwards. Big instances use two threads for candidate
 * building and the bound; the work is split the same way whatever
 * happens, so the result does not depend on them.
 *
 * Ownership: the problem is caller-owned and only read during
 * matcher_solve; the result is a new object owned by the caller.
 */
#ifndef COFAB_MATCHER_H
#define COFAB_MATCHER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MATCHER_ID_LEN 32            /* factory key id / order id, bytes */
#define MATCHER_NAME_MAX 32          /* process / material name, bytes */
#define MATCHER_MAX_HORIZON 366      /* days in a calendar */
#define MATCHER_MAX_DUE 3660         /* latest due day accepted */
#define MATCHER_MAX_FACTORIES 20000
#define MATCHER_MAX_ORDERS 200000
#define MATCHER_MAX_OFFERS 32        /* processes per factory */
#define MATCHER_MAX_MATERIALS 16     /* materials per offer */
#define MATCHER_MAX_ITEMS 8          /* items per order */
#define MATCHER_MAX_EXCLUDE 64       /* excluded factories per order */
#define MATCHER_MAX_QTY 1000000      /* units per item */
#define MATCHER_MAX_PRICE 1000000    /* cents per unit */
#define MATCHER_MAX_SETUP 100000000  /* cents per batch */
#define MATCHER_MAX_CAP 10000000     /* units per day */
#define MATCHER_MAX_LEAD 3660        /* days */
#define MATCHER_MAX_BUDGET 4000000000000000LL /* cents */

/* One item of an order. */
typedef struct {
    char process[MATCHER_NAME_MAX + 1];  /* [a-z0-9-]{1,32}, NUL-terminated */
    char material[MATCHER_NAME_MAX + 1]; /* same alphabet */
    int64_t qty;                         /* units, 1..MATCHER_MAX_QTY */
} matcher_item_t;

/* One process a factory offers. */
typedef struct {
    char process[MATCHER_NAME_MAX + 1];  /* process name */
    char materials[MATCHER_MAX_MATERIALS][MATCHER_NAME_MAX + 1]; /* worked materials */
    uint32_t nmaterials;                 /* 1..MATCHER_MAX_MATERIALS, distinct */
    int64_t unit_price;                  /* cents per unit, 0..MAX_PRICE */
    int64_t setup_cost;                  /* cents per batch, 0..MAX_SETUP */
    int64_t moq;                         /* minimum units per job, >= 1 */
    int64_t max_qty;                     /* maximum units per job, >= moq */
    const int64_t *cap;                  /* horizon entries: units/day, 0..MAX_CAP */
    const int64_t *load;                 /* horizon entries of fixed load, or NULL */
} matcher_offer_t;

/* A factory, as declared in its capacity record. */
typedef struct {
    uint8_t id[MATCHER_ID_LEN];          /* key id; unique */
    int32_t lat_e6, lon_e6;              /* location, micro-degrees */
    int32_t lead_days;                   /* quoted lead time, 0..MAX_LEAD */
    int32_t on_time_pm;                  /* on-time share, permille 0..1000 */
    int32_t accept_pm;                   /* acceptance share, permille 0..1000 */
    uint32_t completed;                  /* completed orders so far */
    int32_t reserve_pm;                  /* reserve share 0..1000, or -1: params default */
    const matcher_offer_t *offers;       /* 1..MAX_OFFERS, distinct processes */
    uint32_t noffers;
} matcher_factory_t;

/* An order to place. */
typedef struct {
    uint8_t id[MATCHER_ID_LEN];          /* order id; unique */
    const matcher_item_t *items;         /* 1..MAX_ITEMS, distinct (process, material) */
    uint32_t nitems;
    int32_t due_day;                     /* 1..MAX_DUE; produce on days < due_day */
    int32_t lat_e6, lon_e6;              /* delivery location, micro-degrees */
    int64_t budget;                      /* max total price in cents; 0 = none */
    int split;                           /* nonzero: may be split across factories */
    const uint8_t (*exclude)[MATCHER_ID_LEN]; /* factories not to use (declined, timed out) */
    uint32_t nexclude;                   /* 0..MAX_EXCLUDE */
} matcher_order_t;

/* The whole problem. Day 0 is the first calendar day. */
typedef struct {
    uint32_t horizon;                    /* calendar days, 1..MAX_HORIZON */
    const matcher_factory_t *factories;
    uint32_t nfactories;                 /* 0..MAX_FACTORIES */
    const matcher_order_t *orders;
    uint32_t norders;                    /* 0..MAX_ORDERS */
} matcher_problem_t;

/* Sizes up to which the budgets apply in full: above, the local-search
 * budget shrinks in proportion to the jobs and the Lagrangian iterations
 * in proportion to the candidates (docs/matcher.md, section 2). */
#define MCORE_FULL_JOBS 1280
#define MCORE_FULL_CANDS 50000

/* Alliance parameters (recorded in the ledger's genesis). Money in cents. */
typedef struct {
    int64_t ship_per_km;                 /* cents per km per job (0..100000) */
    int64_t ship_per_unit_km_milli;      /* milli-cents per unit per km (0..1000) */
    int64_t km_per_day;                  /* transit speed for lateness (1..100000) */
    int64_t late_per_day;                /* cents per job per day late (0..MAX_SETUP) */
    int32_t reliability_pm;              /* credit at a perfect record, permille of goods (0..1000) */
    uint32_t reliability_full;           /* completed orders for full credit (>= 1) */
    int32_t reserve_pm;                  /* default reserve share, permille (100 = 10%) */
    uint32_t batch_window;               /* days per batching window (>= 1) */
    uint32_t min_capable;                /* place only if >= this many capable factories (>= 1) */
    uint32_t max_candidates;             /* K cheapest candidates kept per job (>= 1) */
    uint32_t max_split;                  /* pieces per split item (>= 1) */
    int64_t unplaced_penalty;            /* objective cost of an unplaced job (>= 1) */
    uint32_t lagr_iters;                 /* subgradient iterations (in full up to
                                            MCORE_FULL_CANDS candidates, then
                                            fewer in proportion, at least 10) */
    uint64_t ls_budget;                  /* local-search move evaluations (in full
                                            up to MCORE_FULL_JOBS jobs, then in
                                            proportion to 1 / jobs) */
    uint64_t bnb_nodes;                  /* exact search node budget (0 = off) */
} matcher_params_t;

/* Why an order was not placed. */
typedef enum {
    MATCHER_PLACED = 0,
    MATCHER_NO_CAPABLE = 1,    /* no (non-excluded) factory works process + material */
    MATCHER_REDUNDANCY = 2,    /* fewer than min_capable capable factories */
    MATCHER_BELOW_MOQ = 3,     /* quantity below every capable factory's MOQ */
    MATCHER_ABOVE_MAX = 4,     /* quantity above every max and split not allowed */
    MATCHER_OVER_BUDGET = 5,   /* every option costs more than the budget */
    MATCHER_NO_CAPACITY = 6,   /* not enough free capacity before the due day */
} matcher_status_t;

/* One piece of a placed order: (part of) one item at one factory. */
typedef struct {
    uint8_t factory[MATCHER_ID_LEN];     /* factory key id */
    uint32_t item;                       /* item index in canonical (process, material) order */
    char process[MATCHER_NAME_MAX + 1];  /* the item's process */
    char material[MATCHER_NAME_MAX + 1]; /* the item's material */
    int64_t qty;                         /* units */
    int32_t first_day, last_day;         /* planned production days */
    int64_t cost;                        /* cost of this piece incl. its setup share */
} matcher_piece_t;

/* The outcome for one order. */
typedef struct {
    uint8_t id[MATCHER_ID_LEN];          /* order id */
    matcher_status_t status;             /* MATCHER_PLACED or the reason */
    int64_t cost;                        /* sum of piece costs (0 if unplaced) */
    int has_runner_up;                   /* 1 if runner_up is set */
    uint8_t runner_up[MATCHER_ID_LEN];   /* next best capable factory */
    const matcher_piece_t *pieces;       /* sorted by (item, factory id) */
    uint32_t npieces;
} matcher_order_result_t;

/* Opaque result; see accessors below. */
typedef struct matcher_result_s matcher_result_t;

/* Fills p with the alliance defaults (documented in docs/matcher.md). */
void matcher_params_default(matcher_params_t *p);

/* Checks every parameter's range. Returns 0 or COFAB_EINVAL. */
int matcher_params_check(const matcher_params_t *p);

/* Checks a problem against the limits and rules above (ids unique, names
 * in [a-z0-9-], ranges). Returns 0, COFAB_EMALFORMED or COFAB_ETOOBIG;
 * if err is not NULL, writes a one-line reason into it. */
int matcher_problem_check(const matcher_problem_t *pb, char *err, size_t errlen);

/* Solves pb with params (NULL: defaults). On success stores a new result
 * in *out (caller destroys it). Returns 0, COFAB_EINVAL (bad params or
 * NULL), COFAB_EMALFORMED / COFAB_ETOOBIG (problem fails
 * matcher_problem_check), COFAB_ENOMEM. */
int matcher_solve(const matcher_problem_t *pb, const matcher_params_t *params,
                  matcher_result_t **out);

/* Frees a result; safe on NULL and twice (sets *self_p to NULL). */
void matcher_result_destroy(matcher_result_t **self_p);

/* Accessors. Orders come sorted by id. Pointers stay valid until destroy. */
uint32_t matcher_result_norders(const matcher_result_t *r);
const matcher_order_result_t *matcher_result_order(const matcher_result_t *r, uint32_t i);
int64_t matcher_result_cost(const matcher_result_t *r);        /* placed orders' cost */
int64_t matcher_result_objective(const matcher_result_t *r);   /* cost + penalty × unplaced jobs */
int64_t matcher_result_lower_bound(const matcher_result_t *r); /* proved bound on the objective */
int matcher_result_optimal(const matcher_result_t *r);         /* 1 if proved optimal */
uint32_t matcher_result_nplaced(const matcher_result_t *r);
/* Gap (objective − bound) / objective in parts per million. */
int64_t matcher_result_gap_ppm(const matcher_result_t *r);

/* Canonical JSON (integers only, fixed key order, no whitespace) of the
 * result and the params it was solved with. Byte-identical for identical
 * inputs. On success *json is a new NUL-terminated malloc'd string (caller
 * frees) of *len bytes. Returns 0 or COFAB_ENOMEM. */
int matcher_result_json(const matcher_result_t *r, char **json, size_t *len);

/* SHA-256 of matcher_result_json's bytes. Returns 0 or COFAB_ENOMEM. */
int matcher_result_digest(const matcher_result_t *r, uint8_t out[32]);

/* Name of a status ("placed", "no-capable", ...). Never NULL. */
const char *matcher_status_name(matcher_status_t s);

/* Great-circle distance in metres between two points in micro-degrees,
 * computed with integer fixed-point arithmetic only (reproducible across
 * machines; accurate to a few metres). */
int64_t matcher_distance_m(int32_t lat1_e6, int32_t lon1_e6, int32_t lat2_e6, int32_t lon2_e6);

/* ---- Generalized assignment (OR-Library GAP) path --------------------- */

#define MATCHER_GAP_MAX_AGENTS 1000
#define MATCHER_GAP_MAX_JOBS 100000
#define MATCHER_GAP_MAX_CELLS 10000000   /* agents × jobs */
#define MATCHER_GAP_MAX_VALUE 1000000  /* any cost or resource use */
#define MATCHER_GAP_MAX_CAP 1000000000 /* any capacity */

/* One GAP instance: minimise Σ cost[i][j] x_ij, each job to one agent,
 * Σ_j res[i][j] x_ij <= cap[i]. Row-major m × n matrices. */
typedef struct {
    uint32_t m, n;                       /* agents, jobs */
    const int64_t *cost;                 /* m*n */
    const int64_t *res;                  /* m*n */
    const int64_t *cap;                  /* m */
} matcher_gap_t;

/* Result of a GAP solve. */
typedef struct {
    int feasible;                        /* 1 if every job is assigned */
    int optimal;                         /* 1 if proved optimal */
    int64_t cost;                        /* Σ cost of assigned jobs */
    int64_t lower_bound;                 /* proved bound on the optimum (if feasible) */
    int32_t *agent;                      /* n entries: agent of job j, or -1 */
    uint32_t n;                          /* jobs */
} matcher_gap_result_t;

/* Solves g with the iteration budgets of params (NULL: defaults). Fills
 * *res (caller releases it with matcher_gap_result_free). Returns 0,
 * COFAB_EINVAL (sizes or values out of range) or COFAB_ENOMEM. */
int matcher_gap_solve(const matcher_gap_t *g, const matcher_params_t *params,
                      matcher_gap_result_t *res);

/* Frees res->agent; safe twice. */
void matcher_gap_result_free(matcher_gap_result_t *res);

/* ---- Internal: the generic core shared by the matcher sources ----------------- *
 * Not for callers outside the matcher. A job picks one candidate or stays
 * unplaced (cost = penalty). A candidate uses `amount` of resources; each
 * resource has nthr nested capacity thresholds: a job with threshold tj
 * counts against thresholds t >= tj (EDF feasibility of due days). A use
 * may belong to a batching group whose setup cost is paid once by the
 * group's members. */

typedef struct {
    uint32_t res;                        /* resource index */
    uint32_t group;                      /* batching group or UINT32_MAX */
    int64_t amount;                      /* units used */
} mcore_use_t;

typedef struct {
    uint32_t agent;                      /* agent index (tie-break key) */
    uint32_t use_off, nuse;              /* slice of the uses array */
    int primal_ok;                       /* 0: only in the lower bound */
    int64_t cost;                        /* cost without setups */
    int64_t lbcost;                      /* cost used for the lower bound */
} mcore_cand_t;

typedef struct {
    uint32_t njobs, nres, nthr, ngroups, nagents;
    const uint32_t *job_thr;             /* njobs: threshold index */
    const uint32_t *cand_off;            /* njobs + 1: candidate slices */
    const mcore_cand_t *cands;           /* sorted by (lbcost, agent) per job */
    const mcore_use_t *uses;
    const int64_t *cap;                  /* nres × nthr cumulative capacities */
    const int64_t *setup;                /* ngroups */
    const int64_t *cutoff;               /* njobs: min lbcost of pruned candidates, INT64_MAX if none */
    int64_t penalty;                     /* unplaced cost per job */
    const int32_t *warm;                 /* njobs: a first solution (candidate or -1), or NULL */
    int whole;                           /* 1: no job is split into pieces after the core, so
                                          * a completed exact search over unpruned candidates
                                          * proves optimality; 0: it is only a primal search */
} mcore_t;

typedef struct {
    int64_t objective;                   /* best primal objective */
    int64_t lower_bound;                 /* proved lower bound */
    int optimal;                         /* exact search completed */
    uint32_t lagr_iters;                 /* iterations run */
    uint64_t ls_evals;                   /* local-search evaluations used */
    uint64_t bnb_nodes;                  /* exact search nodes used */
} mcore_stats_t;

/* Solves in; choice (njobs) receives the chosen candidate index (global
 * into cands) or -1. Returns 0, COFAB_ENOMEM. */
int mcore_solve(const mcore_t *in, const matcher_params_t *p, int32_t *choice,
                mcore_stats_t *st);

/* The plain cost-ordered regret greedy alone (no multipliers, no local
 * search): choice (njobs) gets a candidate or -1 per job. Used to find the
 * jobs whose pruned candidates run out of room. Returns 0, COFAB_ENOMEM. */
int mcore_greedy(const mcore_t *in, const matcher_params_t *p, int32_t *choice);

/* Working state of one core solve, shared by mcore.c (state, moves,
 * construction, local search), mlagr.c (Lagrangian) and mexact.c (branch
 * and bound). Every array is owned by mcore_solve. */
typedef struct {
    const mcore_t *in;              /* the instance */
    const matcher_params_t *p;      /* budgets */
    uint32_t nthr;                  /* thresholds per resource (>= 1) */
    int64_t *slack;                 /* nres × nthr: capacity minus load */
    int64_t *sufmin;                /* nres × nthr: min slack over t' >= t */
    uint32_t *grpcnt;               /* ngroups: members per batching group */
    int32_t *choice;                /* njobs: candidate or -1 */
    int32_t *head;                  /* nagents: first job placed at agent */
    int32_t *next, *prev;           /* njobs: per-agent job list links */
    int64_t obj;                    /* objective of choice */
    int32_t *best;                  /* njobs: best choice found */
    int64_t best_obj;               /* its objective */
    uint64_t evals;                 /* local-search evaluations so far */
    uint64_t budget;                /* evaluations allowed (ls_budget, scaled) */
    uint32_t rot;                   /* make-room moves so far: where the next one starts */
    uint64_t nodes;                 /* exact search nodes so far */
    int aborted;                    /* exact search hit its node budget */
    uint32_t perm[64];              /* exact search: job at each depth */
} mcore_state_t;

/* State primitives (mcore.c). fits: 1 if candidate c fits on top of the
 * current load for threshold thr. assign: moves job j to candidate c (-1:
 * unplaced), keeping obj exact. in_cost: what taking c now adds to obj
 * (its cost plus the setups of groups still empty; the penalty for -1).
 * reset: empty assignment. load_best: the best assignment.
 * keep_if_better: remembers the current one if better. */
int mcore_fits(const mcore_state_t *st, int32_t c, uint32_t thr);
void mcore_assign(mcore_state_t *st, uint32_t j, int32_t c);
int64_t mcore_in_cost(const mcore_state_t *st, int32_t c);
void mcore_reset(mcore_state_t *st);
void mcore_load_best(mcore_state_t *st);
void mcore_keep_if_better(mcore_state_t *st);

/* Regret-ordered greedy under fixed-point (2^F) suffix multipliers S (NULL:
 * none); jobs with first[j] < 0 (if first is given) go before the others.
 * Polished by local search if polish, kept if best. Returns 0 or
 * COFAB_ENOMEM. */
int mcore_construct(mcore_state_t *st, const int64_t *S, int F, const int32_t *first, int polish);

/* Local search to a local optimum within the evaluation budget (mcore.c),
 * then the fixed-seed iterated search on what is left (mcore.c). */
void mcore_local_search(mcore_state_t *st);
void mcore_iterate(mcore_state_t *st);

/* Lagrangian relaxation with constructions (mlagr.c): *lb gets the proved
 * bound. Returns 0 or COFAB_ENOMEM. */
int mcore_lagrange(mcore_state_t *st, int64_t *lb, uint32_t *iters);

/* Large-neighbourhood search (mlns.c), from the best solution: the jobs
 * of two agents at a time (and jobs elsewhere that are cheaper there)
 * re-placed by an exact branch and bound, passes over all agents
 * alternating with mcore_local_search, within budget evaluations (nodes
 * and moves, added to st->evals); the best is kept. Returns 0 or
 * COFAB_ENOMEM. */
int mcore_lns(mcore_state_t *st, uint64_t budget);

/* Exact branch and bound for at most 64 jobs (mexact.c). Returns 1 if it
 * completed (best is then optimal), 0 if skipped or out of nodes. */
int mcore_exact(mcore_state_t *st);

/* One priced candidate of a job, as the builder sees it. */
typedef struct {
    uint32_t fac;                        /* canonical factory */
    int primal_ok;                       /* may take the whole job */
    int spread;                          /* kept as a spread pick */
    int64_t cost, lbcost, full, dist;    /* without setups, bound cost, with setups, metres */
    uint32_t res[MATCHER_MAX_ITEMS];     /* resource per item */
    uint32_t slot[MATCHER_MAX_ITEMS];    /* material slot per item */
} mbuild_cand_t;

/* (process, material) capability of one resource, for lookup. */
typedef struct {
    const char *proc;                    /* process name */
    const char *mat;                     /* material name */
    uint32_t res;                        /* resource (ordered by canonical factory) */
    uint32_t slot;                       /* material slot in the offer */
} mbuild_cap_t;

/* A capability tuple with what the candidate scan reads first, packed so
 * that a scan in price order reads memory in order. */
typedef struct {
    uint32_t res, fac, slot;             /* resource, its canonical factory, material slot */
    int64_t price;                       /* the offer's unit price */
} mbuild_tup_t;

/* Key of a batching group. */
typedef struct {
    uint32_t res, slot, win;             /* group key */
    uint32_t id;                         /* a use while sorting, then the group */
} mbuild_gkey_t;

/* Scratch for listing one job's candidates; one per builder thread. */
typedef struct {
    mbuild_cand_t *tmp;                  /* candidates of one job (nf + 1) */
    uint8_t *mark;                       /* per tmp entry: kept */
    uint32_t *top;                       /* K cheapest so far, best first */
    uint32_t ntop;                       /* entries in top */
    int skipped;                         /* candidates skipped by the bound */
} mcand_lane_t;

/* Builder indexes kept for the mbuild_job_* calls (mbuild.c, mcand.c). */
typedef struct {
    mbuild_cap_t *caps;                  /* sorted by (process, material, resource) */
    uint32_t ncaps;
    uint32_t *pord;                      /* per capability range: tuples by (unit price, index) */
    uint32_t *prank;                     /* inverse of pord */
    mbuild_tup_t *tup;                   /* per tuple, in caps order */
    mbuild_tup_t *ptup;                  /* the same in pord order */
    uint32_t *item_lo, *item_hi;         /* per canonical item: its capability range */
    uint32_t *members;                   /* per canonical item: items sharing (process, material, window) */
    int64_t *rmoq, *rmax, *rprice, *rsetup; /* per resource, compact copies */
    int64_t *capT;                       /* nthr × nres: capacities, threshold-major */
    mcand_lane_t lane[2];                /* lane 0: main thread and later calls */
    size_t cand_cap, use_cap;            /* allocated sizes of cands / uses */
    uint32_t *use_slot, *use_win;        /* per use: material slot, batching window */
    size_t slot_cap, win_cap;            /* their allocated sizes */
    mbuild_gkey_t *gkeys;                /* one key per group, sorted, for mbuild_group */
    uint32_t ngkeys;
} mbuild_scratch_t;

/* The problem in canonical form plus the core instance built from it
 * (matcher/mbuild.c); internal to matcher/. Arrays are owned. */
typedef struct {
    const matcher_problem_t *pb;         /* borrowed problem */
    matcher_params_t p;                  /* parameters in force */
    uint32_t nf, no;                     /* factories, orders */
    uint32_t *fac;                       /* nf: canonical → input factory index */
    uint32_t *ord;                       /* no: canonical → input order index */
    uint32_t *item_off;                  /* no + 1: slices of item_idx */
    uint32_t *item_idx;                  /* canonical item → input item index */
    uint32_t nres;                       /* resources: one per (factory, offer) */
    uint32_t *res_fac;                   /* nres: canonical factory */
    const matcher_offer_t **res_offer;   /* nres: the offer */
    int64_t *usable;                     /* nres × horizon: free units per day */
    uint32_t nthr;                       /* distinct effective due days */
    int32_t *thr_day;                    /* nthr: produce on days < this */
    uint32_t njobs;                      /* jobs entering the core */
    uint32_t *job_order;                 /* njobs: canonical order */
    uint32_t *job_item;                  /* njobs: first canonical item */
    uint32_t *job_nitems;                /* njobs: items in the job */
    uint32_t *ord_job;                   /* no: first job of the order */
    uint32_t *ord_njobs;                 /* no: its jobs (0: not entered) */
    matcher_status_t *ord_status;        /* no: pre-filter outcome */
    int64_t *cand_full;                  /* per candidate: cost with every setup */
    int64_t *cand_dist;                  /* per candidate: distance, metres */
    int64_t (*fac_vec)[3];               /* nf: factory unit vectors (Q30) */
    uint32_t *job_thr, *cand_off;        /* core arrays (owned) */
    mcore_cand_t *cands;
    mcore_use_t *uses;
    int64_t *cap, *setup, *cutoff;
    mcore_t core;                        /* views of the arrays above */
    uint32_t *ord_thr;                   /* no: threshold index of the order's due day */
    mbuild_scratch_t *scratch;           /* builder indexes kept for mbuild_job_* */
} mbuild_t;

/* Builds the canonical form of a checked problem. Returns 0 or
 * COFAB_ENOMEM. */
int mbuild_new(const matcher_problem_t *pb, const matcher_params_t *p, mbuild_t **out);
void mbuild_destroy(mbuild_t **self_p);

/* Candidate listing (mcand.c). price_order fills sc->pord / prank.
 * list: candidates of items k0..k0+nk-1 of canonical order o into ln->tmp
 * (all: no pruning; room: fit mode, see mbuild_job_fit), returns the count
 * or sets *reason when none survive. select: moves the kept ones (K
 * cheapest and spread picks) to the front, sorted, returns their count and
 * a lower bound on every left-out bound cost in *cut. */
int mcand_price_order(const mbuild_t *b, mbuild_scratch_t *sc);
int mcand_lane_init(mcand_lane_t *ln, uint32_t nf, uint32_t K);
void mcand_lane_free(mcand_lane_t *ln);
uint32_t mcand_list(mbuild_t *b, mcand_lane_t *ln, uint32_t o, uint32_t k0, uint32_t nk,
                    int split, int all, const int64_t *room, matcher_status_t *reason);
uint32_t mcand_select(mcand_lane_t *ln, uint32_t n, int64_t *cut);

/* Every candidate of core job j, no pruning: whole-job ones in canonical
 * factory order, or for a split order's item every piece-capable one
 * sorted by (bound cost, factory). *out stays valid until the next call.
 * Returns the count. */
uint32_t mbuild_job_all(mbuild_t *b, uint32_t j, const mbuild_cand_t **out);

/* The cheapest (cost with every setup, then factory) whole-job candidate
 * of core job j (a split item taken whole) that fits the free room given per
 * resource and threshold (nres × nthr, as mcore slack suffix minima), over
 * every capable factory; only fitting ones are priced. NULL if none. The
 * pointer stays valid until the next mbuild_job_* call. */
const mbuild_cand_t *mbuild_job_fit(mbuild_t *b, uint32_t j, const int64_t *room);

/* Adds extra[i] (from mbuild_job_fit) as one more candidate of core job
 * jobs[i] (ascending, distinct, whole jobs), at its (bound cost, factory)
 * place, and redoes the batching groups; the core views follow. Returns 0
 * or COFAB_ENOMEM (the builder may then only be destroyed). */
int mbuild_augment(mbuild_t *b, const uint32_t *jobs, const mbuild_cand_t *extra, uint32_t n);

/* Growing output buffer of the canonical JSON (mjson.c); oom is set when
 * an allocation fails, after which writes are ignored. */
typedef struct {
    char *p;                             /* buffer, NUL-terminated */
    size_t len, cap;                     /* used, allocated */
    int oom;                             /* an allocation failed */
} mjson_t;

/* put: n raw bytes. str: a NUL-terminated string. int: a decimal integer.
 * kv: "key":integer. hex: a 32-byte id as a quoted hex string. */
void mjson_put(mjson_t *b, const char *s, size_t n);
void mjson_str(mjson_t *b, const char *s);
void mjson_int(mjson_t *b, int64_t v);
void mjson_kv(mjson_t *b, const char *key, int64_t v);
void mjson_hex(mjson_t *b, const uint8_t *id);

/* Builder helpers shared by mbuild.c and maugment.c. grow: makes *p hold
 * at least need elements of elem bytes (a first big block is aligned for
 * huge pages), updating *cap; returns 0 or COFAB_ENOMEM (then *p is
 * unchanged). gkey_cmp: qsort order of group keys. */
int mbuild_grow(void **p, size_t *cap, size_t need, size_t elem);
int mbuild_gkey_cmp(const void *a, const void *b);

/* Batching group of (resource, material slot, window), or UINT32_MAX if no
 * core candidate uses it. */
uint32_t mbuild_group(const mbuild_t *b, uint32_t res, uint32_t slot, uint32_t win);

/* Cost without setups of making qty[i] units with offers[i] (i < n) at
 * canonical factory f for canonical order o, dist_m away. */
int64_t mbuild_var_cost(const mbuild_t *b, uint32_t o, uint32_t f, int64_t dist_m,
                        const matcher_offer_t *const *offers, const int64_t *qty, uint32_t n);

/* Unit vector (Q30) of a point, and the great-circle distance in metres
 * between two such vectors; matcher_distance_m is the composition. */
void matcher_unit_vector(int32_t lat_e6, int32_t lon_e6, int64_t v[3]);
int64_t matcher_vec_distance_m(const int64_t a[3], const int64_t b[3]);
/* Straight-line (chord) distance in metres, never more than the arc. */
int64_t matcher_vec_chord_m(const int64_t a[3], const int64_t b[3]);

/* New array of the n input indices sorted by the 32-byte ids found at
 * base + i × stride (memcmp order); NULL when out of memory. */
uint32_t *matcher_canon(const uint8_t *base, size_t stride, uint32_t n);

/* Input item of canonical order o, canonical item k. */
const matcher_item_t *mbuild_item(const mbuild_t *b, uint32_t o, uint32_t k);

#ifdef __cplusplus
}
#endif
#endif
