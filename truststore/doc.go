// Package truststore manages the operating system's CA trust store of an OS
// tree under a root directory ("/" for the running system, a temporary
// directory for image builds and tests): it installs, removes, lists and
// rebuilds CA certificates the way the distribution's own tool would, so
// that the tool run afterwards finds nothing to change.
//
// Layouts are a data table (layout.go): debian (Debian, Ubuntu; also the
// layout created in an empty root such as scratch or distroless), alpine,
// rhel (Fedora, RHEL, Amazon Linux), suse, arch, and dir:PATH, a plain
// directory with one file per certificate, OpenSSL hash links and a bundle,
// for a server's capath. "auto" picks one from etc/os-release and the
// directories present.
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
// next run completes. An flock on the root directory serialises concurrent
// runs without leaving a lock file. Before its first write Install also
// checks that the managed directories are writable, that no link or
// directory sits where it writes a file, and that the file system has
// room: a read-only mount, a planted bundle link or a full disk is one
// error and no change. Files found in managed directories are read only
// if they are regular and at most 64 MiB (a FIFO named x.pem cannot hang a
// run); a directory loop among Debian's local certificates is entered
// once; more than 256 certificates with one subject hash get HASH.0 to
// HASH.255, as openssl rehash makes, and a warning.
//
// Start-up speed shapes the reading and writing (see ahead.go and
// docs/run.md, "Measured"): the sources are kept as DER and parsed by
// crypto/x509 only when a report asks, read relative to their directory
// with raw system calls, and Install stages its new files and the bundle
// (written and fsynced under temporary names) while it reads the store and
// makes the links, renaming them in the same order as it always did.
//
// Hash links follow `openssl rehash` exactly (computed with package
// hashlink); they are planned here rather than by hashlink.Rehash because
// Debian's links are absolute paths that resolve only inside the root.
//
// Not for: private keys, CRL management, Java keystores or NSS databases,
// and not for deciding whether a chain verifies (see probe).
package truststore
