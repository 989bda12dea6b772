package probe

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestClientCertificateWithoutClientAuth: a broker that requires client
// certificates, and a bridge's client certificate with serverAuth only,
// as Let's Encrypt issues them since 2026. check --mosquitto-conf on the
// bridge's configuration and probe --cert say so beforehand, naming the
// fix; then the real mosquitto_pub with the same files is refused. A
// certificate with clientAuth passes all three.
func TestClientCertificateWithoutClientAuth(t *testing.T) {
	pub := testutil.RequireTool(t, "mosquitto_pub")
	f := newBrokerFiles(t)
	addr := f.startBroker(t, "allow_anonymous true\nrequire_certificate true\ncafile "+f.p.rootFile+"\n")
	_, port, _ := SplitAddress(addr)
	o := testutil.CertOpts{Subject: pkix.Name{CommonName: "spoke.example"}, DNSNames: []string{"spoke.example"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leaf, key := f.p.inter.Issue(t, o)
	serverOnly := testutil.WriteFile(t, f.dir, "spoke-fullchain.pem", testutil.CertPEM(leaf, f.p.inter.Cert))
	serverOnlyKey := testutil.WriteFile(t, f.dir, "spoke-privkey.pem", testutil.KeyPEM(t, key))

	for _, tc := range []struct {
		name      string
		cert, key string
		refused   bool
	}{
		{"serverAuth only", serverOnly, serverOnlyKey, true},
		{"clientAuth", f.clientCert, f.clientK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Before: what certinit says about the files.
			conf := testutil.WriteFile(t, t.TempDir(), "spoke.conf", fmt.Appendf(nil,
				"user %s\nconnection hub\naddress 127.0.0.1:%s\ntopic # out\nbridge_cafile %s\nbridge_certfile %s\nbridge_keyfile %s\n",
				currentUser(t), port, f.p.rootFile, tc.cert, tc.key))
			probs, err := Check(CheckOptions{MosquittoConf: conf})
			if err != nil {
				t.Fatal(err)
			}
			rep := run(t, Options{Address: addr, ServerName: "localhost", CAFile: f.p.rootFile, CertFile: tc.cert, KeyFile: tc.key, MQTT: true})
			if tc.refused {
				if len(probs) != 1 || probs[0].Line != 6 || !containsAll(probs[0].Msg, "without clientAuth", "private CA", "remote_username") {
					t.Errorf("check: want one problem at bridge_certfile (line 6) about clientAuth and the fix, got:\n%s", problemLines(probs))
				}
				expect(t, rep, VerdictClientCertRequired, "without clientAuth", "private CA", "username and password")
				t.Logf("alert %+v\n%s", rep.Alert, reportText(rep))
			} else {
				if len(probs) > 0 {
					t.Errorf("check: %s", problemLines(probs))
				}
				expect(t, rep, VerdictOK)
			}

			// Then: the broker's own verdict on the same files.
			out, err := exec.Command(pub, "-h", "localhost", "-p", port, "--cafile", f.p.rootFile,
				"--cert", tc.cert, "--key", tc.key, "-t", "certinit/test", "-m", "hello").CombinedOutput()
			if refused := err != nil; refused != tc.refused {
				t.Fatalf("mosquitto_pub refused=%v, want %v: %v\n%s", refused, tc.refused, err, out)
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
