/* drill_client.c — test-only customer for the fault drills: submits pre-sealed orders, resends the same bytes until acknowledged, logs every ack.
 *
 * usage: drill_client --hub EP --hub-key HUB.pub --key CUSTOMER.key --log ACKS
 *                     [--count N] [--seconds S] [--rate R] [--process P] [--material M]
 *                     [--qty Q] [--due-days D] [--timeout-ms T] [--cancel-every K]
 *                     [--retry-nospc]
 *
 * The client continues its author chain from where the hub says it stands
 * (GET_AUTHOR, once at start) and then keeps the chain itself: envelope
 * i + 1 is sealed only once envelope i is acknowledged, so the chain never
 * forks. An envelope whose submission times out (hub killed, restarting)
 * is resent byte for byte until the hub answers: a resend of a stored
 * envelope is answered with its original position (duplicate flag), never
 * stored twice. That is exactly what drill 01 checks.
 *
 * Every acknowledgement is appended to ACKS as one line, flushed at once:
 *   <ledger position> <envelope hash hex> <order id hex> <dup 0|1> <kind o|c> <unix ms>
 * so a drill can check, after any crash, that every acknowledged envelope
 * is in the ledger at the position acknowledged.
 *
 * --cancel-every K: after every K-th order is acknowledged, the customer
 * cancels it (churn for the soak). --retry-nospc: a COFAB_ENOSPC refusal
 * (ledger full; nothing stored) is counted and the same bytes are resent
 * every 200 ms until they are taken (drill 05). Any other refusal is
 * counted, printed on stderr, and the chain is re-read from the hub.
 *
 * Stops after N orders, after S seconds, or on SIGTERM/SIGINT (an envelope
 * in flight then still gets 10 s to be answered, and a cancel due after an
 * acknowledged order is still sent), and prints
 * one summary line of key=value pairs on stdout. Exit 0, or 2 on a usage
 * or set-up error.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/client.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/payload.h"
#include "cofab/util.h"

/* Set by the signal handler; the only state a handler may touch. */
static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

typedef struct {
    const char *hub;          /* --hub endpoint */
    const char *hub_key;      /* --hub-key .pub */
    const char *key;          /* --key customer .key */
    const char *log;          /* --log ack file */
    uint64_t count;           /* --count, 0 = unbounded */
    double seconds;           /* --seconds, 0 = unbounded */
    double rate;              /* --rate orders/s, 0 = as fast as acks come */
    const char *process;      /* --process */
    const char *material;     /* --material */
    int64_t qty;              /* --qty */
    uint32_t due_days;        /* --due-days */
    int timeout_ms;           /* --timeout-ms per submit call */
    uint64_t cancel_every;    /* --cancel-every, 0 = never */
    int retry_nospc;          /* --retry-nospc */
} s_opts_t;

typedef struct {
    uint64_t acked;           /* envelopes acknowledged (orders and cancels) */
    uint64_t orders;          /* orders acknowledged */
    uint64_t cancels;         /* cancels acknowledged */
    uint64_t dups;            /* acks flagged duplicate (a resend of a stored envelope) */
    uint64_t refused;         /* refusals other than retried ENOSPC */
    uint64_t nospc;           /* ENOSPC refusals seen (with --retry-nospc) */
    uint64_t timeouts;        /* submit calls that got no answer in time */
    int last_refusal;         /* code of the latest refusal, 0 none */
    uint64_t stop_ns;         /* when the stop signal was first seen, 0 not yet */
} s_stats_t;

#define S_STOP_GRACE_NS 10000000000ull /* an envelope in flight at SIGTERM gets this long */

/* Time to give up on the envelope in flight? A stop signal leaves it
 * S_STOP_GRACE_NS to be answered, so that an envelope the hub stored is
 * acknowledged (and logged) rather than left unaccounted for. */
