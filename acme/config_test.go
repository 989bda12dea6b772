package acme

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certinit/certinit/internal/owner"
	"golang.org/x/crypto/acme"
)

func TestConfigErrors(t *testing.T) {
	base := func() Config {
		return Config{Domains: []string{"mqtt.example.com"}, Out: "/tmp/x", HTTPAddr: ":80", TLSAddr: ":443"}
	}
	dns01 := func(c *Config) { c.HTTPAddr, c.TLSAddr, c.DNSHook = "", "", "/bin/true" }
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		modify func(c *Config)
		words  string // in the error; "" means valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"no domain", func(c *Config) { c.Domains = nil }, "--domain is required"},
		{"no out", func(c *Config) { c.Out = "" }, "--out is required"},
		{"dotless for ACME", func(c *Config) { c.Domains = []string{"localhost"} }, "local issuer"},
		{"dotless for local", func(c *Config) { c.Domains = []string{"localhost"}; c.Issuer = IssuerLocal }, ""},
		{"IP for ACME", func(c *Config) { c.Domains = []string{"192.0.2.1", "2001:db8::1"} }, ""},
		{"IP for ACME with DNS-01 only", func(c *Config) { dns01(c); c.Domains = []string{"192.0.2.1"} }, "IP address"},
		{"IP for ACME with DNS-01 and a listener", func(c *Config) {
			dns01(c)
			c.HTTPAddr = ":80"
			c.Domains = []string{"192.0.2.1", "mqtt.example.com"}
		}, ""},
		{"IP for local", func(c *Config) { c.Domains = []string{"192.0.2.1", "::1"}; c.Issuer = IssuerLocal }, ""},
		{"wildcard for ACME", func(c *Config) { c.Domains = []string{"*.example.com"} }, "DNS-01"},
		{"wildcard with DNS-01", func(c *Config) { dns01(c); c.Domains = []string{"*.example.com", "example.com"} }, ""},
		{"wildcard for local", func(c *Config) { c.Domains = []string{"*.lan"}; c.Issuer = IssuerLocal }, ""},
		{"wildcard not leftmost", func(c *Config) { dns01(c); c.Domains = []string{"a.*.example.com"} }, "not a valid domain"},
		{"bad name", func(c *Config) { c.Domains = []string{"a b.example.com"} }, "not a valid domain"},
		{"port in name", func(c *Config) { c.Domains = []string{"example.com:8883"} }, "not a valid domain"},
		{"empty label", func(c *Config) { c.Domains = []string{"a..example.com"} }, "empty label"},
		{"empty label, local", func(c *Config) { c.Domains = []string{"a..lan"}; c.Issuer = IssuerLocal }, "empty label"},
		{"leading dot", func(c *Config) { c.Domains = []string{".example.com"} }, "empty label"},
		{"label of 63", func(c *Config) { c.Domains = []string{long[:63] + ".example.com"} }, ""},
		{"label of 64", func(c *Config) { c.Domains = []string{long + ".example.com"} }, "longer than 63"},
		{"label of 64, local", func(c *Config) { c.Domains = []string{long + ".lan"}; c.Issuer = IssuerLocal }, "longer than 63"},
		{"name over 253", func(c *Config) {
			c.Domains = []string{strings.Repeat(long[:62]+".", 4) + "com"}
		}, "longer than 253"},
		{"unknown issuer", func(c *Config) { c.Issuer = "vault" }, "--issuer: must be"},
		{"unknown key type", func(c *Config) { c.KeyType = "ed25519" }, "--key-type: must be"},
		{"no listener", func(c *Config) { c.HTTPAddr, c.TLSAddr = "", "" }, "both challenge listeners"},
		{"no listener, DNS-01", dns01, ""},
		{"bad listener", func(c *Config) { c.HTTPAddr = "80" }, "listener address"},
		{"http directory", func(c *Config) { c.DirectoryURL = "http://ca.example/dir" }, "https://"},
		{"EAB half", func(c *Config) { c.EABKID = "kid" }, "needs both --eab-kid and --eab-hmac"},
		{"EAB not base64", func(c *Config) { c.EABKID, c.EABHMAC = "kid", "!!!" }, "base64url"},
		{"email", func(c *Config) { c.Email = "ops" }, "@"},
		{"negative renew", func(c *Config) { c.RenewBefore = -time.Hour }, "negative"},
		{"renew-before of centuries", func(c *Config) { c.RenewBefore = 50 * 365 * 24 * time.Hour }, "longer than any certificate"},
		{"local validity of centuries", func(c *Config) {
			c.Issuer, c.LocalValidity = IssuerLocal, 100000*24*time.Hour
		}, "longer than the local CA"},
		{"negative DNS timeout", func(c *Config) { dns01(c); c.DNSTimeout = -time.Second }, "negative"},
		{"cache is out", func(c *Config) { c.CacheDir = c.Out }, "must not be the output"},
		{"CA file missing", func(c *Config) { c.ACMECAFile = "/nonexistent/ca.pem" }, "/nonexistent/ca.pem"},
		{"owner negative", func(c *Config) { c.Owner = &owner.Owner{UID: -1, GID: -1} }, "owner"},
		{"hook and RFC 2136", func(c *Config) { dns01(c); c.RFC2136Server, c.RFC2136TSIG = "127.0.0.1:53", "/k" }, "exclude each other"},
		{"cleanup hook alone", func(c *Config) { c.DNSCleanupHook = "/bin/true" }, "needs a DNS hook"},
		{"RFC 2136 without key", func(c *Config) { c.RFC2136Server = "127.0.0.1:53" }, "TSIG key file"},
		{"key without RFC 2136", func(c *Config) { c.RFC2136TSIG = "/k" }, "needs an RFC 2136 server"},
		{"RFC 2136 key file missing", func(c *Config) {
			c.RFC2136Server, c.RFC2136TSIG, c.DNSResolver = "127.0.0.1", "/nonexistent/tsig.key", "127.0.0.1:53"
		}, "/nonexistent/tsig.key"},
		{"bad resolver", func(c *Config) { dns01(c); c.DNSResolver = "a b" }, "HOST:PORT"},
		{"resolver without DNS-01", func(c *Config) { c.DNSResolver = "127.0.0.1:53" }, "is for DNS-01"},
		{"resolver without a port", func(c *Config) { dns01(c); c.DNSResolver = "127.0.0.1" }, ""},
		{"profile for local", func(c *Config) { c.Issuer, c.Profile = IssuerLocal, "shortlived" }, "ACME issuer"},
		{"DNS-01 for local", func(c *Config) { c.Issuer, c.DNSHook = IssuerLocal, "/bin/true" }, "ACME issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.modify(&c)
			_, err := New(c, nil)
			switch {
			case tc.words == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.words != "" && (err == nil || !strings.Contains(err.Error(), tc.words)):
				t.Fatalf("err = %v, want one saying %q", err, tc.words)
			case tc.words != "" && !errors.Is(err, ErrConfig):
				t.Fatalf("err = %v is not ErrConfig", err)
			case tc.words != "" && !strings.Contains(err.Error(), " --"):
				t.Fatalf("err = %v names no option", err)
			}
		})
	}
}

