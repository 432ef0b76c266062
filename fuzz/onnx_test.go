package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// FuzzONNXDecode feeds arbitrary bytes to the ONNX decoder. It must never
// panic nor allocate more than onnx.MaxDecodeRatio bytes per input byte
// (plus a fixed slack; runtime.MemStats.TotalAlloc around one decode,
// garbage included); input it rejects must give a *onnx.DecodeError; input
// it accepts must re-encode to bytes that decode again and re-encode to
// the very same bytes (decode → encode is a projection onto canonical
// form), unless it holds a tensor whose data disagrees with its dims,
// which Marshal refuses (the decoder does not interpret tensors).
//
// The committed corpus (testdata/fuzz/FuzzONNXDecode) holds the PyTorch
// exports of the conformance set, models built by the onnx package, and
// mutations of them: truncations, flipped bits, lengths beyond the input,
// wrong wire types, unknown fields and groups nested too deeply. The seeds
// added here repeat empty initializers, nodes, attributes, value infos and
// dimensions, which once cost 250-750 bytes per input byte each.
func FuzzONNXDecode(f *testing.F) {
	for _, name := range []string{"tiny_qdq_model.onnx", "tiny_qdq_model_v2_1_2_fb.onnx"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "conformance", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// 10^5 empty initializers, nodes and attributes (200 KB each); the
	// other amplifiers, smaller here to keep the fuzzer fast, are decoded
	// at 10^5 by onnx.TestDecodeAmplification.
	empty := func(tag byte, n int) []byte { return bytes.Repeat([]byte{tag, 0}, n) }
	graph := func(c []byte) []byte { return protoField(0x3a, c) }
	f.Add(graph(empty(0x2a, 100_000)))                                                                      // initializer
	f.Add(graph(empty(0x0a, 100_000)))                                                                      // node
	f.Add(graph(protoField(0x0a, empty(0x2a, 100_000))))                                                    // node.attribute
	f.Add(graph(empty(0x5a, 1000)))                                                                         // input
	f.Add(graph(protoField(0x0a, bytes.Repeat(protoField(0x2a, protoField(0x2a, nil)), 1000))))             // attributes with an empty tensor
	f.Add(graph(protoField(0x5a, protoField(0x12, protoField(0x0a, protoField(0x12, empty(0x0a, 1000))))))) // input.type.tensor_type.shape.dim
	f.Add(bytes.Repeat(graph(protoField(0x0a, nil)), 1000))                                                 // graph merged 1000 times
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := onnx.Unmarshal(data)
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > onnx.MaxDecodeRatio*uint64(len(data))+decodeSlack {
			t.Fatalf("Unmarshal allocated %d bytes for %d bytes of input (%.0f per byte)", got, len(data), float64(got)/float64(len(data)))
		}
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

// decodeSlack is the fixed part of what a decode may allocate: the model,
// the decoder's readers and an error.
const decodeSlack = 16 << 10

// protoField returns a length-delimited protobuf field: the one-byte tag,
// the length as a varint, the content.
func protoField(tag byte, content []byte) []byte {
	return append(binary.AppendUvarint([]byte{tag}, uint64(len(content))), content...)
}
