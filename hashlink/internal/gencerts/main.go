// Command gencerts writes N CA certificates, one PEM file each, for the
// rehash benchmark (bench/10-rehash.sh): realistic subjects (country,
// organisation, common name), about one in a hundred sharing the subject of
// the one before so that hash collisions (HASH.1) occur as in real bundles.
// One P-256 key signs and is the subject key of all of them: the benchmark
// measures hashing and linking, for which the key does not matter, and a
// key per certificate would make generating them the slow part.
//
//	go run ./hashlink/internal/gencerts -n 10000 -out DIR
//
// It is a fixture generator for the benchmark, not part of certinit: the
// certificates are for hashing and linking, not for trusting.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	cg "github.com/certinit/certinit/hashlink/internal/certgen"
)

func main() {
	n := flag.Int("n", 10000, "number of certificates")
	out := flag.String("out", "", "directory to create and fill")
	shared := flag.Int("share-every", 100, "every Nth certificate repeats the previous subject")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gencerts: -out is required")
		os.Exit(2)
	}
	if err := run(*n, *shared, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencerts:", err)
		os.Exit(1)
	}
}

var countries = []string{"US", "DE", "FR", "JP", "CN", "GB", "ES", "IT", "NL", "CH"}

func run(n, shareEvery int, out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	signer, err := cg.NewSigner()
	if err != nil {
		return err
	}
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				subj := i
				if shareEvery > 0 && i%shareEvery == shareEvery-1 {
					subj = i - 1 // same subject as the previous certificate
				}
				name := cg.Name(
					cg.Simple(cg.OIDCountry, cg.TagPrintableString, countries[subj%len(countries)]),
					cg.Simple(cg.OIDOrganization, cg.TagUTF8String, fmt.Sprintf("Benchmark Trust Services %d", subj)),
					cg.Simple(cg.OIDCommonName, cg.TagUTF8String, fmt.Sprintf("Benchmark Root CA %06d", subj)),
				)
				der, err := signer.Certificate(cg.Cert{Subject: name, Serial: int64(i + 1), IsCA: true})
				if err == nil {
					path := filepath.Join(out, fmt.Sprintf("Benchmark_Root_CA_%06d.crt", i))
					err = os.WriteFile(path, cg.PEM("CERTIFICATE", der), 0o644)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
