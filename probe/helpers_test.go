package probe

import (
	"bufio"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/certinit/certinit/verify"
)

// testPKI is a root, an intermediate and files for them.
type testPKI struct {
	root, inter *testutil.CA
	dir         string
	rootFile    string
}

func newPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	p := &testPKI{root: testutil.NewCA(t, name+" Root"), dir: t.TempDir()}
	p.inter = p.root.Intermediate(t, name+" Intermediate")
	p.rootFile = testutil.WriteFile(t, p.dir, "root.pem", testutil.CertPEM(p.root.Cert))
	return p
}

// serverPair issues a server certificate from the intermediate and returns
// it with the chain the server sends (leaf and intermediate).
func (p *testPKI) serverPair(t *testing.T, o testutil.CertOpts) tls.Certificate {
	t.Helper()
	leaf, key := p.inter.Issue(t, o)
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, p.inter.Cert.Raw}, PrivateKey: key, Leaf: leaf}
}

// issueWithAIA issues a leaf for localhost whose AIA caIssuers URL is url.
func issueWithAIA(t *testing.T, ca *testutil.CA, url string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	o := testutil.Localhost()
	o.CAIssuers = []string{url}
	return ca.Issue(t, o)
}

// reissue signs a copy of ca's certificate with ca's own key and new dates:
// same name, same key, different validity (an expired copy of a root).
func reissue(t *testing.T, ca *testutil.CA, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := *ca.Cert
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	return testutil.CreateCertificate(t, &tmpl, &tmpl, ca.Key.Public(), ca.Key)
}

// startOpenSSL runs `openssl s_server -www` with extra arguments on a free
// port and waits for its ACCEPT line.
func startOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	port := testutil.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(openssl, append([]string{"s_server", "-accept", addr, "-www"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), "ACCEPT") && !ok {
				ok = true
				ready <- true
			}
		}
		if !ok {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("openssl s_server %v exited: %s", args, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("openssl s_server did not start: %s", stderr.String())
	}
	return addr
}

// run probes with a short timeout and fails on a caller error.
func run(t *testing.T, o Options) *Report {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.SystemTrust == nil {
		o.SystemTrust = &verify.Trust{} // an empty system store unless a test sets one
	}
	rep, err := Probe(context.Background(), o)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	return rep
}

// expect checks the verdict and that the diagnosis mentions every want.
func expect(t *testing.T, rep *Report, v Verdict, want ...string) {
	t.Helper()
	var sb strings.Builder
	rep.WriteText(&sb)
	text := sb.String()
	if rep.Verdict != v {
		t.Fatalf("verdict %s, want %s\n%s", rep.Verdict, v, text)
	}
	if !strings.HasSuffix(text, "verdict: "+string(v)+"\n") {
		t.Fatalf("text does not end with the verdict line:\n%s", text)
	}
	diag := strings.Join(rep.Diagnosis, "\n")
	for _, w := range want {
		if !strings.Contains(diag, w) {
			t.Errorf("diagnosis lacks %q:\n%s", w, text)
		}
	}
}

// trustOf is a trust set of certs, standing in for the system store.
func trustOf(t *testing.T, certs ...*x509.Certificate) *verify.Trust {
	t.Helper()
	tr, err := verify.NewTrust(certs...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// reportText is the report as the probe prints it, for failure messages.
func reportText(rep *Report) string {
	var sb strings.Builder
	rep.WriteText(&sb)
	return sb.String()
}
