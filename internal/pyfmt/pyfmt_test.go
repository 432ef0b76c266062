package pyfmt

import (
	"math"
	"testing"
)

var nan, inf = float32(math.NaN()), float32(math.Inf(1))

// The expected strings were printed by NumPy 1.24.2 (the version the
// conformance vectors were made with): str(np.array(values, np.float32)).
func TestArrayMatchesNumPy(t *testing.T) {
	r30 := make([]float32, 30)
	for i := range r30 {
		r30[i] = 3
	}
	r12 := make([]float32, 12)
	for i := range r12 {
		r12[i] = 0.3
	}
	for _, tc := range []struct {
		shape []int
		data  []float32
		want  string
	}{
		{[]int{2}, []float32{1, 2}, "[1. 2.]"},
		{[]int{2}, []float32{0.5, 0.25}, "[0.5  0.25]"},
		{[]int{8}, []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, "[0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8]"},
		{[]int{4, 1}, []float32{0, 1e-9, 0.5, 2}, "[[0.e+00]\n [1.e-09]\n [5.e-01]\n [2.e+00]]"},
		{[]int{2}, []float32{1e9, 2}, "[1.e+09 2.e+00]"},
		{[]int{2}, []float32{123.456, 0.001}, "[1.23456e+02 1.00000e-03]"},
		{[]int{2}, []float32{-1.5, 2.25}, "[-1.5   2.25]"},
		{[]int{30}, r30, "[3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3. 3.\n 3. 3. 3. 3. 3. 3.]"},
		{[]int{2}, []float32{1.0 / 3, 2.0 / 3}, "[0.33333334 0.6666667 ]"},
		{[]int{2}, []float32{nan, 1}, "[nan  1.]"},
		{[]int{2}, []float32{inf, 0.5}, "[inf 0.5]"},
		{[]int{2}, []float32{0, 0}, "[0. 0.]"},
		{[]int{2}, []float32{1e-5, 1e-5}, "[1.e-05 1.e-05]"},
		{[]int{2}, []float32{100000, 0.5}, "[1.e+05 5.e-01]"},
		{[]int{2}, []float32{1e7, 1}, "[1.e+07 1.e+00]"},
		{[]int{2, 2}, []float32{1, 2, 3, 4}, "[[1. 2.]\n [3. 4.]]"},
		{[]int{2}, []float32{0.001, 0.002}, "[0.001 0.002]"},
		{[]int{2}, []float32{1000, 0.5}, "[1.e+03 5.e-01]"},
		{[]int{2}, []float32{float32(math.Copysign(0, -1)), 1}, "[-0.  1.]"},
		{[]int{1, 1, 1}, []float32{1.5}, "[[[1.5]]]"},
		{[]int{2}, []float32{12345.678, 1}, "[1.2345678e+04 1.0000000e+00]"},
		{[]int{12}, r12, "[0.3 0.3 0.3 0.3 0.3 0.3 0.3 0.3 0.3 0.3 0.3 0.3]"},
		{[]int{2}, []float32{1e-5, 3}, "[1.e-05 3.e+00]"},
		{[]int{1}, []float32{2.5e-7}, "[2.5e-07]"},
		{[]int{1}, []float32{1}, "[1.]"},
	} {
		if got := Array(tc.shape, tc.data); got != tc.want {
			t.Errorf("Array(%v, %v) =\n%q\nwant\n%q", tc.shape, tc.data, got, tc.want)
		}
	}
}

func TestScalarMatchesNumPy(t *testing.T) {
	for _, tc := range []struct {
		v    float32
		want string
	}{
		{0.5, "0.5"}, {2, "2.0"}, {1e-9, "1e-09"}, {1e20, "1e+20"}, {123456789, "123456790.0"},
		{0.1, "0.1"}, {1e16, "1e+16"}, {1e-4, "1e-04"}, {math.MaxFloat32, "3.4028235e+38"},
		{0, "0.0"}, {float32(math.Copysign(0, -1)), "-0.0"}, {1e-5, "1e-05"}, {12345678, "12345678.0"},
		{nan, "nan"}, {-inf, "-inf"},
	} {
		if got := Scalar(tc.v); got != tc.want {
			t.Errorf("Scalar(%v) = %q, want %q", tc.v, got, tc.want)
		}
		if got := Array(nil, []float32{tc.v}); got != tc.want {
			t.Errorf("Array([], %v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestSummarised(t *testing.T) {
	x := make([]float32, 2000)
	for i := range x {
		x[i] = float32(i)
	}
	// np.arange(2000, dtype=np.float32)
	if got, want := Array([]int{2000}, x), "[0.000e+00 1.000e+00 2.000e+00 ... 1.997e+03 1.998e+03 1.999e+03]"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

// The expected strings are Python's repr(float) and format(v, ".4f").
func TestFloatAndFixed(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{254, "254.0"}, {127.54336547851562, "127.54336547851562"}, {1e-5, "1e-05"}, {1e16, "1e+16"}, {0.1, "0.1"}, {math.Inf(-1), "-inf"}} {
		if got := Float(tc.v); got != tc.want {
			t.Errorf("Float(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    float64
		want string
	}{{0.5, "0.5000"}, {3.26544, "3.2654"}, {math.NaN(), "nan"}, {math.Inf(1), "inf"}} {
		if got := Fixed(tc.v, 4); got != tc.want {
			t.Errorf("Fixed(%v, 4) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
