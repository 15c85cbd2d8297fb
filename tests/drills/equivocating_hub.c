/* equivocating_hub.c — drill 03's test-only lying hub: two valid histories, one per group of nodes (never installed).
 *
 * It holds the real hub's keys and two copies of the real hub's ledger (the
 * common prefix, which must end with a customer's order still waiting for
 * matching). At start it forks them: history A assigns that order to the
 * first factory of group A, history B to the first factory of group B,
 * and each is checkpointed at the same size. Each history is
 * individually valid: every record passes the alliance's rules, each
 * checkpoint is signed with the hub's key, and each group's witnesses may
 * cosign its own. Only comparing the two shows the lie.
 *
 * Nodes are told apart by their transport key (ZAP): a key of group A is
 * shown history A, one of group B history B, on the one submit endpoint;
 * each group has its own feed endpoint, on which the latest checkpoint of
 * what that group is shown is published every 250 ms. Every other key (a
 * customer, an auditor) is shown what group A is shown.
 *
 * SIGUSR1 swaps the views: the history named by --longer first grows by
 * one hub note (a new checkpoint), then group A is shown history B and
 * group B history A (so every node sees a second history after the
 * first: one group a tree of its own size, the other a longer one), and
 * customers history B. SIGINT/SIGTERM stop it. It logs each
 * cosignature it stores as "COSIGN <name> history <A|B|prefix> size <n>",
 * and "ready" once it serves. Submissions are refused.
 *
 * usage: equivocating_hub --key HUB.key --submit EP --feed-a EP --feed-b EP
 *          --ledger-a DIR --ledger-b DIR --order ID --longer a|b
 *          --group-a NODE.pub... --group-b NODE.pub...
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/net.h"
#include "cofab/note.h"
#include "cofab/payload.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "cofab/wire.h"

#define S_GROUP_MAX 16          /* nodes per group */
#define S_REPUBLISH_MS 250      /* feed period of the latest checkpoint */

static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_swap;

/* One node the hub knows: its keys and group. */
typedef struct {
    keys_public_t pub;          /* from its .pub file */
    int group;                  /* 0 = A, 1 = B */
} s_member_t;

typedef struct {
    keys_t *hub;                            /* the real hub's keys */
    ledger_t *hist[2];                      /* history A, history B */
    s_member_t members[2 * S_GROUP_MAX];    /* every node */
    size_t nmembers;                        /* how many */
    int swapped;                            /* 1 once SIGUSR1 arrived */
    void *zctx, *router, *pub[2];           /* ZeroMQ: submit endpoint, one feed per group */
    net_zap_t *zap;                         /* admits the keys */
    uint64_t cosigns[3];                    /* stored cosignatures: A, B, prefix */
} s_hub_t;

static void s_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
s_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%llu equivocating-hub: ", (unsigned long long) util_now_ms());
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static void
s_on_signal(int sig)
{
    if (sig == SIGUSR1)
        s_swap = 1;
    else
        s_stop = 1;
}

/* ZAP: group members get "a:<index>" / "b:<index>", anyone else "c:". */
static int
s_authorize(void *arg, const uint8_t key[32], char *user_id)
{
    const s_hub_t *h = arg;
    for (size_t i = 0; i < h->nmembers; i++)
        if (sodium_memcmp(h->members[i].pub.curve_pk, key, 32) == 0) {
            snprintf(user_id, NET_USER_ID_MAX, "%c:%zu", h->members[i].group ? 'b' : 'a', i);
            return 0;
        }
    snprintf(user_id, NET_USER_ID_MAX, "c:");
    return 0;
}

/* The history a connection is shown now. */
static ledger_t *
s_view(const s_hub_t *h, const net_msg_t *m)
{
    int group = m->user_id[0] == 'b' ? 1 : 0;
    return h->hist[h->swapped ? 1 - group : group];
}

static void
s_send(s_hub_t *h, const net_msg_t *m, int type, const wire_writer_t *w)
{
    if (w->error)
        net_send_err(h->router, m->identity, m->identity_len, m->request_id, w->error, "too big");
    else
        net_send(h->router, m->identity, m->identity_len, type, m->request_id, w->data, w->len);
}

static void
s_err(s_hub_t *h, const net_msg_t *m, int code, const char *why)
{
    net_send_err(h->router, m->identity, m->identity_len, m->request_id, code, why);
}

