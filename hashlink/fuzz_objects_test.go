package hashlink

import (
	"bytes"
	"crypto/sha1"
	"encoding/pem"
	"testing"
	"time"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
	"golang.org/x/crypto/cryptobyte"
)

// FuzzParseObjects feeds arbitrary bytes to ParseObjects (certinit hash)
// and to the reader behind Rehash (readInfos). Beyond not panicking:
//   - work and output are bounded by the input (no more objects than PEM
//     blocks could fit, names inside the input's decoded size, no input
//     taking seconds);
//   - every object's hashes are those of its name, by NameHash and
//     NameHashOld and by the independent reference;
//   - the objects survive re-encoding: the DER of each certificate or CRL
//     block, written back as canonical PEM (encoding/pem), parses to the
//     same objects in the same order (same kind, name, hashes,
//     fingerprint), and a DER input's one object has the fingerprint of
//     the input's first element;
//   - Rehash's reader agrees: a file it would link (exactly one object)
//     is one ParseObjects accepts with that same object.
//
// Seeds: f.Add below and testdata/fuzz/FuzzParseObjects (real files: a
// Mozilla root in PEM and DER, a two-root bundle, openssl's TRUSTED
// CERTIFICATE form, an openssl CRL in PEM and DER, an encrypted key with
// PEM headers).
func FuzzParseObjects(f *testing.F) {
	signer, err := cg.NewSigner()
	if err != nil {
		f.Fatal(err)
	}
	der, err := signer.Certificate(cg.Cert{Subject: cg.Name(cg.RDN{{OID: cg.OIDCommonName, Tag: cg.TagUTF8String, Value: []byte("Fuzz  CA")}}), Serial: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cg.PEM("CERTIFICATE", der))
	f.Add(der)
	f.Add(append(cg.PEM("CERTIFICATE", der), cg.PEM("X509 CERTIFICATE", der)...))
	f.Add([]byte("-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		objs, err := ParseObjects(data)
		if err != nil {
			checkInfos(t, data, nil)
			return
		}
		if max := len(data)/len("-----BEGIN X509 CRL-----") + 1; len(objs) > max {
			t.Fatalf("%d objects from %d bytes", len(objs), len(data))
		}
		for i, o := range objs {
			if len(o.Name) > len(data) {
				t.Fatalf("object %d: name of %d bytes from %d bytes of input", i, len(o.Name), len(data))
			}
			h, err := NameHash(o.Name)
			ho, errOld := NameHashOld(o.Name)
			rh, rho, ok := refNameHashes(o.Name)
			if err != nil || errOld != nil || !ok || h != o.Hash || ho != o.HashOld || rh != o.Hash || rho != o.HashOld {
				t.Fatalf("object %d: hashes %08x/%08x, of its name %08x/%08x (%v, %v), reference %08x/%08x (%v)",
					i, o.Hash, o.HashOld, h, ho, err, errOld, rh, rho, ok)
			}
		}
		if !bytes.Contains(data, beginMarker) {
			if len(objs) != 1 {
				t.Fatalf("DER input gave %d objects", len(objs))
			}
			s := cryptobyte.String(data)
			e, err := readElement(&s)
			if err != nil || objs[0].Fingerprint != sha1.Sum(e.raw) {
				t.Fatal("DER object's fingerprint is not that of the input's first element")
			}
		} else if len(objs) > 0 {
			again, err := ParseObjects(reencode(t, data))
			if err != nil || len(again) != len(objs) {
				t.Fatalf("re-encoded: %d objects, %v; want %d", len(again), err, len(objs))
			}
			for i := range objs {
				a, b := objs[i], again[i]
				if a.Kind != b.Kind || !bytes.Equal(a.Name, b.Name) || a.Hash != b.Hash || a.HashOld != b.HashOld || a.Fingerprint != b.Fingerprint {
					t.Fatalf("object %d changed when re-encoded: %+v / %+v", i, a, b)
				}
			}
		}
		checkInfos(t, data, objs)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%d bytes took %v", len(data), d)
		}
	})
}

// reencode writes the certificate and CRL blocks of data (read with
// certinit's lenient PEM reader) back as canonical PEM.
func reencode(t *testing.T, data []byte) []byte {
	var out bytes.Buffer
	rest := data
	for {
		typ, _, der, r, ok, err := nextPEM(rest)
		if err != nil {
			t.Fatalf("ParseObjects accepted what nextPEM refuses: %v", err)
		}
		if !ok {
			return out.Bytes()
		}
		rest = r
		if _, known := pemTypes[typ]; known {
			pem.Encode(&out, &pem.Block{Type: typ, Bytes: der})
		}
	}
}

// checkInfos: when Classify links a file to one certificate or CRL,
// ParseObjects must have found that object among certificates and CRLs,
// alone unless a certificate and a CRL share one info (rehash links the
// certificate). objs is nil when ParseObjects failed.
func checkInfos(t *testing.T, data []byte, objs []*Object) {
	obj, err := Classify(data)
	if err != nil {
		return
	}
	if infos, _ := ParseInfos(data); len(infos) == 1 && infos[0].Cert != nil && infos[0].CRL != nil {
		return
	}
	if len(objs) != 1 {
		t.Fatalf("rehash would link this file, ParseObjects gives %d objects", len(objs))
	}
	if objs[0].Fingerprint != obj.Fingerprint || objs[0].Hash != obj.Hash {
		t.Fatal("Classify and ParseObjects disagree on the object")
	}
}
