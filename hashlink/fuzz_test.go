package hashlink

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// FuzzNameHash feeds arbitrary bytes to the name parser and both hashes.
// Beyond not panicking it checks: both hashes accept exactly the same
// names; and canonicalisation is idempotent (the canonical encoding, put
// back into a SEQUENCE, canonicalises to itself), which holds only if every
// rule (folding, sorting, re-encoding) produces what it accepts.
// The seed corpus in testdata/fuzz/FuzzNameHash is the hard-subject corpus's
// names (written by testdata/gen.sh).
func FuzzNameHash(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x0b, 0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		h, err := NameHash(der)
		_, errOld := NameHashOld(der)
		if (err == nil) != (errOld == nil) {
			t.Fatalf("NameHash error %v, NameHashOld error %v", err, errOld)
		}
		if err != nil {
			return
		}
		s := cryptobyte.String(der)
		name, err := readElement(&s)
		if err != nil {
			t.Fatal(err)
		}
		canon, err := canonicalName(nil, name)
		if err != nil {
			t.Fatal(err)
		}
		again := appendTLV(nil, 0x30, canon)
		h2, err := NameHash(again)
		if err != nil {
			t.Fatalf("canonical form %x does not parse: %v", again, err)
		}
		name2, _ := readName(again)
		canon2, _ := canonicalName(nil, name2)
		if !bytes.Equal(canon, canon2) || h != h2 {
			t.Fatalf("canonicalisation not idempotent:\n%x\n%x", canon, canon2)
		}
	})
}
