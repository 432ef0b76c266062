package onnx

import (
	"bytes"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/tensorquant/tensorquant/onnx/internal/wire"
)

// decodeAllocSlack is the fixed part of what Unmarshal allocates: the
// model, the readers, an error.
const decodeAllocSlack = 16 << 10

// decodeAlloc returns the bytes Unmarshal allocates for b (TotalAlloc,
// garbage included) and its error.
func decodeAlloc(b []byte) (uint64, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Unmarshal(b)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, err
}

// amplifiers returns inputs that each repeat one small element n times:
// empty messages in every repeated message field, empty strings, unpacked
// and packed scalars, unknown fields, nested singular messages, and
// repeated singular fields (a string, a merged message).
func amplifiers(n int) []struct {
	name string
	b    []byte
} {
	rep := func(b []byte) []byte { return bytes.Repeat(b, n) }
	graph := func(c ...[]byte) []byte { return msg(modelGraph, c...) }
	node := func(c ...[]byte) []byte { return graph(msg(graphNode, c...)) }
	attr := func(c ...[]byte) []byte { return node(msg(nodeAttribute, c...)) }
	init := func(c ...[]byte) []byte { return graph(msg(graphInitializer, c...)) }
	shape := func(c ...[]byte) []byte {
		return graph(msg(graphInput, msg(valueInfoType, msg(typeTensorType, msg(tensorTypeShape, c...)))))
	}
	varint := func(num wire.Number, v uint64) []byte {
		return wire.AppendVarint(wire.AppendTag(nil, num, wire.VarintType), v)
	}
	fixed32 := wire.AppendFixed32(wire.AppendTag(nil, attrFloats, wire.Fixed32Type), 0)
	fixed64 := wire.AppendFixed64(wire.AppendTag(nil, tensorDoubleData, wire.Fixed64Type), 0)
	unknown := varint(15, 0) // field 15 is modelled by none of the messages
	return []struct {
		name string
		b    []byte
	}{
		{"empty initializers", graph(rep(msg(graphInitializer)))},
		{"empty nodes", graph(rep(msg(graphNode)))},
		{"empty inputs", graph(rep(msg(graphInput)))},
		{"empty outputs", graph(rep(msg(graphOutput)))},
		{"empty value infos", graph(rep(msg(graphValueInfo)))},
		{"empty opset imports", rep(msg(modelOpsetImport))},
		{"empty metadata props", rep(msg(modelMetadataProps))},
		{"empty attributes", node(rep(msg(nodeAttribute)))},
		{"empty dims", shape(rep(msg(shapeDim)))},
		{"empty node inputs", node(rep(msg(nodeInput)))},
		{"empty node outputs", node(rep(msg(nodeOutput)))},
		{"empty attribute strings", attr(rep(msg(attrStrings)))},
		{"attribute floats unpacked", attr(rep(fixed32))},
		{"attribute ints unpacked", attr(rep(varint(attrInts, 0)))},
		{"attribute ints packed runs", attr(rep(msg(attrInts, []byte{0})))},
		{"attribute ints empty packed runs", attr(rep(msg(attrInts)))},
		{"attributes with an empty tensor", node(rep(msg(nodeAttribute, msg(attrT))))},
		{"tensor dims unpacked", init(rep(varint(tensorDims, 0)))},
		{"tensor dims packed", init(msg(tensorDims, make([]byte, 8*n)))},
		{"tensor dims packed runs", init(rep(msg(tensorDims, []byte{0})))},
		{"tensor int64 packed runs", init(rep(msg(tensorInt64Data, []byte{0})))},
		{"tensor uint64 packed runs", init(rep(msg(tensorUint64Data, []byte{0})))},
		{"tensor int32 packed runs", init(rep(msg(tensorInt32Data, []byte{0})))},
		{"tensor floats packed runs", init(rep(msg(tensorFloatData, make([]byte, 4))))},
		{"tensor doubles unpacked", init(rep(fixed64))},
		{"tensor raw data repeated", init(rep(msg(tensorRawData, []byte{1})))},
		{"empty tensor external data entries", init(rep(msg(tensorExtData)))},
		{"unknown fields in the model", rep(unknown)},
		{"unknown fields in nodes", graph(rep(msg(graphNode, unknown)))},
		{"unknown fields in dims", shape(rep(msg(shapeDim, unknown)))},
		{"repeated graph name", graph(rep(msg(graphName, []byte("ab"))))},
		{"repeated graph", rep(graph())},
		{"repeated attribute tensor", node(msg(nodeAttribute, rep(msg(attrT, msg(tensorDims, []byte{0})))))},
		{"nested empty value infos", graph(rep(msg(graphInput, msg(valueInfoType, msg(typeTensorType, msg(tensorTypeShape))))))},
	}
}

