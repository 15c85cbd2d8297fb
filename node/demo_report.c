/* demo_report.c — `cofab demo`'s printing: steps, paragraphs, commands, the customer's view, audits, summary. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cofab/error.h"
#include "cofab/policy.h"
#include "cofab/util.h"
#include "demo_internal.h"

#define S_WIDTH 80
#define S_INDENT "    "
#define S_SYNC_MS 10000     /* replicas reach the hub's size */
#define S_AUDIT_MS 60000

const char *
demo_c(const demo_t *d, int what)
{
    static const char *const codes[] = {"\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m"};
    return d->color && what >= 0 && what <= DEMO_OFF ? codes[what] : "";
}

void
demo_step(demo_t *d, const char *title)
{
    snprintf(d->title, sizeof d->title, "%s", title);
    printf("\n%s%2d. %s%s  %s[%.1f s]%s\n", demo_c(d, DEMO_BOLD), ++d->step, title,
           demo_c(d, DEMO_OFF), demo_c(d, DEMO_DIM), demo_elapsed(d), demo_c(d, DEMO_OFF));
}

void
demo_say(const demo_t *d, const char *fmt, ...)
{
    (void) d;
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* Greedy word wrap; '\n' in the text starts a new line. */
    const size_t room = S_WIDTH - sizeof S_INDENT + 1;
    for (char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        char *end = line + n;
        if (n > room) {
            end = line + room;
            while (end > line && *end != ' ')
                end--;
            if (end == line)
                end = line + room;
        }
        printf(S_INDENT "%.*s\n", (int) (end - line), line);
        line = end;
        while (*line == ' ')
            line++;
        if (*line == '\n')
            line++;
    }
}

void
demo_show_cmd(const demo_t *d, const char *const *argv, const char *suffix)
{
    printf(S_INDENT "%s$ cofab", demo_c(d, DEMO_DIM));
    for (int i = 0; argv[i]; i++)
        printf(strchr(argv[i], ' ') ? " '%s'" : " %s", argv[i]);
    printf("%s%s\n", suffix ? suffix : "", demo_c(d, DEMO_OFF));
}

int
demo_customer_view(demo_t *d, const demo_order_t *o)
{
    demo_step(d, "What a customer sees");
    demo_say(d, "%s follows her order #%d with `cofab order status`. She needs nothing but the "
                "hub's public key: every record of the order comes with a Merkle inclusion proof "
                "against a checkpoint the hub signed and the factories cosigned.",
             o->spec->customer, (int) (o - d->orders) + 1);
    const char *argv[] = {"order", "status", o->id, "--hub", d->submit, "--hub-key",
                          "keys/hub.pub", NULL};
    demo_show_cmd(d, argv, NULL);
    int code = 0, rc = demo_run(d, argv, 30000, &code);
    if (rc == 0 && code != 0) {
        snprintf(d->why, sizeof d->why, "order status failed (exit %d): %.300s", code, d->err);
        d->culprit = d->hub.log;
        return COFAB_EPROOF;
    }
    for (char *line = d->out; rc == 0 && *line;) {
        size_t n = strcspn(line, "\n");
        printf(S_INDENT "  %.*s\n", (int) n, line);
        line += n + (line[n] == '\n');
    }
    return rc;
}

/* One audit's figures. */
typedef struct {
    int valid;                  /* the verdict */
    long long records, checkpoints, rounds, assigns, reassigns, cosigned;
    char root[65];              /* final Merkle root */
    char reason[256];           /* why not valid */
} s_audit_t;

