/* cmd_audit_receipt.c — `cofab audit receipt`: checks tlog-proof receipts offline against the hub key and a witness policy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cmd_audit_internal.h"
#include "cofab/cli.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/receipt.h"
#include "cofab/util.h"
#include "cofab/witness.h"

#define S_PROG "cofab audit receipt"

typedef struct {
    const char *hub_pub;     /* --hub-key HUB.pub */
    const char *policy;      /* --policy FILE */
    int json;                /* --json */
    int first_arg;           /* first receipt file */
} s_args_t;

/* What the command checks every receipt against. */
typedef struct {
    int has_hub;             /* 1: --hub-key given */
    note_verifier_t hub;     /* its key */
    witness_policy_t *policy;/* --policy, or NULL */
} s_trust_t;

static const char s_usage[] =
    "usage: cofab audit receipt FILE... --hub-key HUB.pub [--policy FILE] [--json]\n";

static int
s_parse(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {{"hub-key", required_argument, NULL, 'k'},
                                         {"policy", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': a->hub_pub = optarg; break;
        case 'p': a->policy = optarg; break;
        case 'j': a->json = 1; break;
        default: return -1;
        }
    }
    a->first_arg = optind;
    return optind < argc ? 0 : -1;
}

/* Loads --hub-key and --policy; prints why not. Returns 0 or -1. */
static int
s_load_trust(const s_args_t *a, s_trust_t *t)
{
    keys_public_t pub;
    uint8_t *buf = NULL;
    size_t len = 0;
    char why[160] = "";
    int rc;
    if (a->hub_pub) {
        if ((rc = keys_public_load(&pub, a->hub_pub)) == 0)
            rc = note_verifier_init(&t->hub, pub.name, pub.sign_pk);
        if (rc != 0) {
            fprintf(stderr, S_PROG ": %s: %s\n", a->hub_pub, cofab_strerror(rc));
            return -1;
        }
        t->has_hub = 1;
    }
    if (a->policy) {
        if ((t->policy = malloc(sizeof *t->policy)) == NULL)
            return -1;
        rc = util_read_file(a->policy, WITNESS_POLICY_MAX, &buf, &len);
        if (rc == 0)
            rc = witness_policy_parse(t->policy, (const char *) buf, len, why, sizeof why);
        free(buf);
        if (rc != 0) {
            fprintf(stderr, S_PROG ": policy %s: %s%s%s\n", a->policy, cofab_strerror(rc),
                    why[0] ? ": " : "", why);
            return -1;
        }
    }
    if (!t->has_hub && !(t->policy && t->policy->has_log)) {
        fprintf(stderr, S_PROG ": name the hub's key: --hub-key HUB.pub (or a `log` line in "
                        "the policy)\n");
        return -1;
    }
    return 0;
}

/* The author's name when this command knows the key (hub or a witness). */
static const char *
s_author_name(const s_trust_t *t, const uint8_t pk[32])
{
    if (t->has_hub && sodium_memcmp(t->hub.pk, pk, 32) == 0)
        return t->hub.name;
    if (t->policy && t->policy->has_log && sodium_memcmp(t->policy->log.pk, pk, 32) == 0)
        return t->policy->log.name;
    for (uint32_t i = 0; t->policy && i < t->policy->n; i++)
        if (sodium_memcmp(t->policy->witnesses[i].pk, pk, 32) == 0)
            return t->policy->witnesses[i].name;
    return NULL;
}

static int
s_is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* One receipt's JSON object. parsed: the report's fields are meaningful. */
static json_t *
s_json(const char *path, int code, const char *step, const char *reason, int parsed,
       const receipt_report_t *rep, const s_trust_t *t)
{
    json_t *o = json_pack("{ss sb}", "file", path, "valid", code == 0);
    if (code != 0) {
        json_object_set_new(o, "code", json_string(cofab_errname(code)));
        json_object_set_new(o, "step", json_string(step));
    }
    json_object_set_new(o, "reason", json_string(reason));
    if (!parsed)
        return o;
    char hex[65];
    json_object_set_new(o, "index", json_integer((json_int_t) rep->index));
    json_object_set_new(o, "tree_size", json_integer((json_int_t) rep->tree_size));
    json_object_set_new(o, "origin", json_string(rep->origin));
    json_object_set_new(o, "hub", json_string(rep->hub_name));
    cli_hex32(rep->leaf, hex);
    json_object_set_new(o, "record_hash", json_string(hex));
    if (rep->has_record) {
        const char *kind = envelope_kind_name(rep->kind), *who = s_author_name(t, rep->author);
        json_t *r = json_object();
        json_object_set_new(r, "kind", json_string(kind ? kind : "?"));
        cli_hex32(rep->author, hex);
        json_object_set_new(r, "author", json_string(hex));
        if (who)
            json_object_set_new(r, "author_name", json_string(who));
        json_object_set_new(r, "author_seq", json_integer((json_int_t) rep->author_seq));
        cli_hex32(rep->subject, hex);
        json_object_set_new(r, "subject", s_is_zero(rep->subject, 32) ? json_null() : json_string(hex));
        json_object_set_new(r, "time_ms", json_integer((json_int_t) rep->record_time_ms));
        json_object_set_new(r, "timestamp_ms", json_integer((json_int_t) rep->timestamp_ms));
        cli_hex32(rep->envelope_hash, hex);
        json_object_set_new(r, "envelope_hash", json_string(hex));
        json_object_set_new(o, "record", r);
    }
    if (rep->has_policy) {
        json_t *names = json_array();
        for (uint32_t i = 0; i < rep->cosigned && i < WITNESS_MAX; i++)
            json_array_append_new(names, json_string(rep->cosigners[i]));
        json_object_set_new(o, "witnesses", json_pack("{sI sI so}", "quorum", (json_int_t) rep->quorum,
                                                      "cosigned", (json_int_t) rep->cosigned,
                                                      "names", names));
    }
    json_object_set_new(o, "other_signatures", json_integer((json_int_t) rep->other_sigs));
    return o;
}

