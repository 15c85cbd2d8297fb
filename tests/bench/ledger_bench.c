/* ledger_bench.c — ingest, audit and proof throughput, as ratios to the Ed25519 verify limit measured in the same run. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/audit.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/merkle.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/util.h"

#define S_ORIGIN "bench.cofab.example/ledger"
#define S_AUTHORS 100          /* even: verifier/signer t owns the authors a % 2 == t */
#define S_THREADS 2            /* the box has 2 cores; every figure is a 2-core figure */
#define S_PAYLOAD 112          /* payload bytes per envelope */
#define S_SIGNED (ENVELOPE_HEADER_LEN + S_PAYLOAD)  /* bytes each signature covers */
#define S_SLOT (S_SIGNED + ENVELOPE_SIG_LEN)        /* bytes per pre-signed envelope */
#define S_VERIFY_MSGS 64       /* distinct messages cycled by the verify-limit loop */
#define S_QUEUE_CAP 4096       /* verified envelopes waiting for the writer */
#define S_BATCH_MAX 512        /* most envelopes per group commit */
#define S_QUICK_DIV 20         /* COFAB_BENCH_QUICK shrinks sizes and durations by this */
#define S_LIMIT_SAMPLES 4      /* 2-core verify measurements: first, then after each phase */

/* Everything one run needs and measures. */
typedef struct {
    int quick;                   /* COFAB_BENCH_QUICK=1 */
    double secs;                 /* length of each timed loop (verify, proofs) */
    size_t ingest_n;             /* envelopes in the ingest test */
    size_t audit_n;              /* envelopes in the audit ledger (plus genesis) */
    size_t cp_every;             /* checkpoint interval while building it */
    size_t build_chunk;          /* envelopes signed and appended per build step */
    char dir[64];                /* temp dir, removed at exit; "" before mkdtemp */
    keys_t *hub;                 /* hub key: genesis and checkpoints */
    keys_t *authors[S_AUTHORS];  /* envelope authors */
    uint8_t msgs[S_VERIFY_MSGS * S_SIGNED]; /* verify-limit messages, random */
    uint8_t sigs[S_VERIFY_MSGS * 64];       /* their signatures by authors[0] */
    double verify1, verify2;     /* results: verifies/s, 1 core; 2-core limit (best sample) */
    double v2[S_LIMIT_SAMPLES];  /* 2-core samples */
    size_t nv2;                  /* samples taken */
    double presign_s;            /* seconds to pre-sign the ingest set */
    double ingest_s, ingest_rate;
    size_t batches;              /* group commits in the ingest */
    double commit_p50_ms, commit_p99_ms, commit_max_ms;
    /* Where the ingest's time goes: CPU per record on the verifier threads
     * and on the writer, the writer's share of wall time spent inside
     * ledger_append, and how often a verifier found the queue full. */
    double ingest_open_us, ingest_writer_us, writer_busy;
    size_t queue_full_waits;
    double build_s;              /* seconds to sign and store the audit ledger */
    double audit_s, audit_rate;
    uint64_t audit_records, audit_checkpoints, audit_authors;
    double proof_rate;           /* inclusion proof + get + verify per second */
    uint64_t proofs;             /* queries run */
    size_t proof_len_max;        /* longest proof seen, hashes */
    /* Box CPU share other processes used per phase: high means unreliable. */
    double other_verify, other_ingest, other_audit, other_proofs;
} s_bench_t;

/* Removes the temp dir and the ledgers in it (only files the bench made). */
static void
s_cleanup(s_bench_t *b)
{
    static const char *const paths[] = {"ingest/data.mdb", "ingest/lock.mdb", "ingest",
                                        "audit/data.mdb", "audit/lock.mdb", "audit"};
    char path[256];
    for (size_t i = 0; b->dir[0] && i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", b->dir, paths[i]);
        remove(path); /* a file or an empty directory; missing ones are fine */
    }
    rmdir(b->dir); /* "" before mkdtemp: fails harmlessly */
    b->dir[0] = 0;
}

/* Prints why, removes the temp dir and exits 1. Main thread only. */
__attribute__((format(printf, 2, 3), noreturn)) static void
s_die(s_bench_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ledger_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    s_cleanup(b);
    exit(1);
}

static double
s_secs_since(uint64_t t0)
{
    return (double) (util_mono_ns() - t0) / 1e9;
}

/* Where a phase started: wall clock, CPU busy on the box, CPU used by us. */
typedef struct {
    uint64_t t_ns;               /* monotonic time */
    double busy_s;               /* box-wide busy seconds (incl. steal); < 0: unknown */
    double own_s;                /* this process's user + system seconds */
} s_load_t;

