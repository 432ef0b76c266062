package fakequant

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
)

var updateORTGolden = flag.Bool("update-ort-golden", false, "rerun ONNX Runtime and rewrite testdata/qdq_ort_golden.json")

// qdqInputs returns n inputs for a Q/DQ with scale s, zero point zp and
// codes [qmin, qmax]: exact ties (k+0.5)*s and their neighbours a few ulps
// away (where x/s and x*(1/s) can round differently), values at and beyond
// the saturation bounds, specials (±0, ±Inf, NaN, denormals, ±FLT_MAX,
// huge) and noise.
func qdqInputs(r *rand.Rand, n int, s float32, zp, qmin, qmax int32) []float32 {
	lo, hi := float32(qmin-zp), float32(qmax-zp)
	pool := []float32{0, negZero, nan, inf, -inf, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-39, -1e-39, 1e10, -1e10, 3e9, -3e9,
		hi * s, lo * s, (hi + 0.5) * s, (lo - 0.5) * s, (hi - 0.5) * s, (lo + 0.5) * s, (hi + 1) * s, (lo - 1) * s,
		0.5 * s, -0.5 * s, 1.5 * s, -1.5 * s, 2.5 * s, -2.5 * s, 0.49 * s, -0.49 * s}
	out := make([]float32, n)
	for i := range out {
		switch r.IntN(4) {
		case 0:
			out[i] = pool[r.IntN(len(pool))]
		case 1, 2:
			k := float32(r.IntN(int(hi-lo)+7)) + lo - 3
			tie := math.Float32bits((k + 0.5) * s)
			out[i] = math.Float32frombits(tie + uint32(r.IntN(5)) - 2)
		default:
			out[i] = float32(r.NormFloat64()) * s * (hi - lo) / 4
		}
	}
	return out
}

// qdqCase is one run of a Q/DQ test model in ONNX Runtime: the model file
// in testdata/qdq, x of shape Dims, the scale and zero point per channel
// (per tensor when Axis < 0), and what ORT returned.
type qdqCase struct {
	Name      string    `json:"name"`
	Model     string    `json:"model"`
	ZPType    string    `json:"zp_type"` // "int8" or "uint8"
	Const     bool      `json:"const"`   // scale and zero point are constants in the model
	Axis      int       `json:"axis"`
	Dims      []int     `json:"dims"`
	Scale     []float32 `json:"-"`
	ScaleBits []uint32  `json:"scale_bits"`
	ZeroPoint []int32   `json:"zero_point"`
	X         []float32 `json:"-"`
	XB64      string    `json:"x_b64"`
	Q         []int64   `json:"q"`
	Y         []float32 `json:"-"`
	YB64      string    `json:"y_b64"`
}

func (c *qdqCase) bounds() (qmin, qmax int32) {
	if c.ZPType == "uint8" {
		return 0, 255
	}
	return -128, 127
}

