/* cmd_audit_verify.c — `cofab audit verify`: the full audit of a ledger, a bundle or a hub, and its report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cmd_audit_internal.h"
#include "cofab/audit.h"
#include "cofab/audit_rules.h"
#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/util.h"
#include "cofab/witness.h"

#define S_ALSO_MAX 8         /* --also-checkpoint files per run */

typedef struct {
    cmd_audit_source_t src;  /* --ledger / --bundle / --hub */
    const char *policy;      /* --policy FILE */
    int replay;              /* --replay */
    int json;                /* --json */
    int threads;             /* --threads N */
    const char *also[S_ALSO_MAX]; /* --also-checkpoint FILE: checkpoints shown to others */
    int nalso;               /* how many */
} s_args_t;

/* How a checkpoint the hub signed for someone else compares with this ledger. */
typedef enum { S_AGREES, S_SPLIT, S_BEYOND } s_also_result_t;

typedef struct {
    const char *path;                   /* the file it came from */
    s_also_result_t result;             /* the comparison */
    checkpoint_t cp;                    /* its body */
    char note[NOTE_MAX_LEN + 1];        /* its signed note text */
    char ours[LEDGER_CHECKPOINT_MAX];   /* this ledger's stored checkpoint of that size, or "" */
    uint8_t root[32];                   /* this ledger's root at that size (S_SPLIT, S_AGREES) */
} s_also_t;

static int
s_parse(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {{"ledger", required_argument, NULL, 'l'},
                                         {"bundle", required_argument, NULL, 'b'},
                                         {"hub", required_argument, NULL, 'h'},
                                         {"hub-key", required_argument, NULL, 'k'},
                                         {"key", required_argument, NULL, 'K'},
                                         {"cache", required_argument, NULL, 'c'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"replay", no_argument, NULL, 'r'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"also-checkpoint", required_argument, NULL, 'a'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    int c;
    uint64_t n;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->src.ledger = optarg; break;
        case 'b': a->src.bundle = optarg; break;
        case 'h': a->src.hub = optarg; break;
        case 'k': a->src.hub_pub = optarg; break;
        case 'K': a->src.key = optarg; break;
        case 'c': a->src.cache = optarg; break;
        case 'p': a->policy = optarg; break;
        case 'r': a->replay = 1; break;
        case 'j': a->json = 1; break;
        case 'a':
            if (a->nalso == S_ALSO_MAX)
                return -1;
            a->also[a->nalso++] = optarg;
            break;
        case 't':
            if (cli_parse_u64(optarg, &n) != 0 || n == 0 || n > AUDIT_MAX_THREADS)
                return -1;
            a->threads = (int) n;
            break;
        default:
            return -1;
        }
    }
    int sources = !!a->src.ledger + !!a->src.bundle + !!a->src.hub;
    return optind == argc && sources == 1 ? 0 : -1;
}

/* The auditor's own witness policy file. */
static int
s_load_policy(const char *path, witness_policy_t *p)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[160] = "";
    int rc = util_read_file(path, WITNESS_POLICY_MAX, &buf, &len);
    if (rc == 0)
        rc = witness_policy_parse(p, (const char *) buf, len, why, sizeof why);
    free(buf);
    if (rc != 0)
        fprintf(stderr, "cofab audit verify: policy %s: %s%s%s\n", path, cofab_strerror(rc),
                why[0] ? ": " : "", why);
    return rc;
}

/* Reads a checkpoint the hub signed for someone else (another witness's
 * last-cosigned.note, a customer's saved checkpoint) and compares it with
 * this ledger: at a size the ledger holds, the roots must be equal, or the
 * hub signed two histories. Each history alone can be valid and witnessed;
 * only such a comparison shows the split. Returns 0, or the error that
 * makes the file unusable (printed). */
