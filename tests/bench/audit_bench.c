/* audit_bench.c — `cofab audit verify` on a 1 M-record alliance history, with and without --replay, as ratios to the verify limit. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/audit_rules.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/match_input.h"
#include "cofab/matcher.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"

#define S_FACTORIES 16         /* founding factories */
#define S_CUSTOMERS 256        /* customer keys */
#define S_ROUND 64             /* orders per matching round */
#define S_THREADS 2            /* the box has 2 cores: the limit is a 2-core figure */
#define S_SIGNED 232           /* bytes per verify-limit message: a typical envelope */
#define S_MSGS 64              /* distinct messages the limit loop cycles through */
#define S_DAY_MS 86400000ull

typedef struct {
    char dir[64];                      /* temp dir ("" before mkdtemp) */
    size_t target;                     /* records to build */
    keys_t *hub, *op;                  /* hub and operator */
    keys_t *factories[S_FACTORIES];    /* founding factories */
    keys_t *customers[S_CUSTOMERS];    /* ordering customers */
    envelope_chain_t hub_c, op_c;      /* author chains */
    envelope_chain_t fac_c[S_FACTORIES], cus_c[S_CUSTOMERS];
    ledger_t *l;                       /* the ledger being built */
    uint8_t *bufs;                     /* sealing room: S_ROUND * 2 envelopes */
    envelope_t *envs;                  /* their decoded forms */
    ledger_result_t *res;              /* append outcomes */
    size_t n;                          /* envelopes waiting in the batch */
    uint64_t seed;                     /* order ids: deterministic counter */
} s_bench_t;

static void
s_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "audit_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- The verify limit: 2 threads of Ed25519 verification --------------- */

typedef struct {
    const uint8_t *msgs, *sigs, *pk;   /* S_MSGS signed messages and the key */
    double secs;                       /* how long to run */
    uint64_t count;                    /* verifies done */
    double elapsed;                    /* seconds run */
} s_verify_job_t;

static void *
s_verify_loop(void *arg)
{
    s_verify_job_t *j = arg;
    uint64_t t0 = util_mono_ns(), stop = (uint64_t) (j->secs * 1e9);
    for (int round = 0; round < 10000000; round++) {
        for (size_t i = 0; i < S_MSGS; i++)
            if (crypto_sign_verify_detached(j->sigs + i * 64, j->msgs + i * S_SIGNED, S_SIGNED,
                                            j->pk) != 0)
                s_die("a valid signature failed to verify");
        j->count += S_MSGS;
        if (util_mono_ns() - t0 >= stop)
            break;
    }
    j->elapsed = (double) (util_mono_ns() - t0) / 1e9;
    return NULL;
}

/* One 2-core sample of verifies per second. */
static double
s_verify_limit(const keys_t *k, double secs)
{
    static const size_t room = S_MSGS * S_SIGNED;
    uint8_t *msgs = malloc(room), *sigs = malloc(S_MSGS * 64);
    if (!msgs || !sigs)
        s_die("out of memory");
    randombytes_buf(msgs, room);
    for (size_t i = 0; i < S_MSGS; i++)
        if (keys_sign(k, msgs + i * S_SIGNED, S_SIGNED, sigs + i * 64) != 0)
            s_die("keys_sign failed");
    s_verify_job_t jobs[S_THREADS];
    pthread_t tids[S_THREADS];
    for (int t = 0; t < S_THREADS; t++) {
        jobs[t] = (s_verify_job_t){msgs, sigs, keys_sign_pk(k), secs, 0, 0};
        if (pthread_create(&tids[t], NULL, s_verify_loop, &jobs[t]) != 0)
            s_die("pthread_create failed");
    }
    double rate = 0;
    for (int t = 0; t < S_THREADS; t++) {
        pthread_join(tids[t], NULL);
        rate += (double) jobs[t].count / jobs[t].elapsed;
    }
    free(msgs);
    free(sigs);
    return rate;
}

/* ---- Building the history ------------------------------------------------ */

static void
s_add(s_bench_t *b, envelope_chain_t *c, const keys_t *k, int kind, const uint8_t subject[32],
      uint8_t *payload, size_t len)
{
    envelope_spec_t spec = {.kind = kind, .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = len};
    if (subject)
        memcpy(spec.subject, subject, 32);
    uint8_t *buf = b->bufs + b->n * ENVELOPE_MAX;
    size_t elen = 0;
    if (envelope_chain_seal(c, &spec, k, buf, ENVELOPE_MAX, &elen) != 0 ||
        envelope_open(&b->envs[b->n], buf, elen) != 0)
        s_die("cannot seal a %s", envelope_kind_name(kind));
    free(payload);
    b->n++;
}

