package reduce

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// absMaxAVX2From is the length from which a CPU with AVX-512 where
// cpufeat.SizeSwitch holds (Zen 4) runs the AVX2 AbsMax kernel instead
// (cpufeat.For): from 8 Mi elements, 32 MiB, the size of its last-level
// cache, AVX2 was 12-48% faster (BENCHMARKS.md).
const absMaxAVX2From = 8 << 20

// family is the kernel family AbsMax runs on n elements.
func family(n int) cpufeat.Impl { return cpufeat.For(n, absMaxAVX2From) }
