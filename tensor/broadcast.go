package tensor

import "fmt"

// BroadcastShapes returns the shape that NumPy broadcasting gives for a and
// b: shapes are aligned at their last dimension, and each pair of dimensions
// must be equal or contain a 1.
//
// It returns the error of CheckShape for an invalid shape, and an error
// naming the first incompatible pair, in the words torch uses ("size of
// tensor a (4) must match the size of tensor b (5) at non-singleton
// dimension 0").
func BroadcastShapes(a, b []int) ([]int, error) {
	for _, s := range [][]int{a, b} {
		if err := CheckShape(s); err != nil {
			return nil, err
		}
	}
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("tensor: shapes %v and %v do not broadcast: the size of tensor a (%d) must match the size of tensor b (%d) at non-singleton dimension %d", a, b, da, db, i)
		}
	}
	return out, nil
}

// BroadcastStrides returns strides that walk a tensor of shape in over the
// broadcast shape out: dimensions that are broadcast (size 1 in in, or
// missing) get stride 0. It panics, as New does for a bad shape, unless
// out is a valid broadcast of the valid shape in: shapes a program
// computed, not user data, which BroadcastShapes checks.
func BroadcastStrides(in, out []int) []int {
	if got, err := BroadcastShapes(in, out); err != nil || !SameShape(got, out) {
		panic(fmt.Sprintf("tensor: shape %v does not broadcast to %v", in, out))
	}
	s := make([]int, len(out))
	st := Strides(in)
	off := len(out) - len(in)
	for i := range in {
		if in[i] != 1 {
			s[off+i] = st[i]
		}
	}
	return s
}