static long long
s_num(json_t *doc, const char *a, const char *b)
{
    json_t *v = json_object_get(doc, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (long long) json_integer_value(v) : 0;
}

static int
s_audit_one(demo_t *d, const char *name, s_audit_t *out)
{
    char ledger[64];
    snprintf(ledger, sizeof ledger, "data/%s", name);
    const char *argv[] = {"audit", "verify", "--ledger", ledger, "--replay", "--json", NULL};
    demo_show_cmd(d, argv, NULL);
    int code = 0, rc = demo_run(d, argv, S_AUDIT_MS, &code);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *doc = json_loads(d->out, 0, &jerr);
    if (!json_is_object(doc)) {
        snprintf(d->why, sizeof d->why, "audit verify of %s printed no report (exit %d): %.300s",
                 ledger, code, d->err);
        json_decref(doc);
        return COFAB_EMALFORMED;
    }
    out->valid = json_is_true(json_object_get(doc, "valid")) && code == 0;
    out->records = s_num(doc, "records", NULL);
    out->checkpoints = s_num(doc, "checkpoints", NULL);
    out->rounds = s_num(doc, "rules", "rounds_replayed");
    out->assigns = s_num(doc, "rules", "assigns_replayed");
    out->reassigns = s_num(doc, "rules", "reassigns_checked");
    out->cosigned = s_num(doc, "witnesses", "latest_cosigned");
    const char *root = json_string_value(json_object_get(doc, "root"));
    snprintf(out->root, sizeof out->root, "%s", root ? root : "");
    json_t *f = json_object_get(json_object_get(doc, "failure"), "reason");
    snprintf(out->reason, sizeof out->reason, "%s",
             json_is_string(f) ? json_string_value(f) : "no verdict");
    json_decref(doc);
    return 0;
}

static void
s_print_audit(const demo_t *d, const char *what, const s_audit_t *a)
{
    if (!a->valid) {
        printf(S_INDENT "%-18s %sINVALID%s: %s\n", what, demo_c(d, DEMO_RED), demo_c(d, DEMO_OFF),
               a->reason);
        return;
    }
    printf(S_INDENT "%-18s %sVALID%s: %lld records, %lld checkpoints (the last cosigned by %lld),\n"
           S_INDENT "%-18s %lld matcher rounds re-run: %lld assignments identical, %lld "
           "reassignment%s checked\n",
           what, demo_c(d, DEMO_GREEN), demo_c(d, DEMO_OFF), a->records, a->checkpoints,
           a->cosigned, "", a->rounds, a->assigns, a->reassigns, a->reassigns == 1 ? "" : "s");
}

/* Waits until every replica holds as many records as the hub, and the
 * latest checkpoints of the hub and of `replica` cover them all with
 * enough cosignatures: an audit's verdict is then final. */
static int
s_sync(demo_t *d, int replica, uint64_t *size)
{
    uint64_t deadline = util_mono_ns() + (uint64_t) S_SYNC_MS * 1000000u;
    for (;;) {
        *size = demo_ledger_size(d, "hub");
        const char *behind = NULL;
        for (int i = 0; i < DEMO_NFACTORIES && !behind; i++)
            if (demo_ledger_size(d, d->nodes[i].name) != *size)
                behind = d->nodes[i].name;
        const char *names[2] = {"hub", d->nodes[replica].name};
        for (int i = 0; i < 2 && !behind; i++) {
            uint64_t cp = 0;
            int cosigned = 0;
            if (demo_checkpoint(d, names[i], &cp, &cosigned) != 0 || cp != *size ||
                cosigned < DEMO_WITNESS_K)
                behind = names[i];
        }
        if (!behind && *size > 0)
            return 0;
        if (util_mono_ns() > deadline) {
            snprintf(d->why, sizeof d->why, "%s has not caught up with the hub's %llu records "
                                            "and their witnessed checkpoint",
                     behind ? behind : "?", (unsigned long long) *size);
            d->culprit = d->hub.log;
            for (int i = 0; behind && i < DEMO_NFACTORIES; i++)
                if (!strcmp(behind, d->nodes[i].name))
                    d->culprit = d->nodes[i].log;
            return COFAB_ENET;
        }
        int rc = demo_sleep(d, 100);
        if (rc != 0)
            return rc;
    }
}

int
demo_audit(demo_t *d, int replica)
{
    demo_step(d, d->keep ? "Audit" : "Stop and audit");
    uint64_t size = 0;
    int rc = s_sync(d, replica, &size);
    if (rc != 0)
        return rc;
    demo_say(d, "All five replicas hold the same %llu records as the hub, and the hub's latest "
                "checkpoint covers them all, cosigned by at least %d factories.",
             (unsigned long long) size, DEMO_WITNESS_K);
    if (!d->keep) {
        demo_stop_all(d);
        demo_say(d, "The nodes and the hub are stopped (SIGTERM). Now anyone holding a copy of "
                    "the ledger can audit it, without trusting the hub: every signature, hash "
                    "link, Merkle node, checkpoint and rule is checked again, and --replay re-runs "
                    "every matcher decision from the ledger itself, so the hub's assignments must "
                    "come out identical. First the hub's own ledger, then the replica of %s, the "
                    "factory that was down:",
                 d->nodes[replica].name);
    } else {
        demo_say(d, "Anyone holding a copy of the ledger can audit it without trusting the hub "
                    "(--replay also re-runs every matcher decision). The hub's ledger, then the "
                    "replica of %s, the factory that was down:",
                 d->nodes[replica].name);
    }
    s_audit_t a[2];
    char what[2][48];
    snprintf(what[0], sizeof what[0], "hub's ledger");
    snprintf(what[1], sizeof what[1], "%s's replica", d->nodes[replica].name);
    const char *names[2] = {"hub", d->nodes[replica].name};
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = s_audit_one(d, names[i], &a[i]);
        if (rc == 0)
            s_print_audit(d, what[i], &a[i]);
        if (rc == 0 && !a[i].valid) {
            snprintf(d->why, sizeof d->why, "the audit of %s failed: %s", what[i], a[i].reason);
            rc = COFAB_EPROOF;
        }
    }
    if (rc != 0)
        return rc;
    if (strcmp(a[0].root, a[1].root) != 0) {
        snprintf(d->why, sizeof d->why, "the two copies end on different roots (%.16s, %.16s)",
                 a[0].root, a[1].root);
        return COFAB_EROOT;
    }
    demo_say(d, "Both copies end on the same Merkle root %.16s...", a[0].root);
    snprintf(d->verdict, sizeof d->verdict, "%s VALID, %s VALID, same root %.16s...", what[0],
             what[1], a[0].root);
    return 0;
}

