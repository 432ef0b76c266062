package histogram

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// family is the kernel family the binning runs on n elements: AVX-512
// wherever the CPU has it (it stayed ahead of AVX2 at every length
// measured, BENCHMARKS.md).
func family(n int) cpufeat.Impl { return cpufeat.For(n, 0) }
