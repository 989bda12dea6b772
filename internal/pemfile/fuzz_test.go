package pemfile

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
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

// FuzzDecodePlain holds decodePlain, Parse's fast path, to pem.Decode:
// wherever it decodes a block, pem.Decode finds the same first block
// (type, bytes, no headers) and leaves the same rest.
func FuzzDecodePlain(f *testing.F) {
	for _, seed := range plainSeeds(f) {
		f.Add(seed)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("x\n-----BEGIN A-----\nQUJD\n-----END A-----  \nrest"))
	f.Add([]byte("-----BEGIN A-----\nProc-Type: 4,ENCRYPTED\n\nQUJD\n-----END A-----\n"))
	f.Add([]byte("-----BEGIN A-----\n-----BEGIN A-----\nQUJD\n-----END A-----\n"))
	f.Add([]byte("-----BEGIN A-----\nQU JD\n-----END A-----\n"))
	f.Add([]byte("-----BEGIN A-----\nQUJD\n-----END B-----\n-----END A-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, der, rest, ok := decodePlain(data)
		if !ok {
			return
		}
		b, prest := pem.Decode(data)
		switch {
		case b == nil:
			t.Fatalf("decodePlain found a %q block where pem.Decode finds none", typ)
		case b.Type != typ || !bytes.Equal(b.Bytes, der) || len(b.Headers) != 0:
			t.Fatalf("decodePlain: %q, %d bytes; pem.Decode: %q, %d bytes, headers %v", typ, len(der), b.Type, len(b.Bytes), b.Headers)
		case !bytes.Equal(prest, rest):
			t.Fatalf("decodePlain leaves %q, pem.Decode %q", rest, prest)
		}
	})
}

// plainSeeds are certificate files in the forms decodePlain is for: one
// certificate, a bundle with text between blocks, CRLF line ends, no final
// line end, a key.
func plainSeeds(tb testing.TB) [][]byte {
	ca := testutil.NewCA(tb, "Plain Root")
	inter := ca.Intermediate(tb, "Plain Intermediate")
	one := testutil.CertPEM(ca.Cert)
	return [][]byte{
		one,
		append(append(testutil.CertPEM(inter.Cert), "# the root\n"...), one...),
		bytes.ReplaceAll(one, []byte("\n"), []byte("\r\n")),
		bytes.TrimSuffix(one, []byte("\n")),
		testutil.KeyPEM(tb, ca.Key),
	}
}

// TestDecodePlainTakesPlainFiles: the fast path is taken for every block
// of the plain forms (a fast path never taken would hide behind the
// fallback), and Parse gives what it gives with pem.Decode alone.
func TestDecodePlainTakesPlainFiles(t *testing.T) {
	for i, data := range plainSeeds(t) {
		rest := data
		var fast []Block
		for len(bytes.TrimSpace(rest)) > 0 {
			typ, der, next, ok := decodePlain(rest)
			if !ok {
				t.Fatalf("seed %d: decodePlain refused a plain block: %q", i, rest)
			}
			fast = append(fast, Block{Type: typ, DER: der})
			rest = next
		}
		var slow []Block
		for rest := data; ; {
			b, next := pem.Decode(rest)
			if b == nil {
				break
			}
			slow, rest = append(slow, Block{Type: b.Type, DER: b.Bytes}), next
		}
		if len(fast) != len(slow) {
			t.Fatalf("seed %d: %d blocks fast, %d with pem.Decode", i, len(fast), len(slow))
		}
		for j := range fast {
			if fast[j].Type != slow[j].Type || !bytes.Equal(fast[j].DER, slow[j].DER) {
				t.Fatalf("seed %d block %d differs from pem.Decode's", i, j)
			}
		}
	}
}
