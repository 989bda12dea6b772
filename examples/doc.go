// Package examples holds the tests that exercise every file under
// examples/: the Mosquitto configurations are checked with `certinit check`
// and started with the real broker, the Compose and Kubernetes manifests
// and the READMEs' command lines are held against the flags certinit
// actually has, the mbedTLS snippet is compiled and run against
// `certinit embed` output, and the bridge example runs for real on
// 127.0.0.1 through a certificate renewal.
//
// It has no code of its own and is not for importing; the examples are
// documentation, and these tests keep that documentation true.
package examples