static void
s_get_range(s_hub_t *h, const net_msg_t *m, ledger_t *l)
{
    if (m->len != 12) {
        s_err(h, m, COFAB_EMALFORMED, "GET_RANGE needs 12 bytes");
        return;
    }
    uint64_t from = util_get_be64(m->body);
    uint32_t max = util_get_be32(m->body + 8), n = 0;
    if (max > WIRE_MAX_RANGE)
        max = WIRE_MAX_RANGE;
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u32(&w, 0); /* patched below */
    ledger_iter_t *it = ledger_iter_new(l, from);
    uint64_t seq;
    const uint8_t *bytes;
    size_t len;
    while (it && n < max && w.len + LEDGER_RECORD_MAX < WIRE_MAX_BODY &&
           ledger_iter_next(it, &seq, &bytes, &len) == 0) {
        wire_write_u32(&w, (uint32_t) len);
        wire_write_bytes(&w, bytes, len);
        n++;
    }
    ledger_iter_destroy(&it);
    if (!w.error)
        util_put_be32(w.data, n);
    s_send(h, m, WIRE_RECORDS, &w);
    wire_writer_free(&w);
}

static void
s_get_checkpoint(s_hub_t *h, const net_msg_t *m, ledger_t *l)
{
    char note[LEDGER_CHECKPOINT_MAX];
    int rc = ledger_checkpoint_latest(l, note, sizeof note);
    if (rc != 0)
        s_err(h, m, rc, "no checkpoint");
    else
        net_send(h->router, m->identity, m->identity_len, WIRE_CHECKPOINT, m->request_id, note,
                 strlen(note));
}

/* An order's records with inclusion proofs in the latest checkpoint. */
static void
s_get_subject(s_hub_t *h, const net_msg_t *m, ledger_t *l)
{
    char note[LEDGER_CHECKPOINT_MAX];
    checkpoint_t cp;
    uint64_t seqs[WIRE_MAX_SUBJECT_RECORDS];
    size_t n = 0;
    int rc = m->len == 32 ? ledger_checkpoint_latest(l, note, sizeof note) : COFAB_EMALFORMED;
    if (rc == 0)
        rc = checkpoint_from_note(&cp, note, strlen(note));
    if (rc == 0)
        rc = ledger_subject_records(l, m->body, 0, seqs, WIRE_MAX_SUBJECT_RECORDS, &n);
    if (rc == 0 && n == 0)
        rc = COFAB_ENOTFOUND;
    if (rc != 0) {
        s_err(h, m, rc, "unknown id");
        return;
    }
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u32(&w, (uint32_t) strlen(note));
    wire_write_bytes(&w, note, strlen(note));
    wire_write_u32(&w, (uint32_t) n);
    for (size_t i = 0; i < n && !w.error; i++) {
        uint8_t *rec = NULL, proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
        size_t len = 0, k = 0;
        rc = ledger_get(l, seqs[i], &rec, &len);
        if (rc == 0 && seqs[i] < cp.size)
            rc = ledger_inclusion_proof(l, seqs[i], cp.size, proof, &k);
        if (rc == 0) {
            wire_write_u64(&w, seqs[i]);
            wire_write_u32(&w, (uint32_t) len);
            wire_write_bytes(&w, rec, len);
            wire_write_u8(&w, (uint8_t) k);
            for (size_t j = 0; j < k; j++)
                wire_write_bytes(&w, proof[j], MERKLE_HASH_LEN);
        } else {
            w.error = rc;
        }
        free(rec);
    }
    s_send(h, m, WIRE_SUBJECT, &w);
    wire_writer_free(&w);
}

static void
s_get_consistency(s_hub_t *h, const net_msg_t *m, ledger_t *l)
{
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
    size_t k = 0;
    int rc = m->len == 16 ? ledger_consistency_proof(l, util_get_be64(m->body),
                                                     util_get_be64(m->body + 8), proof, &k)
                          : COFAB_EMALFORMED;
    if (rc != 0) {
        s_err(h, m, rc, "no consistency proof for those sizes");
        return;
    }
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u8(&w, (uint8_t) k);
    for (size_t j = 0; j < k; j++)
        wire_write_bytes(&w, proof[j], MERKLE_HASH_LEN);
    s_send(h, m, WIRE_CONSISTENCY, &w);
    wire_writer_free(&w);
}