static int
s_also_check(ledger_t *ledger, const note_verifier_t *hub, const char *origin, s_also_t *x)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    note_t *note = malloc(sizeof *note);
    const char *what = "unreadable";
    int rc = note ? util_read_file(x->path, NOTE_MAX_LEN, &buf, &len) : COFAB_ENOMEM;
    if (rc == 0) {
        what = "not a signed note";
        rc = note_parse(note, (const char *) buf, len);
    }
    if (rc == 0) {
        what = "not signed by the hub key";
        rc = note_verify(note, hub);
    }
    if (rc == 0) {
        what = "not a checkpoint";
        rc = checkpoint_parse(&x->cp, note->body, note->body_len);
    }
    if (rc == 0 && strcmp(x->cp.origin, origin) != 0) {
        what = "a checkpoint of another log (origin)";
        rc = COFAB_EMALFORMED;
    }
    if (rc == 0) {
        memcpy(x->note, buf, len + 1);
        x->ours[0] = 0;
        x->result = S_BEYOND; /* no proof offline: not compared */
        if (x->cp.size <= ledger_size(ledger)) {
            rc = x->cp.size ? ledger_root(ledger, x->cp.size, x->root) : (merkle_empty_root(x->root), 0);
            x->result = rc == 0 && sodium_memcmp(x->root, x->cp.root, 32) == 0 ? S_AGREES : S_SPLIT;
            if (ledger_checkpoint_get(ledger, x->cp.size, x->ours, sizeof x->ours) != 0)
                x->ours[0] = 0;
            what = "cannot read this ledger's tree";
        }
    }
    if (rc != 0)
        fprintf(stderr, "cofab audit verify: --also-checkpoint %s: %s (%s)\n", x->path, what,
                cofab_strerror(rc));
    free(buf);
    free(note);
    return rc;
}

/* A split makes the verdict unless an earlier failure already did. */
static void
s_also_verdict(audit_report_t *r, const s_also_t *x)
{
    char theirs[65], ours[65];
    cli_hex32(x->cp.root, theirs);
    cli_hex32(x->root, ours);
    audit_failure_t *f = &r->failures[AUDIT_CHECKPOINT];
    if (f->code == 0) {
        f->code = COFAB_EINCONSISTENT;
        f->record = f->related = -1;
        f->checkpoint = (int64_t) x->cp.size;
        const char *base = strrchr(x->path, '/');
        snprintf(f->reason, sizeof f->reason,
                 "SPLIT VIEW: the hub signed checkpoint %llu with root %.16s... (in %.48s); "
                 "this ledger's tree of that size has root %.16s...: two histories",
                 (unsigned long long) x->cp.size, theirs, base ? base + 1 : x->path, ours);
    }
    if (r->valid) {
        r->valid = 0;
        r->code = f->code;
        r->bad_record = r->related_record = -1;
        r->bad_checkpoint = f->checkpoint;
        memcpy(r->reason, f->reason, sizeof r->reason);
    }
}

static const char *
s_also_name(s_also_result_t res)
{
    return res == S_AGREES ? "agrees" : res == S_SPLIT ? "split" : "beyond";
}

/* Both envelopes of a fork (or the two records a failure involves), so the
 * report is evidence anyone can check, not just a claim. */
static json_t *
s_evidence(ledger_t *ledger, const audit_report_t *r)
{
    if (r->related_record < 0 || r->bad_record < 0)
        return NULL;
    json_t *arr = json_array();
    int64_t seqs[2] = {r->related_record, r->bad_record};
    for (int i = 0; i < 2; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (ledger_get(ledger, (uint64_t) seqs[i], &buf, &len) != 0)
            continue;
        char *b = cli_b64(buf, len);
        json_array_append_new(arr, json_pack("{sI ss}", "index", (json_int_t) seqs[i], "record",
                                             b ? b : ""));
        free(b);
        free(buf);
    }
    return arr;
}

static json_t *
s_summary_json(const audit_rules_summary_t *s)
{
    json_t *states = json_object();
    for (int k = 1; k <= POLICY_DECLINED; k++)
        if (s->by_state[k])
            json_object_set_new(states, policy_state_name(k), json_integer((json_int_t) s->by_state[k]));
    json_t *factories = json_array();
    for (uint32_t i = 0; i < s->nfactories; i++) {
        const audit_rules_factory_t *f = &s->factories[i];
        json_array_append_new(
            factories,
            json_pack("{ss si si si si si si}", "name", f->name, "assigned", (int) f->r.assigned,
                      "accepted", (int) f->r.accepted, "declined", (int) f->r.declined,
                      "timeouts", (int) f->r.timeouts, "delivered", (int) f->r.delivered,
                      "on_time", (int) f->r.on_time));
    }
    return json_pack("{sI so sI sI sI so}", "orders", (json_int_t) s->orders, "by_state", states,
                     "rounds_replayed", (json_int_t) s->rounds, "assigns_replayed",
                     (json_int_t) s->assigns, "reassigns_checked", (json_int_t) s->reassigns,
                     "factories", factories);
}

