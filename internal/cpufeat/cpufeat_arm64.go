//go:build gc && !purego

package cpufeat

import "golang.org/x/sys/cpu"

// Supported reports whether this CPU (and build) can run family i.
func Supported(i Impl) bool {
	switch i {
	case Generic:
		return true
	case NEON:
		return cpu.ARM64.HasASIMD
	}
	return false
}

func avx2OutOfCache() bool { return false }
