/* cmd_order_status.c — `cofab order status`: an order's timeline, every record verified against a signed, witnessed checkpoint.
 *
 * Trust starts from the hub's .pub (--hub-key): record 0 must be a genesis
 * naming that hub key; the checkpoint must carry the hub's signature; each
 * record's inclusion proof must lead to the checkpoint's root; each
 * envelope's signature must verify. Factory names come from membership:
 * the genesis members, or the operator's member-add records, which
 * `cofab member add` files under the member's signing key as subject (so
 * they are fetched and verified the same way as the order's records).
 *
 * --receipt FILE writes a C2SP tlog-proof (c2sp.org/tlog-proof@v1) for the
 * order's first record: the "extra" line carries the record bytes in base64
 * (the leaf is SHA-256(0x00 || record)), then "index N", the inclusion
 * proof hashes, a blank line and the checkpoint note with its cosignatures.
 *
 * --state DIR remembers the latest checkpoint verified (client.h,
 * client_checkpoint_track): without it each run trusts whatever valid
 * history the hub shows now, so a hub showing this customer one history,
 * then another, would go unnoticed. With it, a checkpoint that is not
 * consistent with the remembered one is reported as a split view, with
 * both signed notes written to DIR/evidence-<ms>.txt (exit 1).
 *
 * Exit: 0 verified; 1 unknown order or a verification failure (including a
 * checkpoint with fewer witness cosignatures than the genesis requires,
 * after waiting up to --timeout for the witnesses); 2 usage; 3 unreachable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "cofab/cli.h"
#include "cofab/client.h"
#include "cofab/error.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "cmd_order_internal.h"

#define S_MAX_NAMES 32      /* distinct factories named per order */
#define S_POLL_MS 100       /* wait between fetches while witnesses cosign */
#define S_DETAIL_MAX 1024

/* A factory as shown: name from membership and its note key id. */
typedef struct {
    uint8_t pk[32];                 /* signing key */
    char name[NOTE_MAX_NAME + 1];   /* member name, "" if no membership record names it */
    char keyid[9];                  /* note key id in hex (or the key's first bytes) */
} s_who_t;

/* Name lookups for one run. */
typedef struct {
    client_t *client;               /* where to ask */
    const client_trust_t *trust;    /* genesis members, operator key */
    int timeout_ms;                 /* per lookup */
    s_who_t known[S_MAX_NAMES];     /* looked up so far */
    size_t nknown;
    s_who_t spare;                  /* used when known[] is full */
} s_names_t;

/* The order's state as the records tell it (the policy's rule: the least
 * advanced piece; a decline dominates). */
typedef struct {
    uint8_t factories[POLICY_MAX_FACTORIES][32];
    uint8_t fstate[POLICY_MAX_FACTORIES];
    size_t nf;
    int cancelled;
} s_state_t;