/* Appends the batch in one transaction; the rules must accept all of it. */
static void
s_commit(s_bench_t *b)
{
    if (!b->n)
        return;
    if (ledger_append(b->l, b->envs, b->n, util_now_ms(), b->res) != 0)
        s_die("append failed");
    for (size_t i = 0; i < b->n; i++)
        if (b->res[i].code != 0)
            s_die("the rules refused a %s: %s", envelope_kind_name(b->envs[i].kind),
                  cofab_strerror(b->res[i].code));
    b->n = 0;
}

static void
s_genesis(s_bench_t *b)
{
    payload_genesis_t *g = calloc(1, sizeof *g);
    if (!g)
        s_die("out of memory");
    payload_genesis_init(g);
    snprintf(g->origin, sizeof g->origin, "bench.cofab.example/audit");
    keys_verifier(b->hub, &g->hub);
    memcpy(g->hub_transport, keys_curve_pk(b->hub), 32);
    keys_verifier(b->op, &g->operator_key);
    for (int i = 0; i < S_FACTORIES; i++) {
        keys_verifier(b->factories[i], &g->members[i].key);
        memcpy(g->members[i].transport, keys_curve_pk(b->factories[i]), 32);
        g->members[i].role = PAYLOAD_ROLE_FACTORY;
    }
    g->nmembers = S_FACTORIES;
    g->witness_k = 1;
    g->customers = PAYLOAD_CUSTOMERS_OPEN;
    uint8_t *p = NULL;
    size_t n = 0;
    if (payload_genesis_encode(g, &p, &n) != 0)
        s_die("genesis encode");
    s_add(b, &b->op_c, b->op, ENVELOPE_GENESIS, NULL, p, n);
    ledger_options_t o = {.no_sync = 1, .apply = policy_apply, .map_size = (size_t) 4 << 30};
    if (ledger_create(&b->l, b->dir, g->origin, &b->envs[0], &o) != 0)
        s_die("cannot create the ledger in %s", b->dir);
    b->n = 0;
    free(g);
}

static void
s_capacities(s_bench_t *b)
{
    uint32_t today = (uint32_t) (util_now_ms() / S_DAY_MS);
    for (int i = 0; i < S_FACTORIES; i++) {
        payload_capacity_t *c = calloc(1, sizeof *c);
        if (!c)
            s_die("out of memory");
        c->start_day = today;
        c->valid_until_day = today + 365;
        c->lead_days = 1 + i % 4;
        c->lat_e6 = 44000000 + i * 250000;
        c->lon_e6 = 4000000 + i * 300000;
        c->reserve_pm = -1;
        snprintf(c->location, sizeof c->location, "plant %d", i);
        payload_offer_t *o = &c->offers[0];
        snprintf(o->process, sizeof o->process, "cnc-milling");
        snprintf(o->materials[0], sizeof o->materials[0], "aluminium");
        o->nmaterials = 1;
        o->unit_price = 900 + 37 * i;
        o->setup_cost = 5000;
        o->moq = 1;
        o->max_qty = 100000;
        o->ncap = 60;
        for (uint32_t d = 0; d < o->ncap; d++)
            o->cap[d] = 50000;
        c->noffers = 1;
        uint8_t *p = NULL;
        size_t n = 0;
        if (payload_capacity_encode(c, &p, &n) != 0)
            s_die("capacity encode");
        free(c);
        s_add(b, &b->fac_c[i], b->factories[i], ENVELOPE_CAPACITY, NULL, p, n);
    }
    s_commit(b);
}

static int
s_factory(const s_bench_t *b, const uint8_t pk[32])
{
    for (int i = 0; i < S_FACTORIES; i++)
        if (memcmp(keys_sign_pk(b->factories[i]), pk, 32) == 0)
            return i;
    s_die("assignment to an unknown factory");
    return -1;
}

/* One round: S_ROUND orders, the hub's matching, then every placed order
 * accepted and taken through production to delivery. */
