package hashlink

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenLine is one line of testdata/golden.txt, written by testdata/gen.sh
// from what the real openssl prints for each corpus file.
type goldenLine struct {
	file             string
	refused          bool
	newHash, oldHash string
}

func readGolden(t *testing.T) []goldenLine {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 2 && fields[1] == "refused":
			out = append(out, goldenLine{file: fields[0], refused: true})
		case len(fields) == 3:
			out = append(out, goldenLine{file: fields[0], newHash: fields[1], oldHash: fields[2]})
		default:
			t.Fatalf("golden.txt: bad line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 50 {
		t.Fatalf("golden.txt has only %d lines", len(out))
	}
	return out
}

// TestGolden checks every corpus file against the hashes openssl printed
// for it, and that the files openssl refused are refused here too.
func TestGolden(t *testing.T) {
	for _, g := range readGolden(t) {
		t.Run(g.file, func(t *testing.T) {
			obj, err := HashFile(filepath.Join("testdata", "corpus", g.file))
			if g.refused {
				if err == nil {
					t.Fatalf("openssl refuses this file, certinit hashed it as %08x", obj.Hash)
				}
				return
			}
			if err != nil {
				t.Fatalf("openssl hashes this file as %s, certinit fails: %v", g.newHash, err)
			}
			if got := FormatHash(obj.Hash); got != g.newHash {
				t.Errorf("new hash %s, openssl %s", got, g.newHash)
			}
			if got := FormatHash(obj.HashOld); got != g.oldHash {
				t.Errorf("old hash %s, openssl %s", got, g.oldHash)
			}
			// The name-level API agrees with the certificate-level one.
			if h, err := NameHash(obj.Name); err != nil || h != obj.Hash {
				t.Errorf("NameHash = %08x, %v; want %08x", h, err, obj.Hash)
			}
			if h, err := NameHashOld(obj.Name); err != nil || h != obj.HashOld {
				t.Errorf("NameHashOld = %08x, %v; want %08x", h, err, obj.HashOld)
			}
		})
	}
}

// TestGoldenCoversGoRefusals makes sure the corpus keeps certificates that
// OpenSSL loads and hashes but crypto/x509 refuses: they are why hashlink
// parses names itself.
func TestGoldenCoversGoRefusals(t *testing.T) {
	var refusedByGo []string
	for _, g := range readGolden(t) {
		if g.refused {
			continue
		}
		data, err := os.ReadFile(filepath.Join("testdata", "corpus", g.file))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		if b == nil || b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			refusedByGo = append(refusedByGo, g.file)
		}
	}
	t.Logf("loaded by openssl, refused by crypto/x509: %v", refusedByGo)
	if len(refusedByGo) < 5 {
		t.Errorf("only %d corpus certificates are refused by crypto/x509; the corpus lost its hard cases", len(refusedByGo))
	}
}

func TestEmptyNameHash(t *testing.T) {
	// SHA-1 of nothing is da39a3ee...; OpenSSL reads the first four bytes
	// little-endian.
	for _, der := range [][]byte{{0x30, 0x00}, {0x30, 0x02, 0x31, 0x00}} {
		h, err := NameHash(der)
		if err != nil || FormatHash(h) != "eea339da" {
			t.Errorf("NameHash(%x) = %08x, %v; want eea339da", der, h, err)
		}
	}
}

func TestNameHashErrors(t *testing.T) {
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty input", nil},
		{"not a sequence", []byte{0x31, 0x00}},
		{"truncated", []byte{0x30, 0x05, 0x31}},
		{"trailing data", []byte{0x30, 0x00, 0x00}},
		{"indefinite length", []byte{0x30, 0x80, 0x00, 0x00}},
		{"set holds a non-sequence", []byte{0x30, 0x04, 0x31, 0x02, 0x05, 0x00}},
		{"attribute without value", []byte{0x30, 0x09, 0x31, 0x07, 0x30, 0x05, 0x06, 0x03, 0x55, 0x04, 0x03}},
		{"empty OID", []byte{0x30, 0x08, 0x31, 0x06, 0x30, 0x04, 0x06, 0x00, 0x0c, 0x00}},
		{"constructed string nested too deep", nested(7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := NameHash(tc.der); err == nil {
				t.Errorf("NameHash accepted it: %08x", h)
			}
			if h, err := NameHashOld(tc.der); err == nil {
				t.Errorf("NameHashOld accepted it: %08x", h)
			}
		})
	}
}

// nested builds CN=<UTF8String constructed depth levels deep>.
func nested(depth int) []byte {
	v := []byte{0x04, 0x01, 'x'}
	for range depth {
		v = append([]byte{0x2c, byte(len(v))}, v...)
	}
	attr := append([]byte{0x06, 0x03, 0x55, 0x04, 0x03}, v...)
	attr = append([]byte{0x30, byte(len(attr))}, attr...)
	set := append([]byte{0x31, byte(len(attr))}, attr...)
	return append([]byte{0x30, byte(len(set))}, set...)
}

func TestFormatHash(t *testing.T) {
	for h, want := range map[uint32]string{0: "00000000", 0xe6dddb6d: "e6dddb6d", 0xa: "0000000a"} {
		if got := FormatHash(h); got != want {
			t.Errorf("FormatHash(%x) = %s, want %s", h, got, want)
		}
	}
}
