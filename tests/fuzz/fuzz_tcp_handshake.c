/* libFuzzer target: the TLS handshake as configured for the TCP link
 * (io/link_tls.c), fed arbitrary peer flights over memory BIOs.  The first
 * byte picks the side: even, the supervisor (the input is a client's
 * flight: ClientHello with any PSK identity, which our callback parses);
 * odd, an actor (it sends its ClientHello, the input is the server's
 * answer).  Invariant: without the run key no handshake ever completes. */
#include <stdint.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "io/link_tls.h"
#include "proto/protocol.h"

static link_tls *srv, *cli;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    photon_err err;
    if (!srv) {
        static const unsigned char key[] = "fuzz key 0123456789abcdef";
        srv = link_tls_server(key, sizeof key - 1, TCP_PROTOCOL_VERSION, &err);
        cli = link_tls_client(key, sizeof key - 1, TCP_PROTOCOL_VERSION, &err);
        if (!srv || !cli) __builtin_trap();
    }
    if (size < 1) return 0;
    int client = data[0] & 1;
    SSL *ssl = link_tls_ssl(client ? cli : srv);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, rb, wb);
    if (client) {
        SSL_set_connect_state(ssl);
        SSL_do_handshake(ssl);   /* writes the ClientHello into wb */
    } else {
        SSL_set_accept_state(ssl);
    }
    BIO_write(rb, data + 1, (int)(size - 1));
    for (int i = 0; i < 4; i++) {
        if (SSL_do_handshake(ssl) == 1) __builtin_trap();   /* authenticated without the key */
        (void)BIO_reset(wb);
    }
    (void)link_tls_refusal(ssl);
    SSL_free(ssl);
    ERR_clear_error();
    return 0;
}