static json_t *
s_report_json(const audit_report_t *r, const audit_rules_summary_t *s, int replay,
              json_t *evidence)
{
    char root[65], verifier[NOTE_VERIFIER_MAX] = "";
    cli_hex32(r->root, root);
    if (r->hub.name[0])
        note_verifier_format(&r->hub, verifier, sizeof verifier);
    json_t *kinds = json_object();
    for (int k = 1; k <= ENVELOPE_KIND_MAX; k++)
        if (r->kinds[k])
            json_object_set_new(kinds, envelope_kind_name(k), json_integer((json_int_t) r->kinds[k]));
    json_t *doc = json_pack("{sb sI sI sI sI ss ss ss so sb}", "valid", r->valid, "size",
                            (json_int_t) r->size, "records",
                            (json_int_t) r->records, "authors", (json_int_t) r->authors,
                            "checkpoints", (json_int_t) r->checkpoints, "origin", r->origin,
                            "hub_key", verifier, "root", root, "kinds", kinds, "replay", replay);
    json_t *names = json_array();
    for (uint32_t i = 0; i < r->witnesses && i < WITNESS_MAX; i++)
        if (r->latest_witnesses >> i & 1)
            json_array_append_new(names, json_string(r->witness_names[i]));
    json_object_set_new(doc, "witnesses",
                        json_pack("{si si si so sI sI}", "listed", (int) r->witnesses, "quorum",
                                  (int) r->quorum, "latest_cosigned", (int) r->latest_cosigned,
                                  "latest_cosigned_by", names,
                                  "witnessed_size", (json_int_t) r->witnessed_size,
                                  "earlier_below_quorum", (json_int_t) r->below_quorum));
    if (r->latest.size) {
        char cproot[65];
        cli_hex32(r->latest.root, cproot);
        json_object_set_new(doc, "latest_checkpoint",
                            json_pack("{sI ss}", "size", (json_int_t) r->latest.size, "root", cproot));
    }
    if (s)
        json_object_set_new(doc, "rules", s_summary_json(s));
    if (!r->valid) {
        json_t *f = json_pack("{ss ss}", "code", cofab_errname(r->code), "reason", r->reason);
        if (r->bad_record >= 0)
            json_object_set_new(f, "record", json_integer(r->bad_record));
        if (r->bad_checkpoint >= 0)
            json_object_set_new(f, "checkpoint", json_integer(r->bad_checkpoint));
        if (r->related_record >= 0)
            json_object_set_new(f, "related_record", json_integer(r->related_record));
        if (evidence)
            json_object_set_new(f, "evidence", json_incref(evidence));
        json_object_set_new(doc, "failure", f);
        json_t *each = json_array();
        for (int k = 0; k < AUDIT_KINDS; k++) {
            const audit_failure_t *x = &r->failures[k];
            if (x->code == 0)
                continue;
            json_t *o = json_pack("{ss ss ss}", "kind", audit_kind_name(k), "code",
                                  cofab_errname(x->code), "reason", x->reason);
            if (x->record >= 0)
                json_object_set_new(o, "record", json_integer(x->record));
            if (x->checkpoint >= 0)
                json_object_set_new(o, "checkpoint", json_integer(x->checkpoint));
            if (x->related >= 0)
                json_object_set_new(o, "related_record", json_integer(x->related));
            json_array_append_new(each, o);
        }
        json_object_set_new(doc, "failures", each);
    }
    return doc;
}

