package runner

import (
	"context"
	"crypto/x509"
	"errors"
	"path/filepath"
	"slices"

	"github.com/certinit/certinit/acme"
	"github.com/certinit/certinit/metrics"
	"github.com/certinit/certinit/probe"
	"github.com/certinit/certinit/reload"
)

// What run reports through package metrics: the certificates it manages,
// and its events mapped to the metrics' fixed sets of words. Every path
// label is absolute and clean (absPath), the form the broker's own files
// get too, so that a certificate served from a file and that file share
// their path label whatever way each was written.

// newMonitor returns the run's Monitor, or nil without --metrics-addr: then
// nothing is registered or collected, and the nil Monitor records nothing.
// It serves nothing by itself: Run starts its listener.
func (s *state) newMonitor() *metrics.Monitor {
	if s.cfg.MetricsAddr == "" {
		return nil
	}
	return metrics.New(metrics.Options{Version: s.cfg.Version, Certs: append(s.fileCerts(), s.servedCerts()...),
		MinValidity: s.cfg.ReadyMinValidity, ACME: s.issuer != nil, Log: s.log})
}

// newExpiry returns what logs the expiry warnings, which run gives with or
// without metrics.
func (s *state) newExpiry() *metrics.Expiry {
	return metrics.NewExpiry(s.expiryCerts(), s.cfg.ReadyMinValidity, s.log)
}

// expiryCerts are the certificates the expiry warnings look at: the files,
// and what the broker serves only when metrics are served. A look at what
// it serves costs a handshake with the broker (and a connection in its
// log) every hour and after every reload, and the files hold what the
// broker loaded at its last reload.
func (s *state) expiryCerts() []metrics.Cert {
	if s.mon == nil {
		return s.fileCerts()
	}
	return append(s.fileCerts(), s.servedCerts()...)
}

// fileCerts are the certificate files run manages: the pair's certificate
// and chain files, the copy the broker loads and the --trust files.
func (s *state) fileCerts() []metrics.Cert {
	var certs []metrics.Cert
	add := func(role metrics.Role, path string) {
		if path != "" {
			certs = append(certs, metrics.Cert{Role: role, Path: absPath(path)})
		}
	}
	add(metrics.RoleCert, s.files.Cert)
	add(metrics.RoleChain, s.files.Chain)
	if s.cfg.CopyTo != "" && s.files.Cert != "" {
		add(metrics.RoleCopy, filepath.Join(s.cfg.CopyTo, filepath.Base(s.files.Cert)))
	}
	for _, p := range s.cfg.Trust {
		add(metrics.RoleTrust, p)
	}
	return certs
}

// servedCerts are the listeners of the broker's mosquitto.conf (read
// once, by watchBroker) that serve a certificate, each read through a
// handshake where a local client dials it (mosquittoconf's Endpoints),
// under the path of its certfile. Listeners that share a certfile are
// read once.
func (s *state) servedCerts() []metrics.Cert {
	if s.broker == nil {
		return nil
	}
	var certs []metrics.Cert
	for _, e := range s.broker.Endpoints() {
		if e.Listener == nil {
			continue
		}
		certfile, ok := e.Listener.ServedCert()
		path := absPath(certfile.Value)
		if !ok || slices.ContainsFunc(certs, func(c metrics.Cert) bool { return c.Path == path }) {
			continue
		}
		certs = append(certs, metrics.Cert{Role: metrics.RoleServed, Path: path,
			Served: func(ctx context.Context) ([]*x509.Certificate, error) { return probe.ServedChain(ctx, e.Addr, "") }})
	}
	return certs
}

// reportReload hands a reload's outcome to the Monitor.
func (s *state) reportReload(o reload.Outcome) {
	action := map[reload.Action]metrics.Action{
		reload.Nothing: metrics.ActionNone,
		reload.Signal:  metrics.ActionSignal,
		reload.Restart: metrics.ActionRestart,
	}[o.Action]
	switch {
	case o.Refused != nil:
		s.mon.ReloadRefused(refusal(o))
	case o.Failed != nil:
		s.mon.ReloadFailed(action)
	default:
		s.mon.Reloaded(action)
		s.expiry.Recheck() // the new certificate may be short already
	}
}

// refusal is why a change was refused, in the metrics' words: the kind
// of the refusal, which its log record carries too.
func refusal(o reload.Outcome) metrics.Reason { return metrics.Reason(o.Kind()) }

// reportRenewal hands an attempt of the renewal loop to the Monitor (nil
// without metrics, and in Init, which renews nothing).
func (s *state) reportRenewal(a acme.Attempt) {
	switch {
	case a.Err != nil:
		s.mon.RenewalFailed(renewalFailure(a.Err), a.Next)
	case a.Renewed:
		s.mon.Renewed(a.Next)
	default:
		s.mon.NextRenewal(a.Next)
	}
}

// renewalFailure is why a renewal failed, in the metrics' words: the kind
// of acme's error.
func renewalFailure(err error) metrics.RenewalReason {
	for _, k := range []struct {
		kind   error
		reason metrics.RenewalReason
	}{
		{acme.ErrCAUnreachable, metrics.RenewalCAUnreachable},
		{acme.ErrRateLimited, metrics.RenewalRateLimited},
		{acme.ErrChallenge, metrics.RenewalChallenge},
		{acme.ErrAccount, metrics.RenewalAccount},
		{acme.ErrCAFailure, metrics.RenewalCAFailure},
	} {
		if errors.Is(err, k.kind) {
			return k.reason
		}
	}
	return metrics.RenewalOther
}
