//go:build (!amd64 && !arm64) || !gc || purego

package cpufeat

// Supported reports whether this CPU (and build) can run family i: only
// Generic without assembly.
func Supported(i Impl) bool { return i == Generic }

func avx2OutOfCache() bool { return false }
