// Package demotest holds no code: its tests keep the scripts a new user runs
// first from rotting. They run scripts/demo.sh (`make demo`) for real with a
// freshly built certinit, Mosquitto and openssl, and require it to pass and
// to narrate every step; they run it once more with a broker that cannot
// start and require it to fail loudly, naming the step, and clean up. They
// also check that every benchmark script (scripts/bench.sh, bench/*.sh)
// parses, and run scripts/bench.sh on its one cheap script to check the
// table's form; `make bench` itself takes too long for `make test`.
//
// It is not a place for tests of certinit's commands: those live with the
// packages and in cmd/certinit.
package demotest
