package tensor

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFromSliceValidates(t *testing.T) {
	for _, tc := range []struct {
		n     int
		shape []int
		err   string
	}{
		{6, []int{2, 3}, ""},
		{1, nil, ""},
		{0, []int{0, 5}, ""},
		{5, []int{2, 3}, "holds 6 elements, data has 5"},
		{6, []int{-2, -3}, "negative dimension -2 at axis 0"},
		{0, []int{math.MaxInt / 2, 3}, "more elements than an int"},
	} {
		x, err := FromSlice(make([]float32, tc.n), tc.shape...)
		if tc.err == "" {
			if err != nil {
				t.Errorf("FromSlice(%d, %v): %v", tc.n, tc.shape, err)
				continue
			}
			if x.Numel() != tc.n || !SameShape(x.Shape, append([]int{}, tc.shape...)) {
				t.Errorf("FromSlice(%d, %v) = shape %v numel %d", tc.n, tc.shape, x.Shape, x.Numel())
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("FromSlice(%d, %v) error = %v, want it to contain %q", tc.n, tc.shape, err, tc.err)
		}
	}
}

func TestNewAndClone(t *testing.T) {
	x := New(2, 3)
	if diff := cmp.Diff([]int{2, 3}, x.Shape); diff != "" {
		t.Fatal(diff)
	}
	if x.Numel() != 6 || x.Rank() != 2 {
		t.Fatalf("Numel %d Rank %d", x.Numel(), x.Rank())
	}
	s := New()
	if s.Numel() != 1 || s.Rank() != 0 {
		t.Fatalf("scalar: Numel %d Rank %d", s.Numel(), s.Rank())
	}
	x.Data[4] = 7
	c := x.Clone()
	c.Data[4] = 9
	c.Shape[0] = 5
	if x.Data[4] != 7 || x.Shape[0] != 2 {
		t.Fatal("Clone shares memory with its source")
	}
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("New(-1) did not panic")
		}
	}()
	New(-1)
}

func TestValidate(t *testing.T) {
	var nilT *Tensor
	if err := nilT.Validate(); err == nil {
		t.Error("nil tensor validated")
	}
	if err := (&Tensor{Shape: []int{2}, Data: make([]float32, 3)}).Validate(); err == nil {
		t.Error("inconsistent tensor validated")
	}
	if err := Scalar(3).Validate(); err != nil {
		t.Error(err)
	}
}

func TestReshape(t *testing.T) {
	x := New(2, 3, 4)
	for _, tc := range []struct {
		in   []int
		want []int
		err  bool
	}{
		{[]int{6, 4}, []int{6, 4}, false},
		{[]int{-1, 4}, []int{6, 4}, false},
		{[]int{2, -1}, []int{2, 12}, false},
		{[]int{24}, []int{24}, false},
		{[]int{5, -1}, nil, true},
		{[]int{-1, -1}, nil, true},
		{[]int{7}, nil, true},
		{[]int{-3, 8}, nil, true},
		{[]int{0, -1}, nil, true},
	} {
		y, err := x.Reshape(tc.in...)
		if tc.err {
			if err == nil {
				t.Errorf("Reshape(%v) = %v, want error", tc.in, y.Shape)
			}
			continue
		}
		if err != nil {
			t.Errorf("Reshape(%v): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, y.Shape); diff != "" {
			t.Errorf("Reshape(%v): %s", tc.in, diff)
		}
		y.Data[0] = 1
		if x.Data[0] != 1 {
			t.Errorf("Reshape(%v) copied the data", tc.in)
		}
		y.Data[0] = 0
	}
}

func TestBroadcastShapes(t *testing.T) {
	for _, tc := range []struct {
		a, b, want []int
		err        string
	}{
		{[]int{5, 6}, []int{5, 1}, []int{5, 6}, ""},
		{[]int{5, 6}, []int{6}, []int{5, 6}, ""},
		{[]int{5, 6}, []int{}, []int{5, 6}, ""},
		{[]int{1}, []int{3, 1, 2}, []int{3, 1, 2}, ""},
		{[]int{10, 9, 8, 7}, []int{10, 1, 1, 1}, []int{10, 9, 8, 7}, ""},
		{[]int{0, 3}, []int{1, 3}, []int{0, 3}, ""},
		{[]int{4, 3}, []int{5, 1}, nil, "the size of tensor a (4) must match the size of tensor b (5) at non-singleton dimension 0"},
		{[]int{2, 3}, []int{2}, nil, "size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"},
	} {
		got, err := BroadcastShapes(tc.a, tc.b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("BroadcastShapes(%v, %v) error = %v, want %q", tc.a, tc.b, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("BroadcastShapes(%v, %v): %v", tc.a, tc.b, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("BroadcastShapes(%v, %v): %s", tc.a, tc.b, diff)
		}
	}
}

func TestBroadcastStrides(t *testing.T) {
	if diff := cmp.Diff([]int{0, 1, 0}, BroadcastStrides([]int{3, 1}, []int{2, 3, 4})); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]int{12, 4, 1}, BroadcastStrides([]int{2, 3, 4}, []int{2, 3, 4})); diff != "" {
		t.Error(diff)
	}
}

func TestNormalizeAxis(t *testing.T) {
	for _, tc := range []struct{ axis, rank, want int }{{0, 4, 0}, {-1, 4, 3}, {-4, 4, 0}, {3, 4, 3}} {
		got, err := NormalizeAxis(tc.axis, tc.rank)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeAxis(%d, %d) = %d, %v; want %d", tc.axis, tc.rank, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ axis, rank int }{{4, 4}, {-5, 4}, {0, 0}} {
		if _, err := NormalizeAxis(tc.axis, tc.rank); err == nil {
			t.Errorf("NormalizeAxis(%d, %d) accepted", tc.axis, tc.rank)
		}
	}
}

// TestShapeChecks: every function that takes a shape checks it. Before,
// BroadcastShapes([-2 3], [3]) returned [-2 3] and Strides([-1 2])
// returned [2 1].
func TestShapeChecks(t *testing.T) {
	for _, c := range [][2][]int{{{-2, 3}, {3}}, {{3}, {-1}}, {{math.MaxInt / 2, 3}, {1}}} {
		if s, err := BroadcastShapes(c[0], c[1]); err == nil {
			t.Errorf("BroadcastShapes(%v, %v) = %v", c[0], c[1], s)
		}
	}
	for name, f := range map[string]func(){
		"Strides([-1 2])":                 func() { Strides([]int{-1, 2}) },
		"BroadcastStrides([2], [3])":      func() { BroadcastStrides([]int{2}, []int{3}) },
		"BroadcastStrides([2 3], [3])":    func() { BroadcastStrides([]int{2, 3}, []int{3}) },
		"BroadcastStrides([-1], [-1])":    func() { BroadcastStrides([]int{-1}, []int{-1}) },
		"BroadcastStrides([1 3], [2 -3])": func() { BroadcastStrides([]int{1, 3}, []int{2, -3}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
	if d := cmp.Diff([]int{0, 1}, BroadcastStrides([]int{1, 3}, []int{2, 3})); d != "" {
		t.Errorf("BroadcastStrides([1 3], [2 3]) (-want +got):\n%s", d)
	}
}