// TestConfigErrorOptions: a configuration error names the option at
// fault in its Option field, and Message writes every option it names the
// way the caller spells its flags (run's --acme- prefix).
func TestConfigErrorOptions(t *testing.T) {
	base := Config{Domains: []string{"mqtt.example.com"}, Out: "/tmp/x", HTTPAddr: ":80"}
	prefixed := func(option string) string { return "--acme-" + option }
	for _, tc := range []struct {
		name    string
		modify  func(c *Config)
		option  string // ConfigError.Option
		message string // Message(prefixed)
	}{
		{"renew-before overflow", func(c *Config) { c.RenewBefore = 300000 * time.Hour },
			"renew-before", "--acme-renew-before: 300000h0m0s is longer than any certificate lives"},
		{"empty label", func(c *Config) { c.Domains = []string{"a..example"} },
			"domain", "--acme-domain: a..example: empty label"},
		{"negative DNS timeout", func(c *Config) { c.DNSTimeout = -time.Second },
			"dns-timeout", "--acme-dns-timeout: -1s is negative"},
		{"two DNS-01 ways", func(c *Config) { c.DNSHook, c.RFC2136Server, c.RFC2136TSIG = "/bin/true", "127.0.0.1:53", "/k" },
			"", "--acme-dns-hook and --acme-dns-rfc2136-server exclude each other"},
		{"percent in a value", func(c *Config) { c.Email = "100%" },
			"email", `--acme-email: "100%" has no @`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.modify(&c)
			_, err := New(c, nil)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *ConfigError", err)
			}
			if ce.Option != tc.option || ce.Message(prefixed) != tc.message {
				t.Errorf("Option %q, Message %q; want %q, %q", ce.Option, ce.Message(prefixed), tc.option, tc.message)
			}
		})
	}
}

