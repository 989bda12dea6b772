//go:build !stress

package testutil

const stress = false
