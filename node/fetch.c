/* fetch.c — downloads a hub's ledger into a verified local replica and resumes an interrupted copy. */
#include "cofab/fetch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cofab/client.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/merkle.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/util.h"
#include "cofab/wire.h"

#define S_BACKOFF_MS 100        /* first pause after a rate-limit refusal, doubled each time */
#define S_BACKOFF_MAX_MS 2000   /* longest such pause */

/* One run's working state. */
typedef struct {
    const char *endpoint;          /* the hub's endpoint, borrowed */
    const keys_public_t *hub_pub;  /* pinned hub keys, borrowed */
    fetch_options_t o;             /* the caller's options with defaults filled in */
    fetch_report_t *rep;           /* the caller's report */
    client_t *client;              /* our connection to the hub */
    client_trust_t *trust;         /* what genesis says (heap: ~9 KB) */
    ledger_t *ledger;              /* the copy */
    client_records_t *recs;        /* last RECORDS reply, decoded (borrows from its message) */
    ledger_record_t *lrecs;        /* one reply's records, decoded */
    envelope_t *envs;              /* their opened envelopes */
    ledger_result_t *res;          /* ledger_replicate outcomes */
    char *note;                    /* hub's latest checkpoint note, NUL-terminated (heap) */
    size_t note_len;               /* its length (0: the hub has none) */
    checkpoint_t cp;               /* its parsed body, valid when note_len > 0 */
    int cp_checked;                /* 1: the copy's root at cp.size was found equal */
} s_run_t;

static int
s_fail(s_run_t *run, int code, int64_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records the first failure in the report and returns its code. */
static int
s_fail(s_run_t *run, int code, int64_t pos, const char *fmt, ...)
{
    if (run->rep->code != 0)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->rep->reason, sizeof run->rep->reason, fmt, ap);
    va_end(ap);
    run->rep->code = code;
    run->rep->bad_position = pos;
    return code;
}