static void
s_round(s_bench_t *b)
{
    uint8_t ids[S_ROUND][32];
    uint32_t today = (uint32_t) (util_now_ms() / S_DAY_MS);
    for (int i = 0; i < S_ROUND; i++) {
        payload_order_t o = {.nitems = 1, .lat_e6 = 45000000, .lon_e6 = 7000000};
        snprintf(o.items[0].process, sizeof o.items[0].process, "cnc-milling");
        snprintf(o.items[0].material, sizeof o.items[0].material, "aluminium");
        o.items[0].qty = 10 + (int64_t) (b->seed % 90);
        o.due_day = today + 20;
        uint8_t *p = NULL;
        size_t n = 0;
        if (payload_order_encode(&o, &p, &n) != 0)
            s_die("order encode");
        crypto_generichash(ids[i], 32, (const uint8_t *) &b->seed, sizeof b->seed, NULL, 0);
        int c = (int) (b->seed++ % S_CUSTOMERS);
        s_add(b, &b->cus_c[c], b->customers[c], ENVELOPE_ORDER, ids[i], p, n);
    }
    s_commit(b);

    match_input_t *in = NULL;
    matcher_result_t *r = NULL;
    payload_assign_t *a = malloc(sizeof *a);
    int placed_f[S_ROUND];
    uint8_t placed_id[S_ROUND][32];
    size_t placed = 0;
    if (!a || match_input_build(b->l, &in) != 0 ||
        matcher_solve(match_input_problem(in), match_input_params(in), &r) != 0)
        s_die("matching failed");
    for (uint32_t i = 0; i < matcher_result_norders(r) && placed < S_ROUND; i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i);
        if (o->status != MATCHER_PLACED)
            continue;
        uint8_t *p = NULL;
        size_t n = 0;
        if (match_input_assign(in, r, o, a) != 0 || a->npieces != 1 ||
            payload_assign_encode(a, &p, &n) != 0)
            s_die("assign encode");
        placed_f[placed] = s_factory(b, a->pieces[0].factory);
        memcpy(placed_id[placed++], o->id, 32);
        s_add(b, &b->hub_c, b->hub, ENVELOPE_ASSIGN, o->id, p, n);
    }
    s_commit(b);
    matcher_result_destroy(&r);
    match_input_destroy(&in);
    free(a);

    for (size_t i = 0; i < placed; i++) {
        payload_accept_t acc = {.note = ""};
        uint8_t *p = NULL;
        size_t n = 0;
        if (payload_accept_encode(&acc, &p, &n) != 0)
            s_die("accept encode");
        s_add(b, &b->fac_c[placed_f[i]], b->factories[placed_f[i]], ENVELOPE_ACCEPT, placed_id[i], p, n);
    }
    s_commit(b);
    for (int stage = PAYLOAD_STAGE_IN_PRODUCTION; stage <= PAYLOAD_STAGE_DELIVERED; stage++) {
        for (size_t i = 0; i < placed; i++) {
            payload_status_t st = {.stage = stage};
            uint8_t *p = NULL;
            size_t n = 0;
            if (payload_status_encode(&st, &p, &n) != 0)
                s_die("status encode");
            s_add(b, &b->fac_c[placed_f[i]], b->factories[placed_f[i]], ENVELOPE_STATUS,
                  placed_id[i], p, n);
        }
        s_commit(b);
    }
}

/* The final checkpoint, cosigned by factory 0 (genesis asks for 1). */
static void
s_checkpoint(s_bench_t *b)
{
    char note[LEDGER_CHECKPOINT_MAX], cosigned[LEDGER_CHECKPOINT_MAX];
    checkpoint_t cp;
    if (ledger_checkpoint_sign(b->l, b->hub, note, sizeof note) != 0 ||
        note_cosign(note, strlen(note), keys_name(b->factories[0]),
                    keys_sign_sk(b->factories[0]), util_now_ms() / 1000, cosigned,
                    sizeof cosigned) != 0 ||
        checkpoint_from_note(&cp, cosigned, strlen(cosigned)) != 0 ||
        ledger_checkpoint_put(b->l, cp.size, cosigned, strlen(cosigned)) != 0)
        s_die("checkpoint");
}

/* ---- Auditing ------------------------------------------------------------ */

typedef struct {
    double secs, rate;               /* wall time, records per second */
    double cpu_us;                   /* process CPU per record, microseconds */
    audit_report_t r;                /* verdict */
    audit_rules_summary_t sum;       /* replay counts */
} s_run_t;

/* CPU seconds this process used so far (all threads): unlike wall time,
 * it does not depend on what else the machine runs. */
static double
s_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static void
s_audit(s_bench_t *b, int rules, int replay, s_run_t *out)
{
    ledger_t *l = NULL;
    ledger_options_t o = {.read_only = 1};
    audit_rules_t *ar = NULL;
    audit_rules_options_t ro = {.replay = replay};
    if (ledger_open(&l, b->dir, &o) != 0 || (rules && audit_rules_new(&ar, &ro) != 0))
        s_die("cannot open the ledger");
    audit_options_t ao = {.threads = S_THREADS, .hook = rules ? audit_rules_hook(ar) : NULL};
    double cpu0 = s_cpu_s();
    uint64_t t0 = util_mono_ns();
    if (audit_verify(l, &ao, &out->r) != 0)
        s_die("the audit could not run");
    out->secs = (double) (util_mono_ns() - t0) / 1e9;
    out->cpu_us = (s_cpu_s() - cpu0) * 1e6 / (double) out->r.records;
    out->rate = (double) out->r.records / out->secs;
    if (!out->r.valid)
        s_die("the history does not audit: %s", out->r.reason);
    if (rules)
        audit_rules_summary(ar, &out->sum);
    audit_rules_destroy(&ar);
    ledger_destroy(&l);
}

