// Package truststore manages the operating system's CA trust store of an OS
// tree under a root directory ("/" for the running system, a temporary
// directory for image builds and tests): it installs, removes, lists and
// rebuilds CA certificates the way the distribution's own tool would, so
// that the tool run afterwards finds nothing to change.
//
// Layouts are a data table (layout.go): debian (Debian, Ubuntu; also the
// layout created in an empty root such as scratch or distroless), alpine,
// rhel (Fedora, RHEL, Amazon Linux), suse, arch, and dir:PATH, a plain
// directory with one file per certificate, OpenSSL hash links and a bundle
// under a name rehash does not read, for a server's capath (a bundle found
// there is split, see dirstore.go). "auto" picks one from etc/os-release
// and the directories present.
//
// The API, as the CLI and `certinit run` use it:
//
//	s, err := truststore.Open(root, "auto", log)          // reads, changes nothing
//	rep, err := s.Install(ctx, []string{"chain.pem"}, truststore.InstallOptions{})
//	rep, err = s.Remove(ctx, []string{"My_CA-1a2b3c4d"})  // NAME or FILE
//	certs, err := s.List(ctx)                              // bundle order
//	rep, err = s.Rebuild(ctx, false)                       // update-ca-certificates
//
// Install reads and checks every input before it writes anything: garbage,
// truncated PEM, keys and leaf certificates (unless AllowNonCA) are errors
// that name the file, and the store stays byte-for-byte as it was. Each
// certificate becomes one file named after it (CN plus a fingerprint
// prefix), so a second install is a no-op. Writes go through
// internal/atomicfile (never through a planted symlink); links are changed
// in an order that keeps every link resolving, and the bundle is replaced
// by rename, so a crash at any moment leaves a consistent store that the
// next run completes. Before its first write Install also checks that the
// managed directories are writable, that no link or directory sits where
// it writes a file, and that the file system has room: a read-only mount,
// a planted bundle link or a full disk is one error and no change. Files
// found in managed directories are read only if they are regular and at
// most 64 MiB (a FIFO named x.pem cannot hang a run); a directory loop
// among Debian's local certificates is entered once.
//
// Install also refuses what OpenSSL would not trust through: every
// certificate it installs must chain to a self-signed root in the store
// it leaves (package verify decides, with OpenSSL's rules). A missing
// root that is in the Mozilla set certinit carries, and that the store's
// configuration does not disable, is installed beside the certificate;
// otherwise the error names the missing root, unless AllowPartialChain
// (chain.go).
//
// Every operation works in two steps: it plans each managed directory
// in memory (vdir.go: the links and files it should hold, with Debian's
// absolute link targets resolved inside the root, never on the host), then
// applies the plan. The hash links in the plan are what `openssl rehash`
// makes, decided by package hashlink's Planner, the same rules `certinit
// rehash` uses. More than 256 certificates with one subject hash: the
// links are made as openssl rehash makes them (the certificates beyond 256
// get none), the bundle stays as it was and the operation fails naming
// each such certificate, as update-ca-certificates fails when its openssl
// rehash does.
//
// Operations that write hold the root's lock and the lock of each
// directory with hash links (internal/dirlock; the order is in lock.go),
// so that concurrent runs, and `certinit rehash` on such a directory, take
// turns without leaving a lock file.
//
// Not for: private keys, CRL management, Java keystores or NSS databases,
// and not for deciding whether a chain verifies (see package verify).
package truststore
