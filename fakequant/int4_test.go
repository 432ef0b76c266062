package fakequant

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
)

func TestInt4Scales(t *testing.T) {
	got, err := Int4Scales([]float32{7, 0.7, 0, 1e-45, 3e38}, false)
	if err != nil {
		t.Fatal(err)
	}
	if d := conformance.DiffFloat32(got, []float32{1, float32(0.7) / 7, 1, 1, float32(3e38) / 7}); d != "" {
		t.Fatal("signed:", d)
	}
	got, err = Int4Scales([]float32{15, 0}, true)
	if err != nil || got[0] != 1 || got[1] != 1 {
		t.Fatalf("unsigned: %v, %v", got, err)
	}
	for _, c := range []struct {
		amax []float32
		want string
		is   error
	}{
		{[]float32{1, -1}, "amax -1 at index 1", ErrNegativeAmax},
		{[]float32{nan}, "amax NaN at index 0", ErrNonFiniteAmax},
		{[]float32{1, 2, inf}, "amax +Inf at index 2", ErrNonFiniteAmax},
	} {
		if _, err := Int4Scales(c.amax, false); err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.is) {
			t.Errorf("Int4Scales(%v): %v, want %q", c.amax, err, c.want)
		}
	}
}

// TestQuantizeInt4Values pins ties, saturation and NaN with scale 1.
func TestQuantizeInt4Values(t *testing.T) {
	x := []float32{0.5, 1.5, 2.5, -0.5, -1.5, 6.5, 7.5, -7.5, -8.5, 100, -100, inf, -inf, nan, negZero, 0.49999997}
	for _, c := range []struct {
		unsigned bool
		want     []int8
	}{
		{false, []int8{0, 2, 2, 0, -2, 6, 7, -8, -8, 7, -8, 7, -8, 0, 0, 0}},
		{true, []int8{0, 2, 2, 0, 0, 6, 8, 0, 0, 15, 0, 15, 0, 0, 0, 0}},
	} {
		got := make([]int8, len(x))
		if err := QuantizeInt4Block(got, x, []float32{1}, len(x), len(x), c.unsigned); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("unsigned=%v: x=%v gives %d, want %d", c.unsigned, x[i], got[i], c.want[i])
			}
		}
	}
}

// int4Ref is the reference of one code: x/scale rounded half to even in
// float64, saturated, NaN 0.
func int4Ref(x, scale float32, unsigned bool) int8 {
	v := float64(x / scale)
	if math.IsNaN(v) {
		return 0
	}
	lo, hi := -8.0, 7.0
	if unsigned {
		lo, hi = 0, 15
	}
	return int8(math.Max(lo, math.Min(hi, math.RoundToEven(v))))
}

func TestQuantizeInt4BlockRagged(t *testing.T) {
	r := rand.New(rand.NewPCG(56, 57))
	for _, unsigned := range []bool{false, true} {
		for _, sh := range blockShapes {
			rows, rowLen, bs := sh[0], sh[1], sh[2]
			src := interesting(r, rows*rowLen, 1, Format{NumBits: 4, Unsigned: unsigned})
			amax, err := BlockAmax(src, rowLen, bs)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range amax {
				if a != a || a > math.MaxFloat32 {
					amax[i] = 1
				}
			}
			scale, err := Int4Scales(amax, unsigned)
			if err != nil {
				t.Fatal(err)
			}
			q := make([]int8, len(src))
			if err := QuantizeInt4Block(q, src, scale, rowLen, bs, unsigned); err != nil {
				t.Fatal(err)
			}
			back := make([]float32, len(src))
			if err := DequantizeInt4Block(back, q, scale, rowLen, bs); err != nil {
				t.Fatal(err)
			}
			for i, x := range src {
				s := scale[blockOf(i, rowLen, bs)]
				if want := int4Ref(x, s, unsigned); q[i] != want {
					t.Fatalf("unsigned=%v shape %v: x[%d]=%v scale %v gives %d, want %d", unsigned, sh, i, x, s, q[i], want)
				}
				if want := float32(q[i]) * s; math.Float32bits(back[i]) != math.Float32bits(want) {
					t.Fatalf("unsigned=%v shape %v: dequantized [%d] = %v, want %v", unsigned, sh, i, back[i], want)
				}
			}
			// Packed storage round-trips the codes.
			packed := make([]byte, PackedInt4Len(len(q)))
			if err := PackInt4(packed, q, unsigned); err != nil {
				t.Fatal(err)
			}
			unpacked := make([]int8, len(q))
			if err := UnpackInt4(unpacked, packed, unsigned); err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(int8Bytes(unpacked), int8Bytes(q)); i >= 0 {
				t.Fatalf("unsigned=%v shape %v: unpacked [%d] = %d, want %d", unsigned, sh, i, unpacked[i], q[i])
			}
		}
	}
}