static void
s_get_author(s_hub_t *h, const net_msg_t *m, ledger_t *l)
{
    uint64_t aseq = 0;
    uint8_t hash[32];
    int rc = m->len == 32 ? ledger_author_last(l, m->body, &aseq, hash) : COFAB_EMALFORMED;
    if (rc != 0) {
        s_err(h, m, rc, "GET_AUTHOR needs a 32-byte key");
        return;
    }
    wire_writer_t w;
    wire_writer_init(&w);
    wire_write_u64(&w, aseq);
    wire_write_bytes(&w, hash, 32);
    s_send(h, m, WIRE_AUTHOR, &w);
    wire_writer_free(&w);
}

/* Which history holds exactly this checkpoint body at this size: 0 (A),
 * 1 (B), 2 (both: the common prefix), -1 (neither). stored gets that copy. */
static int
s_which(s_hub_t *h, uint64_t size, const note_t *theirs, char *stored, size_t max, note_t *tmp)
{
    int found = -1;
    for (int i = 1; i >= 0; i--) {
        char note[LEDGER_CHECKPOINT_MAX];
        if (ledger_checkpoint_get(h->hist[i], size, note, sizeof note) != 0 ||
            note_parse(tmp, note, strlen(note)) != 0 || tmp->body_len != theirs->body_len ||
            memcmp(tmp->body, theirs->body, tmp->body_len) != 0)
            continue;
        found = found < 0 ? i : 2;
        snprintf(stored, max, "%s", note);
    }
    return found;
}

/* Stores a member's cosignature in the history it cosigned (both copies
 * for the common prefix), as the real hub does. */
static int
s_cosign(s_hub_t *h, const net_msg_t *m)
{
    size_t idx = 0;
    if ((m->user_id[0] != 'a' && m->user_id[0] != 'b') || m->len < 9 ||
        sscanf(m->user_id + 2, "%zu", &idx) != 1 || idx >= h->nmembers)
        return COFAB_EPERM;
    const s_member_t *mem = &h->members[idx];
    uint64_t size = util_get_be64(m->body);
    note_t *theirs = malloc(sizeof *theirs), *tmp = malloc(sizeof *tmp);
    char stored[LEDGER_CHECKPOINT_MAX];
    int rc = theirs && tmp ? note_parse(theirs, (const char *) m->body + 8, m->len - 8)
                           : COFAB_ENOMEM;
    int which = rc == 0 ? s_which(h, size, theirs, stored, sizeof stored, tmp) : -1;
    if (rc == 0 && which < 0)
        rc = COFAB_EINCONSISTENT;
    if (rc == 0)
        rc = note_verify_cosignature(theirs, mem->pub.name, mem->pub.sign_pk, NULL);
    int again = rc == 0 && note_parse(tmp, stored, strlen(stored)) == 0 &&
                note_verify_cosignature(tmp, mem->pub.name, mem->pub.sign_pk, NULL) == 0;
    for (size_t i = 0; rc == 0 && !again && i < theirs->nsigs; i++) {
        const note_sig_t *s = &theirs->sigs[i];
        if (strcmp(s->name, mem->pub.name) != 0 || s->blob_len != 76)
            continue;
        char b64[sodium_base64_ENCODED_LEN(76, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof b64, s->blob, s->blob_len, sodium_base64_VARIANT_ORIGINAL);
        size_t used = strlen(stored);
        int n = snprintf(stored + used, sizeof stored - used, "\xe2\x80\x94 %s %s\n", s->name, b64);
        if (n < 0 || (size_t) n >= sizeof stored - used)
            rc = COFAB_ETOOBIG;
        for (int j = 0; rc == 0 && j < 2; j++)
            if (which == j || which == 2)
                rc = ledger_checkpoint_put(h->hist[j], size, stored, strlen(stored));
        break;
    }
    if (rc == 0 && !again) {
        h->cosigns[which]++;
        s_log("COSIGN %s history %s size %llu", mem->pub.name,
              which == 2 ? "prefix" : which ? "B" : "A", (unsigned long long) size);
    } else if (rc != 0) {
        s_log("cosignature of %llu by %s refused: %s", (unsigned long long) size, mem->pub.name,
              cofab_strerror(rc));
    }
    free(theirs);
    free(tmp);
    return rc;
}

static void
s_handle(s_hub_t *h, const net_msg_t *m)
{
    ledger_t *l = s_view(h, m);
    switch (m->type) {
    case WIRE_GET_RANGE: s_get_range(h, m, l); break;
    case WIRE_GET_CHECKPOINT: s_get_checkpoint(h, m, l); break;
    case WIRE_GET_SUBJECT: s_get_subject(h, m, l); break;
    case WIRE_GET_CONSISTENCY: s_get_consistency(h, m, l); break;
    case WIRE_GET_AUTHOR: s_get_author(h, m, l); break;
    case WIRE_PING:
        net_send(h->router, m->identity, m->identity_len, WIRE_PONG, m->request_id, NULL, 0);
        break;
    case WIRE_COSIGN: {
        int rc = s_cosign(h, m);
        if (rc != 0) {
            s_err(h, m, rc, "cosignature refused");
        } else {
            wire_writer_t w;
            wire_writer_init(&w);
            wire_write_u64(&w, util_get_be64(m->body));
            wire_write_u8(&w, 0);
            s_send(h, m, WIRE_ACK, &w);
            wire_writer_free(&w);
        }
        break;
    }
    default:
        s_err(h, m, COFAB_EPERM, "drill hub: no submissions");
        break;
    }
}

/* Seals the hub's next envelope (its author chain as history l holds it)
 * and appends it there. */
static int
s_append_hub(s_hub_t *h, ledger_t *l, int kind, const uint8_t subject[32], const uint8_t *payload,
             size_t plen)
{
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = util_now_ms(),
                            .payload = payload, .payload_len = plen};
    uint8_t *buf = malloc(ENVELOPE_MAX);
    size_t len = 0;
    envelope_t e;
    ledger_result_t res = {0};
    int rc = buf ? ledger_author_last(l, keys_sign_pk(h->hub), &spec.author_seq, spec.author_prev)
                 : COFAB_ENOMEM;
    spec.author_seq++;
    if (subject)
        memcpy(spec.subject, subject, 32);
    if (rc == 0)
        rc = envelope_seal(&spec, h->hub, buf, ENVELOPE_MAX, &len);
    if (rc == 0)
        rc = envelope_open(&e, buf, len);
    if (rc == 0)
        rc = ledger_append(l, &e, 1, util_now_ms(), &res);
    if (rc == 0)
        rc = res.code;
    free(buf);
    return rc;
}

