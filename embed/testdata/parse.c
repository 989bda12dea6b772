/* Test harness for certinit embed: parses the generated array with mbedTLS
 * (Debian's libmbedtls-dev, 2.28) and prints the SHA-256 fingerprint of every
 * certificate mbedTLS found, one per line, as upper-case hex pairs joined by
 * colons (the form `openssl x509 -fingerprint -sha256` prints).
 * Build: gcc parse.c generated.c -DIDENT=name -DDER=0|1 -lmbedx509 -lmbedcrypto */
#include <stdio.h>
#include <stddef.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/sha256.h>

#if DER
extern const unsigned char IDENT[];
#else
extern const char IDENT[];
#endif
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
extern const size_t CAT(IDENT, _len);

int main(void)
{
	mbedtls_x509_crt chain;
	mbedtls_x509_crt_init(&chain);
#if DER
	int rc = mbedtls_x509_crt_parse_der(&chain, IDENT, CAT(IDENT, _len));
#else
	int rc = mbedtls_x509_crt_parse(&chain, (const unsigned char *)IDENT, CAT(IDENT, _len));
#endif
	if (rc != 0) {
		printf("parse error -0x%04x\n", (unsigned)-rc);
		return 1;
	}
	for (const mbedtls_x509_crt *c = &chain; c != NULL && c->raw.len > 0; c = c->next) {
		unsigned char sum[32];
		mbedtls_sha256_ret(c->raw.p, c->raw.len, sum, 0);
		for (int i = 0; i < 32; i++) {
			printf(i ? ":%02X" : "%02X", sum[i]);
		}
		printf("\n");
	}
	mbedtls_x509_crt_free(&chain);
	return 0;
}
