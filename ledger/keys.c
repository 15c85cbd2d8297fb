/* keys.c — generating, storing and loading a party's signing and transport keys. */
#include "cofab/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"

#define S_MAGIC "cofab-key-v1\n"
#define S_MAGIC_LEN (sizeof S_MAGIC - 1)

/* Lives in one sodium_malloc'd block so all of it is guarded and wiped. */
struct keys_t {
    char name[KEYS_NAME_MAX + 1];   /* key name, NUL-terminated */
    uint8_t sign_pk[32];            /* Ed25519 public key */
    uint8_t sign_sk[64];            /* Ed25519 secret key (seed || pk) */
    uint8_t curve_pk[32];           /* X25519 public key */
    uint8_t curve_sk[32];           /* X25519 secret key */
};

static int
s_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > KEYS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static keys_t *
s_alloc(void)
{
    keys_t *self = sodium_malloc(sizeof *self);
    if (self)
        memset(self, 0, sizeof *self);
    return self;
}

keys_t *
keys_generate(const char *name)
{
    if (!name || !s_name_ok(name, strlen(name)))
        return NULL;
    keys_t *self = s_alloc();
    if (!self)
        return NULL;
    memcpy(self->name, name, strlen(name) + 1);
    if (crypto_sign_keypair(self->sign_pk, self->sign_sk) != 0 ||
        crypto_box_keypair(self->curve_pk, self->curve_sk) != 0) {
        keys_destroy(&self);
        return NULL;
    }
    return self;
}

void
keys_destroy(keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sodium_memzero(*self_p, sizeof **self_p);
    sodium_free(*self_p);
    *self_p = NULL;
}

static int
s_join(char *out, size_t out_len, const char *dir, const char *name, const char *ext)
{
    int n = snprintf(out, out_len, "%s/%s%s", dir, name, ext);
    return n > 0 && (size_t) n < out_len ? 0 : COFAB_EINVAL;
}