static void
s_load_mark(s_load_t *m)
{
    unsigned long long v[8] = {0};
    struct timespec cpu;
    FILE *f = fopen("/proc/stat", "r");
    m->busy_s = -1;
    if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                    &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
        m->busy_s = (double) (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
                    (double) sysconf(_SC_CLK_TCK);
    if (f)
        fclose(f);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    m->own_s = (double) cpu.tv_sec + (double) cpu.tv_nsec / 1e9;
    m->t_ns = util_mono_ns();
}

/* Fraction (0..1) of all cores busy with others' work since m; -1 unknown. */
static double
s_load_other(const s_load_t *m)
{
    s_load_t now;
    s_load_mark(&now);
    double wall = (double) (now.t_ns - m->t_ns) / 1e9 * (double) sysconf(_SC_NPROCESSORS_ONLN);
    if (m->busy_s < 0 || now.busy_s < 0 || wall <= 0)
        return -1;
    double other = (now.busy_s - m->busy_s - (now.own_s - m->own_s)) / wall;
    return other < 0 ? 0 : other > 1 ? 1 : other;
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* Runs fn on S_THREADS threads, thread t getting (char *) jobs + t * size. */
static void
s_run(s_bench_t *b, void *(*fn)(void *), void *jobs, size_t size)
{
    pthread_t tids[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        if (pthread_create(&tids[t], NULL, fn, (char *) jobs + (size_t) t * size) != 0)
            s_die(b, "pthread_create failed");
    for (int t = 0; t < S_THREADS; t++)
        pthread_join(tids[t], NULL);
}

/* ---- 1. The verify limit ------------------------------------------------ */

typedef struct {
    const uint8_t *msgs;         /* S_VERIFY_MSGS messages of S_SIGNED bytes */
    const uint8_t *sigs;         /* their signatures */
    const uint8_t *pk;           /* the key that made them */
    double secs;                 /* how long to run */
    uint64_t count, bad;         /* verifies done, failures */
    double elapsed;              /* seconds actually run */
} s_verify_job_t;

static void *
s_verify_loop(void *arg)
{
    s_verify_job_t *j = arg;
    uint64_t t0 = util_mono_ns(), limit = (uint64_t) (j->secs * 1e9);
    for (uint64_t round = 0; round < 100000000ull; round++) {
        for (size_t i = 0; i < S_VERIFY_MSGS; i++)
            if (crypto_sign_verify_detached(j->sigs + i * 64, j->msgs + i * S_SIGNED, S_SIGNED,
                                            j->pk) != 0)
                j->bad++;
        j->count += S_VERIFY_MSGS;
        if (util_mono_ns() - t0 >= limit)
            break;
    }
    j->elapsed = s_secs_since(t0);
    return NULL;
}

/* One 2-core sample. The limit is the best sample of the run: load from
 * other processes only ever lowers a sample, never raises it. */
static void
s_verify2(s_bench_t *b)
{
    s_verify_job_t two[S_THREADS];
    double rate = 0;
    for (int t = 0; t < S_THREADS; t++)
        two[t] = (s_verify_job_t){b->msgs, b->sigs, keys_sign_pk(b->authors[0]), b->secs, 0, 0, 0};
    s_run(b, s_verify_loop, two, sizeof two[0]);
    for (int t = 0; t < S_THREADS; t++) {
        if (two[t].bad)
            s_die(b, "valid signatures failed to verify");
        rate += (double) two[t].count / two[t].elapsed;
    }
    b->v2[b->nv2++] = rate;
    b->verify2 = rate > b->verify2 ? rate : b->verify2;
}

/* Messages are as long as an envelope's signed bytes, so the limit is the
 * exact cost the ingest and the audit pay per record. */
static void
s_bench_verify(s_bench_t *b)
{
    randombytes_buf(b->msgs, sizeof b->msgs);
    for (size_t i = 0; i < S_VERIFY_MSGS; i++)
        if (keys_sign(b->authors[0], b->msgs + i * S_SIGNED, S_SIGNED, b->sigs + i * 64) != 0)
            s_die(b, "keys_sign failed");
    const uint8_t *pk = keys_sign_pk(b->authors[0]);
    s_verify_job_t one = {b->msgs, b->sigs, pk, b->secs / 10, 0, 0, 0};
    s_verify_loop(&one); /* warm-up: clocks and caches settle before measuring */
    one = (s_verify_job_t){b->msgs, b->sigs, pk, b->secs, 0, 0, 0};
    s_load_t load;
    s_load_mark(&load);
    s_verify_loop(&one);
    s_verify2(b);
    b->other_verify = s_load_other(&load);
    b->verify1 = (double) one.count / one.elapsed;
    if (one.bad)
        s_die(b, "valid signatures failed to verify");
}

/* Creates a fresh ledger in b->dir/name whose genesis names the hub key. */
static ledger_t *
s_create_ledger(s_bench_t *b, const char *name, const ledger_options_t *opts)
{
    payload_genesis_t g; /* defaults; the hub is the operator too */
    payload_genesis_init(&g);
    snprintf(g.origin, sizeof g.origin, "%s", S_ORIGIN);
    keys_verifier(b->hub, &g.hub);
    keys_verifier(b->hub, &g.operator_key);
    memcpy(g.hub_transport, keys_curve_pk(b->hub), 32);
    uint8_t *payload = NULL, *buf = malloc(ENVELOPE_MAX);
    size_t payload_len = 0, len = 0;
    char dir[256];
    envelope_t e;
    ledger_t *l = NULL;
    int rc = buf ? payload_genesis_encode(&g, &payload, &payload_len) : COFAB_ENOMEM;
    envelope_spec_t spec = {.kind = ENVELOPE_GENESIS, .author_seq = 1,
                            .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = payload_len};
    if (rc == 0)
        rc = envelope_seal(&spec, b->hub, buf, ENVELOPE_MAX, &len);
    if (rc == 0)
        rc = envelope_open(&e, buf, len);
    snprintf(dir, sizeof dir, "%s/%s", b->dir, name);
    if (rc == 0)
        rc = ledger_create(&l, dir, S_ORIGIN, &e, opts);
    free(payload);
    free(buf);
    if (rc != 0)
        s_die(b, "creating the ledger in %s: %s", dir, cofab_strerror(rc));
    return l;
}

/* Global envelope g of a ledger is by author g % S_AUTHORS and is about
 * order g / 4 (orders see a few records each, from several authors). */
typedef struct {
    s_bench_t *bench;            /* keys */
    envelope_chain_t *chains;    /* one per author, advanced by the owning thread */
    uint8_t *slots;              /* n envelopes, each exactly S_SLOT bytes */
    envelope_t *envs;            /* if not NULL: decode each envelope here */
    uint64_t g0;                 /* global number of slot 0 */
    size_t n;                    /* envelopes to make */
    int t;                       /* this thread's share */
    int rc;                      /* first failure */
} s_sign_job_t;

static void *
s_sign_loop(void *arg)
{
    s_sign_job_t *j = arg;
    /* g0 is even, so slot parity is author parity: each author's chain is
     * sealed in order by one thread. */
    for (size_t i = (size_t) j->t; i < j->n && j->rc == 0; i += S_THREADS) {
        uint64_t g = j->g0 + i, order = g / 4;
        size_t a = (size_t) (g % S_AUTHORS);
        char payload[S_PAYLOAD + 1]; /* the text (under 80 bytes), then dots */
        uint8_t ob[8];
        int w = snprintf(payload, sizeof payload, "status order=%llu step=%llu author=%zu "
                         "qty=%llu note=", (unsigned long long) order,
                         (unsigned long long) (g % 4), a, (unsigned long long) (g * 7919 % 100000));
        memset(payload + w, '.', S_PAYLOAD - (size_t) w);
        envelope_spec_t spec = {.kind = ENVELOPE_NOTE, .timestamp_ms = 1700000000000ull + g,
                                .payload = (const uint8_t *) payload, .payload_len = S_PAYLOAD};
        util_put_be64(ob, order);
        crypto_generichash(spec.subject, 32, ob, sizeof ob, NULL, 0);
        size_t len = 0;
        j->rc = envelope_chain_seal(&j->chains[a], &spec, j->bench->authors[a],
                                    j->slots + i * S_SLOT, S_SLOT, &len);
        if (j->rc == 0 && len != S_SLOT)
            j->rc = COFAB_EINVAL; /* the layout changed: fix S_SLOT */
        if (j->rc == 0 && j->envs)
            j->rc = envelope_decode(&j->envs[i], j->slots + i * S_SLOT, S_SLOT);
    }
    return NULL;
}

/* Seals envelopes g0 .. g0+n-1 on S_THREADS threads. */
static void
s_sign_range(s_bench_t *b, envelope_chain_t *chains, uint8_t *slots, envelope_t *envs,
             uint64_t g0, size_t n)
{
    s_sign_job_t jobs[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        jobs[t] = (s_sign_job_t){b, chains, slots, envs, g0, n, t, 0};
    s_run(b, s_sign_loop, jobs, sizeof jobs[0]);
    for (int t = 0; t < S_THREADS; t++)
        if (jobs[t].rc != 0)
            s_die(b, "sealing envelopes: %s", cofab_strerror(jobs[t].rc));
}

/* ---- 2. Ingest: verify on 2 threads, group commit on 1 ------------------ */

/* Bounded FIFO of verified envelopes between the verifiers and the writer. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;    /* writer waits here */
    pthread_cond_t not_full;     /* verifiers wait here */
    envelope_t *items;           /* ring of S_QUEUE_CAP */
    size_t head, count;          /* oldest item, items queued */
    int producers;               /* verifiers still running */
    int stop;                    /* the writer failed: verifiers give up */
} s_queue_t;

typedef struct {
    s_queue_t *q;                /* where verified envelopes go */
    const uint8_t *slots;        /* the pre-signed envelopes, S_SLOT bytes each */
    size_t n;                    /* how many */
    int t;                       /* this verifier's share (author parity) */
    int rc;                      /* first envelope_open failure */
    size_t bad;                  /* its index */
    size_t waits;                /* times it found the queue full */
    double cpu_s;                /* its thread's CPU time */
} s_verifier_t;

typedef struct {
    s_queue_t *q;                /* where envelopes come from */
    ledger_t *ledger;            /* where they go */
    uint64_t *lat_ns;            /* commit latency per batch (room: n) */
    size_t batches;              /* commits done */
    size_t appended;             /* envelopes committed */
    int rc;                      /* first failure: append error or refusal */
    double cpu_s;                /* its thread's CPU time */
    uint64_t busy_ns;            /* wall time inside ledger_append */
} s_writer_t;

static double
s_thread_cpu_s(void)
{
    struct timespec c;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    return (double) c.tv_sec + (double) c.tv_nsec / 1e9;
}

/* Each verifier takes every other envelope, i.e. the authors of its parity,
 * so every author's chain reaches the writer in order (as one connection
 * per author would deliver it). */
static void *
s_verifier(void *arg)
{
    s_verifier_t *v = arg;
    s_queue_t *q = v->q;
    for (size_t i = (size_t) v->t; i < v->n; i += S_THREADS) {
        envelope_t e;
        if ((v->rc = envelope_open(&e, v->slots + i * S_SLOT, S_SLOT)) != 0) {
            v->bad = i;
            break;
        }
        pthread_mutex_lock(&q->lock);
        while (q->count == S_QUEUE_CAP && !q->stop) {
            v->waits++;
            pthread_cond_wait(&q->not_full, &q->lock);
        }
        int stop = q->stop;
        if (!stop) {
            q->items[(q->head + q->count) % S_QUEUE_CAP] = e;
            if (q->count++ == 0)
                pthread_cond_signal(&q->not_empty);
        }
        pthread_mutex_unlock(&q->lock);
        if (stop)
            break;
    }
    v->cpu_s = s_thread_cpu_s();
    pthread_mutex_lock(&q->lock);
    q->producers--;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* Commits whatever is queued, up to S_BATCH_MAX, one fsync'd transaction each. */
static void *
s_writer(void *arg)
{
    s_writer_t *w = arg;
    s_queue_t *q = w->q;
    envelope_t batch[S_BATCH_MAX]; /* about 100 KB of stack: fine for a thread */
    ledger_result_t results[S_BATCH_MAX];
    while (w->rc == 0) {
        pthread_mutex_lock(&q->lock);
        while (q->count == 0 && q->producers > 0)
            pthread_cond_wait(&q->not_empty, &q->lock);
        size_t k = q->count < S_BATCH_MAX ? q->count : S_BATCH_MAX;
        for (size_t i = 0; i < k; i++)
            batch[i] = q->items[(q->head + i) % S_QUEUE_CAP];
        q->head = (q->head + k) % S_QUEUE_CAP;
        q->count -= k;
        if (k)
            pthread_cond_broadcast(&q->not_full);
        pthread_mutex_unlock(&q->lock);
        if (k == 0)
            break; /* queue empty and no verifier left */
        uint64_t t0 = util_mono_ns();
        int rc = ledger_append(w->ledger, batch, k, util_now_ms(), results);
        w->lat_ns[w->batches] = util_mono_ns() - t0;
        w->busy_ns += w->lat_ns[w->batches++];
        for (size_t i = 0; i < k && rc == 0; i++)
            rc = results[i].code;
        w->rc = rc;
        w->appended += rc == 0 ? k : 0;
    }
    w->cpu_s = s_thread_cpu_s();
    if (w->rc != 0) {
        pthread_mutex_lock(&q->lock);
        q->stop = 1;
        pthread_cond_broadcast(&q->not_full);
        pthread_mutex_unlock(&q->lock);
    }
    return NULL;
}

static void
s_bench_ingest(s_bench_t *b)
{
    size_t n = b->ingest_n;
    uint8_t *slots = malloc(n * S_SLOT);
    uint64_t *lat = calloc(n, sizeof *lat);
    envelope_chain_t chains[S_AUTHORS];
    s_queue_t q;
    memset(&q, 0, sizeof q);
    q.items = malloc(S_QUEUE_CAP * sizeof *q.items);
    if (!slots || !lat || !q.items)
        s_die(b, "out of memory");
    for (size_t a = 0; a < S_AUTHORS; a++)
        envelope_chain_init(&chains[a]);
    uint64_t t0 = util_mono_ns();
    s_sign_range(b, chains, slots, NULL, 0, n);
    b->presign_s = s_secs_since(t0);

    ledger_t *l = s_create_ledger(b, "ingest", NULL); /* defaults: fsync per commit */
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.not_empty, NULL);
    pthread_cond_init(&q.not_full, NULL);
    q.producers = S_THREADS;
    s_verifier_t vs[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        vs[t] = (s_verifier_t){&q, slots, n, t, 0, 0, 0, 0};
    pthread_t wt;
    s_writer_t w = {&q, l, lat, 0, 0, 0, 0, 0};

    s_load_t load;
    s_load_mark(&load);
    t0 = util_mono_ns();
    if (pthread_create(&wt, NULL, s_writer, &w) != 0)
        s_die(b, "pthread_create failed");
    s_run(b, s_verifier, vs, sizeof vs[0]);
    pthread_join(wt, NULL);
    b->ingest_s = s_secs_since(t0);
    b->other_ingest = s_load_other(&load);

    for (int t = 0; t < S_THREADS; t++)
        if (vs[t].rc != 0)
            s_die(b, "ingest: envelope %zu did not open: %s", vs[t].bad,
                  cofab_strerror(vs[t].rc));
    if (w.rc != 0)
        s_die(b, "ingest: append failed: %s", cofab_strerror(w.rc));
    uint64_t size = ledger_size(l);
    if (w.appended != n || size != n + 1)
        s_die(b, "ingest: %zu appended, ledger size %llu, expected %zu", w.appended,
              (unsigned long long) size, n + 1);
    b->ingest_rate = (double) n / b->ingest_s;
    double open_s = 0;
    for (int t = 0; t < S_THREADS; t++) {
        open_s += vs[t].cpu_s;
        b->queue_full_waits += vs[t].waits;
    }
    b->ingest_open_us = open_s / (double) n * 1e6;
    b->ingest_writer_us = w.cpu_s / (double) n * 1e6;
    b->writer_busy = (double) w.busy_ns / 1e9 / b->ingest_s;
    b->batches = w.batches;
    qsort(lat, w.batches, sizeof *lat, s_cmp_u64);
    b->commit_p50_ms = (double) lat[(w.batches - 1) / 2] / 1e6;
    b->commit_p99_ms = (double) lat[(size_t) (0.99 * (double) (w.batches - 1))] / 1e6;
    b->commit_max_ms = (double) lat[w.batches - 1] / 1e6;

    ledger_destroy(&l);
    pthread_mutex_destroy(&q.lock);
    pthread_cond_destroy(&q.not_empty);
    pthread_cond_destroy(&q.not_full);
    free(q.items);
    free(lat);
    free(slots);
}

/* ---- 3. Audit ------------------------------------------------------------ */

/* Builds the audit ledger: signed in chunks on 2 threads (the signing
 * threads decode too; audit_verify checks every signature afterwards),
 * appended without fsync, a checkpoint every cp_every envelopes and one at
 * the end. */
static void
s_build_audit_ledger(s_bench_t *b)
{
    size_t chunk = b->build_chunk;
    uint8_t *slots = malloc(chunk * S_SLOT);
    envelope_t *envs = calloc(chunk, sizeof *envs);
    ledger_result_t *results = calloc(chunk, sizeof *results);
    envelope_chain_t chains[S_AUTHORS];
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    if (!slots || !envs || !results || !note)
        s_die(b, "out of memory");
    for (size_t a = 0; a < S_AUTHORS; a++)
        envelope_chain_init(&chains[a]);
    ledger_options_t opts = {.no_sync = 1, .map_size = (size_t) 1 << 30};
    ledger_t *l = s_create_ledger(b, "audit", &opts);
    size_t done = 0;
    while (done < b->audit_n) {
        size_t k = b->audit_n - done < chunk ? b->audit_n - done : chunk;
        s_sign_range(b, chains, slots, envs, done, k);
        int rc = ledger_append(l, envs, k, util_now_ms(), results);
        for (size_t i = 0; i < k && rc == 0; i++)
            rc = results[i].code;
        if (rc != 0)
            s_die(b, "building the audit ledger at %zu: %s", done, cofab_strerror(rc));
        done += k;
        if (done % b->cp_every == 0 || done == b->audit_n) {
            rc = ledger_checkpoint_sign(l, b->hub, note, LEDGER_CHECKPOINT_MAX);
            if (rc != 0)
                s_die(b, "ledger_checkpoint_sign: %s", cofab_strerror(rc));
        }
    }
    ledger_destroy(&l);
    free(note);
    free(results);
    free(envs);
    free(slots);
}

/* Audits the ledger; *latest gets the latest checkpoint it verified. */
static void
s_bench_audit(s_bench_t *b, ledger_t *l, checkpoint_t *latest)
{
    uint64_t cps = (b->audit_n + b->cp_every - 1) / b->cp_every; /* as built */
    audit_options_t opts = {.threads = S_THREADS};
    audit_report_t *r = malloc(sizeof *r);
    if (!r)
        s_die(b, "out of memory");
    s_load_t load;
    s_load_mark(&load);
    uint64_t t0 = util_mono_ns();
    int rc = audit_verify(l, &opts, r);
    b->audit_s = s_secs_since(t0);
    b->other_audit = s_load_other(&load);
    if (rc != 0)
        s_die(b, "audit_verify could not run: %s", cofab_strerror(rc));
    if (!r->valid)
        s_die(b, "audit: ledger INVALID: %s (%s, record %lld)", r->reason,
              cofab_errname(r->code), (long long) r->bad_record);
    if (r->records != b->audit_n + 1 || r->checkpoints != cps ||
        r->kinds[ENVELOPE_NOTE] != b->audit_n || r->authors != S_AUTHORS + 1)
        s_die(b, "audit: counted %llu records, %llu checkpoints, %llu authors; expected "
              "%zu, %llu, %d", (unsigned long long) r->records,
              (unsigned long long) r->checkpoints, (unsigned long long) r->authors,
              b->audit_n + 1, (unsigned long long) cps, S_AUTHORS + 1);
    b->audit_records = r->records;
    b->audit_checkpoints = r->checkpoints;
    b->audit_authors = r->authors;
    b->audit_rate = (double) r->records / b->audit_s;
    *latest = r->latest;
    free(r);
}

/* ---- 4. Proofs ----------------------------------------------------------- */

typedef struct {
    ledger_t *ledger;            /* shared, read-only */
    uint64_t size;               /* tree size every proof is against */
    const uint8_t *root;         /* its root, checked against the signed checkpoint */
    double secs;                 /* how long to run */
    uint64_t count;              /* queries answered and verified */
    size_t proof_len_max;        /* longest proof seen */
    double elapsed;              /* seconds actually run */
    int rc;                      /* first failure */
    uint64_t bad;                /* its index */
} s_proof_job_t;

/* Status queries: a record and its inclusion proof, checked as a client would. */
static void *
s_proof_loop(void *arg)
{
    s_proof_job_t *j = arg;
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
    uint64_t t0 = util_mono_ns(), limit = (uint64_t) (j->secs * 1e9);
    for (uint64_t round = 0; round < 100000000ull && j->rc == 0; round++) {
        for (int i = 0; i < 16 && j->rc == 0; i++) {
            uint64_t idx = randombytes_uniform((uint32_t) j->size); /* size < 2^32 */
            size_t plen = 0, len = 0;
            uint8_t *buf = NULL, leaf[32];
            ledger_record_t rec;
            int rc = ledger_inclusion_proof(j->ledger, idx, j->size, proof, &plen);
            if (rc == 0)
                rc = ledger_get(j->ledger, idx, &buf, &len);
            if (rc == 0)
                rc = ledger_record_decode(&rec, buf, len);
            if (rc == 0 && rec.seq != idx)
                rc = COFAB_ECHAIN;
            if (rc == 0) {
                merkle_leaf_hash(buf, len, leaf);
                rc = merkle_verify_inclusion(idx, j->size, leaf, proof, plen, j->root);
            }
            free(buf);
            j->proof_len_max = plen > j->proof_len_max ? plen : j->proof_len_max;
            j->rc = rc;
            j->bad = idx;
            j->count += rc == 0;
        }
        if (util_mono_ns() - t0 >= limit)
            break;
    }
    j->elapsed = s_secs_since(t0);
    return NULL;
}

/* Proofs are checked against the latest checkpoint, which the audit has just
 * verified (hub signature, root, chain head) and which covers every record. */
static void
s_bench_proofs(s_bench_t *b, ledger_t *l, const checkpoint_t *cp)
{
    uint64_t size = ledger_size(l);
    if (cp->size != size)
        s_die(b, "latest checkpoint covers %llu records of %llu",
              (unsigned long long) cp->size, (unsigned long long) size);
    s_proof_job_t jobs[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        jobs[t] = (s_proof_job_t){.ledger = l, .size = size, .root = cp->root, .secs = b->secs};
    s_load_t load;
    s_load_mark(&load);
    s_run(b, s_proof_loop, jobs, sizeof jobs[0]);
    for (int t = 0; t < S_THREADS; t++) {
        if (jobs[t].rc != 0)
            s_die(b, "proof query for record %llu failed: %s",
                  (unsigned long long) jobs[t].bad, cofab_strerror(jobs[t].rc));
        b->proofs += jobs[t].count;
        b->proof_len_max = jobs[t].proof_len_max > b->proof_len_max ? jobs[t].proof_len_max
                                                                      : b->proof_len_max;
        b->proof_rate += (double) jobs[t].count / jobs[t].elapsed;
    }
    b->other_proofs = s_load_other(&load);
}

static void
s_setup(s_bench_t *b)
{
    const char *quick = getenv("COFAB_BENCH_QUICK");
    const char *audit_n = getenv("COFAB_BENCH_AUDIT_N");
    b->quick = quick && strcmp(quick, "1") == 0;
    size_t div = b->quick ? S_QUICK_DIV : 1;
    b->secs = 2.0 / (double) div;
    b->ingest_n = 200000 / div;
    b->audit_n = 1000000 / div;
    b->cp_every = 100000 / div;
    b->build_chunk = 10000 / div;  /* divides cp_every: checkpoints land on round sizes */
    if (audit_n) {
        char *end = NULL;
        unsigned long long v = strtoull(audit_n, &end, 10);
        if (!*audit_n || *end || v < 1 || v > 100000000ull)
            s_die(b, "COFAB_BENCH_AUDIT_N must be a number in 1..100000000");
        b->audit_n = (size_t) v;
    }
    if (sodium_init() < 0)
        s_die(b, "sodium_init failed");
    snprintf(b->dir, sizeof b->dir, "/tmp/cofab-ledger-bench-XXXXXX");
    if (!mkdtemp(b->dir)) {
        b->dir[0] = 0;
        s_die(b, "mkdtemp failed");
    }
    b->hub = keys_generate("hub");
    for (size_t a = 0; a < S_AUTHORS; a++) {
        char name[32];
        snprintf(name, sizeof name, "factory-%03zu", a);
        if (!b->hub || !(b->authors[a] = keys_generate(name)))
            s_die(b, "keys_generate failed");
    }
}

/* One table row: a rate, its ratio to the 2-core limit (ratio < 0: none),
 * the goal for the ratio (or for the rate when there is no ratio; 0: none)
 * and the share of the box's CPU other processes used meanwhile. */
static void
s_row(const char *what, double rate, double ratio, double goal, double other)
{
    char r[16] = "", g[32] = "", o[16] = "?";
    if (ratio >= 0)
        snprintf(r, sizeof r, "%.3f", ratio);
    if (goal > 0)
        snprintf(g, sizeof g, ">= %g %s", goal,
                 (ratio >= 0 ? ratio : rate) >= goal ? "met" : "MISSED");
    if (other >= 0)
        snprintf(o, sizeof o, "%.0f%%", other * 100);
    printf("%-32s %10.0f/s %7s  %-16s %6s\n", what, rate, r, g, o);
}

static void
s_report(const s_bench_t *b)
{
    double mean_batch = b->batches ? (double) b->ingest_n / (double) b->batches : 0;
    char samples[S_LIMIT_SAMPLES * 16] = "";
    for (size_t i = 0, off = 0; i < b->nv2 && off < sizeof samples; i++)
        off += (size_t) snprintf(samples + off, sizeof samples - off, "%s%.0f", i ? "," : "",
                                 b->v2[i]);
    printf("\nledger bench%s: %d threads, %d-byte envelopes (%d signed), %d authors\n",
           b->quick ? " (QUICK)" : "", S_THREADS, S_SLOT, S_SIGNED, S_AUTHORS);
    printf("%-32s %12s %7s  %-16s %6s\n", "measure", "rate", "ratio", "goal", "other");
    s_row("Ed25519 verify, 1 core", b->verify1, -1, 0, b->other_verify);
    s_row("Ed25519 verify, 2 cores (limit)", b->verify2, -1, 0, b->other_verify);
    s_row("ingest: open + fsync'd append", b->ingest_rate, b->ingest_rate / b->verify2, 0.85,
          b->other_ingest);
    s_row("audit_verify, 2 threads", b->audit_rate, b->audit_rate / b->verify2, 0.80,
          b->other_audit);
    s_row("proof + get + verify, 2 threads", b->proof_rate, -1, 20000, b->other_proofs);
    printf("ingest: %zu records in %.2fs, %zu group commits, mean batch %.1f, commit latency "
           "p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", b->ingest_n, b->ingest_s, b->batches,
           mean_batch, b->commit_p50_ms, b->commit_p99_ms, b->commit_max_ms);
    printf("ingest CPU per record: %.1f us opening (verifier threads; the limit is %.1f us "
           "per verify), %.1f us writing; writer inside ledger_append %.0f%% of the time; "
           "queue full %zu times\n", b->ingest_open_us, S_THREADS / b->verify2 * 1e6,
           b->ingest_writer_us, b->writer_busy * 100, b->queue_full_waits);
    printf("audit: VALID, %llu records, %llu checkpoints, %llu authors in %.2fs\n",
           (unsigned long long) b->audit_records, (unsigned long long) b->audit_checkpoints,
           (unsigned long long) b->audit_authors, b->audit_s);
    printf("proofs: %llu queries, longest proof %zu hashes; untimed setup: pre-sign %.1fs, "
           "audit ledger build %.1fs\n", (unsigned long long) b->proofs, b->proof_len_max,
           b->presign_s, b->build_s);
    printf("2-core verify samples (start, after ingest, audit, proofs): %s; the limit is the "
           "best.\n\"other\": share of the box's CPU other processes used meanwhile.\n", samples);
    printf("BENCH_JSON {\"bench\":\"ledger\",\"quick\":%d,\"threads\":%d,"
           "\"envelope_bytes\":%d,\"signed_bytes\":%d,\"authors\":%d,"
           "\"verify\":{\"per_s_1core\":%.0f,\"per_s_2core\":%.0f,\"samples_2core\":[%s],"
           "\"other_load\":%.3f},"
           "\"ingest\":{\"records\":%zu,\"seconds\":%.3f,\"per_s\":%.0f,\"ratio\":%.4f,"
           "\"goal_ratio\":0.85,\"batches\":%zu,\"mean_batch\":%.2f,\"commit_p50_ms\":%.3f,"
           "\"commit_p99_ms\":%.3f,\"commit_max_ms\":%.3f,\"presign_seconds\":%.3f,"
           "\"open_cpu_us\":%.2f,\"writer_cpu_us\":%.2f,\"writer_busy\":%.3f,"
           "\"other_load\":%.3f},"
           "\"audit\":{\"records\":%llu,\"checkpoints\":%llu,\"authors\":%llu,"
           "\"seconds\":%.3f,\"per_s\":%.0f,\"ratio\":%.4f,\"goal_ratio\":0.8,"
           "\"valid\":true,\"build_seconds\":%.3f,\"other_load\":%.3f},"
           "\"proofs\":{\"tree_size\":%llu,\"queries\":%llu,\"per_s\":%.0f,"
           "\"goal_per_s\":20000,\"proof_len_max\":%zu,\"other_load\":%.3f}}\n",
           b->quick, S_THREADS, S_SLOT, S_SIGNED, S_AUTHORS, b->verify1, b->verify2, samples,
           b->other_verify, b->ingest_n, b->ingest_s, b->ingest_rate,
           b->ingest_rate / b->verify2, b->batches, mean_batch, b->commit_p50_ms,
           b->commit_p99_ms, b->commit_max_ms, b->presign_s, b->ingest_open_us,
           b->ingest_writer_us, b->writer_busy, b->other_ingest,
           (unsigned long long) b->audit_records, (unsigned long long) b->audit_checkpoints,
           (unsigned long long) b->audit_authors, b->audit_s, b->audit_rate,
           b->audit_rate / b->verify2, b->build_s, b->other_audit,
           (unsigned long long) b->audit_records, (unsigned long long) b->proofs,
           b->proof_rate, b->proof_len_max, b->other_proofs);
}

int
main(void)
{
    s_bench_t *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines show up as they happen */
    s_setup(b);
    printf("ledger bench: temp dir %s; ingest %zu, audit ledger %zu records\n", b->dir,
           b->ingest_n, b->audit_n + 1);
    s_bench_verify(b);
    printf("verify: %.0f/s on 1 core, %.0f/s on 2 cores\n", b->verify1, b->verify2);
    s_bench_ingest(b);
    printf("ingest: %zu records in %.2fs (%.0f/s)\n", b->ingest_n, b->ingest_s, b->ingest_rate);
    s_verify2(b);

    uint64_t t0 = util_mono_ns();
    s_build_audit_ledger(b);
    b->build_s = s_secs_since(t0);
    printf("audit ledger built in %.1fs\n", b->build_s);
    /* Reopened read-only, as an auditor or a proof server would. */
    char dir[256];
    ledger_t *l = NULL;
    ledger_options_t ro = {.read_only = 1};
    snprintf(dir, sizeof dir, "%s/audit", b->dir);
    int rc = ledger_open(&l, dir, &ro);
    if (rc != 0)
        s_die(b, "ledger_open %s: %s", dir, cofab_strerror(rc));
    checkpoint_t latest;
    s_bench_audit(b, l, &latest);
    printf("audit: %llu records in %.2fs (%.0f/s), valid\n",
           (unsigned long long) b->audit_records, b->audit_s, b->audit_rate);
    s_verify2(b);
    s_bench_proofs(b, l, &latest);
    ledger_destroy(&l);
    s_verify2(b);

    s_report(b);
    s_cleanup(b);
    keys_destroy(&b->hub);
    for (size_t a = 0; a < S_AUTHORS; a++)
        keys_destroy(&b->authors[a]);
    free(b);
    return 0;
}
