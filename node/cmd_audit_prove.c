/* cmd_audit_prove.c — `cofab audit prove`: inclusion proofs of records or of an order's records, as JSON and tlog-proof receipts. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cmd_audit_internal.h"
#include "cofab/cli.h"
#include "cofab/client.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"
#include "cofab/util.h"

#define S_MAX_SUBJECT 4096   /* records listed for one order */
#define S_TIMEOUT_MS 5000    /* per request to a hub */

typedef struct {
    const char *ledger;      /* --ledger DIR */
    const char *hub;         /* --hub EP */
    const char *hub_pub;     /* --hub-key HUB.pub */
    const char *key;         /* --key K (default: a throwaway key) */
    const char *receipt;     /* --receipt DIR */
    int json;                /* --json */
    int first_arg;           /* first SEQ or ORDER_ID */
} s_args_t;

static int
s_parse(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {{"ledger", required_argument, NULL, 'l'},
                                         {"hub", required_argument, NULL, 'h'},
                                         {"hub-key", required_argument, NULL, 'k'},
                                         {"key", required_argument, NULL, 'K'},
                                         {"receipt", required_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->ledger = optarg; break;
        case 'h': a->hub = optarg; break;
        case 'k': a->hub_pub = optarg; break;
        case 'K': a->key = optarg; break;
        case 'r': a->receipt = optarg; break;
        case 'j': a->json = 1; break;
        default: return -1;
        }
    }
    a->first_arg = optind;
    if (optind >= argc || !!a->ledger + !!a->hub != 1 || (a->hub && !a->hub_pub))
        return -1;
    for (int i = optind; i < argc; i++) {
        uint8_t id[32];
        uint64_t seq;
        if (!(strlen(argv[i]) == 64 && cli_parse_hex32(argv[i], id) == 0) &&
            cli_parse_u64(argv[i], &seq) != 0)
            return -1; /* neither a record number nor an order id */
    }
    return 0;
}

/* One proven record: JSON entry, and its receipt file when asked. */
typedef struct {
    json_t *entries;         /* the "entries" array */
    const char *note;        /* checkpoint note the proofs lead to */
    size_t note_len;         /* its length */
    const char *receipt;     /* --receipt DIR, or NULL */
} s_out_t;

/* Writes DIR/record-N.tlog-proof. */
static int
s_receipt(const s_out_t *o, uint64_t index, const uint8_t *rec, size_t rec_len,
          const uint8_t *proof, size_t k)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/record-%llu.tlog-proof", o->receipt,
                     (unsigned long long) index);
    if (n < 0 || (size_t) n >= sizeof path)
        return COFAB_EINVAL;
    return cli_write_tlog_proof(path, index, rec, rec_len, proof, k, o->note, o->note_len);
}

static int
s_emit(s_out_t *o, uint64_t index, const uint8_t *rec, size_t rec_len, const uint8_t *proof,
       size_t k)
{
    json_t *arr = cmd_audit_proof_json(proof, k);
    char *b = cli_b64(rec, rec_len);
    json_array_append_new(o->entries, json_pack("{sI ss so}", "index", (json_int_t) index,
                                                "record", b ? b : "", "proof", arr));
    free(b);
    return o->receipt ? s_receipt(o, index, rec, rec_len, proof, k) : 0;
}

/* Record positions named on the command line: numbers, or an order id's records. */
static int
s_local_positions(ledger_t *l, const char *arg, uint64_t *seqs, size_t max, size_t *n)
{
    uint8_t id[32];
    if (strlen(arg) == 64 && cli_parse_hex32(arg, id) == 0)
        return ledger_subject_records(l, id, 0, seqs, max, n);
    if (cli_parse_u64(arg, &seqs[0]) != 0)
        return COFAB_EINVAL;
    *n = 1;
    return 0;
}

static int
s_prove_local(const s_args_t *a, int argc, char **argv, s_out_t *o, char *note, size_t note_max)
{
    ledger_t *l = NULL;
    ledger_options_t lo = {.read_only = 1};
    checkpoint_t cp;
    uint64_t *seqs = malloc(S_MAX_SUBJECT * sizeof *seqs);
    uint8_t(*proof)[MERKLE_HASH_LEN] = malloc(MERKLE_MAX_PROOF * MERKLE_HASH_LEN);
    int rc = seqs && proof ? ledger_open(&l, a->ledger, &lo) : COFAB_ENOMEM;
    if (rc == 0 && (rc = ledger_checkpoint_latest(l, note, note_max)) == 0)
        rc = checkpoint_from_note(&cp, note, strlen(note));
    if (rc != 0) {
        fprintf(stderr, "cofab audit prove: %s: no usable checkpoint: %s\n", a->ledger,
                cofab_strerror(rc));
        goto out;
    }
    o->note = note;
    o->note_len = strlen(note);
    for (int i = a->first_arg; rc == 0 && i < argc; i++) {
        size_t n = 0;
        rc = s_local_positions(l, argv[i], seqs, S_MAX_SUBJECT, &n);
        if (rc == 0 && n == 0)
            rc = COFAB_ENOTFOUND;
        if (rc != 0) {
            fprintf(stderr, "cofab audit prove: %s: %s\n", argv[i],
                    rc == COFAB_EINVAL ? "neither a record number nor a 64-hex order id"
                                       : cofab_strerror(rc));
            break;
        }
        for (size_t j = 0; rc == 0 && j < n; j++) {
            if (seqs[j] >= cp.size) {
                fprintf(stderr, "cofab audit prove: record %llu is not covered by the latest "
                                "checkpoint (size %llu)\n",
                        (unsigned long long) seqs[j], (unsigned long long) cp.size);
                rc = COFAB_ERANGE;
                break;
            }
            uint8_t *rec = NULL;
            size_t rec_len = 0, k = 0;
            rc = ledger_get(l, seqs[j], &rec, &rec_len);
            if (rc == 0)
                rc = ledger_inclusion_proof(l, seqs[j], cp.size, proof, &k);
            if (rc == 0)
                rc = s_emit(o, seqs[j], rec, rec_len, &proof[0][0], k);
            if (rc != 0)
                fprintf(stderr, "cofab audit prove: record %llu: %s\n",
                        (unsigned long long) seqs[j], cofab_strerror(rc));
            free(rec);
        }
    }
out:
    ledger_destroy(&l);
    free(seqs);
    free(proof);
    return rc;
}

