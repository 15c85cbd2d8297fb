/* cmd_ledger.c — `cofab ledger init|append|show|checkpoint`: operator tools on a local ledger. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cofab/cli.h"
#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/policy.h"
#include "cofab/payload.h"
#include "cofab/util.h"

/* Options shared by the ledger verbs; each verb uses the ones it needs. */
typedef struct {
    const char *ledger;      /* --ledger DIR */
    const char *key;         /* --key FILE */
    const char *origin;      /* --origin TEXT */
    const char *kind;        /* --kind NAME */
    const char *payload;     /* --payload-file FILE */
    const char *subject;     /* --subject HEX */
    uint64_t from;           /* --from N */
    uint64_t count;          /* --count K */
    int json;                /* --json */
} s_args_t;

static int
s_parse(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {
        {"ledger", required_argument, NULL, 'l'},  {"key", required_argument, NULL, 'k'},
        {"origin", required_argument, NULL, 'o'},  {"kind", required_argument, NULL, 'K'},
        {"payload-file", required_argument, NULL, 'p'},
        {"subject", required_argument, NULL, 's'}, {"from", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'c'},   {"json", no_argument, NULL, 'j'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->count = UINT64_MAX;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': a->ledger = optarg; break;
        case 'k': a->key = optarg; break;
        case 'o': a->origin = optarg; break;
        case 'K': a->kind = optarg; break;
        case 'p': a->payload = optarg; break;
        case 's': a->subject = optarg; break;
        case 'j': a->json = 1; break;
        case 'f':
        case 'c':
            if (cli_parse_u64(optarg, c == 'f' ? &a->from : &a->count) != 0) {
                fprintf(stderr, "cofab ledger: --%s needs a number\n", c == 'f' ? "from" : "count");
                return -1;
            }
            break;
        default:
            return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

static int
s_open(const char *dir, int read_only, ledger_t **out)
{
    /* Writes go through the alliance's rules, as they would at the hub, so
     * this tool cannot make a ledger the audit would reject. */
    ledger_options_t o = {.read_only = read_only, .apply = read_only ? NULL : policy_apply};
    int rc = ledger_open(out, dir, &o);
    if (rc != 0)
        fprintf(stderr, "cofab ledger: cannot open ledger %s: %s\n", dir, cofab_strerror(rc));
    return rc;
}

static int
s_init(const s_args_t *a)
{
    if (!a->ledger || !a->key || !a->origin) {
        fprintf(stderr, "usage: cofab ledger init --ledger DIR --key HUB.key --origin ORIGIN\n");
        return CLI_USAGE;
    }
    int ret = CLI_FAIL, rc;
    uint8_t *payload = NULL, env[ENVELOPE_MAX];
    size_t payload_len = 0, env_len = 0;
    ledger_t *ledger = NULL;
    payload_genesis_t g;
    envelope_t e;
    char note[LEDGER_CHECKPOINT_MAX];
    keys_t *hub = cli_load_key("cofab ledger init", a->key);
    if (!hub)
        return CLI_FAIL;
    payload_genesis_init(&g);
    if (strlen(a->origin) > NOTE_MAX_ORIGIN) {
        fprintf(stderr, "cofab ledger init: origin longer than %d bytes\n", NOTE_MAX_ORIGIN);
        ret = CLI_USAGE;
        goto out;
    }
    snprintf(g.origin, sizeof g.origin, "%s", a->origin);
    keys_verifier(hub, &g.hub);
    g.operator_key = g.hub; /* the hub key also signs membership changes */
    memcpy(g.hub_transport, keys_curve_pk(hub), 32);
    rc = payload_genesis_encode(&g, &payload, &payload_len);
    envelope_spec_t spec = {.kind = ENVELOPE_GENESIS, .author_seq = 1,
                            .timestamp_ms = util_now_ms(), .payload = payload,
                            .payload_len = payload_len};
    if (rc == 0)
        rc = envelope_seal(&spec, hub, env, sizeof env, &env_len);
    if (rc == 0)
        rc = envelope_open(&e, env, env_len);
    ledger_options_t lo = {.apply = policy_apply};
    if (rc == 0)
        rc = ledger_create(&ledger, a->ledger, a->origin, &e, &lo);
    if (rc == 0)
        rc = ledger_checkpoint_sign(ledger, hub, note, sizeof note);
    if (rc != 0) {
        fprintf(stderr, "cofab ledger init: %s: %s\n", a->ledger, cofab_strerror(rc));
        goto out;
    }
    fputs(note, stdout);
    ret = CLI_OK;
out:
    free(payload);
    ledger_destroy(&ledger);
    keys_destroy(&hub);
    return ret;
}

static int
s_append(const s_args_t *a)
{
    if (!a->ledger || !a->key || !a->kind || !a->payload) {
        fprintf(stderr, "usage: cofab ledger append --ledger DIR --key AUTHOR.key --kind KIND "
                        "--payload-file F [--subject HEX]\n");
        return CLI_USAGE;
    }
    int kind = envelope_kind_parse(a->kind);
    if (kind < 0 || kind == ENVELOPE_GENESIS) {
        fprintf(stderr, "cofab ledger append: unknown or reserved kind '%s'\n", a->kind);
        return CLI_USAGE;
    }
    envelope_spec_t spec = {.kind = (uint8_t) kind, .timestamp_ms = util_now_ms()};
    if (a->subject && cli_parse_hex32(a->subject, spec.subject) != 0) {
        fprintf(stderr, "cofab ledger append: --subject needs 64 hex digits\n");
        return CLI_USAGE;
    }
    int ret = CLI_FAIL, rc;
    uint8_t *payload = NULL, env[ENVELOPE_MAX];
    size_t payload_len = 0, env_len = 0;
    ledger_t *ledger = NULL;
    envelope_t e;
    ledger_result_t res;
    keys_t *author = cli_load_key("cofab ledger append", a->key);
    if (!author)
        return CLI_FAIL;
    rc = util_read_file(a->payload, ENVELOPE_MAX_PAYLOAD, &payload, &payload_len);
    if (rc != 0) {
        fprintf(stderr, "cofab ledger append: %s: %s\n", a->payload, cofab_strerror(rc));
        goto out;
    }
    if (s_open(a->ledger, 0, &ledger) != 0)
        goto out;
    /* Continue the author's own chain from what the ledger holds. */
    rc = ledger_author_last(ledger, keys_sign_pk(author), &spec.author_seq, spec.author_prev);
    spec.author_seq++;
    spec.payload = payload;
    spec.payload_len = payload_len;
    if (rc == 0)
        rc = envelope_seal(&spec, author, env, sizeof env, &env_len);
    if (rc == 0)
        rc = envelope_open(&e, env, env_len);
    if (rc == 0)
        rc = ledger_append(ledger, &e, 1, util_now_ms(), &res);
    if (rc == 0 && res.code != 0) {
        fprintf(stderr, "cofab ledger append: the alliance rules refuse a %s by %s: %s\n",
                envelope_kind_name(spec.kind), keys_name(author), cofab_strerror(res.code));
        goto out;
    }
    if (rc != 0) {
        fprintf(stderr, "cofab ledger append: %s\n", cofab_strerror(rc));
        goto out;
    }
    printf("%llu\n", (unsigned long long) res.seq);
    ret = CLI_OK;
out:
    free(payload);
    ledger_destroy(&ledger);
    keys_destroy(&author);
    return ret;
}

/* One record as a JSON object (or NULL if it does not decode). */
static json_t *
s_record_json(uint64_t seq, const uint8_t *bytes, size_t len)
{
    ledger_record_t rec;
    envelope_t e;
    char author[65], subject[65], hash[65];
    uint8_t leaf[32];
    if (ledger_record_decode(&rec, bytes, len) != 0 ||
        envelope_decode(&e, rec.envelope, rec.envelope_len) != 0)
        return json_pack("{sI ss}", "seq", (json_int_t) seq, "error", "undecodable record");
    merkle_leaf_hash(bytes, len, leaf);
    cli_hex32(e.author, author);
    cli_hex32(e.subject, subject);
    cli_hex32(leaf, hash);
    return json_pack("{sI sI ss ss sI sI ss si ss}", "seq", (json_int_t) seq, "time_ms",
                     (json_int_t) rec.time_ms, "kind", envelope_kind_name(e.kind), "author",
                     author, "author_seq", (json_int_t) e.author_seq, "timestamp_ms",
                     (json_int_t) e.timestamp_ms, "subject", subject, "payload_len",
                     (int) e.payload_len, "hash", hash);
}

static int
s_show(const s_args_t *a)
{
    if (!a->ledger) {
        fprintf(stderr, "usage: cofab ledger show --ledger DIR [--from N] [--count K] [--json]\n");
        return CLI_USAGE;
    }
    ledger_t *ledger = NULL;
    if (s_open(a->ledger, 1, &ledger) != 0)
        return CLI_FAIL;
    ledger_iter_t *it = ledger_iter_new(ledger, a->from);
    json_t *arr = a->json ? json_array() : NULL;
    uint64_t seq, shown = 0;
    const uint8_t *bytes;
    size_t len;
    int rc = it ? 0 : COFAB_ESTORE;
    while (rc == 0 && shown < a->count && (rc = ledger_iter_next(it, &seq, &bytes, &len)) == 0) {
        json_t *rec = s_record_json(seq, bytes, len);
        if (arr) {
            json_array_append_new(arr, rec);
        } else if (rec) {
            json_t *err = json_object_get(rec, "error");
            if (err)
                printf("%8llu  %s\n", (unsigned long long) seq, json_string_value(err));
            else
                printf("%8llu  %-13s author %.16s… #%-6lld subject %.16s… %5lld B  hash %.16s…\n",
                       (unsigned long long) seq,
                       json_string_value(json_object_get(rec, "kind")),
                       json_string_value(json_object_get(rec, "author")),
                       (long long) json_integer_value(json_object_get(rec, "author_seq")),
                       json_string_value(json_object_get(rec, "subject")),
                       (long long) json_integer_value(json_object_get(rec, "payload_len")),
                       json_string_value(json_object_get(rec, "hash")));
            json_decref(rec);
        }
        shown++;
    }
    if (rc == COFAB_ENOTFOUND)
        rc = 0;
    ledger_iter_destroy(&it);
    if (arr) {
        json_t *doc = json_pack("{ss sI so}", "origin", ledger_origin(ledger), "size",
                                (json_int_t) ledger_size(ledger), "records", arr);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
    }
    ledger_destroy(&ledger);
    if (rc != 0)
        fprintf(stderr, "cofab ledger show: %s\n", cofab_strerror(rc));
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

static int
s_checkpoint(const s_args_t *a)
{
    if (!a->ledger || !a->key) {
        fprintf(stderr, "usage: cofab ledger checkpoint --ledger DIR --key HUB.key\n");
        return CLI_USAGE;
    }
    ledger_t *ledger = NULL;
    char note[LEDGER_CHECKPOINT_MAX];
    keys_t *hub = cli_load_key("cofab ledger checkpoint", a->key);
    if (!hub)
        return CLI_FAIL;
    int rc = s_open(a->ledger, 0, &ledger);
    if (rc == 0) {
        rc = ledger_checkpoint_sign(ledger, hub, note, sizeof note);
        if (rc == 0)
            fputs(note, stdout);
        else
            fprintf(stderr, "cofab ledger checkpoint: %s\n", cofab_strerror(rc));
    }
    ledger_destroy(&ledger);
    keys_destroy(&hub);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}

int
ledger_main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(const s_args_t *a);
    } verbs[] = {{"init", s_init}, {"append", s_append}, {"show", s_show},
                 {"checkpoint", s_checkpoint}};
    static const char usage[] =
        "usage: cofab ledger init --ledger DIR --key HUB.key --origin ORIGIN\n"
        "       cofab ledger append --ledger DIR --key AUTHOR.key --kind KIND --payload-file F\n"
        "       cofab ledger show --ledger DIR [--from N] [--count K] [--json]\n"
        "       cofab ledger checkpoint --ledger DIR --key HUB.key\n";
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(argv[1], verbs[i].name) != 0)
            continue;
        s_args_t a;
        if (s_parse(argc - 1, argv + 1, &a) != 0) {
            fprintf(stderr, "cofab ledger %s: bad arguments (see cofab ledger --help)\n",
                    verbs[i].name);
            return CLI_USAGE;
        }
        return verbs[i].run(&a);
    }
    fprintf(stderr, "cofab ledger: unknown verb '%s'\n", argv[1]);
    return CLI_USAGE;
}
