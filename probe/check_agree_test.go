package probe

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// TestCheckListenerTrustAgreesWithMosquitto: a listener that requires
// client certificates, with a trust set (cafile, capath) of each kind
// people build. check --mosquitto-conf reports a problem exactly when the
// real broker refuses a client whose certificate file holds its leaf and
// intermediate, as mosquitto_pub sends it.
func TestCheckListenerTrustAgreesWithMosquitto(t *testing.T) {
	pub := testutil.RequireTool(t, "mosquitto_pub")
	f := newBrokerFiles(t)
	root, inter := f.p.root.Cert, f.p.inter.Cert
	cLeaf, _ := f.p.inter.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "sensor-9"}})
	// A root limited to TLS servers, and a client certificate under it.
	key := testutil.NewKey(t, "p256")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Servers Only Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	serverRoot := &testutil.CA{Cert: testutil.CreateCertificate(t, tmpl, tmpl, key.Public(), key), Key: key}
	underServerRoot, underKey := serverRoot.Issue(t, testutil.CertOpts{Subject: pkix.Name{CommonName: "sensor-10"}})
	limitedCert := testutil.WriteFile(t, f.dir, "sensor-10.pem", testutil.CertPEM(underServerRoot))
	limitedKey := testutil.WriteFile(t, f.dir, "sensor-10-key.pem", testutil.KeyPEM(t, underKey))
	type trustSet struct {
		cafile []*x509.Certificate
		capath [][]*x509.Certificate
	}
	tests := []struct {
		name      string
		trust     trustSet
		cert, key string // the client's; the one under the root by default
	}{
		{"cafile root", trustSet{cafile: []*x509.Certificate{root}}, "", ""},
		{"cafile intermediate only", trustSet{cafile: []*x509.Certificate{inter}}, "", ""},
		{"cafile the client's own certificate", trustSet{cafile: []*x509.Certificate{cLeaf}}, "", ""},
		{"capath root", trustSet{capath: [][]*x509.Certificate{{root}}}, "", ""},
		{"capath intermediate only", trustSet{capath: [][]*x509.Certificate{{inter}}}, "", ""},
		{"capath bundle of root and intermediate", trustSet{capath: [][]*x509.Certificate{{root, inter}}}, "", ""},
		{"capath root and intermediate, a file each", trustSet{capath: [][]*x509.Certificate{{root}, {inter}}}, "", ""},
		{"cafile intermediate, capath root", trustSet{cafile: []*x509.Certificate{inter}, capath: [][]*x509.Certificate{{root}}}, "", ""},
		{"cafile root for servers only", trustSet{cafile: []*x509.Certificate{serverRoot.Cert}}, limitedCert, limitedKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lines := "allow_anonymous true\nrequire_certificate true\n"
			if tc.trust.cafile != nil {
				lines += "cafile " + testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(tc.trust.cafile...)) + "\n"
			}
			if tc.trust.capath != nil {
				capath := filepath.Join(dir, "capath")
				for i, group := range tc.trust.capath {
					testutil.WriteFile(t, capath, "ca"+strconv.Itoa(i)+".pem", testutil.CertPEM(group...))
				}
				testutil.OpenSSLRehashCode(t, capath)
				lines += "capath " + capath + "\n"
			}
			port := testutil.FreePort(t)
			conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n%s", port, f.fullchain, f.key, lines)
			b := mosquittotest.Start(t, t.TempDir(), conf)
			probs, err := Check(CheckOptions{MosquittoConf: b.ConfPath})
			if err != nil {
				t.Fatal(err)
			}
			cert, key := f.clientCert, f.clientK
			if tc.cert != "" {
				cert, key = tc.cert, tc.key
			}
			out, err := exec.Command(pub, "-h", "localhost", "-p", strconv.Itoa(port), "--cafile", f.p.rootFile,
				"--cert", cert, "--key", key, "-t", "certinit/test", "-m", "hello").CombinedOutput()
			refused := err != nil
			t.Logf("mosquitto refused=%v; check:\n%s", refused, problemLines(probs))
			if refused != (len(probs) > 0) {
				t.Errorf("mosquitto_pub refused=%v (%s), check found %d problems:\n%s", refused, out, len(probs), problemLines(probs))
			}
		})
	}
}

// TestCheckTrustProblemsAtTheirLines: a cafile with a corrupt block after
// its root, which OpenSSL loads nothing from, stops mosquitto; check
// reports it at the cafile line, and a DER certificate behind a hash link
// of the capath beside it at the capath line.
func TestCheckTrustProblemsAtTheirLines(t *testing.T) {
	f := newBrokerFiles(t)
	dir := t.TempDir()
	corrupt := "-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n"
	cafile := testutil.WriteFile(t, dir, "ca.pem", append(testutil.CertPEM(f.p.root.Cert), corrupt...))
	capath := testutil.Mkdir(t, filepath.Join(dir, "capath"))
	testutil.WriteFile(t, capath, "root.der", f.p.root.Cert.Raw)
	testutil.Symlink(t, "root.der", filepath.Join(capath, testutil.SubjectHash(t, f.p.rootFile)+".0"))
	conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\ncafile %s\ncapath %s\n",
		testutil.FreePort(t), f.fullchain, f.key, cafile, capath)
	b, started := mosquittotest.Run(t, t.TempDir(), conf)
	if started {
		t.Fatalf("mosquitto started with a cafile OpenSSL cannot load; log:\n%s", b.Log())
	}
	probs, err := Check(CheckOptions{MosquittoConf: b.ConfPath})
	if err != nil {
		t.Fatal(err)
	}
	lines := map[int]int{}
	for _, p := range probs {
		lines[p.Line]++
	}
	if len(probs) != 2 || lines[5] != 1 || lines[6] != 1 {
		t.Fatalf("want one problem at line 5 (cafile) and one at line 6 (capath):\n%s", problemLines(probs))
	}
}