static void
s_report_text(const char *what, const audit_report_t *r, const audit_rules_summary_t *s,
              int replay, json_t *evidence)
{
    printf("ledger      %s (origin \"%s\"), audited at size %llu\n", what, r->origin,
           (unsigned long long) r->size);
    printf("records     %llu checked, %llu authors\n", (unsigned long long) r->records,
           (unsigned long long) r->authors);
    for (int k = 1; k <= ENVELOPE_KIND_MAX; k++)
        if (r->kinds[k])
            printf("            %-14s %llu\n", envelope_kind_name(k), (unsigned long long) r->kinds[k]);
    if (s && s->orders) {
        printf("orders      %llu, by state now:", (unsigned long long) s->orders);
        for (int k = 1; k <= POLICY_DECLINED; k++)
            if (s->by_state[k])
                printf(" %s %llu", policy_state_name(k), (unsigned long long) s->by_state[k]);
        printf("\n");
    }
    if (s && s->nfactories) {
        printf("factories   %-16s %8s %8s %8s %9s %8s\n", "name", "assigned", "accepted",
               "declined", "delivered", "on time");
        for (uint32_t i = 0; i < s->nfactories; i++) {
            const policy_reliability_t *f = &s->factories[i].r;
            char share[16] = "-";
            if (f->delivered)
                snprintf(share, sizeof share, "%u%%", (unsigned) (100u * f->on_time / f->delivered));
            printf("            %-16s %8u %8u %8u %9u %8s\n", s->factories[i].name, f->assigned,
                   f->accepted, f->declined, f->delivered, share);
        }
    }
    if (s && replay)
        printf("replay      %llu matcher rounds rerun, %llu assignments identical, %llu "
               "reassignments checked\n",
               (unsigned long long) s->rounds, (unsigned long long) s->assigns,
               (unsigned long long) s->reassigns);
    printf("checkpoints %llu verified with hub key %s\n", (unsigned long long) r->checkpoints,
           r->hub.name);
    printf("witnesses   quorum %u of %u; latest checkpoint %llu cosigned by %u:", r->quorum,
           r->witnesses, (unsigned long long) r->latest.size, r->latest_cosigned);
    for (uint32_t i = 0; i < r->witnesses && i < WITNESS_MAX; i++)
        if (r->latest_witnesses >> i & 1)
            printf(" %s", r->witness_names[i]);
    printf("\n");
    if (r->valid) {
        printf("VALID: every signature, link, tree node, checkpoint and rule%s checks out;\n"
               "       verified checkpoint: size %llu, witnessed by %u\n",
               replay ? " and every matcher decision" : "", (unsigned long long) r->latest.size,
               r->latest_cosigned);
        return;
    }
    printf("INVALID: %s [%s]\n", r->reason, cofab_errname(r->code));
    int kinds = 0;
    for (int k = 0; k < AUDIT_KINDS; k++)
        kinds += r->failures[k].code != 0;
    if (kinds > 1) {
        printf("first failure of each kind:\n");
        for (int k = 0; k < AUDIT_KINDS; k++)
            if (r->failures[k].code)
                printf("  %-10s %s [%s]\n", audit_kind_name(k), r->failures[k].reason,
                       cofab_errname(r->failures[k].code));
    }
    size_t i;
    json_t *e;
    if (evidence)
        json_array_foreach(evidence, i, e)
            printf("evidence: record %lld: %s\n",
                   (long long) json_integer_value(json_object_get(e, "index")),
                   json_string_value(json_object_get(e, "record")));
}

static json_t *
s_also_json(const s_also_t *also, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        const s_also_t *x = &also[i];
        char theirs[65], ours[65];
        cli_hex32(x->cp.root, theirs);
        cli_hex32(x->root, ours);
        json_t *o = json_pack("{ss sI ss ss ss}", "file", x->path, "size", (json_int_t) x->cp.size,
                              "root", theirs, "result", s_also_name(x->result), "note", x->note);
        if (x->result != S_BEYOND)
            json_object_set_new(o, "ledger_root", json_string(ours));
        if (x->ours[0])
            json_object_set_new(o, "ledger_checkpoint", json_string(x->ours));
        json_array_append_new(arr, o);
    }
    return arr;
}

static void
s_also_text(const s_also_t *also, int n)
{
    for (int i = 0; i < n; i++) {
        const s_also_t *x = &also[i];
        unsigned long long size = (unsigned long long) x->cp.size;
        if (x->result == S_AGREES)
            printf("also        %s: checkpoint %llu agrees with this ledger\n", x->path, size);
        else if (x->result == S_BEYOND)
            printf("also        %s: checkpoint %llu is beyond this ledger: not compared\n",
                   x->path, size);
        if (x->result != S_SPLIT)
            continue;
        char ours[65];
        cli_hex32(x->root, ours);
        printf("SPLIT VIEW: %s: the hub signed checkpoint %llu of another history\n"
               "evidence: the checkpoint in %s:\n%s",
               x->path, size, x->path, x->note);
        if (x->ours[0])
            printf("evidence: this ledger's checkpoint of size %llu:\n%s", size, x->ours);
        else
            printf("evidence: this ledger's root at size %llu: %s (no checkpoint stored)\n", size,
                   ours);
    }
}

