// Package kerneltest holds the test and benchmark helpers shared by the
// SIMD kernel packages (reduce, fakequant, histogram):
//
//   - CheckDispatch fails a test when the dispatch does not run the family
//     this CPU should run at a length, so that a broken dispatch cannot hide
//     behind the generic fallback that passes every other test.
//
//   - Run benchmarks a kernel in the one shape that internal/tools/benchtable turns
//     into a ratio table (see `make bench` and BENCHMARKS.md):
//
//     Benchmark<Kernel>/impl=<impl>/n=<n>
//
//     with one impl per kernel family this machine supports
//     (cpufeat.Available, switched with cpufeat.Use), plus impl=naive (an
//     obvious scalar Go loop) and impl=copy (Go's copy() of n float32), at
//     every size in Sizes. Each reports b.SetBytes(4*n), the float32 bytes of
//     its input, and the family that dispatch selects by default at that
//     size reports the extra metric "1 selected".
//
//   - Purego says whether the tests were built with the purego tag, for
//     the checks that the build with assembly already makes of the generic
//     family (which every build has).
//
// Only _test.go files import it; nothing in the pipeline does.
package kerneltest
