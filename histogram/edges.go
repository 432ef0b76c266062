package histogram

import "math"

// The bin-edge recipes of the reference, reproduced bit for bit (see
// FORMAT.md, "Observed semantics"). Every product that must not be fused
// into an FMA is wrapped in an explicit conversion: Go may fuse x*y+z on
// arm64 and GOAMD64=v3, and the reference does not.

// torchLinspace0 is torch.linspace(0, end, steps) in float32 as torch 1.13
// computes it on one CPU thread: step = end/(steps-1) in float32; element i
// is fma(step, i, 0) below steps/2 and fma(-step, steps-1-i, end) from there
// on (one rounding each); the first floor(steps/16)*16 elements come in
// vector blocks of 8, each element base + float32(k*step) from the block's
// first value.
func torchLinspace0(end float32, steps int) []float32 {
	out := make([]float32, steps)
	if steps == 0 {
		return out
	}
	if steps == 1 {
		out[0] = 0
		return out
	}
	step := end / float32(steps-1)
	half := steps / 2
	// s is exact: step*i and end-step*k fit in a float64 for every i < 2^29
	// when end = step*(steps-1) up to rounding, so the float64 FMA result
	// rounds once, to float32.
	s := func(i int) float32 {
		if i < half {
			return float32(math.FMA(float64(step), float64(i), 0))
		}
		return float32(math.FMA(-float64(step), float64(steps-1-i), float64(end)))
	}
	vec := steps / 16 * 16
	for i0 := 0; i0 < vec; i0 += 8 {
		base := s(i0)
		for k := range 8 {
			out[i0+k] = base + float32(float32(k)*step)
		}
	}
	for i := vec; i < steps; i++ {
		out[i] = s(i)
	}
	return out
}

// torchArangeLen is the length of torch.arange(0, end, step):
// ceil(end/step) in float64. ok is false when that is not a finite
// non-negative number of at most limit.
func torchArangeLen(end, step float32, limit int) (n int, ok bool) {
	d := math.Ceil(float64(end) / float64(step))
	if !(d >= 0 && d <= float64(limit)) {
		return 0, false
	}
	return int(d), true
}

// torchArange0 is torch.arange(0, end, step) with float32 output and
// float64 accumulation, n elements long (torchArangeLen): element i is
// float32(step*i) in float64, except that the first floor(n/16)*16 come in
// blocks of 8 from base = float32(step*i0): float32(base + k*step).
func torchArange0(step float32, n int) []float32 {
	out := make([]float32, n)
	st := float64(step)
	vec := n / 16 * 16
	for i0 := 0; i0 < vec; i0 += 8 {
		base := float64(float32(st * float64(i0)))
		for k := range 8 {
			out[i0+k] = float32(base + float64(float64(k)*st))
		}
	}
	for i := vec; i < n; i++ {
		out[i] = float32(st * float64(i))
	}
	return out
}

// numpyLinspace is np.linspace(start, stop, num) in float64 (step =
// (stop-start)/(num-1), element i = i*step + start, the last one exactly
// stop), rounded to float32 as np.histogram's float32 edges are.
func numpyLinspace(start, stop float64, num int) []float32 {
	out := make([]float32, num)
	if num == 0 {
		return out
	}
	div := num - 1
	if div == 0 {
		out[0] = float32(start)
		return out
	}
	delta := stop - start
	step := delta / float64(div)
	for i := range out {
		var y float64
		if step == 0 {
			y = float64(float64(i)/float64(div)) * delta
		} else {
			y = float64(float64(i) * step)
		}
		out[i] = float32(y + start)
	}
	out[num-1] = float32(stop)
	return out
}

// numpyArangeFill writes np.arange's values for a0 = start and a1 =
// start+step (as the caller's precision computed it): a[i] = a0 +
// i*(a1-a0) in float64 from i = 2 on, as numpy's DOUBLE_fill does.
func numpyArangeFill(out []float64, a0, a1 float64) {
	if len(out) > 0 {
		out[0] = a0
	}
	if len(out) > 1 {
		out[1] = a1
	}
	d := a1 - a0
	for i := 2; i < len(out); i++ {
		out[i] = a0 + float64(float64(i)*d)
	}
}

// numpyArangeLen returns numpy's ceil(span/step) length, or ok false when
// it is NaN or above limit; a negative length is 0.
func numpyArangeLen(ratio float64, limit int) (n int, ok bool) {
	d := math.Ceil(ratio)
	if d != d || d > float64(limit) {
		return 0, false
	}
	if d < 0 {
		return 0, true
	}
	return int(d), true
}