// TestDecodeAmplification: for each amplifier with 10^5 elements, Unmarshal
// allocates at most MaxDecodeRatio bytes per input byte (plus
// decodeAllocSlack), garbage included. Before the counting decoder, 10^5
// empty initializers (200 KB) cost 70 MB: a Tensor (then 240 bytes) per 2 bytes,
// plus append growth and a reader per element.
func TestDecodeAmplification(t *testing.T) {
	for _, tc := range amplifiers(100_000) {
		got, err := decodeAlloc(tc.b)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		ratio := float64(got) / float64(len(tc.b))
		t.Logf("%-34s %8d bytes in, %10d allocated (%.1f per byte)", tc.name, len(tc.b), got, ratio)
		if got > MaxDecodeRatio*uint64(len(tc.b))+decodeAllocSlack {
			t.Errorf("%s: %d bytes allocated for %d bytes of input (%.0f per byte)", tc.name, got, len(tc.b), ratio)
		}
	}
}

// TestMessageSizes: an empty message in a repeated field (two bytes)
// costs one struct, which MaxDecodeRatio must cover for every message
// type; a field added to a message shows here first.
func TestMessageSizes(t *testing.T) {
	for name, size := range map[string]uintptr{
		"Model": unsafe.Sizeof(Model{}), "OperatorSetID": unsafe.Sizeof(OperatorSetID{}),
		"StringStringEntry": unsafe.Sizeof(StringStringEntry{}), "Graph": unsafe.Sizeof(Graph{}),
		"Node": unsafe.Sizeof(Node{}), "Attribute": unsafe.Sizeof(Attribute{}), "Tensor": unsafe.Sizeof(Tensor{}),
		"ValueInfo": unsafe.Sizeof(ValueInfo{}), "Type": unsafe.Sizeof(Type{}), "TensorType": unsafe.Sizeof(TensorType{}),
		"TensorShape": unsafe.Sizeof(TensorShape{}), "Dimension": unsafe.Sizeof(Dimension{}),
	} {
		if size > 2*MaxDecodeRatio {
			t.Errorf("%s is %d bytes, more than MaxDecodeRatio (%d) per byte of an empty message", name, size, MaxDecodeRatio)
		}
	}
}

// TestMergeAcrossOccurrences: a singular message field that occurs several
// times is decoded as one message from all of them, nested ones too, and
// an error in a later occurrence names the element and the byte it is at.
func TestMergeAcrossOccurrences(t *testing.T) {
	dim := func(v byte) []byte { return msg(shapeDim, []byte{0x08, v}) }
	typ := func(dims ...[]byte) []byte {
		return msg(valueInfoType, msg(typeTensorType, msg(tensorTypeShape, dims...)))
	}
	// input { name: "x" type {..dim 1..} type {..dim 2..} doc_string: "d" type {..dim 3..} }
	vi := msg(graphInput, []byte{0x0a, 0x01, 'x'}, typ(dim(1)), typ(dim(2)), []byte{0x1a, 0x01, 'd'}, typ(dim(3)))
	in := msg(modelGraph, vi)
	m, err := Unmarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Graph.Input[0]
	if got.Name != "x" || got.DocString != "d" || len(got.Type.Tensor.Shape.Dim) != 3 {
		t.Fatalf("merged value info: %+v", got)
	}
	for i, d := range got.Type.Tensor.Shape.Dim {
		if d.Value != int64(i+1) {
			t.Errorf("dim %d = %d, want %d", i, d.Value, i+1)
		}
	}
	want := msg(modelGraph, msg(graphInput, []byte{0x0a, 0x01, 'x'}, typ(dim(1), dim(2), dim(3)), []byte{0x1a, 0x01, 'd'}))
	if out := mustMarshal(t, m); !bytes.Equal(out, want) {
		t.Errorf("re-encoded as\n% x\nwant\n% x", out, want)
	}

	// graph { node {} } ir_version: 7 graph { node { op_type: varint } }:
	// the error is in the second graph's node, the second node of the
	// merged graph.
	bad := slices.Concat(msg(modelGraph, msg(graphNode)), []byte{0x08, 0x07}, msg(modelGraph, msg(graphNode, []byte{0x20, 0x01})))
	_, err = Unmarshal(bad)
	var de *DecodeError
	if !errors.As(err, &de) || de.Offset != 10 || de.Path != "ModelProto.graph.node[1]" || !strings.Contains(de.Err.Error(), "NodeProto.op_type (field 4): wire type varint, want bytes") {
		t.Errorf("error in a later occurrence: %v", err)
	}
}