// qdqCases returns the runs for one seed, without ORT's results.
func qdqCases(seed uint64) []*qdqCase {
	r := rand.New(rand.NewPCG(seed, 0x9d9))
	randScale := func() float32 { return float32(math.Exp(r.Float64()*20 - 12)) }
	var cases []*qdqCase
	add := func(c *qdqCase) {
		qmin, qmax := c.bounds()
		channels, inner := 1, c.Dims[0]
		if c.Axis >= 0 {
			channels, inner = c.Dims[1], c.Dims[2]
		}
		n := 1
		for _, d := range c.Dims {
			n *= d
		}
		for i := 0; i < n; i += inner {
			ch := i / inner % channels
			c.X = append(c.X, qdqInputs(r, inner, c.Scale[ch], c.ZeroPoint[ch], qmin, qmax)...)
		}
		cases = append(cases, c)
	}
	for _, typ := range []string{"int8", "uint8"} {
		qmin, qmax := int32(-128), int32(127)
		if typ == "uint8" {
			qmin, qmax = 0, 255
		}
		randZP := func() int32 { return qmin + int32(r.IntN(int(qmax-qmin)+1)) }
		// Per tensor: the exporter's scale 1.5/127 with zero point 0 (or
		// 128), then a random scale and zero point. 703 elements: the
		// vector body and a tail.
		zp0 := int32(0)
		if typ == "uint8" {
			zp0 = 128
		}
		add(&qdqCase{Name: "per-tensor " + typ + " amax 1.5", Model: "qdq_" + typ[:1] + "8.onnx", ZPType: typ, Axis: -1,
			Dims: []int{703}, Scale: []float32{1.5 / 127}, ZeroPoint: []int32{zp0}})
		add(&qdqCase{Name: "per-tensor " + typ + " random", Model: "qdq_" + typ[:1] + "8.onnx", ZPType: typ, Axis: -1,
			Dims: []int{703}, Scale: []float32{randScale()}, ZeroPoint: []int32{randZP()}})
		// Per axis 1 of [3, C, 5]: random scales and zero points plus the
		// edge scales 0, -0, negative, NaN, +Inf, denormal and FLT_MAX.
		scales := []float32{0, negZero, -0.5, nan, inf, 1e-45, 1e-40, math.MaxFloat32, 1}
		for len(scales) < 30 {
			scales = append(scales, randScale())
		}
		zps := make([]int32, len(scales))
		for i := range zps {
			zps[i] = randZP()
		}
		add(&qdqCase{Name: "per-axis " + typ, Model: "qdq_axis1_" + typ[:1] + "8.onnx", ZPType: typ, Axis: 1,
			Dims: []int{3, len(scales), 5}, Scale: scales, ZeroPoint: zps})
	}
	// The models with constant parameters (see onnx/qdq_models_test.go).
	add(&qdqCase{Name: "constant per-tensor int8", Model: "qdq_const_i8.onnx", ZPType: "int8", Const: true, Axis: -1,
		Dims: []int{301}, Scale: []float32{1.5 / 127}, ZeroPoint: []int32{0}})
	add(&qdqCase{Name: "constant per-axis uint8", Model: "qdq_const_axis1_u8.onnx", ZPType: "uint8", Const: true, Axis: 1,
		Dims: []int{2, 3, 50}, Scale: []float32{0.01, 0.1, 3}, ZeroPoint: []int32{0, 128, 255}})
	return cases
}

// check compares the kernels with the case's ORT results.
func (c *qdqCase) check(t *testing.T) {
	t.Helper()
	qmin, qmax := c.bounds()
	y := make([]float32, len(c.X))
	var err error
	inner := len(c.X)
	if c.Axis >= 0 {
		inner = c.Dims[2]
		err = FakeQuantQDQPerChannel(y, c.X, c.Scale, c.ZeroPoint, inner, qmin, qmax)
	} else {
		err = FakeQuantQDQ(y, c.X, c.Scale[0], c.ZeroPoint[0], qmin, qmax)
	}
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	if d := conformance.DiffFloat32(y, c.Y); d != "" {
		t.Errorf("%s: fake-quantized values vs ONNX Runtime: %s", c.Name, d)
	}
	bad := 0
	for i, x := range c.X {
		ch := i / inner % len(c.Scale)
		if q := QuantizeLinear(x, c.Scale[ch], c.ZeroPoint[ch], qmin, qmax); int64(q) != c.Q[i] {
			if bad++; bad <= 3 {
				t.Errorf("%s: QuantizeLinear(%v (%#08x), scale %v, zp %d) = %d, ONNX Runtime %d",
					c.Name, x, math.Float32bits(x), c.Scale[ch], c.ZeroPoint[ch], q, c.Q[i])
			}
		}
	}
}

// runORT runs the case's model in ONNX Runtime at optimization level opt
// and returns q and y.
func (c *qdqCase) runORT(t *testing.T, opt string) ([]int64, []float32) {
	in := map[string]exttool.Input{"x": {Dims: c.Dims, Type: "float32", F32: c.X}}
	if !c.Const {
		var pdims []int
		if c.Axis >= 0 {
			pdims = []int{len(c.Scale)}
		}
		zp := make([]int64, len(c.ZeroPoint))
		for i, z := range c.ZeroPoint {
			zp[i] = int64(z)
		}
		in["scale"] = exttool.Input{Dims: pdims, Type: "float32", F32: c.Scale}
		in["zp"] = exttool.Input{Dims: pdims, Type: c.ZPType, Ints: zp}
	}
	out := exttool.RunORT(t, filepath.Join("testdata", "qdq", c.Model), opt, in)
	q, y := out["q"], out["y"]
	if len(q.Ints) != len(c.X) || len(y.F32) != len(c.X) {
		t.Fatalf("%s: ORT returned %d codes and %d values for %d inputs", c.Name, len(q.Ints), len(y.F32), len(c.X))
	}
	return q.Ints, y.F32
}

