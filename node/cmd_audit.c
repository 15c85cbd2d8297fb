/* cmd_audit.c — `cofab audit verify|prove|consistency`: the auditor's commands. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmd_audit_internal.h"
#include "cofab/audit.h"
#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"

typedef struct {
    const char *ledger;   /* --ledger DIR */
    const char *hub_pub;  /* --hub-key FILE.pub: pin the hub's key */
    int json;             /* --json */
    int threads;          /* --threads N */
    int first_arg;        /* index of the first positional argument */
} s_args_t;

static int
s_parse(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {{"ledger", required_argument, NULL, 'l'},
                                         {"hub-key", required_argument, NULL, 'k'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    int c;
    uint64_t n;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->ledger = optarg; break;
        case 'k': a->hub_pub = optarg; break;
        case 'j': a->json = 1; break;
        case 't':
            if (cli_parse_u64(optarg, &n) != 0 || n == 0 || n > AUDIT_MAX_THREADS)
                return -1;
            a->threads = (int) n;
            break;
        default:
            return -1;
        }
    }
    a->first_arg = optind;
    return 0;
}

static int
s_open(const char *dir, ledger_t **out)
{
    ledger_options_t o = {.read_only = 1};
    int rc = ledger_open(out, dir, &o);
    if (rc != 0)
        fprintf(stderr, "cofab audit: cannot open ledger %s: %s\n", dir, cofab_strerror(rc));
    return rc;
}

json_t *
cmd_audit_proof_json(const uint8_t *hashes, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char *b = cli_b64(hashes + i * MERKLE_HASH_LEN, MERKLE_HASH_LEN);
        json_array_append_new(arr, json_string(b ? b : ""));
        free(b);
    }
    return arr;
}

static int
s_consistency(int argc, char **argv)
{
    s_args_t a;
    uint64_t old_size, new_size;
    if (s_parse(argc, argv, &a) != 0 || !a.ledger || argc - a.first_arg != 2 ||
        cli_parse_u64(argv[a.first_arg], &old_size) != 0 ||
        cli_parse_u64(argv[a.first_arg + 1], &new_size) != 0) {
        fprintf(stderr, "usage: cofab audit consistency --ledger DIR OLD_SIZE NEW_SIZE [--json]\n");
        return CLI_USAGE;
    }
    ledger_t *ledger = NULL;
    if (s_open(a.ledger, &ledger) != 0)
        return CLI_FAIL;
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], old_root[32], new_root[32];
    size_t n = 0;
    int rc = ledger_consistency_proof(ledger, old_size, new_size, proof, &n);
    if (rc == 0)
        rc = ledger_root(ledger, old_size, old_root);
    if (rc == 0)
        rc = ledger_root(ledger, new_size, new_root);
    /* Check our own proof before handing it out. Every tree extends the
     * empty one, and RFC 9162 defines no proof for that case. */
    if (rc == 0 && old_size > 0)
        rc = merkle_verify_consistency(old_size, new_size, old_root, new_root,
                                       (const uint8_t(*)[MERKLE_HASH_LEN]) proof, n);
    if (rc != 0) {
        ledger_destroy(&ledger);
        fprintf(stderr, "cofab audit consistency: %s\n", cofab_strerror(rc));
        return CLI_FAIL;
    }
    char *o = cli_b64(old_root, 32), *nr = cli_b64(new_root, 32);
    json_t *doc = json_pack("{sI ss sI ss so}", "old_size", (json_int_t) old_size, "old_root", o,
                            "new_size", (json_int_t) new_size, "new_root", nr, "proof",
                            cmd_audit_proof_json(&proof[0][0], n));
    /* The signed checkpoints of both sizes, when stored, so a verifier can
     * check the proof against what the hub signed rather than our roots. */
    char old_note[LEDGER_CHECKPOINT_MAX], new_note[LEDGER_CHECKPOINT_MAX];
    if (ledger_checkpoint_get(ledger, old_size, old_note, sizeof old_note) == 0 &&
        ledger_checkpoint_get(ledger, new_size, new_note, sizeof new_note) == 0) {
        json_object_set_new(doc, "old", json_string(old_note));
        json_object_set_new(doc, "new", json_string(new_note));
    }
    ledger_destroy(&ledger);
    if (a.json) {
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
    } else {
        printf("tree %llu (root %s) is a prefix of tree %llu (root %s)\n",
               (unsigned long long) old_size, o, (unsigned long long) new_size, nr);
        printf("consistency proof: %zu hashes\n", n);
        for (size_t i = 0; i < n; i++)
            printf("  %s\n", json_string_value(json_array_get(json_object_get(doc, "proof"), i)));
    }
    json_decref(doc);
    free(o);
    free(nr);
    return CLI_OK;
}

int
audit_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } verbs[] = {{"verify", cmd_audit_verify}, {"prove", cmd_audit_prove}, {"consistency", s_consistency},
                 {"export", audit_export_main}, {"receipt", cmd_audit_receipt}};
    static const char usage[] =
        "usage: cofab audit verify (--ledger DIR | --bundle DIR | --hub EP --hub-key HUB.pub\n"
        "                          [--key K] [--cache DIR]) [--hub-key HUB.pub]\n"
        "                          [--policy FILE] [--replay] [--threads N]\n"
        "                          [--also-checkpoint NOTE]... [--json]\n"
        "       cofab audit prove (--ledger DIR | --hub EP --hub-key HUB.pub [--key K])\n"
        "                          (SEQ... | ORDER_ID) [--receipt DIR] [--json]\n"
        "       cofab audit consistency --ledger DIR OLD_SIZE NEW_SIZE [--json]\n"
        "       cofab audit export --ledger DIR --out DIR [--json]\n"
        "       cofab audit receipt FILE... --hub-key HUB.pub [--policy FILE] [--json]\n";
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cofab audit: unknown verb '%s'\n", argv[1]);
    return CLI_USAGE;
}
