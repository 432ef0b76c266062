package fuzz

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// FuzzONNXDecode feeds arbitrary bytes to the ONNX decoder. It must never
// panic (the fuzzer also watches for huge allocations); input it rejects
// must give a *onnx.DecodeError; input it accepts must re-encode to bytes
// that decode again and re-encode to the very same bytes (decode → encode
// is a projection onto canonical form), unless it holds a tensor whose
// data disagrees with its dims, which Marshal refuses (the decoder does not
// interpret tensors).
//
// The committed corpus (testdata/fuzz/FuzzONNXDecode) holds the PyTorch
// exports of the conformance set, models built by the onnx package, and
// mutations of them: truncations, flipped bits, lengths beyond the input,
// wrong wire types, unknown fields and groups nested too deeply.
func FuzzONNXDecode(f *testing.F) {
	for _, name := range []string{"tiny_qdq_model.onnx", "tiny_qdq_model_v2_1_2_fb.onnx"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "conformance", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := onnx.Unmarshal(data)
		if err != nil {
			var de *onnx.DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) {
				t.Fatalf("error %T %v: not a *DecodeError with an offset inside the input", err, err)
			}
			return
		}
		b1, err := onnx.Marshal(m)
		if errors.Is(err, onnx.ErrInvalidTensor) {
			return
		}
		if err != nil {
			t.Fatalf("Marshal of a decoded model: %v", err)
		}
		m2, err := onnx.Unmarshal(b1)
		if err != nil {
			t.Fatalf("our own encoding does not decode: %v", err)
		}
		b2, err := onnx.Marshal(m2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("decode → encode is not stable: %d then %d bytes", len(b1), len(b2))
		}
	})
}