type qdqGolden struct {
	Meta  map[string]string `json:"meta"`
	Cases []*qdqCase        `json:"cases"`
}

const qdqGoldenFile = "testdata/qdq_ort_golden.json"

// writeFileAtomic writes b to path through a synced temporary file in the
// same directory and a rename.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".golden*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func f32b64(v []float32) string {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func b64f32(s string) ([]float32, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		return nil, fmt.Errorf("bad float32 payload (%d bytes): %v", len(b), err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// TestQDQORTGolden checks the kernels against ONNX Runtime's outputs
// captured in testdata/qdq_ort_golden.json (no tools needed). With
// -update-ort-golden it reruns ONNX Runtime, checks that its results are
// the same with optimizations disabled and at "all", and rewrites the file.
func TestQDQORTGolden(t *testing.T) {
	if *updateORTGolden {
		cases := qdqCases(1)
		for _, c := range cases {
			c.Q, c.Y = c.runORT(t, "disabled")
			q2, y2 := c.runORT(t, "all")
			if d := conformance.DiffFloat32(y2, c.Y); d != "" || fmt.Sprint(q2) != fmt.Sprint(c.Q) {
				t.Fatalf("%s: ORT differs between --opt=disabled and --opt=all: %s", c.Name, d)
			}
			c.XB64, c.YB64 = f32b64(c.X), f32b64(c.Y)
			for _, s := range c.Scale {
				c.ScaleBits = append(c.ScaleBits, math.Float32bits(s))
			}
		}
		g := qdqGolden{Meta: map[string]string{
			"source": "ONNX Runtime 1.30.0 (npm onnxruntime-node, CPU, 1 thread), identical at --opt=disabled and --opt=all",
			"how":    "go test ./fakequant -run TestQDQORTGolden -update-ort-golden (models from onnx/qdq_models_test.go)",
			"format": "x_b64/y_b64: base64 little-endian float32; q: QuantizeLinear codes; scale_bits: float32 bit patterns; axis -1 = per tensor, else x is [outer, C, inner]",
		}, Cases: cases}
		b, err := json.MarshalIndent(g, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(qdqGoldenFile, append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(qdqGoldenFile)
	if err != nil {
		t.Fatal(err)
	}
	var g qdqGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) == 0 {
		t.Fatal("no cases in " + qdqGoldenFile)
	}
	total, recipDiffers := 0, 0
	for _, c := range g.Cases {
		for _, s := range c.ScaleBits {
			c.Scale = append(c.Scale, math.Float32frombits(s))
		}
		if c.X, err = b64f32(c.XB64); err != nil {
			t.Fatal(err)
		}
		if c.Y, err = b64f32(c.YB64); err != nil {
			t.Fatal(err)
		}
		if len(c.Y) != len(c.X) || len(c.Q) != len(c.X) {
			t.Fatalf("%s: %d inputs, %d codes, %d outputs", c.Name, len(c.X), len(c.Q), len(c.Y))
		}
		c.check(t)
		// The data must tell a division from a multiplication by the
		// reciprocal, or it would not pin the semantics.
		qmin, qmax := c.bounds()
		inner := len(c.X)
		if c.Axis >= 0 {
			inner = c.Dims[2]
		}
		for i, x := range c.X {
			ch := i / inner % len(c.Scale)
			s, zp := c.Scale[ch], c.ZeroPoint[ch]
			total++
			if QuantizeLinear(x*(1/s), 1, zp, qmin, qmax) != int32(c.Q[i]) {
				recipDiffers++
			}
		}
	}
	if recipDiffers == 0 {
		t.Errorf("no input of %d tells x/scale from x*(1/scale)", total)
	}
	t.Logf("%d values; x*(1/scale) would give another code for %d of them", total, recipDiffers)
}

// TestQDQORTLive runs the Q/DQ models in ONNX Runtime on fresh inputs (a
// second seed) and compares the kernels with them bit for bit, alternating
// between graph optimizations disabled and "all" from case to case (the
// golden file was checked at both). It needs node and
// tools/onnxcheck/node_modules (make tools-onnx).
func TestQDQORTLive(t *testing.T) {
	exttool.ORTScript(t)
	for i, c := range qdqCases(2) {
		c.Q, c.Y = c.runORT(t, []string{"disabled", "all"}[i%2])
		c.check(t)
	}
}

func TestQDQValues(t *testing.T) {
	s := float32(0.25)
	for _, tc := range []struct {
		x        float32
		zp       int32
		q        int32
		y        float32
		unsigned bool
	}{
		{0, 0, 0, 0, false},
		{negZero, 0, 0, 0, false}, // +0: (q - zp) is an integer
		{-0.1, 0, 0, 0, false},    // rounds to -0 in float, +0 out
		{0.125, 0, 0, 0, false},   // tie 0.5 → 0
		{0.375, 0, 2, 0.5, false}, // tie 1.5 → 2
		{0.625, 0, 2, 0.5, false}, // tie 2.5 → 2
		{-0.375, 0, -2, -0.5, false},
		{-0.625, 3, 1, -0.5, false}, // -2.5 → -2, + zp 3
		{31.75, 0, 127, 31.75, false},
		{31.875, 0, 127, 31.75, false}, // 127.5 saturates
		{-32, 0, -128, -32, false},
		{-33, 0, -128, -32, false},
		{-32, 10, -118, -32, false},
		{-33, 10, -122, -33, false}, // -132 is above qmin - zp = -138
		{inf, 5, 127, 30.5, false},
		{-inf, 5, -128, -33.25, false},
		{nan, 5, -128, -33.25, false}, // NaN → qmin, whatever zp
		{nan, 200, 0, -50, true},
		{-1, 0, 0, 0, true},
		{64, 0, 255, 63.75, true},
		{1e-45, 0, 0, 0, false},
		{math.MaxFloat32, 0, 127, 31.75, false},
	} {
		qmin, qmax := int32(-128), int32(127)
		if tc.unsigned {
			qmin, qmax = 0, 255
		}
		q := QuantizeLinear(tc.x, s, tc.zp, qmin, qmax)
		y := DequantizeLinear(q, tc.zp, s)
		if q != tc.q || math.Float32bits(y) != math.Float32bits(tc.y) {
			t.Errorf("x=%v zp=%d [%d,%d]: q=%d y=%v (%#08x), want %d %v", tc.x, tc.zp, qmin, qmax, q, y, math.Float32bits(y), tc.q, tc.y)
		}
		var out [1]float32
		if err := FakeQuantQDQ(out[:], []float32{tc.x}, s, tc.zp, qmin, qmax); err != nil || math.Float32bits(out[0]) != math.Float32bits(y) {
			t.Errorf("FakeQuantQDQ(%v) = %v, %v; want %v", tc.x, out[0], err, y)
		}
	}
	// Division, not multiplication by the reciprocal: with scale 0.01,
	// 0.045/0.01 = 4.5000005 (→ 5) but 0.045*(1/0.01) = 4.5 (→ 4).
	if q := QuantizeLinear(0.045, 0.01, 0, -128, 127); q != 5 {
		t.Errorf("QuantizeLinear(0.045, 0.01) = %d, want 5", q)
	}
}

func TestQDQErrors(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6}
	dst := make([]float32, 6)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"short dst", FakeQuantQDQ(dst[:5], x, 1, 0, -128, 127)},
		{"zp above", FakeQuantQDQ(dst, x, 1, 128, -128, 127)},
		{"zp below", FakeQuantQDQ(dst, x, 1, -1, 0, 255)},
		{"empty range", FakeQuantQDQ(dst, x, 1, 0, 1, 0)},
		{"range too wide", FakeQuantQDQ(dst, x, 1, 0, 0, 1<<17)},
		{"no channels", FakeQuantQDQPerChannel(dst, x, nil, nil, 1, -128, 127)},
		{"zp count", FakeQuantQDQPerChannel(dst, x, []float32{1, 1}, []int32{0}, 1, -128, 127)},
		{"inner 0", FakeQuantQDQPerChannel(dst, x, []float32{1}, []int32{0}, 0, -128, 127)},
		{"layout", FakeQuantQDQPerChannel(dst, x, []float32{1, 1}, []int32{0, 0}, 2, -128, 127)},
		{"short dst per channel", FakeQuantQDQPerChannel(dst[:3], x, []float32{1, 1}, []int32{0, 0}, 3, -128, 127)},
		{"channel zp", FakeQuantQDQPerChannel(dst, x, []float32{1, 1}, []int32{0, 300}, 3, 0, 255)},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	for _, v := range dst {
		if v != 0 {
			t.Fatalf("a failing call wrote dst: %v", dst)
		}
	}
}