int
cmd_audit_verify(int argc, char **argv)
{
    s_args_t a;
    if (s_parse(argc, argv, &a) != 0) {
        fprintf(stderr,
                "usage: cofab audit verify (--ledger DIR | --bundle DIR | --hub EP --hub-key HUB.pub\n"
                "                          [--key K] [--cache DIR]) [--hub-key HUB.pub]\n"
                "                          [--policy FILE] [--replay] [--threads N] [--json]\n"
                "                          [--also-checkpoint NOTE]...\n");
        return CLI_USAGE;
    }
    keys_public_t pinned;
    note_verifier_t pin;
    witness_policy_t *policy = NULL;
    if (a.src.hub_pub) {
        int rc = keys_public_load(&pinned, a.src.hub_pub);
        if (rc != 0) {
            fprintf(stderr, "cofab audit verify: %s: %s\n", a.src.hub_pub, cofab_strerror(rc));
            return CLI_USAGE;
        }
        note_verifier_init(&pin, pinned.name, pinned.sign_pk);
    }
    if (a.policy && ((policy = malloc(sizeof *policy)) == NULL ||
                     s_load_policy(a.policy, policy) != 0)) {
        free(policy);
        return CLI_USAGE;
    }
    int ret = CLI_FAIL;
    cmd_audit_opened_t src = {0};
    audit_rules_t *rules = NULL;
    audit_report_t *r = malloc(sizeof *r);
    audit_rules_summary_t *sum = malloc(sizeof *sum);
    json_t *evidence = NULL;
    s_also_t *also = NULL;
    int rc = r && sum ? 0 : COFAB_ENOMEM;
    if (rc == 0) {
        ret = cmd_audit_open("cofab audit verify", &a.src, &src);
        if (ret != CLI_OK)
            goto out;
        ret = CLI_FAIL;
    }
    audit_rules_options_t ro = {.replay = a.replay};
    if (rc == 0)
        rc = audit_rules_new(&rules, &ro);
    if (rc == 0) {
        cli_progress_t progress;
        cli_progress_init(&progress, a.replay ? "verifying + replaying" : "verifying");
        audit_options_t opts = {.threads = a.threads, .hub_key = a.src.hub_pub ? &pin : NULL,
                                .progress = cli_progress_update, .progress_ctx = &progress,
                                .policy = policy, .hook = audit_rules_hook(rules)};
        rc = audit_verify(src.ledger, &opts, r);
        cli_progress_done(&progress);
    }
    if (rc != 0) {
        fprintf(stderr, "cofab audit verify: could not run: %s\n", cofab_strerror(rc));
        goto out;
    }
    if (a.nalso && !(also = calloc((size_t) a.nalso, sizeof *also))) {
        ret = CLI_FAIL;
        goto out;
    }
    for (int i = 0; i < a.nalso; i++) {
        also[i].path = a.also[i];
        if (s_also_check(src.ledger, a.src.hub_pub ? &pin : &r->hub, r->origin, &also[i]) != 0) {
            ret = CLI_USAGE;
            goto out;
        }
        if (also[i].result == S_SPLIT)
            s_also_verdict(r, &also[i]);
    }
    int have_summary = audit_rules_summary(rules, sum) == 0;
    evidence = r->valid ? NULL : s_evidence(src.ledger, r);
    if (a.json) {
        json_t *doc = s_report_json(r, have_summary ? sum : NULL, a.replay, evidence);
        if (a.nalso)
            json_object_set_new(doc, "also_checkpoints", s_also_json(also, a.nalso));
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    } else {
        s_report_text(src.what, r, have_summary ? sum : NULL, a.replay, evidence);
        s_also_text(also, a.nalso);
    }
    ret = r->valid ? CLI_OK : CLI_FAIL;
out:
    free(also);
    json_decref(evidence);
    audit_rules_destroy(&rules);
    cmd_audit_close(&src);
    free(policy);
    free(r);
    free(sum);
    return ret;
}
