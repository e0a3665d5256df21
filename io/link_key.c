/* The run key (io/tcp_link.h): reading it from a file, generating a random
 * one (OpenSSL's libcrypto for randomness).  io/link_tls.c derives the TLS
 * pre-shared key from it. */
#include "io/tcp_link.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

int link_key_load(const char *path, unsigned char *key, photon_err *err)
{
    /* O_NONBLOCK: a FIFO named as the key file must not hang the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) { err_set(err, "key file %s: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        err_set(err, "key file %s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > LINK_KEY_MAX + 64) {
        err_set(err, "key file %s: longer than %d bytes", path, LINK_KEY_MAX);
        close(fd);
        return -1;
    }
    if (st.st_mode & 077)
        log_warn("key file %s is readable by other users (mode %03o): chmod 600 it", path, (unsigned)(st.st_mode & 0777));
    unsigned char buf[LINK_KEY_MAX + 1];
    size_t n = 0;
    while (n < sizeof buf) {
        ssize_t k = read(fd, buf + n, sizeof buf - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            err_set(err, "key file %s: %s", path, strerror(errno));
            close(fd);
            OPENSSL_cleanse(buf, sizeof buf);
            return -1;
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    close(fd);
    while (n > 0 && isspace(buf[n - 1])) n--;
    int rc = (int)n;
    if (n > LINK_KEY_MAX) { err_set(err, "key file %s: longer than %d bytes", path, LINK_KEY_MAX); rc = -1; }
    else if (n < LINK_KEY_MIN) {
        err_set(err, "key file %s: %zu bytes of key, at least %d expected", path, n, LINK_KEY_MIN);
        rc = -1;
    } else {
        memcpy(key, buf, n);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

int link_random(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

/* The key's hex digits, without snprintf (whose internals would keep
 * copies of the digits in frames we cannot wipe). */
static void to_hex(const unsigned char *raw, size_t n, char *hex)
{
    static const char digit[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digit[raw[i] >> 4];
        hex[2 * i + 1] = digit[raw[i] & 15];
    }
}

int link_key_generate(const char *path, unsigned char *key, photon_err *err)
{
    unsigned char raw[32];
    char hex[2 * sizeof raw + 1];
    int rc = -1;
    if (link_random(raw, sizeof raw) < 0) { err_set(err, "cannot get random bytes for the run key"); goto out; }
    to_hex(raw, sizeof raw, hex);
    hex[2 * sizeof raw] = '\n';
    /* Created 0600 from the start: the key is never readable by others. */
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { err_set(err, "cannot create key file %s: %s", path, strerror(errno)); goto out; }
    if (write(fd, hex, sizeof hex) != (ssize_t)sizeof hex || fsync(fd) < 0) {
        err_set(err, "cannot write key file %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        goto out;
    }
    close(fd);
    memcpy(key, hex, 2 * sizeof raw);
    rc = 2 * (int)sizeof raw;
out:
    /* The caller's copy is the only one left (it wipes it once used). */
    OPENSSL_cleanse(raw, sizeof raw);
    OPENSSL_cleanse(hex, sizeof hex);
    return rc;
}
