package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/certinit/certinit/internal/testutil"
)

// TestEmbedHeader: --header writes the declarations to FILE and the
// source includes it.
func TestEmbedHeader(t *testing.T) {
	dir := t.TempDir()
	caFile := testutil.WriteFile(t, dir, "ca.pem", testutil.CertPEM(testutil.NewCA(t, "Header CA").Cert))
	header := filepath.Join(dir, "broker_ca.h")
	code, out, errOut := runCLI(t, "embed", "--name", "broker_ca", "--header", header, caFile)
	if code != 0 || !strings.Contains(out, `#include "broker_ca.h"`) {
		t.Fatalf("embed --header: exit %d\n%s%s", code, out, errOut)
	}
	h := string(testutil.ReadFile(t, header))
	for _, want := range []string{"extern const char broker_ca[];", "extern const size_t broker_ca_len;", `extern "C"`, "#ifndef CERTINIT_EMBED_BROKER_CA_H"} {
		if !strings.Contains(h, want) {
			t.Errorf("header lacks %q:\n%s", want, h)
		}
	}
}
