// Package examples holds the tests that exercise every file under
// examples/: the Mosquitto configurations are checked with `certinit check`
// and started with the real broker, the Compose and Kubernetes manifests
// and the READMEs' command lines are held against the flags certinit
// actually has, the mbedTLS snippet is compiled and run against
// `certinit embed` output, and the examples' containers run for real on
// 127.0.0.1 under a temporary root: the bridge and the brokers fed by
// certbot or a Kubernetes Secret through a renewal, the Kubernetes init
// container into a shared volume, and the brokers whose certinit orders
// its own certificate against Pebble standing in for Let's Encrypt.
//
// It has no code of its own and is not for importing; the examples are
// documentation, and these tests keep that documentation true.
package examples