// TestQDQPerChannelLayout checks the [outer][C][inner] walk against the
// per-tensor kernel, and aliasing dst == src.
func TestQDQPerChannelLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, shape := range [][3]int{{1, 1, 1}, {2, 3, 1}, {1, 4, 7}, {3, 2, 9}, {5, 1, 3}} {
		outer, c, inner := shape[0], shape[1], shape[2]
		scale := make([]float32, c)
		zp := make([]int32, c)
		for i := range scale {
			scale[i] = float32(r.ExpFloat64())
			zp[i] = int32(r.IntN(256))
		}
		x := make([]float32, outer*c*inner)
		for i := range x {
			x[i] = float32(r.NormFloat64()) * 100
		}
		got := append([]float32{}, x...)
		if err := FakeQuantQDQPerChannel(got, got, scale, zp, inner, 0, 255); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(x))
		for o := range outer {
			for ch := range c {
				i := (o*c + ch) * inner
				if err := FakeQuantQDQ(want[i:i+inner], x[i:i+inner], scale[ch], zp[ch], 0, 255); err != nil {
					t.Fatal(err)
				}
			}
		}
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Errorf("shape %v: %s", shape, d)
		}
	}
}

// TestQDQFBFakeQuant compares the kernel with the original toolkit's
// records in fb_fake_quant.json: scale = float32(amax/maxBound), zero point
// 0, full range.
//   - v2_1_2_use_fb_fake_quant (torch.fake_quantize_per_*_affine, which
//     multiplies by 1/scale) gives the same bits on all these inputs: none
//     is close enough to a tie for x*(1/scale) and x/scale to round apart
//     (TestQDQORTGolden's inputs are, and there they differ).
//   - derived_onnx_qdq_numpy (numpy rint(x/scale)*scale) differs only in
//     the sign of zero: numpy keeps -0 from rint, ORT returns +0.
//   - the default path (q / (maxBound/amax)) differs in the last one or
//     two bits, and in the sign of zero.
func TestQDQFBFakeQuant(t *testing.T) {
	var f struct {
		Cases []struct {
			Name       string                     `json:"name"`
			DescKwargs map[string]json.RawMessage `json:"desc_kwargs"`
			X          conformance.Tensor         `json:"x"`
			Amax       conformance.Tensor         `json:"amax_used"`
			FB         struct {
				Outputs *conformance.Tensor `json:"outputs"`
			} `json:"v2_1_2_use_fb_fake_quant"`
			Default struct {
				Outputs *conformance.Tensor `json:"outputs"`
			} `json:"v2_2_1_default"`
			Derived struct {
				Scale   conformance.Tensor `json:"scale"`
				Outputs conformance.Tensor `json:"outputs"`
			} `json:"derived_onnx_qdq_numpy"`
		} `json:"cases"`
	}
	if err := conformance.Load("fb_fake_quant.json", &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range f.Cases {
		numBits := 8
		if err := json.Unmarshal(c.DescKwargs["num_bits"], &numBits); err != nil {
			t.Fatalf("%s: num_bits: %v", c.Name, err)
		}
		_, maxBound := Format{NumBits: numBits}.Bounds()
		qmax := int32(maxBound)
		scale := make([]float32, len(c.Amax.F32))
		for i, a := range c.Amax.F32 {
			if scale[i] = a / maxBound; scale[i] == 0 {
				scale[i] = 1
			}
		}
		if d := conformance.DiffFloat32(scale, c.Derived.Scale.F32); d != "" {
			t.Errorf("%s: scale amax/%v: %s", c.Name, maxBound, d)
		}
		x := c.X.F32
		y := make([]float32, len(x))
		if err := FakeQuantQDQPerChannel(y, x, scale, make([]int32, len(scale)), len(x)/len(scale), -qmax-1, qmax); err != nil {
			t.Fatal(err)
		}
		if c.FB.Outputs != nil {
			if d := conformance.DiffFloat32(y, c.FB.Outputs.F32); d != "" {
				t.Errorf("%s: vs use_fb_fake_quant: %s", c.Name, d)
			}
		}
		signOnly := 0
		for i, want := range c.Derived.Outputs.F32 {
			switch {
			case conformance.SameFloat32(y[i], want):
			case want == 0 && y[i] == 0 && math.Signbit(float64(want)) && !math.Signbit(float64(y[i])):
				signOnly++
			default:
				t.Errorf("%s: [%d] x=%v: %v, numpy emulation %v", c.Name, i, x[i], y[i], want)
			}
		}
		lastBits, maxUlps := 0, int64(0)
		if c.Default.Outputs != nil {
			for i, want := range c.Default.Outputs.F32 {
				if conformance.SameFloat32(y[i], want) {
					continue
				}
				lastBits++
				if y[i] == 0 && want == 0 {
					continue // the sign of zero
				}
				d := int64(math.Float32bits(y[i])) - int64(math.Float32bits(want))
				maxUlps = max(maxUlps, d, -d)
				if d < -2 || d > 2 {
					t.Errorf("%s: [%d] x=%v: %v, default path %v: more than two ulps apart", c.Name, i, x[i], y[i], want)
				}
			}
		}
		t.Logf("%s: numpy emulation differs in the sign of zero only, %d of %d; the default path differs in %d (at most %d ulps, or the sign of zero)",
			c.Name, signOnly, len(y), lastBits, maxUlps)
	}
}

func BenchmarkFakeQuantQDQ(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%300) - 150
	}
	y := make([]float32, len(x))
	b.SetBytes(4 * int64(len(x)))
	for b.Loop() {
		if err := FakeQuantQDQ(y, x, 1.5/127, 0, -128, 127); err != nil {
			b.Fatal(err)
		}
	}
}

