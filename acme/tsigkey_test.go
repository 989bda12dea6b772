package acme

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/miekg/dns"
)

// TestReadTSIGKey reads key files as BIND's tools write them, and agrees
// with named-checkconf, BIND's own reader, on which files are keys: what
// BIND refuses, certinit refuses too. certinit refuses two things BIND
// takes, on purpose: several keys in one file (which one would sign?) and
// hmac-md5 (deprecated by RFC 8945, not signed by the DNS library).
func TestReadTSIGKey(t *testing.T) {
	keygen := testutil.RequireTool(t, "tsig-keygen")
	confgen := testutil.RequireTool(t, "ddns-confgen")
	checkconf := testutil.RequireTool(t, "named-checkconf")
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return string(out)
	}
	sha256 := run(keygen, "-a", "hmac-sha256", "certinit-test")
	sha512 := run(confgen, "-q", "-a", "hmac-sha512", "-k", "Upd.Example.")
	secret := strings.Split(sha256, `"`)[3]
	tests := []struct {
		name      string
		text      string
		bindOK    bool
		wantName  string // "" when certinit refuses it
		wantAlg   string
		errorSays string
	}{
		{"tsig-keygen", sha256, true, "certinit-test.", dns.HmacSHA256, ""},
		{"ddns-confgen -q, name canonicalized", sha512, true, "upd.example.", dns.HmacSHA512, ""},
		{"tsig-keygen sha1", run(keygen, "-a", "hmac-sha1", "k1"), true, "k1.", dns.HmacSHA1, ""},
		{"comments of every kind", "# made by hand\n/* block\ncomment */ key k2 { // the key\n algorithm hmac-sha224; # alg\n secret \"" + secret + "\";\n};\n",
			true, "k2.", dns.HmacSHA224, ""},
		{"// inside the secret", "key k3 { algorithm hmac-sha256; secret \"ab//cdef\"; };", true, "k3.", dns.HmacSHA256, ""},
		{"one line", `key "k4" {algorithm hmac-sha384;secret "` + secret + `";};`, true, "k4.", dns.HmacSHA384, ""},
		{"two keys", sha256 + strings.ReplaceAll(sha256, "certinit-test", "other"), true, "", "", "more than one key"},
		{"hmac-md5", run(keygen, "-a", "hmac-md5", "old"), true, "", "", "hmac-md5"},
		{"no secret", "key k { algorithm hmac-sha256; };", false, "", "", "no secret"},
		{"no algorithm", `key k { secret "` + secret + `"; };`, false, "", "", "no algorithm"},
		{"secret not base64", `key k { algorithm hmac-sha256; secret "not base64!"; };`, false, "", "", "not base64"},
		{"missing semicolon", `key k { algorithm hmac-sha256; secret "` + secret + `" };`, false, "", "", "does not end with ;"},
		{"unknown option", `key k { algorithm hmac-sha256; secret "` + secret + `"; flavour vanilla; };`, false, "", "", "unknown option"},
		{"not a key file", "options { directory \"/tmp\"; };", true, "", "", "no key statement"},
		{"empty", "", true, "", "", "no key statement"},
		{"unclosed comment", "/* " + sha256, false, "", "", "no key statement"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := testutil.WriteFile(t, t.TempDir(), "tsig.key", []byte(tc.text))
			if out, err := exec.Command(checkconf, path).CombinedOutput(); (err == nil) != tc.bindOK {
				t.Fatalf("named-checkconf accepts it: %v, want %v (%v)\n%s", err == nil, tc.bindOK, err, out)
			}
			k, err := readTSIGKey(path)
			if tc.wantName == "" {
				if err == nil || !strings.Contains(err.Error(), tc.errorSays) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want one naming %s and saying %q", err, path, tc.errorSays)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.name != tc.wantName || k.algorithm != tc.wantAlg || !strings.Contains(tc.text, `"`+k.secret+`"`) {
				t.Errorf("key %+v, want %s %s with the file's secret", k, tc.wantName, tc.wantAlg)
			}
		})
	}
}
