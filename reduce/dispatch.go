package reduce

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// absMaxAVX2From is the length from which a CPU with AVX-512 runs the AVX2
// AbsMax kernel instead (cpufeat.For): out of cache, on a CPU that executes
// AVX-512 as two 256-bit halves, AVX2 was the faster (BENCHMARKS.md).
const absMaxAVX2From = 4 << 20

// family is the kernel family AbsMax runs on n elements.
func family(n int) cpufeat.Impl { return cpufeat.For(n, absMaxAVX2From) }