static void
s_iso(uint64_t ms, char out[32])
{
    time_t t = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
s_day(uint32_t day, char out[16])
{
    time_t t = (time_t) day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y-%m-%d", &tm);
}

/* A member name from the operator's verified member-add records. */
static void
s_lookup_added(s_names_t *n, s_who_t *w)
{
    net_msg_t reply = {0};
    client_verified_t *v = malloc(sizeof *v);
    if (v && client_order_status(n->client, n->trust, w->pk, n->timeout_ms, &reply, v) == 0) {
        for (uint32_t i = 0; i < v->n; i++) {
            payload_member_t m;
            const client_event_t *ev = &v->events[i];
            if (ev->kind == ENVELOPE_MEMBER_ADD &&
                sodium_memcmp(ev->author, n->trust->operator_key, 32) == 0 &&
                payload_member_add_decode(&m, ev->payload, ev->payload_len) == 0 &&
                sodium_memcmp(m.key.pk, w->pk, 32) == 0)
                snprintf(w->name, sizeof w->name, "%s", m.key.name);
        }
    }
    net_msg_free(&reply);
    free(v);
}

static const s_who_t *
s_who(s_names_t *n, const uint8_t pk[32])
{
    for (size_t i = 0; i < n->nknown; i++)
        if (sodium_memcmp(n->known[i].pk, pk, 32) == 0)
            return &n->known[i];
    s_who_t *w = n->nknown < S_MAX_NAMES ? &n->known[n->nknown++] : &n->spare;
    memset(w, 0, sizeof *w);
    memcpy(w->pk, pk, 32);
    for (uint32_t i = 0; i < n->trust->nmembers; i++)
        if (sodium_memcmp(n->trust->members[i].key.pk, pk, 32) == 0)
            snprintf(w->name, sizeof w->name, "%s", n->trust->members[i].key.name);
    if (!w->name[0])
        s_lookup_added(n, w);
    uint8_t id[NOTE_KEYID_LEN];
    if (w->name[0])
        note_keyid(w->name, NOTE_ALG_ED25519, pk, id);
    else
        memcpy(id, pk, sizeof id);
    sodium_bin2hex(w->keyid, sizeof w->keyid, id, sizeof id);
    return w;
}

static int
s_factory_index(s_state_t *st, const uint8_t pk[32])
{
    for (size_t i = 0; i < st->nf; i++)
        if (sodium_memcmp(st->factories[i], pk, 32) == 0)
            return (int) i;
    return -1;
}

static void
s_step(s_state_t *st, const uint8_t pk[32], int state)
{
    int i = s_factory_index(st, pk);
    if (i >= 0)
        st->fstate[i] = (uint8_t) state;
}

static int
s_state(const s_state_t *st)
{
    if (st->cancelled)
        return POLICY_CANCELLED;
    if (st->nf == 0)
        return POLICY_SUBMITTED;
    int least = POLICY_DELIVERED;
    for (size_t i = 0; i < st->nf; i++) {
        if (st->fstate[i] == POLICY_DECLINED)
            return POLICY_DECLINED;
        if (st->fstate[i] < least)
            least = st->fstate[i];
    }
    return least;
}

/* Appends "NAME (key ID)" for a factory. */
static void
s_cat_who(char *out, size_t max, const s_who_t *w)
{
    size_t used = strlen(out);
    snprintf(out + used, max - used, "%s (key %s)", w->name[0] ? w->name : "unknown member",
             w->keyid);
}

/* One timeline line: what happened and the details, advancing the state. */
static const char *
s_describe(const client_event_t *ev, s_names_t *names, s_state_t *st, payload_assign_t *scratch,
           char *detail, json_t *factories)
{
    size_t used;
    detail[0] = 0;
    union {
        payload_order_t order;
        payload_decline_t decline;
        payload_status_t status;
        payload_cancel_t cancel;
        payload_reassign_t reassign;
    } p;
    const s_who_t *w = NULL;
    const char *label = envelope_kind_name(ev->kind);
    char d1[16], d2[16];
    switch (ev->kind) {
    case ENVELOPE_ORDER:
        if (payload_order_decode(&p.order, ev->payload, ev->payload_len) != 0)
            return "submitted (payload unreadable)";
        for (uint32_t i = 0; i < p.order.nitems; i++) {
            used = strlen(detail);
            snprintf(detail + used, S_DETAIL_MAX - used, "%s%lld %s/%s", i ? ", " : "",
                     (long long) p.order.items[i].qty, p.order.items[i].process,
                     p.order.items[i].material);
        }
        s_day(p.order.due_day, d1);
        used = strlen(detail);
        snprintf(detail + used, S_DETAIL_MAX - used, "; due %s%s", d1,
                 p.order.split ? "; may be split" : "");
        return "submitted";
    case ENVELOPE_ASSIGN:
        if (payload_assign_decode(scratch, ev->payload, ev->payload_len) != 0)
            return "assigned (payload unreadable)";
        st->nf = 0;
        for (uint32_t i = 0; i < scratch->npieces; i++) {
            const payload_piece_t *pc = &scratch->pieces[i];
            w = s_who(names, pc->factory);
            s_day(pc->first_day, d1);
            s_day(pc->last_day, d2);
            used = strlen(detail);
            snprintf(detail + used, S_DETAIL_MAX - used, "%s%lld %s/%s to ", i ? "; " : "",
                     (long long) pc->qty, pc->process, pc->material);
            s_cat_who(detail, S_DETAIL_MAX, w);
            used = strlen(detail);
            snprintf(detail + used, S_DETAIL_MAX - used, ", days %s..%s", d1, d2);
            if (s_factory_index(st, pc->factory) < 0 && st->nf < POLICY_MAX_FACTORIES) {
                memcpy(st->factories[st->nf], pc->factory, 32);
                st->fstate[st->nf++] = POLICY_ASSIGNED;
                json_array_append_new(factories, json_pack("{ss ss}", "name", w->name, "key_id",
                                                           w->keyid));
            }
        }
        return "assigned";
    case ENVELOPE_REASSIGN:
        if (payload_reassign_decode(&p.reassign, ev->payload, ev->payload_len) != 0)
            return "reassigned (payload unreadable)";
        w = s_who(names, p.reassign.factory);
        snprintf(detail, S_DETAIL_MAX, "%s: back to matching without ",
                 payload_why_name(p.reassign.why));
        s_cat_who(detail, S_DETAIL_MAX, w);
        st->nf = 0;
        label = "reassigned";
        break;
    case ENVELOPE_CANCEL:
        st->cancelled = 1;
        if (payload_cancel_decode(&p.cancel, ev->payload, ev->payload_len) == 0 &&
            p.cancel.reason[0])
            snprintf(detail, S_DETAIL_MAX, "%s", p.cancel.reason);
        return "cancelled";
    case ENVELOPE_ACCEPT:
    case ENVELOPE_DECLINE:
    case ENVELOPE_STATUS:
        w = s_who(names, ev->author);
        snprintf(detail, S_DETAIL_MAX, "by ");
        s_cat_who(detail, S_DETAIL_MAX, w);
        used = strlen(detail);
        if (ev->kind == ENVELOPE_ACCEPT) {
            s_step(st, ev->author, POLICY_ACCEPTED);
            label = "accepted";
        } else if (ev->kind == ENVELOPE_DECLINE) {
            s_step(st, ev->author, POLICY_DECLINED);
            label = "declined";
            if (payload_decline_decode(&p.decline, ev->payload, ev->payload_len) == 0)
                snprintf(detail + used, S_DETAIL_MAX - used, ": %s", p.decline.reason);
        } else if (payload_status_decode(&p.status, ev->payload, ev->payload_len) == 0) {
            static const char *const stages[] = {"", "in production", "QC passed", "shipped",
                                                 "delivered"};
            s_step(st, ev->author, POLICY_IN_PRODUCTION + (int) p.status.stage - 1);
            label = stages[p.status.stage];
            if (p.status.has_attachment) {
                char hex[65];
                cli_hex32(p.status.attachment, hex);
                snprintf(detail + used, S_DETAIL_MAX - used, ", attachment sha256 %s", hex);
            }
        }
        break;
    default:
        break;
    }
    if (w)
        json_array_append_new(factories, json_pack("{ss ss}", "name", w->name, "key_id",
                                                   w->keyid));
    return label ? label : "unknown";
}


/* Fetches and verifies, waiting (within the timeout) for witnesses that
 * have not cosigned yet and, for a receipt, for a checkpoint that covers
 * the first record. */
static int
s_fetch(client_t *client, const client_trust_t *trust, const uint8_t id[32], const order_args_t *a,
        const char *state, net_msg_t *reply, client_verified_t *v)
{
    uint64_t deadline = util_mono_ns() + (uint64_t) a->timeout_ms * 1000000u;
    for (;;) {
        int rc = client_order_status(client, trust, id, a->timeout_ms, reply, v);
        /* Every checkpoint shown is checked against the one remembered, so
         * a hub showing this customer another history is caught at once. */
        if (rc == 0 && state)
            rc = client_checkpoint_track(client, trust, state, v->note, v->note_len,
                                         a->timeout_ms, v->reason);
        if (rc != 0)
            return rc;
        int wait = !v->witnessed || (a->receipt && v->n > 0 && !v->events[0].proven);
        if (!wait || util_mono_ns() + (uint64_t) S_POLL_MS * 1000000u >= deadline)
            return 0;
        net_msg_free(reply);
        struct timespec ts = {0, S_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void
s_print_verdict(FILE *out, const client_verified_t *v, const client_trust_t *trust)
{
    char hub[NOTE_VERIFIER_MAX];
    note_verifier_format(&trust->hub, hub, sizeof hub);
    unsigned long long size = (unsigned long long) v->cp.size;
    if (!v->witnessed) {
        fprintf(out, "NOT verified: checkpoint of size %llu signed by the hub %s carries only %u "
                     "of %u witness cosignatures; the alliance requires %u\n",
                size, hub, v->cosigned, v->witnesses, v->required);
        return;
    }
    fprintf(out, "verified: every record's inclusion proof (%u) against checkpoint of size %llu "
                 "signed by the hub %s, carrying %u of %u witness cosignatures (alliance "
                 "requires %u)",
            v->n - v->unproven, size, hub, v->cosigned, v->witnesses, v->required);
    if (v->unproven)
        fprintf(out, "; %u newer record%s signed by %s author but not yet checkpointed",
                v->unproven, v->unproven == 1 ? "" : "s", v->unproven == 1 ? "its" : "their");
    fprintf(out, "\n");
}

/* Prints the timeline (text or JSON) of a verified order. */
static void
s_report(const order_args_t *a, const char *hex, s_names_t *names, const client_verified_t *v)
{
    s_state_t st;
    memset(&st, 0, sizeof st);
    payload_assign_t *scratch = malloc(sizeof *scratch);
    char *detail = malloc(S_DETAIL_MAX);
    json_t *events = json_array();
    char title[PAYLOAD_MAX_TITLE + 1] = "";
    if (!scratch || !detail || !events)
        goto out;
    if (!a->json)
        printf("order %s\n", hex);
    for (uint32_t i = 0; i < v->n; i++) {
        const client_event_t *ev = &v->events[i];
        json_t *who = json_array();
        const char *label = s_describe(ev, names, &st, scratch, detail, who);
        char when[32];
        s_iso(ev->time_ms, when);
        if (ev->kind == ENVELOPE_ORDER && i == 0) {
            payload_order_t o;
            if (payload_order_decode(&o, ev->payload, ev->payload_len) == 0)
                snprintf(title, sizeof title, "%s", o.title);
            if (title[0] && !a->json)
                printf("  \"%s\"\n", title);
        }
        if (a->json) {
            json_array_append_new(events,
                                  json_pack("{sI ss sI ss ss ss sb so}", "position",
                                            (json_int_t) ev->position, "time", when, "time_ms",
                                            (json_int_t) ev->time_ms, "kind",
                                            envelope_kind_name(ev->kind), "event", label,
                                            "detail", detail, "checkpointed", ev->proven,
                                            "factories", who));
        } else {
            json_decref(who);
            printf("  #%-8llu %s  %-13s %s%s\n", (unsigned long long) ev->position, when, label,
                   detail, ev->proven ? "" : "  [not yet checkpointed]");
        }
    }
    const char *state = policy_state_name(s_state(&st));
    if (a->json) {
        char hub[NOTE_VERIFIER_MAX], root[65];
        note_verifier_format(&names->trust->hub, hub, sizeof hub);
        cli_hex32(v->cp.root, root);
        json_t *doc = json_pack(
            "{ss ss ss sO s{sb sI ss ss sI sI sI sb sI sI}}", "order", hex, "title", title, "state",
            state, "events", events, "verification", "verified", v->witnessed, "checkpoint_size",
            (json_int_t) v->cp.size, "checkpoint_root", root, "hub", hub, "cosignatures",
            (json_int_t) v->cosigned, "witnesses", (json_int_t) v->witnesses, "required",
            (json_int_t) v->required, "witnessed", v->witnessed, "proven",
            (json_int_t) (v->n - v->unproven), "not_checkpointed", (json_int_t) v->unproven);
        if (doc)
            json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    } else {
        printf("state: %s\n", state);
        s_print_verdict(stdout, v, names->trust);
    }
out:
    json_decref(events);
    free(detail);
    free(scratch);
}

static void
s_fail(const order_args_t *a, const char *hex, int rc, const char *what)
{
    if (a->json) {
        json_t *doc = json_pack("{ss sb s{ss ss}}", "order", hex, "verified", 0, "error", "code",
                                cofab_errname(rc), "reason", what);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    }
    fprintf(stderr, "cofab order status: %s\n", what);
}

/* Options of the shared parser that take a value (so a value is never
 * mistaken for --state). */
static const char *const s_valued[] = {"--hub",    "--hub-key", "--key", "--file", "--receipt",
                                       "--reason", "--timeout", "--pub", "--role", NULL};

/* Takes `--state DIR` (this command's own option) out of argv into *state,
 * leaving the rest in rest (room argc + 1). Returns the count left, or -1
 * for a missing or repeated value. */
static int
s_take_state(int argc, char **argv, char **rest, const char **state)
{
    int n = 0;
    *state = NULL;
    for (int i = 0; i < argc; i++) {
        const char *x = argv[i];
        if (i > 0 && (!strcmp(x, "--state") || !strncmp(x, "--state=", 8))) {
            const char *v = x[7] == '=' ? x + 8 : i + 1 < argc ? argv[++i] : NULL;
            if (!v || !v[0] || *state)
                return -1;
            *state = v;
            continue;
        }
        rest[n++] = argv[i];
        for (int k = 0; i > 0 && s_valued[k]; k++)
            if (!strcmp(x, s_valued[k]) && i + 1 < argc) {
                rest[n++] = argv[++i];
                break;
            }
    }
    rest[n] = NULL;
    return n;
}

int
order_status_main(int argc, char **argv)
{
    order_args_t a;
    uint8_t id[32];
    const char *state = NULL;
    char **rest = calloc((size_t) argc + 1, sizeof *rest);
    int nrest = rest ? s_take_state(argc, argv, rest, &state) : -1;
    if (nrest < 0 || order_parse_args(nrest, rest, &a) != 0 || !a.hub || !a.hub_key ||
        a.first_arg != nrest - 1 || cli_parse_hex32(rest[a.first_arg], id) != 0 || a.file ||
        a.reason || a.pub || a.role) {
        order_usage(stderr);
        fprintf(stderr, "  status --state DIR  remember the latest checkpoint verified in DIR; one "
                        "that does not\n    extend it is reported as a split view (exit 1), "
                        "with both notes in DIR/evidence-*.txt\n");
        free(rest);
        return CLI_USAGE;
    }
    const char *hex = rest[a.first_arg]; /* getopt permuted rest, not argv */
    keys_public_t hub;
    keys_t *keys = NULL;
    client_t *client = NULL;
    int code = order_connect("cofab order status", &a, &hub, &keys, &client);
    if (code != CLI_OK) {
        free(rest);
        return code;
    }
    client_trust_t *trust = malloc(sizeof *trust);
    client_verified_t *v = malloc(sizeof *v);
    s_names_t *names = calloc(1, sizeof *names);
    net_msg_t reply = {0};
    char what[CLIENT_REASON_MAX + 64];
    int rc = trust && v && names ? client_trust_load(client, &hub, a.timeout_ms, trust)
                                 : COFAB_ENOMEM;
    if (rc == COFAB_ENET)
        snprintf(what, sizeof what, "hub %s unreachable: no answer within %d s", a.hub,
                 a.timeout_ms / 1000);
    else if (rc != 0)
        snprintf(what, sizeof what, "cannot trust the hub's genesis record: %s",
                 cofab_strerror(rc));
    if (rc != 0) {
        s_fail(&a, hex, rc, what);
        goto out;
    }
    rc = s_fetch(client, trust, id, &a, state, &reply, v);
    if (rc != 0) {
        if (rc == COFAB_ENOTFOUND)
            snprintf(what, sizeof what, "unknown order %s", hex);
        else if (rc == COFAB_ENET)
            snprintf(what, sizeof what, "hub %s unreachable: no answer within %d s", a.hub,
                     a.timeout_ms / 1000);
        else if (rc == COFAB_EINCONSISTENT)
            snprintf(what, sizeof what, "%s", v->reason);
        else
            snprintf(what, sizeof what, "verification FAILED: %s", v->reason);
        s_fail(&a, hex, rc, what);
        goto out;
    }
    names->client = client;
    names->trust = trust;
    names->timeout_ms = a.timeout_ms;
    s_report(&a, hex, names, v);
    if (!v->witnessed)
        rc = COFAB_EPROOF; /* too few witnesses vouch for the checkpoint: not verified */
    if (rc == 0 && a.receipt) {
        if (v->n == 0 || !v->events[0].proven) {
            fprintf(stderr, "cofab order status: no receipt: the order's first record is not "
                            "in a checkpoint yet\n");
            rc = COFAB_ENOTFOUND;
        } else if ((rc = cli_write_tlog_proof(a.receipt, v->events[0].position, v->events[0].record,
                                              v->events[0].record_len, v->events[0].proof,
                                              v->events[0].k, v->note, v->note_len)) != 0) {
            fprintf(stderr, "cofab order status: cannot write %s\n", a.receipt);
        }
    }
out:
    code = order_exit_code(rc);
    net_msg_free(&reply);
    free(names);
    free(v);
    free(trust);
    client_destroy(&client);
    keys_destroy(&keys);
    free(rest);
    return code;
}