func TestNormalizeNames(t *testing.T) {
	got, err := normalizeNames([]string{"MQTT.Example.COM.", "mqtt.example.com", "bücher.example", "::1", "*.lan", "2001:DB8::0:1"}, nameRules{local: true})
	want := []string{"mqtt.example.com", "xn--bcher-kva.example", "::1", "*.lan", "2001:db8::1"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v %v, want %v", got, err, want)
	}
}

func TestDefaults(t *testing.T) {
	iss, err := New(Config{Domains: []string{"a.example"}, Out: "rel/out", TLSAddr: ":443"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := iss.(*ACMEIssuer).cfg
	if c.DirectoryURL != LetsEncryptURL || c.KeyType != KeyECDSA || c.RenewBefore != 0 || c.DNSTimeout != DefaultDNSTimeout ||
		!strings.HasSuffix(c.CacheDir, "/rel/out.cache") || !strings.HasPrefix(c.Out, "/") {
		t.Fatalf("defaults: %+v", c)
	}
	if got := directoryID(LetsEncryptStagingURL); got != "acme-staging-v02.api.letsencrypt.org_directory" {
		t.Errorf("directoryID = %q", got)
	}
}

// TestClassify covers the error kinds Pebble cannot produce (it has no
// rate limits): the CA's problem document decides the kind.
func TestClassify(t *testing.T) {
	is := &ACMEIssuer{cfg: Config{DirectoryURL: "https://ca.example/dir", HTTPAddr: ":80", Domains: []string{"mqtt.example.com"}}}
	tests := []struct {
		name  string
		err   error
		kind  error
		words string
	}{
		{"rate limited", &acme.Error{StatusCode: 429, ProblemType: "urn:ietf:params:acme:error:rateLimited",
			Detail: "too many certificates", Header: http.Header{"Retry-After": {"3600"}}}, ErrRateLimited, "retry after 1h0m0s"},
		{"account", &acme.Error{StatusCode: 400, ProblemType: "urn:ietf:params:acme:error:invalidContact",
			Detail: "bad email"}, ErrAccount, "contact address"},
		{"account registration", errAccount{errors.New("boom")}, ErrAccount, "boom"},
		{"CAA", &acme.Error{StatusCode: 403, ProblemType: "urn:ietf:params:acme:error:caa",
			Detail: "CAA forbids"}, ErrChallenge, "CAA forbids"},
		{"nonces rejected", &acme.Error{StatusCode: 400, ProblemType: "urn:ietf:params:acme:error:badNonce",
			Detail: "JWS has an invalid anti-replay nonce"}, ErrCAFailure, "https://ca.example/dir: the ACME CA failed the request"},
		{"server error", &acme.Error{StatusCode: 503, Detail: "down for maintenance"}, ErrCAFailure, "not in this configuration"},
		{"order failed", &acme.OrderError{Status: "invalid", Problem: &acme.Error{StatusCode: 500, Detail: "CA broke"}}, ErrCAFailure, "CA broke"},
		{"other", errors.New("boom"), nil, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := is.classify(context.Background(), tc.err, &roundTransport{})
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("%v is not %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.words) {
				t.Errorf("%v does not say %q", err, tc.words)
			}
		})
	}
	invalid := &acme.Error{StatusCode: 400, ProblemType: "urn:ietf:params:acme:error:invalidProfile", Detail: `Order includes unrecognized profile name "bogus"`}
	is.cfg.Profile = "bogus"
	if err := is.classify(context.Background(), invalid, &roundTransport{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("the CA's invalidProfile: %v, want a configuration error naming the profile", err)
	}
}
