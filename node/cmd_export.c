/* cmd_export.c — `cofab audit export`: the ledger as a C2SP tlog-tiles bundle for offline audit. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/ledger.h"
#include "cofab/tiles.h"

static void
s_usage(void)
{
    fprintf(stderr, "usage: cofab audit export --ledger DIR --out DIR [--json]\n"
                    "  writes the ledger, cut at its latest checkpoint, as a C2SP tlog-tiles\n"
                    "  bundle in a new or empty directory; check it offline with\n"
                    "  cofab audit verify --bundle DIR --hub-key HUB.pub\n");
}

static void
s_print(const tiles_stats_t *st, const char *ledger_dir, const char *out, int json)
{
    char root[65];
    cli_hex32(st->root, root);
    uint64_t full_tiles = st->tiles - st->partial_tiles;
    uint64_t full_bundles = st->bundles - st->partial_bundles;
    if (json) {
        json_t *doc = json_pack(
            "{ss ss ss sI ss sI sI sI sI sI sI sI}", "ledger", ledger_dir, "bundle", out,
            "origin", st->origin, "size", (json_int_t) st->size, "root", root, "levels",
            (json_int_t) st->levels, "tiles", (json_int_t) st->tiles, "partial_tiles",
            (json_int_t) st->partial_tiles, "entry_bundles", (json_int_t) st->bundles,
            "partial_entry_bundles", (json_int_t) st->partial_bundles, "checkpoints",
            (json_int_t) st->checkpoints, "bytes", (json_int_t) st->bytes);
        json_dumpf(doc, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(doc);
        return;
    }
    printf("exported %s to %s (origin \"%s\")\n", ledger_dir, out, st->origin);
    printf("tree size      %llu records, root %s\n", (unsigned long long) st->size, root);
    printf("hash tiles     %llu (%llu full, %llu partial) over %u level%s\n",
           (unsigned long long) st->tiles, (unsigned long long) full_tiles,
           (unsigned long long) st->partial_tiles, st->levels, st->levels == 1 ? "" : "s");
    printf("entry bundles  %llu (%llu full, %llu partial)\n", (unsigned long long) st->bundles,
           (unsigned long long) full_bundles, (unsigned long long) st->partial_bundles);
    printf("checkpoints    %llu\n", (unsigned long long) st->checkpoints);
    printf("bytes written  %llu\n", (unsigned long long) st->bytes);
    printf("check it offline: cofab audit verify --bundle %s --hub-key HUB.pub\n", out);
}

int
audit_export_main(int argc, char **argv)
{
    static const struct option opts[] = {{"ledger", required_argument, NULL, 'l'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {0, 0, 0, 0}};
    const char *ledger_dir = NULL, *out = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': ledger_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'j': json = 1; break;
        default: s_usage(); return CLI_USAGE;
        }
    }
    if (!ledger_dir || !out || !*out || optind != argc) {
        s_usage();
        return CLI_USAGE;
    }
    ledger_t *ledger = NULL;
    ledger_options_t o = {.read_only = 1};
    int rc = ledger_open(&ledger, ledger_dir, &o);
    if (rc != 0) {
        fprintf(stderr, "cofab audit export: cannot open ledger %s: %s\n", ledger_dir,
                cofab_strerror(rc));
        return CLI_FAIL;
    }
    tiles_stats_t *st = malloc(sizeof *st);
    rc = st ? tiles_export(ledger, out, st) : COFAB_ENOMEM;
    ledger_destroy(&ledger);
    if (rc != 0) {
        fprintf(stderr, "cofab audit export: %s [%s]\n", st ? st->reason : "out of memory",
                cofab_errname(rc));
        /* A failed export never has `checkpoint`; say what to do with it. */
        if (st && st->incomplete)
            fprintf(stderr, "cofab audit export: %s is incomplete; remove it before exporting "
                            "again\n", out);
        free(st);
        return CLI_FAIL;
    }
    s_print(st, ledger_dir, out, json);
    free(st);
    return CLI_OK;
}
