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