static void
s_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t) (ms / 1000), (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends one request, trying up to `tries` times: again after a timeout, and
 * after a rate-limit refusal (COFAB_EPERM: customers' queries are
 * metered) with a growing pause. On 0, *m holds a reply of type want (free
 * with net_msg_free). Otherwise returns COFAB_ENET or the hub's ERR code,
 * with the hub's reason in reason (room WIRE_MAX_REASON + 1). */
static int
s_request(s_run_t *run, int type, const void *body, size_t len, uint32_t tries, int want,
          net_msg_t *m, char *reason)
{
    int rc = COFAB_ENET;
    unsigned backoff = S_BACKOFF_MS;
    reason[0] = 0;
    for (uint32_t t = 0; t < tries; t++) {
        rc = client_request(run->client, type, body, len, run->o.timeout_ms, m);
        if (rc != 0)
            continue;
        if (m->type == want)
            return 0;
        if (m->type != WIRE_ERR) {
            snprintf(reason, WIRE_MAX_REASON + 1, "unexpected %s reply",
                     wire_type_name(m->type) ? wire_type_name(m->type) : "?");
            net_msg_free(m);
            return COFAB_EMALFORMED;
        }
        int code = 0;
        if (wire_err_decode(m->body, m->len, &code, reason) != 0 || code >= 0) {
            snprintf(reason, WIRE_MAX_REASON + 1, "malformed refusal");
            code = COFAB_EMALFORMED;
        }
        net_msg_free(m);
        rc = code;
        if (code != COFAB_EPERM || t + 1 == tries)
            return rc;
        s_sleep_ms(backoff);
        backoff = backoff * 2 > S_BACKOFF_MAX_MS ? S_BACKOFF_MAX_MS : backoff * 2;
    }
    if (rc == COFAB_ENET)
        snprintf(reason, WIRE_MAX_REASON + 1, "no answer within %d ms (%u tries)",
                 run->o.timeout_ms, (unsigned) tries);
    return rc;
}

/* GET_RANGE from, max; decodes the reply into run->recs, which borrows
 * from *m (freed here on failure). */
static int
s_get_range(s_run_t *run, uint64_t from, uint32_t max, net_msg_t *m)
{
    uint8_t req[12];
    char reason[WIRE_MAX_REASON + 1];
    util_put_be64(req, from);
    util_put_be32(req + 8, max);
    int rc = s_request(run, WIRE_GET_RANGE, req, sizeof req, run->o.attempts, WIRE_RECORDS, m,
                       reason);
    if (rc != 0)
        return s_fail(run, rc, -1, "GET_RANGE from %llu: %s", (unsigned long long) from, reason);
    rc = client_records_decode(run->recs, m->body, m->len);
    if (rc == 0 && run->recs->n > max)
        rc = COFAB_EMALFORMED;
    if (rc != 0) {
        net_msg_free(m);
        return s_fail(run, rc, (int64_t) from, "the hub's RECORDS reply from %llu is malformed: %s",
                      (unsigned long long) from, cofab_strerror(rc));
    }
    return 0;
}

/* The hub's record 0 must be the genesis trust was built from: signed by
 * the operator it names, naming the pinned hub keys and the same origin. */
static int
s_genesis_check(s_run_t *run, const uint8_t *bytes, size_t len, ledger_record_t *r,
                envelope_t *e)
{
    int rc = ledger_record_decode(r, bytes, len);
    if (rc != 0)
        return s_fail(run, rc, 0, "record 0 does not decode: %s", cofab_strerror(rc));
    if (r->seq != 0 || !sodium_is_zero(r->prev, 32))
        return s_fail(run, COFAB_ERANGE, 0, "record 0 is not a position-0 record");
    rc = envelope_open(e, r->envelope, r->envelope_len);
    if (rc != 0)
        return s_fail(run, rc, 0, "genesis envelope: %s", cofab_strerror(rc));
    if (e->kind != ENVELOPE_GENESIS)
        return s_fail(run, COFAB_EKIND, 0, "record 0 is not a genesis");
    payload_genesis_t *g = malloc(sizeof *g);
    if (!g)
        return s_fail(run, COFAB_ENOMEM, -1, "out of memory");
    rc = payload_genesis_decode(g, e->payload, e->payload_len);
    if (rc != 0)
        s_fail(run, rc, 0, "genesis payload: %s", cofab_strerror(rc));
    else if (sodium_memcmp(e->author, run->trust->operator_key, 32) != 0 ||
             sodium_memcmp(g->hub.pk, run->hub_pub->sign_pk, 32) != 0 ||
             sodium_memcmp(g->hub_transport, run->hub_pub->curve_pk, 32) != 0 ||
             strcmp(g->origin, run->trust->origin) != 0)
        rc = s_fail(run, COFAB_EKEYMISMATCH, 0, "the hub served two different genesis records");
    free(g);
    return rc;
}

/* GET_CHECKPOINT: the hub's latest signed note, verified with the pinned
 * key and the genesis origin. A hub with no checkpoint yet is not an
 * error (note_len stays 0). */
static int
s_get_checkpoint(s_run_t *run)
{
    net_msg_t m;
    char reason[WIRE_MAX_REASON + 1];
    int rc = s_request(run, WIRE_GET_CHECKPOINT, NULL, 0, run->o.attempts, WIRE_CHECKPOINT, &m,
                       reason);
    if (rc == COFAB_ENOTFOUND)
        return 0;
    if (rc != 0)
        return s_fail(run, rc, -1, "GET_CHECKPOINT: %s", reason);
    note_t *note = malloc(sizeof *note);
    if (!note) {
        rc = s_fail(run, COFAB_ENOMEM, -1, "out of memory");
        goto out;
    }
    if (m.len == 0 || m.len >= LEDGER_CHECKPOINT_MAX) {
        rc = s_fail(run, COFAB_ETOOBIG, -1, "the hub's checkpoint note is %zu bytes", m.len);
        goto out;
    }
    rc = note_parse(note, (const char *) m.body, m.len);
    if (rc != 0) {
        s_fail(run, rc, -1, "the hub's checkpoint does not parse: %s", cofab_strerror(rc));
        goto out;
    }
    rc = note_verify(note, &run->trust->hub);
    if (rc != 0) {
        s_fail(run, rc, -1, "the checkpoint is not signed by hub key %s: %s",
               run->trust->hub.name, cofab_strerror(rc));
        goto out;
    }
    rc = checkpoint_parse(&run->cp, note->body, note->body_len);
    if (rc != 0) {
        s_fail(run, rc, -1, "the checkpoint body does not parse: %s", cofab_strerror(rc));
        goto out;
    }
    if (strcmp(run->cp.origin, run->trust->origin) != 0) {
        rc = s_fail(run, COFAB_EMALFORMED, -1, "the checkpoint is for another log (%s)",
                    run->cp.origin);
        goto out;
    }
    memcpy(run->note, m.body, m.len);
    run->note[m.len] = 0;
    run->note_len = m.len;
    run->rep->checkpoint_size = run->cp.size;
out:
    free(note);
    net_msg_free(&m);
    return rc;
}

/* Derived state means someone else's ledger (a hub's or a node's): records
 * appended here without their apply hook would leave it stale. */
static int
s_any_state(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void) ctx;
    (void) key;
    (void) klen;
    (void) val;
    (void) vlen;
    return 1;
}

