//go:build purego

package kerneltest

// Purego reports whether the tests were built with the purego tag (only
// the generic family runs).
const Purego = true
