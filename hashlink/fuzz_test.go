package hashlink

import (
	"bytes"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// FuzzNameHash feeds arbitrary bytes to the name parser and both hashes.
// It compares them with the independent reference in refhash_test.go:
// both must refuse the same names and give the same new and old hash for
// the others. Beyond that it checks that canonicalisation is idempotent
// (the canonical encoding, put back into a SEQUENCE, canonicalises to
// itself), which holds only if every rule (folding, sorting, re-encoding)
// produces what it accepts. The seed corpus in testdata/fuzz/FuzzNameHash
// is the hard-subject corpus's names (written by testdata/gen.sh).
func FuzzNameHash(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x0b, 0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		h, err := NameHash(der)
		ho, errOld := NameHashOld(der)
		if (err == nil) != (errOld == nil) {
			t.Fatalf("NameHash error %v, NameHashOld error %v", err, errOld)
		}
		rh, rho, ok := refNameHashes(der)
		switch {
		case ok && err != nil:
			t.Fatalf("reference hashes %x as %08x, NameHash fails: %v", der, rh, err)
		case !ok && err == nil:
			t.Fatalf("reference refuses %x, NameHash gives %08x", der, h)
		case ok && (rh != h || rho != ho):
			t.Fatalf("%x: NameHash %08x/%08x, reference %08x/%08x", der, h, ho, rh, rho)
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

// TestReferenceGolden checks the fuzz reference itself against what the
// real openssl printed for the hard-subject corpus, so that agreement with
// it means agreement with OpenSSL.
func TestReferenceGolden(t *testing.T) {
	n := 0
	for _, g := range readGolden(t) {
		if g.refused {
			continue
		}
		obj, err := HashFile(filepath.Join("testdata", "corpus", g.file))
		if err != nil {
			t.Fatalf("%s: %v", g.file, err)
		}
		h, ho, ok := refNameHashes(obj.Name)
		if !ok || FormatHash(h) != g.newHash || FormatHash(ho) != g.oldHash {
			t.Errorf("%s: reference %08x %08x (ok=%v), openssl %s %s", g.file, h, ho, ok, g.newHash, g.oldHash)
		}
		n++
	}
	if n < 40 {
		t.Fatalf("only %d golden names checked", n)
	}
}
