package hashlink

import (
	"bufio"
	"bytes"
	"encoding/asn1"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"github.com/certinit/certinit/internal/testutil"
)

// TestDifferentialRandomNames generates random names (random string types,
// characters from the ASCII, Latin-1 and BMP ranges and beyond, random
// whitespace and case, multi-valued RDNs, some invalid encodings), has the
// real openssl hash them all, and compares both certinit and the fuzz
// reference (refhash_test.go) with it. Set HASHLINK_SEED to replay a
// failure.
func TestDifferentialRandomNames(t *testing.T) {
	openssl := testutil.RequireTool(t, "openssl")
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("HASHLINK_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("HASHLINK_SEED=%d", seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	signer, err := cg.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	n := 400
	if testing.Short() {
		n = 100
	}
	dir := t.TempDir()
	names := make(map[string][]byte)
	for i := range n {
		name := randomName(rng)
		der, err := signer.Certificate(cg.Cert{Subject: name, Serial: int64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		file := fmt.Sprintf("n%04d.pem", i)
		names[file] = name
		if err := os.WriteFile(filepath.Join(dir, file), cg.PEM("CERTIFICATE", der), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// One `openssl rehash -v` per hash kind hashes every file in one process;
	// a file it cannot load gets no "link" line.
	newHashes := opensslLinkHashes(t, openssl, dir)
	oldHashes := opensslLinkHashes(t, openssl, dir, "-old")
	mismatches := 0
	for file, name := range names {
		h, err := NameHash(name)
		ho, errOld := NameHashOld(name)
		want, loads := newHashes[file]
		if rh, rho, ok := refNameHashes(name); ok != loads || (ok && (FormatHash(rh) != want || FormatHash(rho) != oldHashes[file])) {
			t.Errorf("%s: fuzz reference %08x %08x (ok=%v), openssl %s %s (loads=%v); name %x", file, rh, rho, ok, want, oldHashes[file], loads, name)
		}
		switch {
		case !loads && err == nil:
			t.Errorf("%s: openssl cannot load it, certinit hashes it as %08x; name %x", file, h, name)
		case loads && err != nil:
			t.Errorf("%s: openssl hashes it as %s, certinit fails: %v; name %x", file, want, err, name)
		case loads && FormatHash(h) != want:
			t.Errorf("%s: new hash %08x, openssl %s; name %x", file, h, want, name)
		case loads && (errOld != nil || FormatHash(ho) != oldHashes[file]):
			t.Errorf("%s: old hash %08x (%v), openssl %s; name %x", file, ho, errOld, oldHashes[file], name)
		default:
			continue
		}
		if mismatches++; mismatches > 10 {
			t.Fatal("too many mismatches")
		}
	}
	t.Logf("%d names, %d loaded by openssl", len(names), len(newHashes))
}

// opensslLinkHashes runs `openssl rehash -v [args] dir` and returns the hash
// of each linked file, from its "link FILE -> HASH.N" lines.
func opensslLinkHashes(t *testing.T, openssl, dir string, args ...string) map[string]string {
	t.Helper()
	cmd := exec.Command(openssl, append(append([]string{"rehash", "-v"}, args...), dir)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl rehash: %v\n%s", err, stderr.Bytes())
	}
	m := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "link" && f[2] == "->" {
			m[f[1]] = strings.SplitN(f[3], ".", 2)[0]
		}
	}
	return m
}

var randomOIDs = []asn1.ObjectIdentifier{
	cg.OIDCommonName, cg.OIDOrganization, cg.OIDOrgUnit, cg.OIDCountry, cg.OIDEmail,
	cg.OIDDomainComp, {2, 5, 4, 7}, {2, 5, 4, 8}, {1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3},
}

// randomName builds a Name of 0-6 RDNs, some multi-valued.
func randomName(rng *rand.Rand) []byte {
	var rdns []cg.RDN
	for range rng.IntN(7) {
		var rdn cg.RDN
		for range 1 + boolInt(rng.IntN(6) == 0)*rng.IntN(3) {
			rdn = append(rdn, randomAttr(rng))
		}
		rdns = append(rdns, rdn)
	}
	if rng.IntN(20) == 0 {
		rdns = append(rdns, cg.RDN{}) // an empty SET
	}
	return cg.Name(rdns...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func randomAttr(rng *rand.Rand) cg.Attr {
	oid := randomOIDs[rng.IntN(len(randomOIDs))]
	text := randomText(rng)
	switch rng.IntN(14) {
	case 0, 1, 2:
		return cg.Attr{OID: oid, Tag: cg.TagUTF8String, Value: maybeCorrupt(rng, []byte(text))}
	case 3:
		return cg.Attr{OID: oid, Tag: cg.TagPrintableString, Value: latin1Bytes(text)}
	case 4:
		return cg.Attr{OID: oid, Tag: cg.TagT61String, Value: latin1Bytes(text)}
	case 5:
		return cg.Attr{OID: oid, Tag: cg.TagIA5String, Value: latin1Bytes(text)}
	case 6:
		return cg.Attr{OID: oid, Tag: cg.TagBMPString, Value: maybeCorrupt(rng, cg.BMP(text))}
	case 7:
		return cg.Attr{OID: oid, Tag: cg.TagUniversalString, Value: maybeCorrupt(rng, cg.Universal(text))}
	case 8:
		return cg.Attr{OID: oid, Tag: cg.TagNumericString, Value: latin1Bytes(text)}
	case 9, 10, 11, 12:
		return cg.Attr{OID: oid, Tag: cg.TagUTF8String, Value: []byte(text)}
	default:
		tags := []int{cg.TagBitString, cg.TagVisibleString, cg.TagOctetString, 29}
		return cg.Attr{OID: oid, Tag: tags[rng.IntN(len(tags))], Value: latin1Bytes(text)}
	}
}

// randomText mixes ASCII letters of both cases, the six ASCII spaces,
// Latin-1, other BMP characters (including U+00A0 and U+3000 spaces) and
// characters beyond the BMP.
func randomText(rng *rand.Rand) string {
	var sb strings.Builder
	for range rng.IntN(24) {
		switch rng.IntN(10) {
		case 0, 1, 2, 3:
			sb.WriteByte(byte('A' + rng.IntN(26) + 32*rng.IntN(2)))
		case 4, 5:
			sb.WriteByte(" \t\n\v\f\r"[rng.IntN(6)])
		case 6:
			sb.WriteByte(byte(0x20 + rng.IntN(0x5f)))
		case 7:
			sb.WriteRune(rune(0xa0 + rng.IntN(0x60)))
		case 8:
			sb.WriteRune([]rune{0x3000, 0x0391, 0x03c3, 0x0130, 0x4e2d, 0xfffd, 0x2028}[rng.IntN(7)])
		default:
			sb.WriteRune(rune(0x10000 + rng.IntN(0x2000)))
		}
	}
	return sb.String()
}

// latin1Bytes keeps the characters below U+0100 as single bytes, as the
// one-byte string types carry them.
func latin1Bytes(s string) []byte {
	var out []byte
	for _, r := range s {
		if r < 0x100 {
			out = append(out, byte(r))
		}
	}
	return out
}

// maybeCorrupt sometimes damages a value (truncates it or flips a byte) so
// that the refusal rules are compared too.
func maybeCorrupt(rng *rand.Rand, b []byte) []byte {
	if len(b) == 0 || rng.IntN(12) != 0 {
		return b
	}
	b = append([]byte(nil), b...)
	if rng.IntN(2) == 0 {
		return b[:len(b)-1]
	}
	b[rng.IntN(len(b))] ^= byte(0x80 >> rng.IntN(3))
	return b
}
