// Package packaging holds no code: its tests check how certinit ships, not
// what the shipped commands do (cmd/certinit and the packages test that). The
// Dockerfile's build command must produce a static binary, its stages must
// reference only stages and files that exist, and that binary alone in an
// otherwise empty root (the scratch-image case) must build a working trust
// store and hash directory.
package packaging
