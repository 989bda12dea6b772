package pebbletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// profiles is the "profiles" object of Pebble's configuration.
func (s *Server) profiles() map[string]any {
	ps := s.opts.Profiles
	if ps == nil {
		ps = map[string]time.Duration{"default": s.opts.Validity}
	}
	out := map[string]any{}
	for name, validity := range ps {
		out[name] = map[string]any{
			"description":    fmt.Sprintf("certificates valid for %s", validity),
			"validityPeriod": int(validity / time.Second),
		}
	}
	return out
}

// SetRenewalInfo makes Pebble answer every later renewal information
// (ARI) request about the certificate in certPEM with ariJSON, verbatim,
// through its management API.
func (s *Server) SetRenewalInfo(t testing.TB, certPEM []byte, ariJSON string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"certificate": string(certPEM), "ariResponse": ariJSON})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tlsConf}, Timeout: 5 * time.Second}
	resp, err := client.Post("https://"+s.mgmt+"/set-renewal-info/", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("pebble management API: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("pebble set-renewal-info: %s %s", resp.Status, msg)
	}
}