// TestQuantizeLinearCodes: QuantizeLinearCodes equals QuantizeLinear, element by
// element, on every code type's range, zero points at both ends, scales
// from tiny to huge, and values that are ties, NaN, infinities, signed
// zeros and far out of range; and it refuses bad arguments, writing
// nothing.
func TestQuantizeLinearCodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	x := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
		0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, 127.5, -127.5, -128.5, 254.5, 255.5, 1e30, -1e30, math.MaxFloat32, math.SmallestNonzeroFloat32}
	for range 4000 {
		x = append(x, float32(rng.NormFloat64()*100), float32(math.Round(rng.NormFloat64()*200))+0.5)
	}
	for _, sc := range []float32{1, 0.5, 0.013, 3.7e-5, 1e-30, 1e30, float32(math.Inf(1)), math.SmallestNonzeroFloat32} {
		for _, r := range [][3]int32{{-128, 127, 0}, {-128, 127, -128}, {-128, 127, 127}, {0, 255, 0}, {0, 255, 128}, {0, 255, 255}} {
			qmin, qmax, z := r[0], r[1], r[2]
			got8, gotU8 := make([]int8, len(x)), make([]uint8, len(x))
			var err error
			if qmin < 0 {
				err = QuantizeLinearCodes(got8, x, sc, z, qmin, qmax)
			} else {
				err = QuantizeLinearCodes(gotU8, x, sc, z, qmin, qmax)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range x {
				want := QuantizeLinear(v, sc, z, qmin, qmax)
				got := int32(got8[i])
				if qmin >= 0 {
					got = int32(gotU8[i])
				}
				if got != want {
					t.Fatalf("scale %v zero point %d [%d, %d]: %v quantized to %d, want %d", sc, z, qmin, qmax, v, got, want)
				}
			}
		}
	}
	dst := []int8{9, 9}
	for _, c := range []struct {
		err  error
		want string
	}{
		{QuantizeLinearCodes(dst[:1], x[:2], 1, 0, -128, 127), "fakequant: QuantizeLinear dst of 1 elements for 2 inputs"},
		{QuantizeLinearCodes(dst, x[:2], 1, 0, -129, 127), "fakequant: QuantizeLinear code range [-129, 127] is empty or outside [-128, 127]"},
		{QuantizeLinearCodes([]uint8{9, 9}, x[:2], 1, 0, 0, 256), "fakequant: QuantizeLinear code range [0, 256] is empty or outside [0, 255]"},
		{QuantizeLinearCodes(dst, x[:2], 1, 0, 5, 4), "fakequant: QuantizeLinear code range [5, 4] is empty or outside [-128, 127]"},
		{QuantizeLinearCodes(dst, x[:2], 1, 8, -8, 7), "fakequant: Q/DQ zero point 8 outside the code range [-8, 7]"},
	} {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("error %v, want %s", c.err, c.want)
		}
	}
	if dst[0] != 9 || dst[1] != 9 {
		t.Errorf("a refused call wrote %v", dst)
	}
}