static int
s_give_up(const s_opts_t *o, s_stats_t *st, uint64_t t0)
{
    uint64_t now = util_mono_ns();
    if (s_stop && !st->stop_ns)
        st->stop_ns = now;
    if (st->stop_ns && now - st->stop_ns > S_STOP_GRACE_NS)
        return 1;
    return o->seconds > 0 && (double) (now - t0) / 1e9 >= o->seconds + 30.0;
}

static void
s_usage(void)
{
    fprintf(stderr, "usage: drill_client --hub EP --hub-key HUB.pub --key K.key --log ACKS "
                    "[--count N] [--seconds S] [--rate R] [--process P] [--material M] [--qty Q] "
                    "[--due-days D] [--timeout-ms T] [--cancel-every K] [--retry-nospc]\n");
}

static int
s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"hub", required_argument, NULL, 'h'},        {"hub-key", required_argument, NULL, 'p'},
        {"key", required_argument, NULL, 'k'},        {"log", required_argument, NULL, 'l'},
        {"count", required_argument, NULL, 'n'},      {"seconds", required_argument, NULL, 's'},
        {"rate", required_argument, NULL, 'r'},       {"process", required_argument, NULL, 'P'},
        {"material", required_argument, NULL, 'M'},   {"qty", required_argument, NULL, 'q'},
        {"due-days", required_argument, NULL, 'd'},   {"timeout-ms", required_argument, NULL, 't'},
        {"cancel-every", required_argument, NULL, 'c'},
        {"retry-nospc", no_argument, NULL, 'N'},      {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->process = "sewing";
    o->material = "cotton";
    o->qty = 10;
    o->due_days = 30;
    o->timeout_ms = 2000;
    int c;
    char *end = NULL;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': o->hub = optarg; break;
        case 'p': o->hub_key = optarg; break;
        case 'k': o->key = optarg; break;
        case 'l': o->log = optarg; break;
        case 'P': o->process = optarg; break;
        case 'M': o->material = optarg; break;
        case 'N': o->retry_nospc = 1; break;
        case 'n': o->count = strtoull(optarg, &end, 10); break;
        case 's': o->seconds = strtod(optarg, &end); break;
        case 'r': o->rate = strtod(optarg, &end); break;
        case 'q': o->qty = strtoll(optarg, &end, 10); break;
        case 'd': o->due_days = (uint32_t) strtoul(optarg, &end, 10); break;
        case 't': o->timeout_ms = (int) strtol(optarg, &end, 10); break;
        case 'c': o->cancel_every = strtoull(optarg, &end, 10); break;
        default: return -1;
        }
        if (end && *end)
            return -1;
        end = NULL;
    }
    if (optind != argc || !o->hub || !o->hub_key || !o->key || !o->log || o->timeout_ms <= 0 ||
        o->qty < 1 || o->due_days < 1 || o->seconds < 0 || o->rate < 0)
        return -1;
    return 0;
}

static double
s_elapsed(uint64_t t0)
{
    return (double) (util_mono_ns() - t0) / 1e9;
}

static void
s_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Appends one ack line and pushes it to the kernel at once, so a line
 * written is a line a drill can read even if we are killed next. */
static void
s_log_ack(FILE *log, uint64_t pos, const uint8_t *env, size_t len, const uint8_t id[32], int dup,
          char kind)
{
    uint8_t hash[32];
    char hh[65], ih[65];
    crypto_hash_sha256(hash, env, len);
    sodium_bin2hex(hh, sizeof hh, hash, 32);
    sodium_bin2hex(ih, sizeof ih, id, 32);
    fprintf(log, "%llu %s %s %d %c %llu\n", (unsigned long long) pos, hh, ih, dup, kind,
            (unsigned long long) util_now_ms());
    fflush(log);
}

/* Resends env until the hub answers it (ACK or a final refusal), we are
 * stopped, or the run's time is up. Returns 0 (acked: *pos, *dup), the
 * refusal code, or COFAB_ENET when stopped without an answer. */
