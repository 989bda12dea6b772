package testutil

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// VerifyFiles are the files of one `openssl verify` run. Only the trust
// given is used: no default CA file, directory or store.
type VerifyFiles struct {
	Untrusted string // -untrusted: certificates sent with the leaf
	CAfile    string // -CAfile
	CApath    string // -CApath
	Purpose   string // -purpose: sslserver, sslclient; "" checks none
	AuthLevel int    // -auth_level when > 0
	CRLCheck  bool   // -crl_check: the leaf's issuer must have a CRL in the trust
}

// OpenSSLVerdict is what `openssl verify` said about a certificate: OK,
// or the first error it printed ("error N at D depth lookup: TEXT"), the
// one a TLS handshake under Mosquitto would stop at, or (Code 0) that it
// could not load the -CAfile ("Error loading file ...").
type OpenSSLVerdict struct {
	OK          bool
	Code, Depth int
	Text        string
	Output      string
}

var opensslVerifyError = regexp.MustCompile(`(?m)^error (\d+) at (\d+) depth lookup: (.*)$`)

// OpenSSLVerify runs `openssl verify` on leaf with the files f names.
func OpenSSLVerify(t testing.TB, leaf string, f VerifyFiles) OpenSSLVerdict {
	t.Helper()
	args := []string{"verify", "-no-CAstore"}
	if f.Purpose != "" {
		args = append(args, "-purpose", f.Purpose)
	}
	if f.AuthLevel > 0 {
		args = append(args, "-auth_level", strconv.Itoa(f.AuthLevel))
	}
	if f.CRLCheck {
		args = append(args, "-crl_check")
	}
	args = append(args, f.trustArgs()...)
	if f.Untrusted != "" {
		args = append(args, "-untrusted", f.Untrusted)
	}
	out, err := exec.Command(RequireTool(t, "openssl"), append(args, leaf)...).CombinedOutput()
	v := OpenSSLVerdict{OK: err == nil, Output: string(out)}
	if m := opensslVerifyError.FindStringSubmatch(string(out)); m != nil {
		v.Code, _ = strconv.Atoi(m[1])
		v.Depth, _ = strconv.Atoi(m[2])
		v.Text, v.OK = m[3], false
	} else if m := opensslLoadError.FindString(string(out)); m != "" && err != nil {
		v.Text = m // a cafile OpenSSL loads nothing from: no verification at all
	} else if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return v
}

// trustArgs are openssl's options for the trust f names, and no other:
// without a CAfile or a CApath, the default one is turned off too.
func (f VerifyFiles) trustArgs() []string {
	args := []string{"-no-CAfile"}
	if f.CAfile != "" {
		args = []string{"-CAfile", f.CAfile}
	}
	if f.CApath != "" {
		return append(args, "-CApath", f.CApath)
	}
	return append(args, "-no-CApath")
}

var opensslLoadError = regexp.MustCompile(`(?m)^Error loading file .*$`)

var (
	sClientDepth = regexp.MustCompile(`(?m)^depth=(\d+) `)
	sClientError = regexp.MustCompile(`(?m)^verify error:num=(\d+):(.*)$`)
)

// OpenSSLConnect runs `openssl s_client -verify_return_error` against the
// TLS server at addr, sending serverName, with only the trust f names
// (CAfile, CApath; the other fields are not used): a Mosquitto client's
// handshake (purpose TLS server, the system's security level). The name
// itself is not checked. The verdict is OK, or the first verification
// error, at which the handshake stopped, with the depth s_client printed
// for it.
func OpenSSLConnect(t testing.TB, addr, serverName string, f VerifyFiles) OpenSSLVerdict {
	t.Helper()
	args := []string{"s_client", "-connect", addr, "-servername", serverName, "-verify_return_error", "-no-CAstore"}
	args = append(args, f.trustArgs()...)
	cmd := exec.Command(RequireTool(t, "openssl"), args...)
	out, err := cmd.CombinedOutput() // standard input is empty: s_client leaves after the handshake
	v := OpenSSLVerdict{Output: string(out)}
	loc := sClientError.FindStringSubmatchIndex(v.Output)
	if loc == nil {
		v.OK = err == nil && strings.Contains(v.Output, "Verify return code: 0 (ok)")
		if !v.OK {
			t.Fatalf("openssl %v: neither verified nor reported a verify error: %v\n%s", args, err, out)
		}
		return v
	}
	v.Code, _ = strconv.Atoi(v.Output[loc[2]:loc[3]])
	v.Text = v.Output[loc[4]:loc[5]]
	depths := sClientDepth.FindAllStringSubmatch(v.Output[:loc[0]], -1)
	if len(depths) == 0 {
		t.Fatalf("openssl %v: no depth before the verify error\n%s", args, out)
	}
	v.Depth, _ = strconv.Atoi(depths[len(depths)-1][1])
	return v
}
