/* replay_main.c — runs a fuzz target over its committed corpus without libFuzzer,
 * so `make test` keeps every fixed crash fixed with the ordinary compiler. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
    size_t files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "replay: cannot open %s\n", argv[i]);
            return 1;
        }
        struct dirent *ent;
        while ((ent = readdir(d)) != NULL) {
            if (ent->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], ent->d_name);
            uint8_t *buf = NULL;
            size_t len = 0;
            if (util_read_file(path, 1 << 20, &buf, &len) != 0)
                continue;
            LLVMFuzzerTestOneInput(buf, len);
            free(buf);
            files++;
        }
        closedir(d);
    }
    printf("replay: %zu corpus inputs, no crash\n", files);
    return files > 0 ? 0 : 1;
}