static int
s_submit_until_answered(client_t *client, const s_opts_t *o, s_stats_t *st, const uint8_t *env,
                        size_t len, uint64_t t0, uint64_t *pos, int *dup)
{
    char reason[WIRE_MAX_REASON + 1];
    for (;;) {
        if (s_give_up(o, st, t0))
            return COFAB_ENET;
        int rc = client_submit_envelope(client, env, len, o->timeout_ms, pos, dup, reason);
        if (rc == 0)
            return 0;
        if (rc == COFAB_ENET) {
            st->timeouts++;
            continue;
        }
        st->last_refusal = rc;
        if (rc == COFAB_ENOSPC && o->retry_nospc) {
            st->nospc++;
            fprintf(stderr, "drill_client: refused (%s): %s; resending the same bytes\n",
                    cofab_errname(rc), reason);
            s_sleep_ms(200);
            continue;
        }
        st->refused++;
        fprintf(stderr, "drill_client: refused (%s): %s\n", cofab_errname(rc), reason);
        return rc;
    }
}

/* Seals the next envelope of our chain (kind, subject, payload) into env. */
static int
s_seal(envelope_chain_t *chain, const keys_t *keys, int kind, const uint8_t id[32],
       const uint8_t *payload, size_t plen, uint8_t *env, size_t *len)
{
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = plen};
    memcpy(spec.subject, id, 32);
    return envelope_chain_seal(chain, &spec, keys, env, ENVELOPE_MAX, len);
}

/* Where the hub says our chain stands; retried until it answers. */
static int
s_sync_chain(client_t *client, const keys_t *keys, const s_opts_t *o, s_stats_t *st, uint64_t t0,
             envelope_chain_t *chain)
{
    for (;;) {
        if (s_stop || s_give_up(o, st, t0))
            return COFAB_ENET;
        uint64_t aseq = 0;
        int rc = client_author(client, keys_sign_pk(keys), o->timeout_ms, &aseq, chain->prev);
        if (rc == 0) {
            chain->next_seq = aseq + 1;
            return 0;
        }
        if (rc != COFAB_ENET)
            return rc;
    }
}

