//go:build gc && !purego

package cpufeat

import "golang.org/x/sys/cpu"

func hasAVX512VNNI() bool { return Supported(AVX512) && cpu.X86.HasAVX512VNNI }

func hasAVXVNNI() bool { return Supported(AVX2) && cpu.X86.HasAVXVNNI }

func hasASIMDDP() bool { return false }
