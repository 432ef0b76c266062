package calibrators

import "math/bits"

// pairwiseSum is NumPy's float64 sum of a contiguous array (pairwise_sum):
// below 8 elements a plain loop, up to 128 eight interleaved accumulators
// combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) plus the remainder, above
// that the two halves split at n/2 rounded down to a multiple of 8. The
// reduction adds it to the identity 0.
func pairwiseSum(a []float64) float64 {
	return 0 + pairwise(a)
}

func pairwise(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range a {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range 8 {
				r[j] += a[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwise(a[:n2]) + pairwise(a[n2:])
	}
}

// torchSum is torch 1.13's CPU float32 sum of a contiguous vector
// (SumKernel.cpp, one thread): with at least 8 elements, the vectors of 8
// lanes are summed by row_sum with four interleaved vector accumulators and
// multi_row_sum's cascade of levels, the leftover elements first into a
// scalar, then the 8 lanes in order; below 8 elements the same over
// scalars (lane 0 only).
func torchSum(x []float32) float32 {
	n := len(x)
	if n < 8 {
		return rowSum(n, 1, func(i int) (v lanes) { v[0] = x[i]; return v })[0]
	}
	vecs := n / 8
	l := rowSum(vecs, 8, func(i int) lanes { return lanes(x[8*i : 8*i+8]) })
	var acc float32
	for _, v := range x[vecs*8:] {
		acc += v
	}
	for _, v := range l {
		acc += v
	}
	return acc
}

// lanes is one vector of torch's Vectorized<float> on AVX2; the scalar path
// uses lane 0 only.
type lanes [8]float32

func (d *lanes) add(s *lanes, w int) {
	for i := range w {
		d[i] += s[i]
	}
}

// rowSum is torch's row_sum: size items of w lanes summed with ilp 4
// interleaved accumulators through multiRowSum, the leftover items added to
// the first, then the accumulators in order.
func rowSum(size, w int, load func(i int) lanes) lanes {
	const ilp = 4
	sizeILP := size / ilp
	partial := multiRowSum(sizeILP, w, func(row, k int) lanes { return load(row*ilp + k) })
	for i := sizeILP * ilp; i < size; i++ {
		v := load(i)
		partial[0].add(&v, w)
	}
	for k := 1; k < ilp; k++ {
		partial[0].add(&partial[k], w)
	}
	return partial[0]
}

// multiRowSum is torch's multi_row_sum with 4 rows (the ilp accumulators)
// and num_levels = 4: rows are added to level 0 in runs of level_step =
// 2^max(4, ceilLog2(size)/4), and each run is cascaded up the levels.
func multiRowSum(size, w int, load func(row, k int) lanes) [4]lanes {
	const levels = 4
	power := max(4, ceilLog2(size)/levels)
	step := 1 << power
	mask := step - 1
	var acc [levels][4]lanes
	i := 0
	for i+step <= size {
		for j := 0; j < step; j, i = j+1, i+1 {
			for k := range 4 {
				v := load(i, k)
				acc[0][k].add(&v, w)
			}
		}
		for j := 1; j < levels; j++ {
			for k := range 4 {
				acc[j][k].add(&acc[j-1][k], w)
				acc[j-1][k] = lanes{}
			}
			if i&(mask<<(j*power)) != 0 {
				break
			}
		}
	}
	for ; i < size; i++ {
		for k := range 4 {
			v := load(i, k)
			acc[0][k].add(&v, w)
		}
	}
	for j := 1; j < levels; j++ {
		for k := range 4 {
			acc[0][k].add(&acc[j][k], w)
		}
	}
	return acc[0]
}

// ceilLog2 is c10's CeilLog2: 1 for x <= 2, else floor(log2(x-1)) + 1.
func ceilLog2(x int) int {
	if x <= 2 {
		return 1
	}
	return bits.Len64(uint64(x - 1))
}