static int
s_run(const s_opts_t *o, client_t *client, const keys_t *keys, FILE *log, s_stats_t *st)
{
    uint64_t t0 = util_mono_ns();
    envelope_chain_t chain;
    uint8_t *env = malloc(ENVELOPE_MAX);
    uint8_t *order_payload = NULL, *cancel_payload = NULL;
    size_t order_len = 0, cancel_len = 0;
    payload_order_t order;
    payload_cancel_t cancel;
    memset(&order, 0, sizeof order);
    memset(&cancel, 0, sizeof cancel);
    snprintf(order.items[0].process, sizeof order.items[0].process, "%s", o->process);
    snprintf(order.items[0].material, sizeof order.items[0].material, "%s", o->material);
    order.items[0].qty = o->qty;
    order.nitems = 1;
    order.due_day = (uint32_t) (util_now_ms() / 86400000u) + o->due_days;
    order.lat_e6 = 45000000;
    order.lon_e6 = 9000000;
    snprintf(cancel.reason, sizeof cancel.reason, "drill churn");
    int rc = env ? 0 : COFAB_ENOMEM;
    if (rc == 0)
        rc = payload_order_encode(&order, &order_payload, &order_len);
    if (rc == 0)
        rc = payload_cancel_encode(&cancel, &cancel_payload, &cancel_len);
    if (rc == 0)
        rc = s_sync_chain(client, keys, o, st, t0, &chain);
    for (uint64_t i = 0; rc == 0 && (o->count == 0 || i < o->count); i++) {
        if (s_stop || (o->seconds > 0 && s_elapsed(t0) >= o->seconds))
            break;
        if (o->rate > 0) { /* open-loop pacing: order i is due at i / rate */
            double due = (double) i / o->rate, now = s_elapsed(t0);
            if (due > now)
                s_sleep_ms((unsigned) ((due - now) * 1000.0) + 1);
        }
        uint8_t id[32];
        size_t len = 0;
        uint64_t pos = 0;
        int dup = 0;
        randombytes_buf(id, sizeof id);
        /* The same payload for every order: the subject (random id) makes
         * each envelope unique. */
        rc = s_seal(&chain, keys, ENVELOPE_ORDER, id, order_payload, order_len, env, &len);
        if (rc != 0)
            break;
        rc = s_submit_until_answered(client, o, st, env, len, t0, &pos, &dup);
        if (rc == COFAB_ENET) { /* stopped while waiting */
            rc = 0;
            break;
        }
        if (rc != 0) { /* refused: nothing stored, our chain is where the hub says */
            rc = s_sync_chain(client, keys, o, st, t0, &chain);
            continue;
        }
        s_log_ack(log, pos, env, len, id, dup, 'o');
        st->acked++;
        st->orders++;
        st->dups += (uint64_t) dup;
        if (o->cancel_every && st->orders % o->cancel_every == 0) {
            rc = s_seal(&chain, keys, ENVELOPE_CANCEL, id, cancel_payload, cancel_len, env, &len);
            if (rc == 0)
                rc = s_submit_until_answered(client, o, st, env, len, t0, &pos, &dup);
            if (rc == COFAB_ENET) {
                rc = 0;
                break;
            }
            if (rc != 0) {
                rc = s_sync_chain(client, keys, o, st, t0, &chain);
                continue;
            }
            s_log_ack(log, pos, env, len, id, dup, 'c');
            st->acked++;
            st->cancels++;
            st->dups += (uint64_t) dup;
        }
    }
    double secs = s_elapsed(t0);
    printf("drill_client %s: acked=%llu orders=%llu cancels=%llu dup=%llu refused=%llu "
           "nospc=%llu timeouts=%llu last_refusal=%s seconds=%.1f rate=%.1f\n",
           keys_name(keys), (unsigned long long) st->acked, (unsigned long long) st->orders,
           (unsigned long long) st->cancels, (unsigned long long) st->dups,
           (unsigned long long) st->refused, (unsigned long long) st->nospc,
           (unsigned long long) st->timeouts,
           st->last_refusal ? cofab_errname(st->last_refusal) : "none", secs,
           secs > 0 ? (double) st->acked / secs : 0.0);
    fflush(stdout);
    free(env);
    free(order_payload);
    free(cancel_payload);
    return rc == COFAB_ENET ? 0 : rc;
}

int
main(int argc, char **argv)
{
    s_opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage();
        return 2;
    }
    if (sodium_init() < 0)
        return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    keys_public_t hub;
    keys_t *keys = NULL;
    client_t *client = NULL;
    FILE *log = NULL;
    s_stats_t st;
    memset(&st, 0, sizeof st);
    int ret = 2, rc = keys_public_load(&hub, o.hub_key);
    if (rc != 0) {
        fprintf(stderr, "drill_client: %s: %s\n", o.hub_key, cofab_strerror(rc));
        goto out;
    }
    rc = keys_load(o.key, &keys);
    if (rc != 0) {
        fprintf(stderr, "drill_client: %s: %s\n", o.key, cofab_strerror(rc));
        goto out;
    }
    log = fopen(o.log, "a");
    client = client_new(o.hub, keys, hub.curve_pk);
    if (!log || !client) {
        fprintf(stderr, "drill_client: cannot open %s or connect to %s\n", o.log, o.hub);
        goto out;
    }
    rc = s_run(&o, client, keys, log, &st);
    if (rc != 0)
        fprintf(stderr, "drill_client: stopped: %s\n", cofab_strerror(rc));
    ret = rc == 0 ? 0 : 1;
out:
    client_destroy(&client);
    if (log)
        fclose(log);
    keys_destroy(&keys);
    return ret;
}
