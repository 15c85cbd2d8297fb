/* cli_util.c — helpers shared by the cofab subcommands: keys, numbers, progress. */
#include "cofab/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"

keys_t *
cli_load_key(const char *prog, const char *path)
{
    keys_t *k = NULL;
    int rc = keys_load(path, &k);
    if (rc == COFAB_EKEYPERM)
        fprintf(stderr, "%s: refusing %s: secret key file is readable by group or others "
                        "(fix with: chmod 600 %s)\n", prog, path, path);
    else if (rc != 0)
        fprintf(stderr, "%s: cannot load key %s: %s\n", prog, path, cofab_strerror(rc));
    return k;
}

int
cli_parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text || strlen(text) > 20)
        return COFAB_EMALFORMED;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return COFAB_EMALFORMED;
        uint64_t d = (uint64_t) (*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return COFAB_EMALFORMED;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int
cli_parse_hex32(const char *text, uint8_t out[32])
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (!text || strlen(text) != 64)
        return COFAB_EMALFORMED;
    if (sodium_hex2bin(out, 32, text, 64, NULL, &bin_len, &end) != 0 || bin_len != 32)
        return COFAB_EMALFORMED;
    return 0;
}

char *
cli_b64(const uint8_t *data, size_t len)
{
    size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = malloc(n);
    if (s)
        sodium_bin2base64(s, n, data, len, sodium_base64_VARIANT_ORIGINAL);
    return s;
}

void
cli_hex32(const uint8_t in[32], char out[65])
{
    sodium_bin2hex(out, 65, in, 32);
}

void
cli_progress_init(cli_progress_t *p, const char *label)
{
    p->enabled = isatty(STDERR_FILENO);
    p->label = label;
    p->start_ns = util_mono_ns();
    p->last_ns = 0;
}

void
cli_progress_update(void *arg, uint64_t done, uint64_t total)
{
    cli_progress_t *p = arg;
    if (!p->enabled)
        return;
    uint64_t now = util_mono_ns();
    if (done < total && now - p->last_ns < 100000000u)
        return;
    p->last_ns = now;
    double frac = total ? (double) done / (double) total : 1.0;
    double secs = (double) (now - p->start_ns) / 1e9;
    int width = 30, fill = (int) (frac * width);
    char bar[31];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu %.0f/s ", p->label, bar, frac * 100.0,
            (unsigned long long) done, (unsigned long long) total,
            secs > 0 ? (double) done / secs : 0.0);
    fflush(stderr);
}

void
cli_progress_done(cli_progress_t *p)
{
    if (p->enabled)
        fprintf(stderr, "\n");
}

int
cli_write_tlog_proof(const char *path, uint64_t index, const uint8_t *record, size_t record_len,
                     const uint8_t *proof, size_t k, const char *note, size_t note_len)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return COFAB_EIO;
    char *rec = cli_b64(record, record_len);
    int ok = rec != NULL &&
             fprintf(f, "c2sp.org/tlog-proof@v1\nextra %s\nindex %llu\n", rec,
                     (unsigned long long) index) > 0;
    free(rec);
    for (size_t i = 0; ok && i < k; i++) {
        char *h = cli_b64(proof + i * 32, 32);
        ok = h != NULL && fprintf(f, "%s\n", h) > 0;
        free(h);
    }
    if (ok)
        ok = fputc('\n', f) != EOF && fwrite(note, 1, note_len, f) == note_len;
    ok = ok && !ferror(f);
    return fclose(f) == 0 && ok ? 0 : COFAB_EIO;
}