/* The fork: each history assigns the order to its group's first factory. */
static int
s_fork(s_hub_t *h, const uint8_t order[32])
{
    uint64_t seq = 0;
    size_t n = 0;
    uint8_t *rec = NULL, heads[2][32];
    size_t len = 0;
    ledger_record_t r;
    envelope_t e;
    payload_order_t *o = malloc(sizeof *o);
    payload_assign_t *a = calloc(1, sizeof *a);
    ledger_head(h->hist[0], heads[0]);
    ledger_head(h->hist[1], heads[1]);
    int rc = o && a ? 0 : COFAB_ENOMEM;
    if (rc == 0 && (ledger_size(h->hist[0]) != ledger_size(h->hist[1]) ||
                    sodium_memcmp(heads[0], heads[1], 32) != 0)) {
        s_log("the two ledgers are not copies of one prefix");
        rc = COFAB_EINVAL;
    }
    if (rc == 0)
        rc = ledger_subject_records(h->hist[0], order, 0, &seq, 1, &n);
    if (rc == 0 && n == 0)
        rc = COFAB_ENOTFOUND;
    if (rc == 0)
        rc = ledger_get(h->hist[0], seq, &rec, &len);
    if (rc == 0)
        rc = ledger_record_decode(&r, rec, len);
    if (rc == 0)
        rc = envelope_open(&e, r.envelope, r.envelope_len);
    if (rc == 0)
        rc = e.kind == ENVELOPE_ORDER ? payload_order_decode(o, e.payload, e.payload_len)
                                      : COFAB_EKIND;
    uint32_t today = (uint32_t) (util_now_ms() / 86400000u);
    for (int g = 0; rc == 0 && g < 2; g++) {
        const s_member_t *f = NULL;
        for (size_t i = 0; i < h->nmembers && !f; i++)
            if (h->members[i].group == g)
                f = &h->members[i];
        a->basis = ledger_size(h->hist[g]);
        a->npieces = o->nitems;
        for (uint32_t i = 0; i < o->nitems; i++) {
            payload_piece_t *p = &a->pieces[i];
            memcpy(p->factory, f->pub.sign_pk, 32);
            snprintf(p->process, sizeof p->process, "%s", o->items[i].process);
            snprintf(p->material, sizeof p->material, "%s", o->items[i].material);
            p->qty = o->items[i].qty;
            p->first_day = today + 1;
            p->last_day = o->due_day > today + 1 ? o->due_day : today + 1;
            p->cost = 100 * o->items[i].qty;
        }
        crypto_generichash(a->result, 32, (const uint8_t *) f->pub.name, strlen(f->pub.name),
                           NULL, 0);
        uint8_t *payload = NULL;
        size_t plen = 0;
        char note[LEDGER_CHECKPOINT_MAX];
        rc = payload_assign_encode(a, &payload, &plen);
        if (rc == 0)
            rc = s_append_hub(h, h->hist[g], ENVELOPE_ASSIGN, order, payload, plen);
        free(payload);
        if (rc == 0)
            rc = ledger_checkpoint_sign(h->hist[g], h->hub, note, sizeof note);
        if (rc == 0) {
            checkpoint_t cp;
            char hex[65];
            checkpoint_from_note(&cp, note, strlen(note));
            sodium_bin2hex(hex, sizeof hex, cp.root, 32);
            s_log("history %c: order assigned to %s; checkpoint size %llu root %.16s...",
                  'A' + g, f->pub.name, (unsigned long long) cp.size, hex);
        }
    }
    if (rc != 0)
        s_log("cannot fork the histories: %s", cofab_strerror(rc));
    free(rec);
    free(o);
    free(a);
    return rc;
}

