package main

import (
	"fmt"
	"io"

	"github.com/certinit/certinit/internal/pemfile"
)

// readAllLimited reads standard input with the same bound as files.
func readAllLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, pemfile.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("standard input: %w", err)
	}
	if len(data) > pemfile.MaxFileSize {
		return nil, fmt.Errorf("standard input: larger than %d MiB", pemfile.MaxFileSize>>20)
	}
	return data, nil
}