func int8Bytes(s []int8) []uint8 {
	out := make([]uint8, len(s))
	for i, v := range s {
		out[i] = uint8(v)
	}
	return out
}

func TestPackInt4Layout(t *testing.T) {
	for _, c := range []struct {
		codes    []int8
		unsigned bool
		bytes    []byte
	}{
		{[]int8{1, -1, 7}, false, []byte{0xF1, 0x07}},
		{[]int8{-8, 7, 0, -1}, false, []byte{0x78, 0xF0}},
		{[]int8{15, 0, 3}, true, []byte{0x0F, 0x03}},
		{[]int8{-3}, false, []byte{0x0D}},
		{nil, false, []byte{}},
	} {
		got := make([]byte, len(c.bytes)+2)
		for i := range got {
			got[i] = 0xEE
		}
		if err := PackInt4(got, c.codes, c.unsigned); err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(got[:len(c.bytes)], c.bytes); i >= 0 || got[len(c.bytes)] != 0xEE {
			t.Errorf("PackInt4(%v) = % x, want % x", c.codes, got, c.bytes)
		}
		back := make([]int8, len(c.codes))
		if err := UnpackInt4(back, c.bytes, c.unsigned); err != nil {
			t.Fatal(err)
		}
		if i := firstDiff(int8Bytes(back), int8Bytes(c.codes)); i >= 0 {
			t.Errorf("UnpackInt4(% x) = %v, want %v", c.bytes, back, c.codes)
		}
	}
	// Every byte unpacks to its two nibbles, sign-extended or not.
	for b := range 256 {
		s, u := make([]int8, 2), make([]int8, 2)
		_ = UnpackInt4(s, []byte{byte(b)}, false)
		_ = UnpackInt4(u, []byte{byte(b)}, true)
		lo, hi := b&15, b>>4
		if int(u[0]) != lo || int(u[1]) != hi || int(s[0]) != lo-16*(lo>>3) || int(s[1]) != hi-16*(hi>>3) {
			t.Fatalf("byte %#02x: signed %v unsigned %v", b, s, u)
		}
	}
	// The padding nibble of an odd count is ignored.
	one := make([]int8, 1)
	if err := UnpackInt4(one, []byte{0x95}, false); err != nil || one[0] != 5 {
		t.Errorf("odd unpack: %v, %v", one, err)
	}
}

func TestInt4Errors(t *testing.T) {
	x := make([]float32, 10)
	one := []float32{1, 1}
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"q count":    {QuantizeInt4Block(make([]int8, 10), x, one, 5, 2, false), "2 scale values for 6 blocks"},
		"q dst":      {QuantizeInt4Block(make([]int8, 9), x, one, 5, 5, false), "dst has 9 elements for 10 inputs"},
		"q scale":    {QuantizeInt4Block(make([]int8, 10), x, []float32{1, 0}, 5, 5, false), "scale 0 at index 1"},
		"q block":    {QuantizeInt4Block(make([]int8, 10), x, one, 5, -1, false), "block size -1"},
		"dq count":   {DequantizeInt4Block(make([]float32, 10), make([]int8, 10), one, 10, 3), "2 scale values for 4 blocks"},
		"dq scale":   {DequantizeInt4Block(make([]float32, 10), make([]int8, 10), []float32{nan, 1}, 5, 5), "scale NaN at index 0"},
		"dq rows":    {DequantizeInt4Block(make([]float32, 10), make([]int8, 10), one, 4, 5), "do not split into rows of 4"},
		"pack dst":   {PackInt4(make([]byte, 1), make([]int8, 3), false), "packing 3 codes needs 2 bytes, dst has 1"},
		"pack range": {PackInt4(make([]byte, 2), []int8{0, 8, 0}, false), "code 8 at index 1 is outside [-8, 7]"},
		"pack uns":   {PackInt4(make([]byte, 2), []int8{0, 0, -1}, true), "code -1 at index 2 is outside [0, 15]"},
		"unpack src": {UnpackInt4(make([]int8, 5), make([]byte, 2), false), "unpacking 5 codes needs 3 bytes, src has 2"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, c.err, c.want)
		}
	}
}
