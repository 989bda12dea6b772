// Test harness for certinit embed, in C++: uses the arrays through the
// header certinit wrote (embedded.h), parses them with mbedTLS and prints
// the SHA-256 fingerprint of every certificate mbedTLS found, one per line,
// as `openssl x509 -fingerprint -sha256` prints it. Linking it with the
// generated source, compiled as C or as C++, shows the arrays have external
// C linkage. Build: g++ -c parse.cpp -I DIR -DIDENT=name -DDER=0|1
#include <cstdio>
#include <mbedtls/x509_crt.h>
#include <mbedtls/sha256.h>

#include "embedded.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

int main()
{
	mbedtls_x509_crt chain;
	mbedtls_x509_crt_init(&chain);
#if DER
	int rc = mbedtls_x509_crt_parse_der(&chain, IDENT, CAT(IDENT, _len));
#else
	int rc = mbedtls_x509_crt_parse(&chain, reinterpret_cast<const unsigned char *>(IDENT), CAT(IDENT, _len));
#endif
	if (rc != 0) {
		std::printf("parse error -0x%04x\n", static_cast<unsigned>(-rc));
		return 1;
	}
	for (const mbedtls_x509_crt *c = &chain; c != nullptr && c->raw.len > 0; c = c->next) {
		unsigned char sum[32];
		mbedtls_sha256_ret(c->raw.p, c->raw.len, sum, 0);
		for (int i = 0; i < 32; i++) {
			std::printf(i ? ":%02X" : "%02X", sum[i]);
		}
		std::printf("\n");
	}
	mbedtls_x509_crt_free(&chain);
	return 0;
}
