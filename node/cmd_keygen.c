/* cmd_keygen.c — `cofab keygen NAME [--dir D]`: writes NAME.key (0600) and NAME.pub. */
#include <getopt.h>
#include <stdio.h>

#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/keys.h"

int
keygen_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0, 0, 0, 0}};
    const char *dir = ".";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'h':
            printf("usage: cofab keygen NAME [--dir D]\n"
                   "Writes D/NAME.key (secret, mode 0600) and D/NAME.pub.\n");
            return CLI_OK;
        default:
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: cofab keygen NAME [--dir D]\n");
        return CLI_USAGE;
    }
    const char *name = argv[optind];
    keys_t *k = keys_generate(name);
    if (!k) {
        fprintf(stderr, "cofab keygen: invalid name '%s' (1-64 of A-Z a-z 0-9 . _ -)\n", name);
        return CLI_USAGE;
    }
    int rc = keys_write(k, dir);
    if (rc == 0) {
        note_verifier_t v;
        char text[NOTE_VERIFIER_MAX];
        keys_verifier(k, &v);
        note_verifier_format(&v, text, sizeof text);
        printf("%s\n", text);
        fprintf(stderr, "wrote %s/%s.key (secret, 0600) and %s/%s.pub\n", dir, name, dir, name);
    } else {
        fprintf(stderr, "cofab keygen: %s/%s.key: %s\n", dir, name, cofab_strerror(rc));
    }
    keys_destroy(&k);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
