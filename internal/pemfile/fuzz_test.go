package pemfile

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
)

// FuzzParse feeds arbitrary bytes to Parse and Certificates, the reader
// behind every certificate file certinit opens. Beyond not panicking:
//   - work and output are bounded by the input (the blocks' DER together
//     is never longer than the input; one input never takes seconds);
//   - Parse never returns neither a block nor an error;
//   - Certificates succeeds only where Parse does, returns exactly the
//     certificate blocks in order (each certificate's Raw is its block's
//     DER), and what it returns re-encodes (EncodeCerts) to a file that
//     reads back to the same certificates;
//   - when Certificates fails on input that Parse accepts with certificate
//     blocks, one of those blocks really is refused by crypto/x509.
//
// Seeds: f.Add below and testdata/fuzz/FuzzParse (real files: Mozilla
// roots from the Debian package in PEM and DER, a bundle, an openssl CRL).
func FuzzParse(f *testing.F) {
	ca := testutil.NewCA(f, "Fuzz Root")
	inter := ca.Intermediate(f, "Fuzz Intermediate")
	f.Add(testutil.CertPEM(ca.Cert))
	f.Add(ca.Cert.Raw)
	f.Add(testutil.CertPEM(inter.Cert, ca.Cert))
	f.Add(append(testutil.CertPEM(ca.Cert), testutil.KeyPEM(f, ca.Key)...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		blocks, err := Parse(data)
		if err == nil && len(blocks) == 0 {
			t.Fatal("Parse returned neither a block nor an error")
		}
		total := 0
		var certBlocks []Block
		for _, b := range blocks {
			total += len(b.DER)
			if b.Kind == KindCert {
				certBlocks = append(certBlocks, b)
			}
		}
		if total > len(data) {
			t.Fatalf("%d bytes of DER out of %d bytes of input", total, len(data))
		}
		certs, cerr := Certificates(data)
		switch {
		case cerr == nil && err != nil:
			t.Fatalf("Certificates succeeded where Parse failed: %v", err)
		case cerr == nil:
			if len(certs) != len(certBlocks) {
				t.Fatalf("%d certificates from %d certificate blocks", len(certs), len(certBlocks))
			}
			for i, c := range certs {
				if !bytes.Equal(c.Raw, certBlocks[i].DER) {
					t.Fatalf("certificate %d is not its block's DER", i+1)
				}
			}
			again, err := Certificates(EncodeCerts(certs...))
			if err != nil || len(again) != len(certs) {
				t.Fatalf("re-encoded certificates read back as %d, %v", len(again), err)
			}
			for i := range again {
				if !again[i].Equal(certs[i]) {
					t.Fatalf("certificate %d changed when re-encoded", i+1)
				}
			}
		case err == nil && len(certBlocks) > 0:
			refused := false
			for _, b := range certBlocks {
				if _, err := x509.ParseCertificate(b.DER); err != nil {
					refused = true
				}
			}
			if !refused {
				t.Fatalf("Certificates failed (%v) though every certificate block parses", cerr)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%d bytes took %v", len(data), d)
		}
	})
}
