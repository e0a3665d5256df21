/* The run key and the challenge-response that proves a remote actor holds
 * it (io/tcp_link.h): OpenSSL's libcrypto for randomness, HMAC-SHA256 and
 * the constant-time comparison. */
#include "io/tcp_link.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int link_key_load(const char *path, unsigned char *key, photon_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) { err_set(err, "key file %s: %s", path, strerror(errno)); return -1; }
    size_t n = fread(key, 1, LINK_KEY_MAX, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    if (more) { err_set(err, "key file %s: longer than %d bytes", path, LINK_KEY_MAX); return -1; }
    while (n > 0 && isspace(key[n - 1])) n--;
    if (n < LINK_KEY_MIN) {
        err_set(err, "key file %s: %zu bytes of key, at least %d expected", path, n, LINK_KEY_MIN);
        return -1;
    }
    return (int)n;
}

int link_random(void *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int link_key_generate(const char *path, unsigned char *key, photon_err *err)
{
    unsigned char raw[32];
    if (link_random(raw, sizeof raw) < 0) { err_set(err, "cannot get random bytes for the run key"); return -1; }
    char hex[2 * sizeof raw + 2];
    for (size_t i = 0; i < sizeof raw; i++) snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    hex[2 * sizeof raw] = '\n';
    hex[2 * sizeof raw + 1] = 0;
    /* Created 0600 from the start: the key is never readable by others. */
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) { err_set(err, "cannot create key file %s: %s", path, strerror(errno)); return -1; }
    size_t len = strlen(hex);
    if (write(fd, hex, len) != (ssize_t)len || fsync(fd) < 0) {
        err_set(err, "cannot write key file %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    memcpy(key, hex, 2 * sizeof raw);
    return 2 * (int)sizeof raw;
}

void link_auth_mac(const unsigned char *key, size_t keylen, const unsigned char nonce[LINK_NONCE_BYTES],
                   uint32_t version, unsigned char mac[LINK_MAC_BYTES])
{
    unsigned char msg[LINK_NONCE_BYTES + 4];
    memcpy(msg, nonce, LINK_NONCE_BYTES);
    for (int i = 0; i < 4; i++) msg[LINK_NONCE_BYTES + i] = (unsigned char)(version >> (8 * i));
    unsigned int n = LINK_MAC_BYTES;
    if (!HMAC(EVP_sha256(), key, (int)keylen, msg, sizeof msg, mac, &n)) memset(mac, 0, LINK_MAC_BYTES);
}

int link_auth_equal(const unsigned char a[LINK_MAC_BYTES], const unsigned char b[LINK_MAC_BYTES])
{
    return CRYPTO_memcmp(a, b, LINK_MAC_BYTES) == 0;
}
