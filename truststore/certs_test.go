package truststore

import (
	"bytes"
	"encoding/asn1"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// firstTLVRef is what firstTLV replaced: encoding/asn1 reading one element.
func firstTLVRef(b []byte) []byte {
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(b, &raw)
	if err != nil {
		return b
	}
	return b[:len(b)-len(rest)]
}

// FuzzFirstTLV holds the hand-written DER header reader to encoding/asn1's
// answer for certificate-shaped input (a low-form tag, as every
// certificate's SEQUENCE has).
func FuzzFirstTLV(f *testing.F) {
	ca := testutil.NewCA(f, "fuzz CA").Cert.Raw
	f.Add(ca)
	f.Add(append(append([]byte{}, ca...), 0x30, 0x03, 0x02, 0x01, 0x05)) // TRUSTED CERTIFICATE: aux after the cert
	f.Add(ca[:len(ca)-1])                                                // truncated
	f.Add([]byte{0x30, 0x81, 0x05, 1, 2, 3, 4, 5})                       // long form where short was due
	f.Add([]byte{0x30, 0x82, 0x00, 0x85})                                // leading zero length byte
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})                                // indefinite length
	f.Add([]byte{0x30})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 && b[0]&0x1f == 0x1f {
			t.Skip("high-form tags are never a certificate; firstTLV leaves them whole")
		}
		got, want := firstTLV(b), firstTLVRef(b)
		if !bytes.Equal(got, want) {
			t.Fatalf("firstTLV(%x) = %d bytes, encoding/asn1 reads %d", b, len(got), len(want))
		}
	})
}

// FuzzHashHead: when the complete lines at the start of a file already
// hold two certificate or CRL blocks, so does the whole file (hashHead
// relies on it to skip reading a bundle to its end).
func FuzzHashHead(f *testing.F) {
	a, b := testutil.NewCA(f, "head A"), testutil.NewCA(f, "head B")
	two := testutil.CertPEM(a.Cert, b.Cert)
	f.Add(two, uint16(len(two)/2))
	f.Add(two, uint16(len(two)-3))
	f.Add(append([]byte("text\n"), two...), uint16(len(two)))
	f.Add(bytes.ReplaceAll(two, []byte("-----\n"), []byte("-----  x\n")), uint16(len(two)-1))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		if int(cut) > len(data) {
			return
		}
		head := hashData(completeLines(data[:cut]))
		if head.n < 2 {
			return
		}
		if whole := hashData(data); whole.n != head.n {
			t.Fatalf("the head holds %d blocks, the whole file %d", head.n, whole.n)
		}
	})
}

// TestHashHeadEveryCut runs FuzzHashHead's property over every cut of
// bundles of two and three certificates, plain and with the END lines
// damaged after the dashes (where a cut inside a line would mislead).
func TestHashHeadEveryCut(t *testing.T) {
	a, b, c := testutil.NewCA(t, "cut A"), testutil.NewCA(t, "cut B"), testutil.NewCA(t, "cut C")
	plain := testutil.CertPEM(a.Cert, b.Cert, c.Cert)
	damaged := bytes.Replace(plain, []byte("-----END CERTIFICATE-----\n"), []byte("-----END CERTIFICATE-----   x\n"), 1)
	for _, data := range [][]byte{plain, damaged} {
		decided := 0
		for cut := 0; cut <= len(data); cut++ {
			head := hashData(completeLines(data[:cut]))
			if head.n < 2 {
				continue
			}
			decided++
			if whole := hashData(data); whole.n != head.n {
				t.Fatalf("cut %d: the head holds %d blocks, the whole file %d", cut, head.n, whole.n)
			}
		}
		if bytes.Equal(data, plain) && decided == 0 {
			t.Fatal("no cut of a bundle of three was settled by its head")
		}
	}
}