/* Opens the copy in dir and checks it is this log, or creates it from the
 * hub's record 0. */
static int
s_open_copy(s_run_t *run, const char *dir, const ledger_record_t *g, const envelope_t *ge)
{
    ledger_options_t lo = {.no_sync = run->o.no_sync, .map_max = run->o.map_max};
    int rc = ledger_open(&run->ledger, dir, &lo);
    if (rc == COFAB_ENOTFOUND) {
        rc = ledger_create_replica(&run->ledger, dir, run->trust->origin, g, ge, &lo);
        if (rc != 0)
            return s_fail(run, rc, -1, "cannot create a ledger in %s: %s", dir,
                          cofab_strerror(rc));
        run->rep->fetched = 1;
        return 0;
    }
    if (rc != 0)
        return s_fail(run, rc, -1, "cannot open the ledger in %s: %s", dir, cofab_strerror(rc));
    run->rep->resumed_from = ledger_size(run->ledger);
    /* "" not NULL: the scan memcmp()s the prefix even when it is empty. */
    rc = ledger_state_scan(run->ledger, "", 0, s_any_state, NULL);
    if (rc != 0)
        return s_fail(run, rc == 1 ? COFAB_EPERM : rc, -1,
                      "%s holds a ledger with derived state (a hub's or node's data "
                      "directory): download into a directory of your own", dir);
    uint8_t *mine = NULL;
    size_t mlen = 0;
    rc = ledger_get(run->ledger, 0, &mine, &mlen);
    if (rc == 0 && (mlen != g->len || sodium_memcmp(mine, g->bytes, mlen) != 0))
        rc = s_fail(run, COFAB_EEXIST, 0, "%s holds another log than the hub's (record 0 "
                    "differs)", dir);
    else if (rc != 0)
        s_fail(run, rc, 0, "cannot read record 0 in %s: %s", dir, cofab_strerror(rc));
    free(mine);
    return rc;
}

/* Once the copy covers the checkpoint: its root and chain head there must
 * be the checkpoint's, or the hub's records are not the log it signed. */
static int
s_check_checkpoint(s_run_t *run)
{
    uint64_t size = run->cp.size;
    if (run->note_len == 0 || run->cp_checked || size > ledger_size(run->ledger))
        return 0;
    uint8_t root[MERKLE_HASH_LEN], leaf[MERKLE_HASH_LEN];
    int rc = ledger_root(run->ledger, size, root);
    if (rc != 0)
        return s_fail(run, rc, -1, "cannot compute the copy's root at %llu: %s",
                      (unsigned long long) size, cofab_strerror(rc));
    if (sodium_memcmp(root, run->cp.root, MERKLE_HASH_LEN) != 0)
        return s_fail(run, COFAB_EROOT, (int64_t) size - 1,
                      "the copy's root at %llu differs from the hub's signed checkpoint (a "
                      "fork)", (unsigned long long) size);
    if (run->cp.has_chain && size > 0) {
        rc = ledger_tree_node(run->ledger, 0, size - 1, leaf);
        if (rc != 0)
            return s_fail(run, rc, (int64_t) size - 1, "cannot read record hash %llu: %s",
                          (unsigned long long) (size - 1), cofab_strerror(rc));
        if (sodium_memcmp(leaf, run->cp.chain, MERKLE_HASH_LEN) != 0)
            return s_fail(run, COFAB_EROOT, (int64_t) size - 1,
                          "the chain head at %llu differs from the hub's signed checkpoint",
                          (unsigned long long) size);
    }
    run->cp_checked = 1;
    return 0;
}

/* Verifies the n records of the last reply (positions from, from + 1...)
 * and stores the good prefix in one transaction; the first bad record ends
 * the run. */
