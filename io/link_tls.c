/* TLS 1.3 with an external PSK derived from the run key, or with X.509
 * certificates on both ends (see io/link_tls.h).  OpenSSL does the
 * protocol; this file only configures it: TLS 1.3 only, no session tickets
 * or resumption, no early data, and either the PSK callbacks or the
 * certificates and their verification. */
#include "io/link_tls.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct link_tls {
    SSL_CTX *ctx;
    int server;
    int certs;             /* certificate mode */
    char ca[256];          /* its CA file, for messages */
    char host[256];        /* client, certificate mode: the name the server's certificate must carry */
    uint32_t version;
    unsigned char psk[LINK_TLS_PSK_BYTES];
    char identity[96];     /* what a client presents; what a server expects */
    char key_id[LINK_TLS_KEY_ID_HEX + 1];
};

#define IDENTITY_PREFIX "photon-sim "
/* TLS_AES_128_GCM_SHA256: the PSK's hash must be the suite's (SHA-256). */
static const unsigned char SUITE_ID[2] = { 0x13, 0x01 };

static int refusal_index = -1;

static void refusal_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    free(ptr);
}

int link_tls_derive(const unsigned char *key, size_t keylen, const char *info, unsigned char *out, size_t n)
{
    static const char salt[] = "photon-sim run key";
    EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    int ok = k && EVP_PKEY_derive_init(k) > 0 && EVP_PKEY_CTX_set_hkdf_md(k, EVP_sha256()) > 0 &&
             EVP_PKEY_CTX_set1_hkdf_salt(k, (const unsigned char *)salt, (int)strlen(salt)) > 0 &&
             EVP_PKEY_CTX_set1_hkdf_key(k, key, (int)keylen) > 0 &&
             EVP_PKEY_CTX_add1_hkdf_info(k, (const unsigned char *)info, (int)strlen(info)) > 0 &&
             EVP_PKEY_derive(k, out, &n) > 0;
    EVP_PKEY_CTX_free(k);
    return ok ? 0 : -1;
}

void link_tls_key_id(const unsigned char *key, size_t keylen, char out[LINK_TLS_KEY_ID_HEX + 1])
{
    unsigned char id[LINK_TLS_KEY_ID_HEX / 2];
    if (link_tls_derive(key, keylen, "photon-sim key id", id, sizeof id) < 0) memset(id, 0, sizeof id);
    for (size_t i = 0; i < sizeof id; i++) snprintf(out + 2 * i, 3, "%02x", id[i]);
}

void link_tls_last_error(char *out, size_t n)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0) last = e;
    if (!last) { snprintf(out, n, "%s", ""); return; }
    const char *r = ERR_reason_error_string(last);
    if (r) snprintf(out, n, "%s", r);
    else ERR_error_string_n(last, out, n);
}

/* A session object that carries the PSK, as OpenSSL's external-PSK
 * callbacks want it. */
static SSL_SESSION *psk_session(SSL *ssl, const link_tls *t)
{
    const SSL_CIPHER *c = SSL_CIPHER_find(ssl, SUITE_ID);
    SSL_SESSION *s = c ? SSL_SESSION_new() : NULL;
    if (!s) return NULL;
    if (!SSL_SESSION_set1_master_key(s, t->psk, sizeof t->psk) || !SSL_SESSION_set_cipher(s, c) ||
        !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return NULL;
    }
    return s;
}

static int use_session_cb(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen, SSL_SESSION **sess)
{
    const link_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    *sess = NULL;
    *id = NULL;
    *idlen = 0;
    /* After a HelloRetryRequest the suite is fixed: offer the PSK only if
     * its hash matches (ours is SHA-256). */
    if (md && md != EVP_sha256()) return 1;
    *sess = psk_session(ssl, t);
    if (!*sess) return 0;
    *id = (const unsigned char *)t->identity;
    *idlen = strlen(t->identity);
    return 1;
}

static void refuse(SSL *ssl, const char *fmt, const char *a, const char *b)
{
    char *why = malloc(200);
    if (!why) return;
    snprintf(why, 200, fmt, a, b);
    free(SSL_get_ex_data(ssl, refusal_index));
    SSL_set_ex_data(ssl, refusal_index, why);
}

/* The identity comes off the wire: any bytes, any length.  It is only
 * compared and, cut and made printable, quoted in the refusal. */