static int
s_format_public(const keys_t *self, char *out, size_t out_len)
{
    note_verifier_t v;
    char verifier[NOTE_VERIFIER_MAX];
    char curve[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    keys_verifier(self, &v);
    if (note_verifier_format(&v, verifier, sizeof verifier) != 0)
        return COFAB_EINVAL;
    sodium_bin2base64(curve, sizeof curve, self->curve_pk, 32, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, out_len, "%s\ntransport %s\n", verifier, curve);
    return n > 0 && (size_t) n < out_len ? 0 : COFAB_EINVAL;
}

int
keys_write(const keys_t *self, const char *dir)
{
    char key_path[4096], pub_path[4096], pub_text[KEYS_PUB_MAX];
    uint8_t *blob = NULL;
    size_t name_len, blob_len;
    int rc;

    if (!self || !dir)
        return COFAB_EINVAL;
    if (s_join(key_path, sizeof key_path, dir, self->name, ".key") != 0 ||
        s_join(pub_path, sizeof pub_path, dir, self->name, ".pub") != 0 ||
        s_format_public(self, pub_text, sizeof pub_text) != 0)
        return COFAB_EINVAL;

    name_len = strlen(self->name);
    blob_len = S_MAGIC_LEN + 1 + name_len + 64 + 32;
    blob = sodium_malloc(blob_len);
    if (!blob)
        return COFAB_ENOMEM;
    memcpy(blob, S_MAGIC, S_MAGIC_LEN);
    blob[S_MAGIC_LEN] = (uint8_t) name_len;
    memcpy(blob + S_MAGIC_LEN + 1, self->name, name_len);
    memcpy(blob + S_MAGIC_LEN + 1 + name_len, self->sign_sk, 64);
    memcpy(blob + S_MAGIC_LEN + 1 + name_len + 64, self->curve_sk, 32);

    /* Refuse early if the .pub exists, so we never leave a lone .key. */
    if (access(pub_path, F_OK) == 0) {
        rc = COFAB_EEXIST;
        goto out;
    }
    rc = util_write_file_excl(key_path, blob, blob_len, 0600);
    if (rc != 0)
        goto out;
    rc = util_write_file_excl(pub_path, pub_text, strlen(pub_text), 0644);
    if (rc != 0)
        unlink(key_path);
out:
    sodium_memzero(blob, blob_len);
    sodium_free(blob);
    return rc;
}

int
keys_load(const char *path, keys_t **out)
{
    int rc = COFAB_EIO;
    uint8_t *buf = NULL;
    keys_t *self = NULL;
    ssize_t got = 0;
    struct stat st;

    if (!path || !out)
        return COFAB_EINVAL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return COFAB_EIO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = COFAB_EKEYPERM;
        goto out;
    }
    buf = sodium_malloc(KEYS_FILE_MAX + 1);
    if (!buf) {
        rc = COFAB_ENOMEM;
        goto out;
    }
    while ((size_t) got <= KEYS_FILE_MAX) {
        ssize_t n = read(fd, buf + got, KEYS_FILE_MAX + 1 - (size_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        got += n;
    }
    if ((size_t) got > KEYS_FILE_MAX) {
        rc = COFAB_ETOOBIG;
        goto out;
    }
    size_t len = (size_t) got;
    rc = COFAB_ETRUNCATED;
    if (len < S_MAGIC_LEN + 1)
        goto out;
    if (memcmp(buf, S_MAGIC, S_MAGIC_LEN) != 0) {
        rc = COFAB_EMALFORMED;
        goto out;
    }
    size_t name_len = buf[S_MAGIC_LEN];
    size_t want = S_MAGIC_LEN + 1 + name_len + 64 + 32;
    if (len < want)
        goto out;
    if (len > want) {
        rc = COFAB_ETRAILING;
        goto out;
    }
    rc = COFAB_EMALFORMED;
    if (!s_name_ok((const char *) buf + S_MAGIC_LEN + 1, name_len))
        goto out;
    self = s_alloc();
    if (!self) {
        rc = COFAB_ENOMEM;
        goto out;
    }
    memcpy(self->name, buf + S_MAGIC_LEN + 1, name_len);
    self->name[name_len] = 0;
    const uint8_t *sk = buf + S_MAGIC_LEN + 1 + name_len;
    memcpy(self->sign_sk, sk, 64);
    memcpy(self->curve_sk, sk + 64, 32);
    /* Derive the public halves rather than trusting stored copies. */
    crypto_sign_ed25519_sk_to_pk(self->sign_pk, self->sign_sk);
    if (crypto_scalarmult_base(self->curve_pk, self->curve_sk) != 0)
        goto out;
    /* The sk's embedded pk must match the seed's, or the file is corrupt. */
    uint8_t check_pk[32], check_sk[64];
    crypto_sign_seed_keypair(check_pk, check_sk, self->sign_sk);
    int same = sodium_memcmp(check_pk, self->sign_pk, 32) == 0;
    sodium_memzero(check_sk, sizeof check_sk);
    if (!same)
        goto out;
    *out = self;
    self = NULL;
    rc = 0;
out:
    if (buf) {
        sodium_memzero(buf, KEYS_FILE_MAX + 1);
        sodium_free(buf);
    }
    keys_destroy(&self);
    close(fd);
    return rc;
}

const char *
keys_name(const keys_t *self)
{
    return self->name;
}

const uint8_t *
keys_sign_pk(const keys_t *self)
{
    return self->sign_pk;
}

const uint8_t *
keys_sign_sk(const keys_t *self)
{
    return self->sign_sk;
}

const uint8_t *
keys_curve_pk(const keys_t *self)
{
    return self->curve_pk;
}

const uint8_t *
keys_curve_sk(const keys_t *self)
{
    return self->curve_sk;
}

void
keys_public(const keys_t *self, keys_public_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->name, self->name, sizeof out->name);
    memcpy(out->sign_pk, self->sign_pk, 32);
    memcpy(out->curve_pk, self->curve_pk, 32);
}

void
keys_verifier(const keys_t *self, note_verifier_t *out)
{
    /* The name was validated on creation/load, so this cannot fail. */
    int rc = note_verifier_init(out, self->name, self->sign_pk);
    (void) rc;
}

int
keys_sign(const keys_t *self, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    return crypto_sign_detached(sig, NULL, msg, len, self->sign_sk) == 0 ? 0 : COFAB_ECRYPTO;
}

int
keys_public_parse(keys_public_t *out, const char *text, size_t len)
{
    if (!out || !text)
        return COFAB_EINVAL;
    if (len > KEYS_PUB_MAX)
        return COFAB_ETOOBIG;
    const char *nl = memchr(text, '\n', len);
    if (!nl)
        return COFAB_EMALFORMED;
    note_verifier_t v;
    int rc = note_verifier_parse(&v, text, (size_t) (nl - text));
    if (rc != 0)
        return rc;

    const char *line = nl + 1;
    size_t rest = len - (size_t) (line - text);
    const char *end = memchr(line, '\n', rest);
    size_t line_len = end ? (size_t) (end - line) : rest;
    static const char prefix[] = "transport ";
    if (line_len <= sizeof prefix - 1 || memcmp(line, prefix, sizeof prefix - 1) != 0)
        return COFAB_EMALFORMED;
    const char *b64 = line + sizeof prefix - 1;
    size_t b64_len = line_len - (sizeof prefix - 1);
    uint8_t curve[32];
    if (util_b64_decode(curve, sizeof curve, b64, b64_len) != 32)
        return COFAB_EMALFORMED;

    memset(out, 0, sizeof *out);
    memcpy(out->name, v.name, sizeof out->name);
    memcpy(out->sign_pk, v.pk, 32);
    memcpy(out->curve_pk, curve, 32);
    return 0;
}

int
keys_public_load(keys_public_t *out, const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = util_read_file(path, KEYS_PUB_MAX, &buf, &len);
    if (rc != 0)
        return rc;
    rc = keys_public_parse(out, (const char *) buf, len);
    free(buf);
    return rc;
}