/* The text report of a receipt that verified. */
static void
s_print_ok(const char *path, const receipt_report_t *rep, const s_trust_t *t)
{
    char author[65], subject[65], leaf[65];
    const char *kind = envelope_kind_name(rep->kind), *who = s_author_name(t, rep->author);
    cli_hex32(rep->author, author);
    cli_hex32(rep->subject, subject);
    cli_hex32(rep->leaf, leaf);
    printf("%s: OK: %s\n", path, rep->reason);
    printf("  record   %llu of %llu, hash %s\n", (unsigned long long) rep->index,
           (unsigned long long) rep->tree_size, leaf);
    printf("  kind     %s, author %.16s%s%s%s #%llu\n", kind ? kind : "?", author,
           who ? " (" : "", who ? who : "", who ? ")" : "", (unsigned long long) rep->author_seq);
    if (!s_is_zero(rep->subject, 32))
        printf("  subject  %s (order id)\n", subject);
    if (rep->has_policy) {
        printf("  witness  %u of quorum %u:", rep->cosigned, rep->quorum);
        for (uint32_t i = 0; i < rep->cosigned && i < WITNESS_MAX; i++)
            printf(" %s", rep->cosigners[i]);
        printf("\n");
    }
    if (rep->other_sigs)
        printf("  (%u signature line%s by keys not checked here)\n", rep->other_sigs,
               rep->other_sigs == 1 ? "" : "s");
}

/* Reads, parses and verifies one file; reports it. Returns 0 when valid. */
static int
s_check(const char *path, const s_trust_t *t, receipt_t *r, receipt_report_t *rep, json_t *list)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char reason[320];
    const char *step = "parse";
    int parsed = 0;
    int rc = util_read_file(path, RECEIPT_MAX_LEN, &buf, &len);
    if (rc != 0)
        snprintf(reason, sizeof reason, "cannot read the file: %s", cofab_strerror(rc));
    else if ((rc = receipt_parse(r, (const char *) buf, len)) != 0)
        snprintf(reason, sizeof reason, "not a cofab tlog-proof receipt: %s", cofab_strerror(rc));
    free(buf);
    if (rc == 0) {
        parsed = 1;
        rc = receipt_verify(r, t->has_hub ? &t->hub : NULL, t->policy, rep);
        step = receipt_step_name(rep->step);
        snprintf(reason, sizeof reason, "%s", rep->reason);
    }
    if (list)
        json_array_append_new(list, s_json(path, rc, step, reason, parsed, rep, t));
    else if (rc == 0)
        s_print_ok(path, rep, t);
    else
        printf("%s: FAIL: %s%s%s [%s]\n", path, parsed ? step : "", parsed ? ": " : "", reason,
               cofab_errname(rc));
    return rc;
}

int
cmd_audit_receipt(int argc, char **argv)
{
    s_args_t a;
    s_trust_t t;
    memset(&t, 0, sizeof t);
    if (s_parse(argc, argv, &a) != 0) {
        fputs(s_usage, stderr);
        return CLI_USAGE;
    }
    if (s_load_trust(&a, &t) != 0) {
        free(t.policy);
        return CLI_USAGE;
    }
    receipt_t *r = malloc(sizeof *r);
    receipt_report_t *rep = malloc(sizeof *rep);
    json_t *list = a.json ? json_array() : NULL;
    int ret = CLI_FAIL;
    unsigned valid = 0, invalid = 0;
    if (!r || !rep || (a.json && !list)) {
        fprintf(stderr, S_PROG ": %s\n", cofab_strerror(COFAB_ENOMEM));
        goto out;
    }
    for (int i = a.first_arg; i < argc; i++) {
        if (s_check(argv[i], &t, r, rep, list) == 0)
            valid++;
        else
            invalid++;
    }
    if (list) {
        json_t *doc = json_pack("{sb sI sI sO}", "valid", invalid == 0, "receipts_valid",
                                (json_int_t) valid, "receipts_invalid", (json_int_t) invalid,
                                "receipts", list);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    } else {
        printf("%s: %u receipt%s valid, %u invalid\n", invalid ? "INVALID" : "VALID", valid,
               valid == 1 ? "" : "s", invalid);
    }
    ret = invalid ? CLI_FAIL : CLI_OK;
out:
    json_decref(list);
    free(r);
    free(rep);
    free(t.policy);
    return ret;
}