static int find_session_cb(SSL *ssl, const unsigned char *identity, size_t len, SSL_SESSION **sess)
{
    const link_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    *sess = NULL;
    char shown[64];
    size_t n = len < sizeof shown - 1 ? len : sizeof shown - 1;
    for (size_t i = 0; i < n; i++) shown[i] = identity[i] >= 0x20 && identity[i] < 0x7f ? (char)identity[i] : '?';
    shown[n] = 0;
    size_t want = strlen(t->identity), pre = strlen(IDENTITY_PREFIX);
    if (len == want && memcmp(identity, t->identity, want) == 0) {
        refuse(ssl, "%s%s", "", "");   /* offered ours: no refusal */
        *sess = psk_session(ssl, t);
        return *sess ? 1 : 0;
    }
    /* "photon-sim vXXXXXXXX KEYID": which part differs? */
    size_t vlen = 9;   /* "v" + 8 hex digits */
    if (len < pre || memcmp(identity, IDENTITY_PREFIX, pre) != 0)
        refuse(ssl, "not a photon-sim actor (TLS PSK identity '%s')%s", shown, "");
    else if (len < pre + vlen || memcmp(identity + pre, t->identity + pre, vlen) != 0)
        refuse(ssl, "another photon-sim protocol version (identity '%s', expected '%.20s')", shown, t->identity);
    else
        refuse(ssl, "wrong key (key id in identity '%s'; this run's key id is %s)", shown, t->key_id);
    /* Go on without a PSK: with no certificate to show, the server fails
     * the handshake (a handshake_failure alert); nothing was sent. */
    return 1;
}

/* TLS 1.3 only, one handshake per connection: no tickets, no resumption,
 * no 0-RTT (early data could be replayed). */
static int ctx_base(link_tls *t, photon_err *err)
{
    t->ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());
    char why[160];
    if (!t->ctx || !SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_ciphersuites(t->ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256")) {
        link_tls_last_error(why, sizeof why);
        err_set(err, "TLS: cannot set up OpenSSL: %s", why);
        return -1;
    }
    SSL_CTX_set_app_data(t->ctx, t);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_max_early_data(t->ctx, 0);
    if (t->server) SSL_CTX_set_num_tickets(t->ctx, 0);
    return 0;
}

static link_tls *tls_new(const unsigned char *key, size_t keylen, uint32_t version, int server, photon_err *err)
{
    if (refusal_index < 0) refusal_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, refusal_free);
    link_tls *t = xcalloc(1, sizeof *t);
    t->server = server;
    t->version = version;
    if (link_tls_derive(key, keylen, "photon-sim tls13 psk", t->psk, sizeof t->psk) < 0) {
        err_set(err, "TLS: cannot derive the pre-shared key from the run key (OpenSSL HKDF)");
        link_tls_free(t);
        return NULL;
    }
    link_tls_key_id(key, keylen, t->key_id);
    snprintf(t->identity, sizeof t->identity, IDENTITY_PREFIX "v%08x %s", version, t->key_id);
    if (ctx_base(t, err) < 0) { link_tls_free(t); return NULL; }
    if (server) {
        SSL_CTX_set_psk_find_session_callback(t->ctx, find_session_cb);
    } else {
        SSL_CTX_set_psk_use_session_callback(t->ctx, use_session_cb);
        /* A server that skips the PSK must show a certificate, and no
         * certificate is trusted: the handshake fails. */
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    }
    return t;
}

/* A PEM file OpenSSL is given by name: a regular file we can read, or
 * a clear error naming it (OpenSSL's own errors do not). */
static int pem_file(const char *what, const char *path, photon_err *err)
{
    if (!path || !path[0]) { err_set(err, "TLS: no %s file given", what); return -1; }
    char kind[48];
    snprintf(kind, sizeof kind, "a PEM %s file", what);
    int fd = file_open_regular(path, (uint64_t)1 << 20, kind, NULL, err);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

static link_tls *tls_new_cert(const char *ca, const char *cert, const char *key, const char *peer_host, int server,
                              photon_err *err)
{
    if (pem_file("CA", ca, err) < 0 || pem_file("certificate", cert, err) < 0 || pem_file("private key", key, err) < 0)
        return NULL;
    link_tls *t = xcalloc(1, sizeof *t);
    t->server = server;
    t->certs = 1;
    snprintf(t->ca, sizeof t->ca, "%s", ca);
    if (peer_host) snprintf(t->host, sizeof t->host, "%s", peer_host);
    if (ctx_base(t, err) < 0) { link_tls_free(t); return NULL; }
    char why[160];
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
        link_tls_last_error(why, sizeof why);
        err_set(err, "TLS: %s: not a PEM certificate (chain): %s", cert, why);
        link_tls_free(t);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
        link_tls_last_error(why, sizeof why);
        err_set(err, "TLS: %s: not a PEM private key (or encrypted: give an unencrypted key): %s", key, why);
        link_tls_free(t);
        return NULL;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        link_tls_last_error(why, sizeof why);
        err_set(err, "TLS: the private key %s does not belong to the certificate %s: %s", key, cert, why);
        link_tls_free(t);
        return NULL;
    }
    if (SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1) {
        link_tls_last_error(why, sizeof why);
        err_set(err, "TLS: %s: no PEM CA certificate in it: %s", ca, why);
        link_tls_free(t);
        return NULL;
    }
    if (server) {
        /* Every actor shows a certificate from the CA. */
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (names) SSL_CTX_set_client_CA_list(t->ctx, names);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    }
    ERR_clear_error();
    return t;
}