static int
s_apply(s_run_t *run, uint64_t from, uint32_t n)
{
    uint32_t k = 0;
    int bad = 0;
    const char *what = "";
    for (; k < n; k++) {
        const client_blob_t *b = &run->recs->records[k];
        bad = ledger_record_decode(&run->lrecs[k], b->bytes, b->len);
        if (bad != 0) {
            what = "does not decode";
            break;
        }
        if (run->lrecs[k].seq != from + k) {
            bad = COFAB_ERANGE;
            what = "carries another position";
            break;
        }
        bad = envelope_open(&run->envs[k], run->lrecs[k].envelope, run->lrecs[k].envelope_len);
        if (bad != 0) {
            what = "holds an envelope that does not verify";
            break;
        }
    }
    if (k > 0) {
        int rc = ledger_replicate(run->ledger, run->lrecs, run->envs, k, run->res);
        if (rc != 0)
            return s_fail(run, rc, -1, "cannot store records from %llu: %s",
                          (unsigned long long) from, cofab_strerror(rc));
        for (uint32_t i = 0; i < k; i++)
            if (run->res[i].code != 0)
                return s_fail(run, run->res[i].code, (int64_t) (from + i),
                              "record %llu is refused by the ledger rules: %s",
                              (unsigned long long) (from + i), cofab_strerror(run->res[i].code));
    }
    if (bad != 0)
        return s_fail(run, bad, (int64_t) (from + k), "record %llu %s: %s",
                      (unsigned long long) (from + k), what, cofab_strerror(bad));
    return 0;
}

/* Ranges until the hub has nothing more (or max_records is reached). */
static int
s_download(s_run_t *run)
{
    fetch_report_t *rep = run->rep;
    int rc = s_check_checkpoint(run); /* a copy already past it: a fork shows now */
    while (rc == 0) {
        uint64_t from = ledger_size(run->ledger);
        uint32_t want = run->o.batch;
        if (run->o.max_records) {
            if (rep->fetched >= run->o.max_records)
                break;
            if (run->o.max_records - rep->fetched < want)
                want = (uint32_t) (run->o.max_records - rep->fetched);
        }
        net_msg_t m;
        rc = s_get_range(run, from, want, &m);
        if (rc != 0)
            break;
        uint32_t n = run->recs->n;
        if (n > 0)
            rc = s_apply(run, from, n);
        net_msg_free(&m);
        uint64_t size = ledger_size(run->ledger);
        rep->fetched += size - from;
        if (n == 0) {
            rep->complete = 1;
            break;
        }
        if (rc == 0)
            rc = s_check_checkpoint(run);
        if (run->o.progress) {
            uint64_t total = run->note_len && run->cp.size > size ? run->cp.size : size;
            run->o.progress(run->o.progress_ctx, size, total);
        }
    }
    return rc;
}

/* After the records: the checkpoint is stored once the copy covers it. */
static int
s_finish(s_run_t *run)
{
    uint64_t size = ledger_size(run->ledger);
    if (run->note_len == 0)
        return 0;
    if (run->cp.size > size) {
        if (!run->rep->complete)
            return 0; /* stopped at max_records: the next run goes on */
        return s_fail(run, COFAB_ERANGE, (int64_t) size,
                      "the hub's records end at %llu, before its own checkpoint of %llu",
                      (unsigned long long) size, (unsigned long long) run->cp.size);
    }
    int rc = s_check_checkpoint(run);
    if (rc == 0)
        rc = ledger_checkpoint_put(run->ledger, run->cp.size, run->note, run->note_len);
    if (rc != 0)
        return s_fail(run, rc, -1, "cannot store the checkpoint of %llu: %s",
                      (unsigned long long) run->cp.size, cofab_strerror(rc));
    run->rep->checkpoint_stored = 1;
    return 0;
}

/* Fills in defaults; refuses nonsense. */
static int
s_options(fetch_options_t *o, const fetch_options_t *in)
{
    memset(o, 0, sizeof *o);
    if (in)
        *o = *in;
    if (o->timeout_ms <= 0)
        o->timeout_ms = FETCH_DEFAULT_TIMEOUT_MS;
    if (o->attempts == 0)
        o->attempts = FETCH_DEFAULT_ATTEMPTS;
    if (o->attempts > FETCH_MAX_ATTEMPTS)
        o->attempts = FETCH_MAX_ATTEMPTS;
    if (o->batch == 0)
        o->batch = WIRE_MAX_RANGE;
    return o->batch > WIRE_MAX_RANGE ? COFAB_EINVAL : 0;
}

