//go:build gc && !purego

package cpufeat

import "golang.org/x/sys/cpu"

func hasAVX512VNNI() bool { return false }

func hasAVXVNNI() bool { return false }

func hasASIMDDP() bool { return Supported(NEON) && cpu.ARM64.HasASIMDDP }