link_tls *link_tls_server_cert(const char *ca, const char *cert, const char *key, photon_err *err)
{
    return tls_new_cert(ca, cert, key, NULL, 1, err);
}

link_tls *link_tls_client_cert(const char *ca, const char *cert, const char *key, const char *peer_host,
                               photon_err *err)
{
    return tls_new_cert(ca, cert, key, peer_host ? peer_host : "", 0, err);
}

int link_tls_certs(const link_tls *t) { return t->certs; }

int link_tls_cert_refused(unsigned long code)
{
    if (ERR_GET_LIB(code) != ERR_LIB_SSL) return 0;
    switch (ERR_GET_REASON(code)) {
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA: case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN: case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED: case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
        return 1;
    }
    return 0;
}

const char *link_tls_cert_failure(const link_tls *t, struct ssl_st *ssl, char *buf, size_t n)
{
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    X509 *peer = ssl ? SSL_get_peer_certificate(ssl) : NULL;
    const char *who = t->server ? "the actor's" : "the supervisor's";
    if (v != X509_V_OK) {
        if (t->certs)
            snprintf(buf, n, "%s certificate does not verify against the CA in %s: %s", who, t->ca,
                     X509_verify_cert_error_string(v));
        else
            snprintf(buf, n, "%s certificate was shown, but this end authenticates with the run key "
                     "(the other end uses certificates: [aggregator] tls_cert, actor --tls-cert)", who);
    } else if (t->certs && t->server && peer == NULL && ssl && SSL_get_state(ssl) != TLS_ST_OK) {
        snprintf(buf, n, "the actor showed no certificate signed by %s (an actor using the run key? "
                 "this run uses certificates: actor --tls-ca --tls-cert --tls-key)", t->ca);
    } else {
        buf = NULL;
    }
    X509_free(peer);
    return buf;
}

link_tls *link_tls_server(const unsigned char *key, size_t keylen, uint32_t version, photon_err *err)
{
    return tls_new(key, keylen, version, 1, err);
}

link_tls *link_tls_client(const unsigned char *key, size_t keylen, uint32_t version, photon_err *err)
{
    return tls_new(key, keylen, version, 0, err);
}

void link_tls_free(link_tls *t)
{
    if (!t) return;
    SSL_CTX_free(t->ctx);
    OPENSSL_cleanse(t->psk, sizeof t->psk);
    free(t);
}

struct ssl_st *link_tls_ssl(link_tls *t)
{
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl || !t->certs || t->server) return ssl;
    /* The supervisor's certificate must name what we connected to. */
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = X509_VERIFY_PARAM_set1_ip_asc(vp, t->host) == 1;
    if (!ok) {
        ERR_clear_error();
        ok = X509_VERIFY_PARAM_set1_host(vp, t->host, 0) == 1 && SSL_set_tlsext_host_name(ssl, t->host) == 1;
    }
    if (!ok) { SSL_free(ssl); ERR_clear_error(); return NULL; }
    return ssl;
}

int link_tls_verify(struct ssl_st *ssl, photon_err *err)
{
    if (SSL_version(ssl) != TLS1_3_VERSION) {
        err_set(err, "the peer did not negotiate TLS 1.3");
        return -1;
    }
    const link_tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (t && t->certs) {
        /* OpenSSL already failed the handshake otherwise; this says so
         * again rather than trusting that no flag was lost. */
        X509 *peer = SSL_get_peer_certificate(ssl);
        long v = SSL_get_verify_result(ssl);
        X509_free(peer);
        if (!peer || v != X509_V_OK) {
            err_set(err, "the peer showed no certificate that verifies against %s (%s)", t->ca,
                    peer ? X509_verify_cert_error_string(v) : "no certificate");
            return -1;
        }
        if (SSL_session_reused(ssl)) { err_set(err, "a resumed session in the certificate mode"); return -1; }
        return 0;
    }
    /* In TLS 1.3 "reused" means a PSK was used, and ours is the only one
     * either side offers or accepts. */
    if (!SSL_session_reused(ssl)) {
        err_set(err, "the peer did not prove the run key (the handshake did not use the pre-shared key)");
        return -1;
    }
    return 0;
}

const char *link_tls_refusal(struct ssl_st *ssl)
{
    return refusal_index < 0 ? NULL : SSL_get_ex_data(ssl, refusal_index);
}
