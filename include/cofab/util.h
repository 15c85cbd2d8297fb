/* util.h — small helpers shared by the modules: big-endian codecs, bounded
 * file reads, time.
 */
#ifndef COFAB_UTIL_H
#define COFAB_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline void
util_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t) v;
        v >>= 8;
    }
}

static inline uint64_t
util_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void
util_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static inline uint32_t
util_get_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Reads the whole file at path into a new malloc'd buffer (*buf, *len),
 * with one extra NUL byte after the data so text can be used as a string.
 * Returns 0, COFAB_ETOOBIG if the file is larger than max, COFAB_EIO on
 * any read error. The caller frees *buf. */
int util_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);

/* Creates path with O_CREAT|O_EXCL|O_NOFOLLOW and the given mode, writes len
 * bytes and fsyncs. Returns 0, COFAB_EEXIST, or COFAB_EIO (the partial file
 * is removed). */
int util_write_file_excl(const char *path, const void *data, size_t len, int mode);

/* Creates dir and any missing parents with mode (like mkdir -p). Returns 0
 * or COFAB_EIO. */
int util_mkdir_p(const char *dir, int mode);

/* Makes a new private (0700) directory PARENT/PREFIX-XXXXXX, PARENT being
 * parent, else $TMPDIR, else /tmp, and writes its path to out. Returns 0;
 * COFAB_EINVAL (path longer than out_len; out is then "") or COFAB_EIO
 * (mkdtemp failed, errno says why; out is ""). */
int util_make_temp_dir(const char *parent, const char *prefix, char *out, size_t out_len);

/* Removes dir and everything below it (symbolic links are removed, never
 * followed). A missing dir is not an error. Returns 0, COFAB_EINVAL or
 * COFAB_EIO (something could not be removed). */
int util_remove_tree(const char *dir);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
/* Strict standard base64 (RFC 4648, padded) of exactly b64_len chars into
 * bin (room bin_max): the alphabet is checked before libsodium decodes,
 * because libsodium 1.0.18 takes bytes >= 0x80 as digits, and libsodium
 * refuses missing padding and non-zero pad bits, so each value has one
 * text. Returns the decoded length, or -1 (malformed, empty, too long). */
long util_b64_decode(uint8_t *bin, size_t bin_max, const char *b64, size_t b64_len);

uint64_t util_now_ms(void);

/* Monotonic nanoseconds, for measuring durations. */
uint64_t util_mono_ns(void);

#ifdef __cplusplus
}
#endif
#endif
