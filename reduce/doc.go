// Package reduce computes the abs-max statistics that quantization scales
// are built from: AbsMax over a slice (a SIMD kernel), Amax over a tensor
// keeping chosen axes (per-tensor and per-channel amax), and MinMax.
//
// NaN is contagious everywhere, as in torch's x.abs().max(): one NaN element
// makes its reduction NaN. The kernels are safe to call concurrently.
package reduce
