package qgemm

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/onnx"
)

// The ONNX backend node tests of the four integer operators (Debian's
// libonnx-testdata: onnx's own expected outputs), run through this
// package's entry points on every family: they must match exactly.

const nodeDir = "/usr/share/libonnx-testdata/data/node"

// nodeTest reads test name's model (its one node) and its first data set.
func nodeTest(t *testing.T, name string) (*onnx.Node, []*onnx.Tensor, *onnx.Tensor) {
	t.Helper()
	dir := filepath.Join(nodeDir, name)
	b, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		exttool.Missing(t, "the ONNX backend suite (Debian's libonnx-testdata) is not installed: %v", err)
	}
	m, err := onnx.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var in []*onnx.Tensor
	for i := 0; ; i++ {
		x, err := onnx.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "input_"+strconv.Itoa(i)+".pb"))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, x)
	}
	out, err := onnx.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	return &m.Graph.Node[0], in, out
}

func values[T onnx.Element](t *testing.T, x *onnx.Tensor) []T {
	t.Helper()
	v, err := onnx.TensorValues[T](x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func attrInts(n *onnx.Node, name string) []int64 {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a.Ints
		}
	}
	return nil
}

func TestONNXNodeQLinearMatMul(t *testing.T) {
	for _, name := range []string{"test_qlinearmatmul_2D", "test_qlinearmatmul_3D"} {
		t.Run(name, func(t *testing.T) { testQLinearMatMul(t, name) })
	}
}

func testQLinearMatMul(t *testing.T, name string) {
	forEachFamily(t, func(t *testing.T, _ family) {
		_, in, out := nodeTest(t, name)
		a, b := values[uint8](t, in[0]), values[uint8](t, in[3])
		ad, bd := in[0].Dims, in[3].Dims
		m, k, n := int(ad[len(ad)-2]), int(ad[len(ad)-1]), int(bd[len(bd)-1])
		scale := values[float32](t, in[1])[0] * values[float32](t, in[4])[0] / values[float32](t, in[6])[0]
		zy := values[uint8](t, in[7])[0]
		got := make([]uint8, 0, len(a)/k*n)
		for batch := range len(a) / (m * k) {
			w, err := PackMatrix(b[batch*k*n:(batch+1)*k*n], k, n, n, false, values[uint8](t, in[5]))
			if err != nil {
				t.Fatal(err)
			}
			y := make([]uint8, m*n)
			am := Matrix[uint8]{Data: a[batch*m*k : (batch+1)*m*k], Rows: m, Stride: k, ZeroPoint: values[uint8](t, in[2])[0]}
			if err := MatMulQuant(1, am, w, nil, Requant{Scale: []float32{scale}, ZeroPoint: int32(zy), Min: 0, Max: 255}, y, n); err != nil {
				t.Fatal(err)
			}
			got = append(got, y...)
		}
		if want := values[uint8](t, out); !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", name, got, want)
		}
		cases++
	})
}

func TestONNXNodeQLinearConv(t *testing.T) {
	forEachFamily(t, func(t *testing.T, _ family) {
		_, in, out := nodeTest(t, "test_qlinearconv")
		xd, wd := in[0].Dims, in[3].Dims
		c := Conv{Batch: int(xd[0]), InC: int(xd[1]), InH: int(xd[2]), InW: int(xd[3]), OutC: int(wd[0]), KH: int(wd[2]), KW: int(wd[3])}
		cw, err := PackConv(c, values[uint8](t, in[3]), values[uint8](t, in[5]))
		if err != nil {
			t.Fatal(err)
		}
		scale := values[float32](t, in[1])[0] * values[float32](t, in[4])[0] / values[float32](t, in[6])[0]
		y := make([]uint8, c.Batch*c.OutC*c.OutH()*c.OutW())
		q := Requant{Scale: []float32{scale}, ZeroPoint: int32(values[uint8](t, in[7])[0]), Min: 0, Max: 255}
		if err := ConvQuant(1, cw, NCHW, NCHW, values[uint8](t, in[0]), values[uint8](t, in[2])[0], nil, q, y); err != nil {
			t.Fatal(err)
		}
		if want := values[uint8](t, out); !slices.Equal(y, want) {
			t.Fatalf("%v, want %v", y, want)
		}
		cases++
	})
}

func TestONNXNodeConvInteger(t *testing.T) {
	for _, name := range []string{"test_basic_convinteger", "test_convinteger_with_padding", "test_convinteger_without_padding"} {
		t.Run(name, func(t *testing.T) { testConvInteger(t, name) })
	}
}

func testConvInteger(t *testing.T, name string) {
	forEachFamily(t, func(t *testing.T, _ family) {
		node, in, out := nodeTest(t, name)
		xd, wd := in[0].Dims, in[1].Dims
		c := Conv{Batch: int(xd[0]), InC: int(xd[1]), InH: int(xd[2]), InW: int(xd[3]), OutC: int(wd[0]), KH: int(wd[2]), KW: int(wd[3])}
		if p := attrInts(node, "pads"); p != nil {
			c.PadTop, c.PadLeft, c.PadBottom, c.PadRight = int(p[0]), int(p[1]), int(p[2]), int(p[3])
		}
		cw, err := PackConv(c, values[uint8](t, in[1]), []uint8{0})
		if err != nil {
			t.Fatal(err)
		}
		y := make([]int32, c.Batch*c.OutC*c.OutH()*c.OutW())
		if err := ConvInt32(1, cw, NCHW, NCHW, values[uint8](t, in[0]), values[uint8](t, in[2])[0], nil, y); err != nil {
			t.Fatal(err)
		}
		if want := values[int32](t, out); !slices.Equal(y, want) {
			t.Fatalf("%s: %v, want %v", name, y, want)
		}
		cases++
	})
}

func TestONNXNodeMatMulInteger(t *testing.T) {
	forEachFamily(t, func(t *testing.T, _ family) {
		_, in, out := nodeTest(t, "test_matmulinteger")
		m, k, n := int(in[0].Dims[0]), int(in[0].Dims[1]), int(in[1].Dims[1])
		w, err := PackMatrix(values[uint8](t, in[1]), k, n, n, false, values[uint8](t, in[3]))
		if err != nil {
			t.Fatal(err)
		}
		y := make([]int32, m*n)
		a := Matrix[uint8]{Data: values[uint8](t, in[0]), Rows: m, Stride: k, ZeroPoint: values[uint8](t, in[2])[0]}
		if err := MatMulInt32(1, a, w, nil, y, n); err != nil {
			t.Fatal(err)
		}
		if want := values[int32](t, out); !slices.Equal(y, want) {
			t.Fatalf("%v, want %v", y, want)
		}
		cases++
	})
}
