package probe

import (
	"bytes"
	"context"
	"crypto/x509"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/testutil"
)

// opensslServed is what `openssl s_client -showcerts` receives from addr:
// the reference for what a server sends.
func opensslServed(t *testing.T, addr string) []*x509.Certificate {
	t.Helper()
	openssl := testutil.RequireTool(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", addr, "-showcerts")
	cmd.Stdin = strings.NewReader("") // end the session after the handshake
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Run() // a server that refuses the missing client certificate makes it exit 1 after printing the chain
	certs, err := pemfile.Certificates(out.Bytes())
	if err != nil {
		t.Fatalf("openssl s_client -showcerts %s: %v\n%s", addr, err, out.String())
	}
	return certs
}

// TestServedChain: what ServedChain returns from a real Mosquitto is what
// openssl s_client receives and what the listener's certfile holds, also
// when the listener requires a client certificate (TLS 1.3 refuses it
// after the handshake, TLS 1.2 during it).
func TestServedChain(t *testing.T) {
	f := newBrokerFiles(t)
	want, err := pemfile.ReadCertificates(f.fullchain)
	if err != nil {
		t.Fatal(err)
	}
	requireCert := "require_certificate true\ncafile " + f.p.rootFile + "\n"
	for _, tc := range []struct{ name, extra string }{
		{"plain", ""},
		{"client certificate required, TLS 1.3", requireCert},
		{"client certificate required, TLS 1.2", requireCert + "tls_version tlsv1.2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := f.startBroker(t, "allow_anonymous true\n"+tc.extra)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := ServedChain(ctx, addr, "")
			if err != nil {
				t.Fatal(err)
			}
			ref := opensslServed(t, addr)
			if len(got) != len(want) || len(ref) != len(want) {
				t.Fatalf("ServedChain gave %d certificates, openssl %d, the certfile holds %d", len(got), len(ref), len(want))
			}
			for i := range want {
				if !got[i].Equal(want[i]) || !ref[i].Equal(want[i]) {
					t.Errorf("certificate %d differs between ServedChain, openssl s_client and the certfile", i)
				}
			}
		})
	}
}

// TestServedChainNoServer: nothing listening, or a listener that does not
// speak TLS, is an error, within the context's deadline.
func TestServedChainNoServer(t *testing.T) {
	closed := "127.0.0.1:" + strconv.Itoa(testutil.FreePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if certs, err := ServedChain(ctx, closed, ""); err == nil {
		t.Fatalf("ServedChain of a closed port gave %d certificates and no error", len(certs))
	}

	port := testutil.FreePort(t)
	mosquittotest.Start(t, t.TempDir(), "listener "+strconv.Itoa(port)+" 127.0.0.1\nallow_anonymous true\n")
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if certs, err := ServedChain(ctx, "127.0.0.1:"+strconv.Itoa(port), ""); err == nil {
		t.Fatalf("ServedChain of a plain MQTT listener gave %d certificates and no error", len(certs))
	}
}
