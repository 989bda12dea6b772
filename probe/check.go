package probe

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/certinit/certinit/internal/pemfile"
	"github.com/certinit/certinit/internal/safetext"
	"github.com/certinit/certinit/internal/userfile"
	"github.com/certinit/certinit/verify"
)

// CheckOptions configure Check. At least one of CertFile or MosquittoConf
// is needed.
type CheckOptions struct {
	CertFile, KeyFile string
	CAFile, CAPath    string        // verify CertFile's chain against these
	MinValidity       time.Duration // a certificate must stay valid this long
	MosquittoConf     string        // check every file this configuration names
	Log               *slog.Logger

	now time.Time // tests; zero means time.Now
}

// Problem is one thing Check found: the file to fix (the configuration
// file and line when a mosquitto.conf named the path) and what is wrong.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Msg  string `json:"message"`
}

// String is the problem's line of check's output: "FILE[:LINE]: problem",
// file and problem escaped (safetext.Quote) so that each stays one line.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", safetext.Quote(p.File), p.Line, safetext.Quote(p.Msg))
	}
	return fmt.Sprintf("%s: %s", safetext.Quote(p.File), safetext.Quote(p.Msg))
}

// Check is a local health check: the certificate and key given, and every
// certificate, key and CA path a mosquitto.conf names. It returns every
// problem found; the error is for a check that could not run at all.
func Check(opts CheckOptions) ([]Problem, error) {
	if opts.CertFile == "" && opts.KeyFile == "" && opts.MosquittoConf == "" && opts.CAFile == "" && opts.CAPath == "" {
		return nil, errors.New("nothing to check: give --cert/--key, --cafile/--capath or --mosquitto-conf")
	}
	if opts.KeyFile != "" && opts.CertFile == "" {
		return nil, errors.New("--key needs --cert")
	}
	ck := &checkRun{now: opts.now, minValidity: opts.MinValidity, log: opts.Log}
	if ck.now.IsZero() {
		ck.now = time.Now()
	}
	if ck.log == nil {
		ck.log = slog.New(slog.DiscardHandler)
	}
	ck.mozilla = newRootSet(ck.log)
	if opts.CertFile != "" || opts.CAFile != "" || opts.CAPath != "" {
		ck.checkFlags(opts)
	}
	if opts.MosquittoConf != "" {
		ck.checkMosquitto(opts.MosquittoConf)
	}
	ck.sort()
	return ck.problems, nil
}

// checkRun collects problems.
type checkRun struct {
	now         time.Time
	minValidity time.Duration
	log         *slog.Logger
	mozilla     rootSet // for the root a trusted intermediate lacks
	problems    []Problem
	fileOrder   map[string]int // configuration files in reading order
}

// sort orders problems as the files were read (flags first), then by line.
func (ck *checkRun) sort() {
	rank := func(p Problem) int {
		if r, ok := ck.fileOrder[p.File]; ok {
			return r + 1
		}
		return 0
	}
	sort.SliceStable(ck.problems, func(i, j int) bool {
		a, b := ck.problems[i], ck.problems[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		return rank(a) > 0 && a.Line < b.Line
	})
}

// origin is where a path came from: a flag (file = the path itself) or a
// configuration line (file:line, and the option name to quote).
type origin struct {
	file   string
	line   int
	option string // "certfile /etc/x.pem" for configuration lines, "" for flags
}

func flagOrigin(path string) origin { return origin{file: path} }

// add records a problem. Messages about a file start with its path
// ("PATH: reason", as every read error does): for a configuration line the
// option comes first, for a flag the problem's File is that path already,
// so the message does not say it again.
func (ck *checkRun) add(o origin, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if o.option != "" {
		msg = o.option + ": " + msg
	} else {
		msg = strings.TrimPrefix(msg, o.file+": ")
	}
	ck.problems = append(ck.problems, Problem{File: o.file, Line: o.line, Msg: msg})
}

// checkFlags checks --cert/--key and --cafile/--capath.
func (ck *checkRun) checkFlags(opts CheckOptions) {
	var certs []*x509.Certificate
	if opts.CertFile != "" {
		certs = ck.certificates(flagOrigin(opts.CertFile), opts.CertFile, nil, true)
		if opts.KeyFile != "" {
			key := ck.key(flagOrigin(opts.KeyFile), opts.KeyFile, nil)
			ck.pair(flagOrigin(opts.KeyFile), certs, key, opts.CertFile)
		}
	}
	if opts.CAFile == "" && opts.CAPath == "" {
		ck.forTLS(flagOrigin(opts.CertFile), certs)
		return
	}
	tf := trustFiles{cafile: opts.CAFile, capath: opts.CAPath, caOrigin: flagOrigin(opts.CAFile), pathOrigin: flagOrigin(opts.CAPath),
		caName: "--cafile", pathName: "--capath"}
	if tr := ck.trustSet(tf, nil); tr != nil && len(certs) > 0 {
		ck.chain(flagOrigin(opts.CertFile), certs, tr)
	}
}

// readable checks that path exists and, when acct is set, that the
// broker's account may read it. It returns whether the check itself can go
// on reading the file: a file the broker cannot read is still examined.
func (ck *checkRun) readable(o origin, path string, acct *account) bool {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			ck.add(o, "%s: does not exist", path)
		} else {
			ck.add(o, "%v", userfile.PathError(path, err))
		}
		return false
	}
	if acct != nil {
		if err := acct.canAccess(path); err != nil {
			ck.add(o, "%s: %v; mosquitto reads it after dropping privileges to that user", path, err)
		}
	}
	return true
}