/* At the swap, one history grows by a hub note, so the nodes shown it
 * next meet a longer tree than theirs and the others one of their size. */
static int
s_extend(s_hub_t *h, int g)
{
    static const char more[] = "the hub goes on with this history";
    char note[LEDGER_CHECKPOINT_MAX];
    int rc = s_append_hub(h, h->hist[g], ENVELOPE_NOTE, NULL, (const uint8_t *) more,
                          sizeof more - 1);
    if (rc == 0)
        rc = ledger_checkpoint_sign(h->hist[g], h->hub, note, sizeof note);
    if (rc == 0)
        s_log("history %c grows to %llu records", 'A' + g,
              (unsigned long long) ledger_size(h->hist[g]));
    else
        s_log("cannot extend history %c: %s", 'A' + g, cofab_strerror(rc));
    return rc;
}

/* The latest checkpoint of what each group is shown, on its own feed. */
static void
s_publish(s_hub_t *h)
{
    for (int g = 0; g < 2; g++) {
        char note[LEDGER_CHECKPOINT_MAX];
        if (ledger_checkpoint_latest(h->hist[h->swapped ? 1 - g : g], note, sizeof note) != 0)
            continue;
        zmq_send(h->pub[g], "C", 1, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(h->pub[g], note, strlen(note), ZMQ_DONTWAIT);
    }
}

typedef struct {
    const char *key, *submit, *feed[2], *ledger[2], *order;
    const char *group[2][S_GROUP_MAX];
    size_t ngroup[2];
    int longer;
} s_args_t;

static int
s_parse(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},      {"submit", required_argument, NULL, 's'},
        {"feed-a", required_argument, NULL, 'f'},   {"feed-b", required_argument, NULL, 'F'},
        {"ledger-a", required_argument, NULL, 'l'}, {"ledger-b", required_argument, NULL, 'L'},
        {"group-a", required_argument, NULL, 'g'},  {"group-b", required_argument, NULL, 'G'},
        {"order", required_argument, NULL, 'o'},    {"longer", required_argument, NULL, 'x'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->longer = -1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int b = c == 'F' || c == 'L' || c == 'G';
        switch (c) {
        case 'k': a->key = optarg; break;
        case 's': a->submit = optarg; break;
        case 'f': case 'F': a->feed[b] = optarg; break;
        case 'l': case 'L': a->ledger[b] = optarg; break;
        case 'o': a->order = optarg; break;
        case 'x': a->longer = !strcmp(optarg, "a") ? 0 : !strcmp(optarg, "b") ? 1 : -1; break;
        case 'g': case 'G':
            if (a->ngroup[b] == S_GROUP_MAX)
                return -1;
            a->group[b][a->ngroup[b]++] = optarg;
            break;
        default: return -1;
        }
    }
    return optind == argc && a->key && a->submit && a->feed[0] && a->feed[1] && a->ledger[0] &&
                   a->ledger[1] && a->order && a->longer >= 0 && a->ngroup[0] && a->ngroup[1]
               ? 0
               : -1;
}