static void
s_cleanup(s_bench_t *b)
{
    if (!b->dir[0])
        return;
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", b->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", b->dir);
    unlink(path);
    rmdir(b->dir);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    s_bench_t *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    const char *env = getenv("COFAB_AUDIT_BENCH_RECORDS");
    b->target = env ? strtoull(env, NULL, 10) : 1000000;
    if (getenv("COFAB_BENCH_QUICK"))
        b->target /= 20;
    if (b->target < 1000)
        b->target = 1000;
    b->hub = keys_generate("hub");
    b->op = keys_generate("operator");
    for (int i = 0; i < S_FACTORIES; i++) {
        char name[16];
        snprintf(name, sizeof name, "factory%02d", i);
        b->factories[i] = keys_generate(name);
        envelope_chain_init(&b->fac_c[i]);
    }
    for (int i = 0; i < S_CUSTOMERS; i++) {
        b->customers[i] = keys_generate("customer");
        envelope_chain_init(&b->cus_c[i]);
    }
    envelope_chain_init(&b->hub_c);
    envelope_chain_init(&b->op_c);
    b->bufs = malloc((size_t) S_ROUND * 2 * ENVELOPE_MAX);
    b->envs = calloc(S_ROUND * 2, sizeof *b->envs);
    b->res = calloc(S_ROUND * 2, sizeof *b->res);
    const char *tmp = getenv("TMPDIR");
    snprintf(b->dir, sizeof b->dir, "%s/cofab-abench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!b->hub || !b->op || !b->bufs || !b->envs || !b->res || !mkdtemp(b->dir))
        s_die("setup failed");

    double limit0 = s_verify_limit(b->hub, 2.0);
    printf("audit_bench: building a history of %zu records (%d factories, %d customers, "
           "%d orders per round)...\n", b->target, S_FACTORIES, S_CUSTOMERS, S_ROUND);
    fflush(stdout);
    uint64_t t0 = util_mono_ns();
    s_genesis(b);
    s_capacities(b);
    while (ledger_size(b->l) < b->target)
        s_round(b);
    s_checkpoint(b);
    double build_s = (double) (util_mono_ns() - t0) / 1e9;
    uint64_t size = ledger_size(b->l);
    ledger_destroy(&b->l);

    s_run_t *plain = calloc(1, sizeof *plain), *rules = calloc(1, sizeof *rules),
            *replay = calloc(1, sizeof *replay);
    if (!plain || !rules || !replay)
        s_die("out of memory");
    s_audit(b, 0, 0, plain);
    s_audit(b, 1, 0, rules);
    s_audit(b, 1, 1, replay);
    double limit1 = s_verify_limit(b->hub, 2.0);
    double limit = limit0 > limit1 ? limit0 : limit1;

    printf("history: %llu records built in %.1f s; %llu orders, %llu matcher rounds\n",
           (unsigned long long) size, build_s, (unsigned long long) replay->sum.orders,
           (unsigned long long) replay->sum.rounds);
    printf("%-44s %10.0f/s  (samples %.0f, %.0f)\n", "Ed25519 verify, 2 cores (limit)", limit,
           limit0, limit1);
    const s_run_t *runs[3] = {plain, rules, replay};
    const char *names[3] = {"audit: signatures, chain, tree, checkpoints",
                            "audit verify (+ rules: authorization, states)",
                            "audit verify --replay (+ every matcher round)"};
    for (int i = 0; i < 3; i++)
        printf("%-44s %10.0f/s  = %.2f x limit  (%.1f s, %.1f us CPU/record)\n", names[i],
               runs[i]->rate, runs[i]->rate / limit, runs[i]->secs, runs[i]->cpu_us);
    printf("replay: %llu rounds rerun, %llu assignments identical\n",
           (unsigned long long) replay->sum.rounds, (unsigned long long) replay->sum.assigns);
    printf("goal: audit verify >= 0.80 x limit: %s (rules), %s (replay)\n",
           rules->rate >= 0.8 * limit ? "met" : "MISSED",
           replay->rate >= 0.8 * limit ? "met" : "MISSED");
    free(plain);
    free(rules);
    free(replay);
    if (getenv("COFAB_AUDIT_BENCH_KEEP")) /* for profiling `cofab audit verify` on it */
        printf("history kept in %s\n", b->dir);
    else
        s_cleanup(b);
    keys_destroy(&b->hub);
    keys_destroy(&b->op);
    for (int i = 0; i < S_FACTORIES; i++)
        keys_destroy(&b->factories[i]);
    for (int i = 0; i < S_CUSTOMERS; i++)
        keys_destroy(&b->customers[i]);
    free(b->bufs);
    free(b->envs);
    free(b->res);
    free(b);
    return 0;
}