// certificates reads a certificate file and checks the dates of every
// certificate in it (leaf: also --min-validity).
func (ck *checkRun) certificates(o origin, path string, acct *account, leafFirst bool) []*x509.Certificate {
	if !ck.readable(o, path, acct) {
		return nil
	}
	certs, err := pemfile.ReadCertificates(path)
	if err != nil {
		ck.add(o, "%v", err)
		return nil
	}
	ck.dates(o, certs, leafFirst)
	if leafFirst {
		ck.loads(o, path, certs)
	}
	return certs
}

// dates checks the dates of certificates read from one file (leaf: also
// --min-validity).
func (ck *checkRun) dates(o origin, certs []*x509.Certificate, leafFirst bool) {
	for i, c := range certs {
		what := fmt.Sprintf("certificate %q", shortName(c))
		if i > 0 && leafFirst {
			what = fmt.Sprintf("intermediate %q", shortName(c))
		}
		switch {
		case ck.now.Before(c.NotBefore):
			ck.add(o, "%s is not valid before %s (%s from now): check the clocks", what, c.NotBefore.UTC().Format(time.RFC3339), humanDuration(c.NotBefore.Sub(ck.now)))
		case ck.now.After(c.NotAfter):
			ck.add(o, "%s expired at %s (%s ago)", what, c.NotAfter.UTC().Format(time.RFC3339), humanDuration(ck.now.Sub(c.NotAfter)))
		case i == 0 && leafFirst && c.NotAfter.Sub(ck.now) < ck.minValidity:
			ck.add(o, "%s expires at %s, in %s: less than --min-validity %s", what, c.NotAfter.UTC().Format(time.RFC3339), humanDuration(c.NotAfter.Sub(ck.now)), ck.minValidity)
		}
	}
}

// loads reports a certificate file (leaf first) that OpenSSL, at the
// security level Mosquitto runs it at, refuses to load (verify.CheckLoad):
// Mosquitto then says "Unable to load server certificate" and does not
// start, or does not take the file on SIGHUP.
func (ck *checkRun) loads(o origin, path string, certs []*x509.Certificate) {
	err := verify.CheckLoad(certs, verify.MosquittoSecurityLevel)
	var ve *verify.Error
	if !errors.As(err, &ve) {
		if err != nil {
			ck.add(o, "%s: %v", path, err)
		}
		return
	}
	what := fmt.Sprintf("certificate %q", shortName(ve.Cert))
	if ve.Depth > 0 {
		what = fmt.Sprintf("intermediate %q", shortName(ve.Cert))
	}
	weak := fmt.Sprintf("the key of %s (%s)", what, pemfile.KeyDescription(ve.Cert.PublicKey))
	if ve.Code == verify.CAMDTooWeak {
		weak = fmt.Sprintf("the signature of %s (%s)", what, ve.Cert.SignatureAlgorithm)
	}
	ck.add(o, "%s: %s is too weak for OpenSSL at security level %d (Debian's default, as Mosquitto runs it): Mosquitto refuses to load this file (OpenSSL: %s); issue it again with an RSA key of 2048 bits or more (or ECDSA) and a SHA-256 signature",
		path, weak, verify.MosquittoSecurityLevel, ve.Code)
}

// key reads a private key and checks that not everyone can read it.
func (ck *checkRun) key(o origin, path string, acct *account) crypto.Signer {
	if !ck.readable(o, path, acct) {
		return nil
	}
	if world, mode := worldReadable(path); world {
		what := "the private key"
		if o.option != "" {
			what = path
		}
		ck.add(o, "%s is readable by every user (mode %04o): chmod 600, or 640 with the broker's group", what, mode)
	}
	k, err := pemfile.ReadKey(path)
	if err != nil {
		ck.add(o, "%v", err)
		return nil
	}
	return k
}

// pair checks that key belongs to the first certificate.
func (ck *checkRun) pair(o origin, certs []*x509.Certificate, key crypto.Signer, certPath string) {
	if len(certs) == 0 || key == nil {
		return
	}
	if !pemfile.KeyMatches(certs[0], key) {
		ck.add(o, "key does not match the certificate %q in %s", shortName(certs[0]), certPath)
	}
}
