// Package bindtest runs a real BIND 9 name server (Debian's named) for
// certinit's DNS-01 tests: primary zones on 127.0.0.1 and a random port,
// a TSIG key made by tsig-keygen that may add and delete TXT records in
// every zone (RFC 2136), and the real dig and nsupdate to look at and
// change them. Every name in a zone resolves to 127.0.0.1, so a Pebble that
// resolves through it (pebbletest.Options.DNSServer) validates HTTP-01 and
// TLS-ALPN-01 as well as DNS-01.
//
// It is imported only from _test.go files, never from certinit's own code,
// and it is not a stand-in for a name server: what it runs is BIND.
package bindtest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/testutil"
	"github.com/miekg/dns"
)

// DefaultKeyName is the name of the TSIG key Start makes.
const DefaultKeyName = "certinit-test"

// Options shape one BIND.
type Options struct {
	// Zones are the primary zones, each with a SOA, "NS ns.ZONE.", and
	// A 127.0.0.1 for ns.ZONE and for every other name (a wildcard).
	Zones []string
	// Records are more zone-file lines, with absolute owner names, each
	// added to the zone it ends in: e.g.
	// "_acme-challenge.alias.example.test. CNAME alias.acme.test.".
	Records []string
	// KeyFile, when set, is the TSIG key file to use (an example's own),
	// holding the key KeyName; by default tsig-keygen makes one named
	// DefaultKeyName.
	KeyFile, KeyName string
	// Recursion lets 127.0.0.1 ask with recursion desired, which BIND
	// needs to follow a CNAME from one of its zones into another (Pebble
	// asks that way). Names outside the zones then time out instead of
	// being refused.
	Recursion bool
}

// Server is a running named.
type Server struct {
	Addr    string // 127.0.0.1:PORT, UDP and TCP
	Port    int
	KeyFile string // the TSIG key, in BIND's format (Options.KeyFile, or made by tsig-keygen)
	Dir     string
}

// Start writes the configuration, starts named in the foreground and waits
// until it answers for every zone; t.Cleanup stops it.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	named := testutil.RequireTool(t, "named")
	s := &Server{Dir: t.TempDir(), Port: testutil.FreeUDPAndTCPPort(t)}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.Port)
	if o.KeyFile == "" {
		key, err := exec.Command(testutil.RequireTool(t, "tsig-keygen"), "-a", "hmac-sha256", DefaultKeyName).Output()
		if err != nil {
			t.Fatalf("tsig-keygen: %v", err)
		}
		o.KeyFile, o.KeyName = testutil.WriteFile(t, s.Dir, "tsig.key", key), DefaultKeyName
	}
	s.KeyFile = o.KeyFile
	conf := s.namedConf(o)
	for _, z := range o.Zones {
		testutil.WriteFile(t, s.Dir, z+".zone", []byte(zoneFile(z, o.Records)))
	}
	confPath := testutil.WriteFile(t, s.Dir, "named.conf", []byte(conf))
	if out, err := exec.Command(testutil.RequireTool(t, "named-checkconf"), "-z", confPath).CombinedOutput(); err != nil {
		t.Fatalf("named-checkconf: %v\n%s", err, out)
	}
	out := &testutil.Buffer{}
	cmd := exec.Command(named, "-g", "-c", confPath)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start named: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("named output:\n%s", out.Tail(8000))
		}
	})
	s.waitReady(t, o.Zones, out)
	return s
}

// waitReady waits until named answers each zone's SOA.
func (s *Server) waitReady(t testing.TB, zones []string, out *testutil.Buffer) {
	t.Helper()
	for _, z := range zones {
		testutil.Eventually(t, 30*time.Second, func() (bool, string) {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(z), dns.TypeSOA)
			r, _, err := (&dns.Client{Net: "tcp", Timeout: time.Second}).Exchange(m, s.Addr)
			if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
				return true, ""
			}
			return false, fmt.Sprintf("named does not answer for %s: %v %v\n%s", z, err, r, out.Tail(4000))
		})
	}
}

func (s *Server) namedConf(o Options) string {
	var b strings.Builder
	recursion := "recursion no;"
	if o.Recursion {
		recursion = "recursion yes;\n\tallow-recursion { 127.0.0.1; };"
	}
	fmt.Fprintf(&b, `include "%s";
options {
	directory "%s";
	pid-file none;
	session-keyfile none;
	managed-keys-directory "%[2]s";
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	%s
	dnssec-validation no;
	notify no;
};
controls { };
`, s.KeyFile, s.Dir, s.Port, recursion)
	for _, z := range o.Zones {
		fmt.Fprintf(&b, `zone "%s" {
	type primary;
	file "%s";
	update-policy { grant %s zonesub TXT; };
};
`, z, filepath.Join(s.Dir, z+".zone"), o.KeyName)
	}
	return b.String()
}

// zoneFile is a zone in which every name is 127.0.0.1, plus the records
// of extra that end in it (the longest zone wins, which tests do not need).
func zoneFile(zone string, extra []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$TTL 60\n$ORIGIN %s.\n@ IN SOA ns.%[1]s. hostmaster.%[1]s. 1 3600 600 86400 60\n@ IN NS ns.%[1]s.\nns IN A 127.0.0.1\n* IN A 127.0.0.1\n", zone)
	for _, r := range extra {
		owner := strings.Fields(r)[0]
		if dns.IsSubDomain(dns.Fqdn(zone), dns.Fqdn(owner)) {
			b.WriteString(r + "\n")
		}
	}
	return b.String()
}

// TXT asks the server with the real dig, without recursion, for the TXT
// values at name.
func (s *Server) TXT(t testing.TB, name string) []string {
	t.Helper()
	out, err := exec.Command(testutil.RequireTool(t, "dig"), "@127.0.0.1", "-p", strconv.Itoa(s.Port),
		"+norec", "+short", "+tcp", name, "TXT").CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s TXT: %v\n%s", name, err, out)
	}
	var vals []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			vals = append(vals, strings.Trim(l, `"`))
		}
	}
	return vals
}

// Update runs the real nsupdate with the key: lines such as
// "update add NAME 60 TXT VALUE" (server, send and the key are added).
func (s *Server) Update(t testing.TB, lines ...string) {
	t.Helper()
	script := fmt.Sprintf("server 127.0.0.1 %d\n%s\nsend\n", s.Port, strings.Join(lines, "\n"))
	cmd := exec.CommandContext(context.Background(), testutil.RequireTool(t, "nsupdate"), "-k", s.KeyFile)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate: %v\n%s\n%s", err, script, out)
	}
}