/* From a hub: the order's records with proofs, verified like `order status`. */
static int
s_prove_hub(const s_args_t *a, int argc, char **argv, s_out_t *o, net_msg_t *reply,
            client_verified_t *v, int *code)
{
    uint8_t id[32];
    if (argc - a->first_arg != 1 || strlen(argv[a->first_arg]) != 64 ||
        cli_parse_hex32(argv[a->first_arg], id) != 0) {
        fprintf(stderr, "cofab audit prove: with --hub, name one order id (64 hex)\n");
        *code = CLI_USAGE;
        return COFAB_EINVAL;
    }
    keys_public_t hub;
    int rc = keys_public_load(&hub, a->hub_pub);
    if (rc != 0) {
        fprintf(stderr, "cofab audit prove: %s: %s\n", a->hub_pub, cofab_strerror(rc));
        *code = CLI_USAGE;
        return rc;
    }
    keys_t *keys = a->key ? cli_load_key("cofab audit prove", a->key) : keys_generate("auditor");
    client_t *client = keys ? client_new(a->hub, keys, hub.curve_pk) : NULL;
    client_trust_t *trust = malloc(sizeof *trust);
    rc = client && trust ? client_trust_load(client, &hub, S_TIMEOUT_MS, trust) : COFAB_EINVAL;
    if (rc == 0)
        rc = client_order_status(client, trust, id, S_TIMEOUT_MS, reply, v);
    for (uint32_t i = 0; rc == 0 && i < v->n; i++) {
        const client_event_t *e = &v->events[i];
        o->note = v->note;
        o->note_len = v->note_len;
        if (e->proven)
            rc = s_emit(o, e->position, e->record, e->record_len, e->proof, e->k);
    }
    if (rc != 0) {
        client_report_failure("cofab audit prove", a->hub, S_TIMEOUT_MS, rc, v->reason);
        *code = rc == COFAB_ENET ? CLI_UNREACHABLE : rc == COFAB_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    free(trust);
    client_destroy(&client);
    keys_destroy(&keys);
    return rc;
}

int
cmd_audit_prove(int argc, char **argv)
{
    s_args_t a;
    if (s_parse(argc, argv, &a) != 0) {
        fprintf(stderr, "usage: cofab audit prove (--ledger DIR | --hub EP --hub-key HUB.pub "
                        "[--key K]) (SEQ... | ORDER_ID) [--receipt DIR] [--json]\n");
        return CLI_USAGE;
    }
    if (a.receipt && util_mkdir_p(a.receipt, 0755) != 0) {
        fprintf(stderr, "cofab audit prove: cannot make %s: %s\n", a.receipt, strerror(errno));
        return CLI_FAIL;
    }
    s_out_t o = {.entries = json_array(), .receipt = a.receipt};
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    client_verified_t *v = calloc(1, sizeof *v);
    net_msg_t reply = {0};
    int code = CLI_FAIL, rc = note && v ? 0 : COFAB_ENOMEM;
    if (rc == 0)
        rc = a.ledger ? s_prove_local(&a, argc, argv, &o, note, LEDGER_CHECKPOINT_MAX)
                      : s_prove_hub(&a, argc, argv, &o, &reply, v, &code);
    if (rc == 0) {
        json_t *doc = json_pack("{ss% sO}", "checkpoint", o.note, o.note_len, "entries", o.entries);
        if (a.json) {
            json_dumpf(doc, stdout, JSON_INDENT(2));
            printf("\n");
        } else {
            printf("%.*s\n", (int) o.note_len, o.note);
            size_t i;
            json_t *e;
            json_array_foreach(o.entries, i, e)
                printf("record %lld: inclusion proof of %zu hashes\n",
                       (long long) json_integer_value(json_object_get(e, "index")),
                       json_array_size(json_object_get(e, "proof")));
            if (a.receipt)
                printf("receipts written to %s\n", a.receipt);
        }
        json_decref(doc);
        code = CLI_OK;
    }
    net_msg_free(&reply);
    json_decref(o.entries);
    free(note);
    free(v);
    return code;
}
