package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/mosquittotest"
	"github.com/certinit/certinit/internal/testutil"
)

// TestWeakPairLikeMosquitto: a pair Mosquitto cannot load (Debian's
// OpenSSL at security level 2: an RSA-1024 key, a SHA-1 signature from a
// CA) is refused by check, both from the flags and from the broker's
// mosquitto.conf, and by init, so run never signals it; a pair Mosquitto
// loads passes all three. The files are made by openssl, as a user would.
func TestWeakPairLikeMosquitto(t *testing.T) {
	testutil.RequireTool(t, "openssl")
	dir := t.TempDir()
	caKey := opensslKey(t, dir, "ca", 2048)
	caCert := filepath.Join(dir, "ca.pem")
	testutil.OpenSSL(t, "req", "-x509", "-new", "-key", caKey, "-subj", "/CN=weak pair CA", "-days", "2", "-sha256", "-out", caCert)
	tests := []struct {
		name   string
		bits   int
		digest string
		selfCA bool // self-signed, else issued by the CA
	}{
		{"RSA 2048 SHA-256 from a CA", 2048, "-sha256", false},
		{"RSA 1024 self-signed", 1024, "-sha256", true},
		{"RSA 1024 from a CA", 1024, "-sha256", false},
		{"RSA 2048 SHA-1 from a CA", 2048, "-sha1", false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "pair" + strconv.Itoa(i)
			key := opensslKey(t, dir, name, tc.bits)
			cert := filepath.Join(dir, name+".pem")
			if tc.selfCA {
				testutil.OpenSSL(t, "req", "-x509", "-new", "-key", key, "-subj", "/CN=localhost", "-days", "2", tc.digest, "-out", cert)
			} else {
				csr := filepath.Join(dir, name+".csr")
				testutil.OpenSSL(t, "req", "-new", "-key", key, "-subj", "/CN=localhost", "-out", csr)
				testutil.OpenSSL(t, "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-set_serial", strconv.Itoa(100+i),
					"-days", "2", tc.digest, "-out", cert)
			}
			conf := fmt.Sprintf("user root\nlistener %d 127.0.0.1\ncertfile %s\nkeyfile %s\nallow_anonymous true\n",
				testutil.FreePort(t), cert, key)
			b, loads := mosquittotest.Run(t, t.TempDir(), conf)
			if !loads && !strings.Contains(b.Log(), "Unable to load server certificate") {
				t.Fatalf("mosquitto did not start, for another reason:\n%s", b.Log())
			}
			want := 0
			if !loads {
				want = 1
			}
			for _, args := range [][]string{
				{"check", "--cert", cert, "--key", key},
				{"check", "--mosquitto-conf", b.ConfPath},
				{"check", "--cert", cert, "--key", key, "--cafile", caCert},
				{"init", "--cert", cert, "--key", key},
			} {
				code, out, errOut := runCLI(t, args...)
				if code != want || want == 1 && !strings.Contains(out+errOut, cert) {
					t.Errorf("%s: exit %d, want %d (mosquitto loads it: %v), naming %s\nstdout %s\nstderr %s",
						args[0], code, want, loads, cert, out, errOut)
				}
				weak := 0
				for _, line := range strings.Split(out+errOut, "\n") {
					if strings.Contains(line, "too weak") {
						weak++
					}
				}
				if want == 1 && weak != 1 {
					t.Errorf("%v: %d lines say the pair is too weak, want one:\n%s%s", args, weak, out, errOut)
				}
			}
		})
	}
}

// opensslKey makes an RSA key of bits bits with openssl.
func opensslKey(t *testing.T, dir, name string, bits int) string {
	t.Helper()
	key := filepath.Join(dir, name+".key")
	testutil.OpenSSL(t, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:"+strconv.Itoa(bits), "-out", key)
	return key
}