void
demo_summary(demo_t *d)
{
    printf("\n%sSummary%s\n", demo_c(d, DEMO_BOLD), demo_c(d, DEMO_OFF));
    printf(S_INDENT "%-3s %-8s  %-6s %-25s %-32s %s\n", "#", "order", "for", "what", "made by",
           "state");
    int delivered = 0, cancelled = 0, unplaced = 0;
    for (size_t i = 0; i < d->norders; i++) {
        const demo_order_t *o = &d->orders[i];
        char by[200];
        const char *state = policy_state_name(o->state);
        if (o->spec->role == DEMO_UNPLACED && o->state == POLICY_SUBMITTED) {
            snprintf(by, sizeof by, "-");
            state = "not placed";
            unplaced++;
        } else if (o->reassigned && o->left >= 0) {
            snprintf(by, sizeof by, "%.120s (%.24s %.40s)", o->made_by, d->nodes[o->left].name,
                     o->why);
        } else {
            snprintf(by, sizeof by, "%s", o->made_by);
        }
        delivered += o->state == POLICY_DELIVERED;
        cancelled += o->state == POLICY_CANCELLED;
        printf(S_INDENT "%-3zu %.8s  %-6s %-25s %-32s %s\n", i + 1, o->id, o->spec->customer,
               o->spec->title, by, state);
    }
    printf(S_INDENT "%zu orders: %d delivered, %d cancelled, %d not placed.\n", d->norders,
           delivered, cancelled, unplaced);
    if (d->verdict[0])
        printf(S_INDENT "Audits: %s\n", d->verdict);
}
