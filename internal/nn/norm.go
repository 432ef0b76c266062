package nn

import "math"

// Normalize writes y[i] = float32(h·gamma + beta) with h = (x[i] - mean)·inv
// computed in float64, and xhat[i] = float32(h) when xhat is not nil: the
// affine normalisation of one plane of a batch or instance
// normalisation, with inv = InvStd(variance, eps).
func Normalize(y, xhat, x []float32, mean, inv, gamma, beta float64) {
	x = x[:len(y)]
	if xhat == nil {
		for i, v := range x {
			y[i] = float32((float64(v)-mean)*inv*gamma + beta)
		}
		return
	}
	xhat = xhat[:len(y)]
	for i, v := range x {
		h := (float64(v) - mean) * inv
		xhat[i] = float32(h)
		y[i] = float32(h*gamma + beta)
	}
}

// InvStd returns 1/sqrt(variance + eps), in float64.
func InvStd(variance, eps float64) float64 { return 1 / math.Sqrt(variance+eps) }

// Moments returns the mean and the biased variance (and the sum of squared
// deviations) of channel c of x, a tensor [n, channels, P], computed in
// float64 in two passes over the samples in order.
func Moments(x []float32, n, channels, P, c int) (mean, variance, squares float64) {
	count := n * P
	var s float64
	for i := range n {
		for _, v := range x[(i*channels+c)*P : (i*channels+c+1)*P] {
			s += float64(v)
		}
	}
	mean = s / float64(count)
	for i := range n {
		for _, v := range x[(i*channels+c)*P : (i*channels+c+1)*P] {
			d := float64(v) - mean
			squares += d * d
		}
	}
	return mean, squares / float64(count), squares
}
