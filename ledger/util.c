/* util.c — bounded file reads, exclusive file creation, directory trees, strict base64 and clocks. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "cofab/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"

int
util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
    int rc = COFAB_EIO;
    uint8_t *data = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return COFAB_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if ((uint64_t) st.st_size > max) {
        rc = COFAB_ETOOBIG;
        goto out;
    }
    /* Read up to max+1 bytes: the file may grow between fstat and read. */
    data = malloc(max + 2);
    if (!data) {
        rc = COFAB_ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got <= max) {
        ssize_t n = read(fd, data + got, max + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        got += (size_t) n;
    }
    if (got > max) {
        rc = COFAB_ETOOBIG;
        goto out;
    }
    data[got] = 0;
    *buf = data;
    *len = got;
    data = NULL;
    rc = 0;
out:
    free(data);
    close(fd);
    return rc;
}

int
util_write_file_excl(const char *path, const void *data, size_t len, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return errno == EEXIST ? COFAB_EEXIST : COFAB_EIO;
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto fail;
        p += n;
        left -= (size_t) n;
    }
    /* The umask may have narrowed mode; never widen it, but make it exact. */
    if (fchmod(fd, (mode_t) mode) != 0 || fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        unlink(path);
        return COFAB_EIO;
    }
    return 0;
fail:
    close(fd);
    unlink(path);
    return COFAB_EIO;
}

int
util_mkdir_p(const char *dir, int mode)
{
    char path[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof path)
        return COFAB_EIO;
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != 0)
            continue;
        char saved = path[i];
        path[i] = 0;
        if (mkdir(path, (mode_t) mode) != 0 && errno != EEXIST)
            return COFAB_EIO;
        path[i] = saved;
    }
    return 0;
}

uint64_t
util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

uint64_t
util_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int
s_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st;
    (void) type;
    (void) ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int
util_remove_tree(const char *dir)
{
    if (!dir || !*dir)
        return COFAB_EINVAL;
    /* Depth first, never following links out of the tree. */
    return nftw(dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT
               ? 0
               : COFAB_EIO;
}

int
util_make_temp_dir(const char *parent, const char *prefix, char *out, size_t out_len)
{
    if (!prefix || !out || out_len == 0)
        return COFAB_EINVAL;
    if (!parent || !*parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    int n = snprintf(out, out_len, "%s/%s-XXXXXX", parent, prefix);
    if (n < 0 || (size_t) n >= out_len) {
        out[0] = 0;
        return COFAB_EINVAL;
    }
    if (!mkdtemp(out)) {
        out[0] = 0;
        return COFAB_EIO;
    }
    return 0;
}

long
util_b64_decode(uint8_t *bin, size_t bin_max, const char *b64, size_t b64_len)
{
    size_t bin_len = 0;
    if (b64_len == 0)
        return -1;
    for (size_t i = 0; i < b64_len; i++) {
        char c = b64[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            return -1;
    }
    if (sodium_base642bin(bin, bin_max, b64, b64_len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    return (long) bin_len;
}
