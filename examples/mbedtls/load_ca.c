/*
 * Loads the trust anchor that `certinit embed` generated (broker_ca.c) into
 * mbedTLS, the way a device's TLS setup does before mbedtls_ssl_conf_ca_chain.
 * Build on a host to check the generated file:
 *   certinit embed --name broker_ca ca.pem > broker_ca.c
 *   gcc -o load_ca load_ca.c broker_ca.c -lmbedx509 -lmbedcrypto && ./load_ca
 * Use -DEMBED_DER with `certinit embed --format c-der`.
 */
#include <stdio.h>
#include <stddef.h>
#include <mbedtls/x509_crt.h>

#ifdef EMBED_DER
extern const unsigned char broker_ca[];
#else
extern const char broker_ca[];
#endif
extern const size_t broker_ca_len;

int main(void)
{
    mbedtls_x509_crt ca;
    char info[512];
    int ret;

    mbedtls_x509_crt_init(&ca);
#ifdef EMBED_DER
    ret = mbedtls_x509_crt_parse_der(&ca, broker_ca, broker_ca_len);
#else
    /* PEM input must be NUL-terminated and the length must count the NUL. */
    ret = mbedtls_x509_crt_parse(&ca, (const unsigned char *)broker_ca, broker_ca_len);
#endif
    if (ret != 0) {
        fprintf(stderr, "mbedtls_x509_crt_parse: -0x%04x\n", (unsigned)-ret);
        return 1;
    }
    for (const mbedtls_x509_crt *c = &ca; c != NULL && c->raw.len > 0; c = c->next) {
        mbedtls_x509_crt_info(info, sizeof info, "", c);
        printf("%s", info);
    }
    /* On the device: mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
     * and keep MBEDTLS_SSL_VERIFY_REQUIRED: verification stays on. */
    mbedtls_x509_crt_free(&ca);
    return 0;
}