/* Loads keys and ledgers, forks, binds. Returns 0 or prints why not. */
static int
s_setup(s_hub_t *h, const s_args_t *a)
{
    uint8_t order[32];
    size_t bin = 0;
    int rc = keys_load(a->key, &h->hub);
    if (rc != 0)
        s_log("%s: %s", a->key, cofab_strerror(rc));
    for (int g = 0; rc == 0 && g < 2; g++)
        for (size_t i = 0; rc == 0 && i < a->ngroup[g]; i++) {
            s_member_t *m = &h->members[h->nmembers++];
            m->group = g;
            if ((rc = keys_public_load(&m->pub, a->group[g][i])) != 0)
                s_log("%s: %s", a->group[g][i], cofab_strerror(rc));
        }
    if (rc == 0 && (sodium_hex2bin(order, 32, a->order, strlen(a->order), NULL, &bin, NULL) != 0 ||
                    bin != 32)) {
        s_log("--order needs 64 hex digits");
        rc = COFAB_EINVAL;
    }
    ledger_options_t o = {.apply = policy_apply};
    for (int g = 0; rc == 0 && g < 2; g++)
        if ((rc = ledger_open(&h->hist[g], a->ledger[g], &o)) != 0)
            s_log("%s: %s", a->ledger[g], cofab_strerror(rc));
    if (rc == 0)
        rc = s_fork(h, order);
    if (rc != 0)
        return rc;
    h->zctx = zmq_ctx_new();
    h->zap = h->zctx ? net_zap_start(h->zctx, s_authorize, h) : NULL;
    h->router = h->zap ? net_server_socket(h->zctx, ZMQ_ROUTER, h->hub) : NULL;
    h->pub[0] = h->router ? net_server_socket(h->zctx, ZMQ_PUB, h->hub) : NULL;
    h->pub[1] = h->pub[0] ? net_server_socket(h->zctx, ZMQ_PUB, h->hub) : NULL;
    if (!h->pub[1] || zmq_bind(h->router, a->submit) != 0 || zmq_bind(h->pub[0], a->feed[0]) != 0 ||
        zmq_bind(h->pub[1], a->feed[1]) != 0) {
        s_log("cannot bind: %s", zmq_strerror(zmq_errno()));
        return COFAB_ENET;
    }
    return 0;
}

static void
s_teardown(s_hub_t *h)
{
    if (h->router)
        zmq_close(h->router);
    for (int g = 0; g < 2; g++)
        if (h->pub[g])
            zmq_close(h->pub[g]);
    net_zap_destroy(&h->zap);
    if (h->zctx)
        zmq_ctx_term(h->zctx);
    ledger_destroy(&h->hist[0]);
    ledger_destroy(&h->hist[1]);
    keys_destroy(&h->hub);
}

int
main(int argc, char **argv)
{
    s_args_t a;
    if (s_parse(argc, argv, &a) != 0) {
        fprintf(stderr, "usage: equivocating_hub --key HUB.key --submit EP --feed-a EP --feed-b EP\n"
                        "         --ledger-a DIR --ledger-b DIR --order ID --longer a|b\n"
                        "         --group-a NODE.pub... --group-b NODE.pub...\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    s_hub_t *h = calloc(1, sizeof *h);
    int rc = h ? s_setup(h, &a) : COFAB_ENOMEM;
    if (rc == 0)
        s_log("ready: submit %s, feed A %s, feed B %s", a.submit, a.feed[0], a.feed[1]);
    uint64_t last_pub = 0;
    while (rc == 0 && !s_stop) {
        if (s_swap && !h->swapped) {
            rc = s_extend(h, a.longer);
            h->swapped = 1;
            s_log("SWAP: group A is now shown history B, group B history A, customers history B");
        }
        uint64_t now = util_mono_ns();
        if (now - last_pub >= (uint64_t) S_REPUBLISH_MS * 1000000u) {
            last_pub = now;
            s_publish(h);
        }
        net_msg_t m;
        int r = net_recv(h->router, 1, 50, &m);
        if (r == 0)
            s_handle(h, &m);
        else if (r != COFAB_ENOTFOUND && r != COFAB_ENET && m.identity_len)
            s_err(h, &m, r, "malformed message");
        net_msg_free(&m);
    }
    if (h)
        s_log("stopping: cosignatures stored: history A %llu, history B %llu, prefix %llu",
              (unsigned long long) h->cosigns[0], (unsigned long long) h->cosigns[1],
              (unsigned long long) h->cosigns[2]);
    if (h)
        s_teardown(h);
    free(h);
    return rc == 0 ? 0 : 1;
}
