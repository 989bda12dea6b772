package testutil

// Scale picks an iteration count for hardening tests: the short count in
// `make test`, the long one under `make stress` (go test -tags stress).
func Scale(short, long int) int {
	if stress {
		return long
	}
	return short
}
