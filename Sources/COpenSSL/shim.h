// OpenSSL 3 (libssl, libcrypto), for TLS behind the package trait `TLS`.
#ifndef SENSORSTREAM_COPENSSL_H
#define SENSORSTREAM_COPENSSL_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

// Macros Swift cannot import, as functions.
static inline long sensorstream_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline int sensorstream_ERR_GET_REASON(unsigned long error) {
    return ERR_GET_REASON(error);
}
#endif