// TestCheckServedCertificateNotForServers: a listener whose certfile is
// a client certificate. Mosquitto starts and serves it (check is stricter
// than the broker here, and says so), and every client refuses it, as
// mosquitto_pub shows.
func TestCheckServedCertificateNotForServers(t *testing.T) {
	pub := testutil.RequireTool(t, "mosquitto_pub")
	f := newBrokerFiles(t)
	o := testutil.Localhost()
	o.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	leaf, key := f.p.inter.Issue(t, o)
	f.fullchain = testutil.WriteFile(t, f.dir, "client-as-server.pem", testutil.CertPEM(leaf, f.p.inter.Cert))
	f.key = testutil.WriteFile(t, f.dir, "client-as-server-key.pem", testutil.KeyPEM(t, key))
	addr := f.startBroker(t, "allow_anonymous true\n")
	_, port, _ := SplitAddress(addr)
	conf := testutil.WriteFile(t, t.TempDir(), "mosquitto.conf", fmt.Appendf(nil, "user root\nlistener %s 127.0.0.1\ncertfile %s\nkeyfile %s\n", port, f.fullchain, f.key))
	probs, err := Check(CheckOptions{MosquittoConf: conf})
	if err != nil {
		t.Fatal(err)
	}
	if len(probs) != 1 || probs[0].Line != 3 || !containsAll(probs[0].Msg, "not for TLS servers", "Mosquitto serves it", "clients refuse it") {
		t.Errorf("check: want one problem at certfile (line 3), got:\n%s", problemLines(probs))
	}
	out, err := exec.Command(pub, "-h", "localhost", "-p", port, "--cafile", f.p.rootFile, "-t", "certinit/test", "-m", "hello").CombinedOutput()
	if err == nil {
		t.Fatalf("mosquitto_pub accepted a server certificate for clients only:\n%s", out)
	}
	expect(t, run(t, Options{Address: addr, ServerName: "localhost", CAFile: f.p.rootFile}), VerdictHandshakeFailure, "not for TLS servers")
}

// TestCheckTrustFlags: check --cafile/--capath/--cert findings that name
// what is missing and how to fix it.
func TestCheckTrustFlags(t *testing.T) {
	f := newCheckFiles(t)
	dir := t.TempDir()
	interFile := testutil.WriteFile(t, dir, "chain.pem", testutil.CertPEM(f.p.inter.Cert))
	derFile := testutil.WriteFile(t, dir, "root.der", f.p.root.Cert.Raw)
	o := testutil.Localhost()
	o.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	codeLeaf, _ := f.p.inter.Issue(t, o)
	codeFile := testutil.WriteFile(t, dir, "code.pem", testutil.CertPEM(codeLeaf, f.p.inter.Cert))
	// A CA by its key usage alone (keyCertSign, no basicConstraints): Go's
	// IsCA says no, OpenSSL's X509_check_ca yes.
	kuKey := testutil.NewKey(t, "p256")
	kuCA := testutil.CreateCertificate(t, &x509.Certificate{SerialNumber: big.NewInt(7),
		Subject: pkix.Name{CommonName: "Key Usage CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign}, f.p.root.Cert, kuKey.Public(), f.p.root.Key)
	kuFile := testutil.WriteFile(t, dir, "ku-ca.pem", testutil.CertPEM(kuCA))
	tests := []struct {
		name    string
		opts    CheckOptions
		mozilla bool
		want    []string // one substring per expected problem, in order
	}{
		{"intermediate alone", CheckOptions{CAFile: interFile}, false,
			[]string{`CA certificate "Check Intermediate" does not chain to a self-signed root in the trust (--cafile): the issuer "CN=Check Root,O=certinit test" is missing`}},
		{"intermediate alone, root in the Mozilla set", CheckOptions{CAFile: interFile}, true,
			[]string{`add the root "Check Root", which the Mozilla root set certinit carries`}},
		{"intermediate alone, with a chain", CheckOptions{CertFile: f.fullchain, CAFile: interFile}, false,
			[]string{`"Check Intermediate" does not chain to a self-signed root`}},
		{"DER cafile", CheckOptions{CAFile: derFile}, false, []string{"DER, not PEM"}},
		{"CA by key usage alone", CheckOptions{CAFile: kuFile}, false,
			[]string{`CA certificate "Key Usage CA" does not chain to a self-signed root in the trust (--cafile): the issuer "CN=Check Root,O=certinit test" is missing; OpenSSL (Mosquitto) trusts nothing through it: add the root that issued it`}},
		{"code signing only", CheckOptions{CertFile: codeFile}, false, []string{"for neither TLS servers nor TLS clients"}},
		{"code signing only, with a chain", CheckOptions{CertFile: codeFile, CAFile: f.p.rootFile}, false, []string{"for neither TLS servers nor TLS clients"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mozilla {
				withMozilla(t, f.p.root.Cert)
			} else {
				withMozilla(t)
			}
			expectProblems(t, tc.opts, tc.want...)
		})
	}
}