/* Connects, loads trust, fetches record 0 and the checkpoint, opens the
 * copy, downloads. */
static int
s_run(s_run_t *run, const keys_t *keys, const char *dir)
{
    run->client = client_new(run->endpoint, keys, run->hub_pub->curve_pk);
    if (!run->client)
        return s_fail(run, COFAB_EINVAL, -1, "cannot connect to %s (bad endpoint?)",
                      run->endpoint);
    int rc = client_trust_load(run->client, run->hub_pub, run->o.timeout_ms, run->trust);
    if (rc == COFAB_ENET)
        return s_fail(run, rc, -1, "hub %s did not answer within %d ms (unreachable, or it "
                      "refused our key, or its transport key is not the one in the hub .pub)",
                      run->endpoint, run->o.timeout_ms);
    if (rc == COFAB_EKEYMISMATCH)
        return s_fail(run, rc, 0, "the hub's genesis names another hub key than %s's .pub",
                      run->hub_pub->name);
    if (rc != 0)
        return s_fail(run, rc, 0, "record 0 (the genesis) from the hub: %s",
                      cofab_strerror(rc));
    snprintf(run->rep->origin, sizeof run->rep->origin, "%s", run->trust->origin);
    net_msg_t m;
    rc = s_get_range(run, 0, 1, &m);
    if (rc != 0)
        return rc;
    ledger_record_t g;
    envelope_t ge;
    if (run->recs->n != 1)
        rc = s_fail(run, COFAB_EMALFORMED, 0, "the hub did not send record 0 again");
    if (rc == 0)
        rc = s_genesis_check(run, run->recs->records[0].bytes, run->recs->records[0].len, &g,
                             &ge);
    if (rc == 0)
        rc = s_get_checkpoint(run);
    if (rc == 0)
        rc = s_open_copy(run, dir, &g, &ge);
    net_msg_free(&m);
    if (rc == 0)
        rc = s_download(run);
    if (rc == 0)
        rc = s_finish(run);
    return rc;
}

int
fetch_ledger(const char *endpoint, const keys_public_t *hub_pub, const keys_t *keys,
             const char *dir, const fetch_options_t *opts, fetch_report_t *rep)
{
    if (!rep)
        return COFAB_EINVAL;
    memset(rep, 0, sizeof *rep);
    rep->bad_position = -1;
    s_run_t run = {.endpoint = endpoint, .hub_pub = hub_pub, .rep = rep};
    if (!endpoint || !hub_pub || !dir || s_options(&run.o, opts) != 0)
        return s_fail(&run, COFAB_EINVAL, -1, "invalid argument");
    if (sodium_init() < 0)
        return s_fail(&run, COFAB_ECRYPTO, -1, "libsodium failed to initialise");
    keys_t *ephemeral = NULL;
    int rc = 0;
    if (!keys) {
        keys = ephemeral = keys_generate(FETCH_EPHEMERAL_NAME);
        if (!keys) {
            rc = s_fail(&run, COFAB_ENOMEM, -1, "cannot make a throw-away key pair");
            goto out;
        }
    }
    run.trust = malloc(sizeof *run.trust);
    run.recs = malloc(sizeof *run.recs);
    run.lrecs = calloc(WIRE_MAX_RANGE, sizeof *run.lrecs);
    run.envs = calloc(WIRE_MAX_RANGE, sizeof *run.envs);
    run.res = calloc(WIRE_MAX_RANGE, sizeof *run.res);
    run.note = malloc(LEDGER_CHECKPOINT_MAX);
    if (!run.trust || !run.recs || !run.lrecs || !run.envs || !run.res || !run.note) {
        rc = s_fail(&run, COFAB_ENOMEM, -1, "out of memory");
        goto out;
    }
    rc = s_run(&run, keys, dir);
out:
    if (run.ledger)
        rep->size = ledger_size(run.ledger);
    ledger_destroy(&run.ledger);
    client_destroy(&run.client);
    keys_destroy(&ephemeral);
    free(run.trust);
    free(run.recs);
    free(run.lrecs);
    free(run.envs);
    free(run.res);
    free(run.note);
    return rc;
}
