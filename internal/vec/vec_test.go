package vec

import (
	"math"
	"testing"
)

var (
	nan    = float32(math.NaN())
	negz   = negZero
	denorm = math.Float32frombits(1)
)

// same reports whether a and b are the same float32 bits, or both NaN.
func same(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

// TestSpecials pins the activations' semantics on the values where
// min/max implementations differ: signed zeros, NaN, infinities,
// denormals, bounds that cross.
func TestSpecials(t *testing.T) {
	for _, c := range []struct {
		name string
		x    float32
		a    Act
		want float32
	}{
		{"relu -0", negz, Act{Kind: Relu}, 0},
		{"relu +0", 0, Act{Kind: Relu}, 0},
		{"relu NaN", nan, Act{Kind: Relu}, nan},
		{"relu -Inf", -inf, Act{Kind: Relu}, 0},
		{"relu +Inf", inf, Act{Kind: Relu}, inf},
		{"relu -denormal", -denorm, Act{Kind: Relu}, 0},
		{"relu denormal", denorm, Act{Kind: Relu}, denorm},
		{"clip NaN", nan, Act{Kind: Clip, Lo: 0, Hi: 6}, nan},
		{"clip -0 to [0, 6]", negz, Act{Kind: Clip, Lo: 0, Hi: 6}, 0},
		{"clip +0 to [-0, -0]", 0, Act{Kind: Clip, Lo: negz, Hi: negz}, negz},
		{"clip -0 to [-1, +0]", negz, Act{Kind: Clip, Lo: -1, Hi: 0}, negz},
		{"clip +0 to [-1, -0]", 0, Act{Kind: Clip, Lo: -1, Hi: negz}, negz},
		{"clip 7 to [0, 6]", 7, Act{Kind: Clip, Lo: 0, Hi: 6}, 6},
		{"clip -Inf to [0, 6]", -inf, Act{Kind: Clip, Lo: 0, Hi: 6}, 0},
		{"clip 1 to crossed [3, 2]", 1, Act{Kind: Clip, Lo: 3, Hi: 2}, 2},
		{"none -0", negz, Act{}, negz},
		{"func", 2, Act{Kind: Func, Func: func(d, x []float32) {
			for i, v := range x {
				d[i] = v * v
			}
		}}, 4},
	} {
		x := []float32{c.x}
		c.a.Apply(x)
		if !same(x[0], c.want) {
			t.Errorf("%s: %v, want %v", c.name, x[0], c.want)
		}
	}
}

// TestFinish checks the order of Finish's operations: the bias first,
// then the residual (1 + 1e8 - 1e8 is 0 in float32, 1 + (1e8 - 1e8) is
// 1), then the activation; and that no bias means no addition (-0 stays
// -0).
func TestFinish(t *testing.T) {
	seg := []float32{1, negz, 3}
	Finish(seg, 1e8, true, []float32{-1e8, 0, -1e8 - 100}, &Act{Kind: Relu})
	if !same(seg[0], 0) || !same(seg[1], 1e8) || !same(seg[2], 0) {
		t.Errorf("bias, add, relu: %v", seg)
	}
	seg = []float32{negz, 2}
	Finish(seg, 0, false, nil, &Act{})
	if !same(seg[0], negz) || seg[1] != 2 {
		t.Errorf("nothing: %v", seg)
	}
	seg = []float32{negz, 2}
	Finish(seg, 0, true, nil, &Act{})
	if !same(seg[0], 0) {
		t.Errorf("bias 0 added: %v", seg)
	}
	seg = []float32{5, 2}
	Finish(seg, 0, false, []float32{-1, -3}, &Act{Kind: Clip, Lo: 0, Hi: 3})
	if seg[0] != 3 || seg[1] != 0 {
		t.Errorf("add, clip: %v", seg)
	}
}
