/* fuzz_hub_prom.c — libFuzzer target for the gateway's check of the hub's hub.prom (Prometheus text format). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/gateway.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    unsigned line = 12345;
    int rc = gateway_prom_check(text, size, &line);
    if (rc == 0) {
        /* What the gateway appends to /metrics: bounded, printable ASCII
         * lines, each ending in a newline, every metric the hub's own. */
        if (line != 0 || size > GATEWAY_PROM_MAX || (size && text[size - 1] != '\n'))
            abort();
        size_t start = 0, lines = 0;
        for (size_t i = 0; i < size; i++) {
            unsigned char c = data[i];
            if (c == '\n') {
                if (i - start > GATEWAY_PROM_LINE_MAX || i == start)
                    abort();
                const char *l = text + start;
                if (l[0] != '#' && strncmp(l, "cofab_hub_", 10) != 0)
                    abort();
                start = i + 1;
                lines++;
            } else if (c < 0x20 || c > 0x7e) {
                abort();
            }
        }
        if (lines > GATEWAY_PROM_LINES)
            abort();
        /* Accepted text stays accepted when checked again. */
        if (gateway_prom_check(text, size, NULL) != 0)
            abort();
    } else if (rc != COFAB_EMALFORMED && rc != COFAB_ETOOBIG && rc != COFAB_ENOMEM) {
        abort();
    } else if (rc == COFAB_EMALFORMED && size > 0 && line == 0 && text[size - 1] == '\n') {
        abort(); /* a refusal of complete lines names the line at fault */
    }
    return 0;
}
