package onnx

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/badfile"
	"github.com/tensorquant/tensorquant/onnx/internal/wire"
)

func mustMarshal(t *testing.T, m *Model) []byte {
	t.Helper()
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// msg returns field num holding the message (or bytes) content: tag,
// length, content.
func msg(num wire.Number, content ...[]byte) []byte {
	return wire.AppendBytes(wire.AppendTag(nil, num, wire.BytesType), slices.Concat(content...))
}

// b is a byte-slice literal helper.
func b(v ...byte) []byte { return v }

// TestTensorEncoding pins the encoding of every modelled tensor field,
// on a tensor Marshal refuses (its data is in three places): dims
// unpacked, typed data packed, an empty raw_data present.
func TestTensorEncoding(t *testing.T) {
	tn := Tensor{Dims: []int64{2}, DataType: Float, FloatData: []float32{1, 2}, Int64Data: []int64{-1}, Name: "w", RawData: []byte{}}
	want := b(0x08, 0x02, 0x10, 0x01, 0x22, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40,
		0x3a, 0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0x42, 0x01, 'w', 0x4a, 0x00)
	if got := tn.appendTo(nil); !bytes.Equal(got, want) {
		t.Errorf("got % x\nwant % x", got, want)
	}
	if _, err := Marshal(&Model{Graph: &Graph{Initializer: []Tensor{tn}}}); err == nil {
		t.Error("Marshal wrote a tensor with raw_data and typed values")
	}
}

// TestMarshalGolden pins the encoding of small models byte by byte (the
// scalar bytes are written out; msg adds tags and lengths).
func TestMarshalGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    *Model
		want []byte
	}{
		{"empty", &Model{}, nil},
		{"header", &Model{IRVersion: 7, ProducerName: "pt", OpsetImport: []OperatorSetID{{Version: 13}}},
			b(0x08, 0x07, 0x12, 0x02, 'p', 't', 0x42, 0x02, 0x10, 0x0d)},
		{"opset with domain", &Model{OpsetImport: []OperatorSetID{{Domain: "ai.onnx.ml", Version: 2}}},
			msg(8, b(0x0a, 0x0a), []byte("ai.onnx.ml"), b(0x10, 0x02))},
		{"metadata", &Model{ModelVersion: 3, DocString: "d", MetadataProps: []StringStringEntry{{Key: "k", Value: "v"}}},
			b(0x28, 0x03, 0x32, 0x01, 'd', 0x72, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v')},
		// INT attribute with value 0: "i: 0" is written (ONNX needs one value).
		{"attribute int 0", &Model{Graph: &Graph{Node: []Node{{OpType: "Q", Attribute: []Attribute{IntAttr("axis", 0)}}}}},
			msg(7, msg(1, b(0x22, 0x01, 'Q'), msg(5, b(0x0a, 0x04, 'a', 'x', 'i', 's', 0x18, 0x00, 0xa0, 0x01, 0x02))))},
		// Negative INT: ten bytes. FLOAT 1: fixed32.
		{"attributes", &Model{Graph: &Graph{Node: []Node{{Attribute: []Attribute{IntAttr("a", -1), FloatAttr("b", 1)}}}}},
			msg(7, msg(1,
				msg(5, b(0x0a, 0x01, 'a', 0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0xa0, 0x01, 0x02)),
				msg(5, b(0x0a, 0x01, 'b', 0x15, 0x00, 0x00, 0x80, 0x3f, 0xa0, 0x01, 0x01))))},
		// INTS and FLOATS unpacked (proto2 without [packed]), STRING empty.
		{"lists", &Model{Graph: &Graph{Node: []Node{{Attribute: []Attribute{IntsAttr("p", 1, 2), FloatsAttr("f", 0.5), StringAttr("s", "")}}}}},
			msg(7, msg(1,
				msg(5, b(0x0a, 0x01, 'p', 0x40, 0x01, 0x40, 0x02, 0xa0, 0x01, 0x07)),
				msg(5, b(0x0a, 0x01, 'f', 0x3d, 0x00, 0x00, 0x00, 0x3f, 0xa0, 0x01, 0x06)),
				msg(5, b(0x0a, 0x01, 's', 0x22, 0x00, 0xa0, 0x01, 0x03))))},
		// Tensor: dims unpacked, typed data packed (TestTensorEncoding
		// has the other fields); empty input names are kept (omitted
		// optional inputs).
		{"tensor", &Model{Graph: &Graph{
			Node:        []Node{{Input: []string{"x", ""}}},
			Initializer: []Tensor{{Dims: []int64{2}, DataType: Float, FloatData: []float32{1, 2}, Name: "w"}},
		}},
			msg(7,
				msg(1, b(0x0a, 0x01, 'x', 0x0a, 0x00)),
				msg(5, b(0x08, 0x02, 0x10, 0x01, 0x22, 0x08, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40,
					0x42, 0x01, 'w')))},
		// Value info: a scalar has an empty shape; an unknown dimension is
		// an empty Dimension; DimValue(0) is written.
		{"value info", &Model{Graph: &Graph{Input: []ValueInfo{
			TensorValueInfo("s", Int8),
			TensorValueInfo("x", Float, DimParam("n"), Dimension{}, DimValue(0)),
		}}},
			msg(7,
				msg(11, b(0x0a, 0x01, 's'), msg(2, msg(1, b(0x08, 0x03), msg(2)))),
				msg(11, b(0x0a, 0x01, 'x'), msg(2, msg(1, b(0x08, 0x01), msg(2,
					msg(1, b(0x12, 0x01, 'n')), msg(1), msg(1, b(0x08, 0x00)))))))},
	} {
		got := mustMarshal(t, tc.m)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s:\n got % x\nwant % x", tc.name, got, tc.want)
			continue
		}
		m, err := Unmarshal(got)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if again := mustMarshal(t, m); !bytes.Equal(again, got) {
			t.Errorf("%s: decode and re-encode gives % x", tc.name, again)
		}
	}
}

// TestPresence: zero scalars are omitted unless the input had them, and
// then written back.
func TestPresence(t *testing.T) {
	// producer_name: "", model_version: 0, opset_import { domain: ""
	// version: 0 }.
	in := b(0x12, 0x00, 0x28, 0x00, 0x42, 0x04, 0x0a, 0x00, 0x10, 0x00)
	m, err := Unmarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if out := mustMarshal(t, m); !bytes.Equal(out, in) {
		t.Errorf("present zeros: got % x, want % x", out, in)
	}
	// The same values set in Go are not written.
	lit := &Model{OpsetImport: []OperatorSetID{{}}}
	if out := mustMarshal(t, lit); !bytes.Equal(out, b(0x42, 0x00)) {
		t.Errorf("zero literal: % x", out)
	}
	// An attribute without a type, with i: 0 and f: 0 present, keeps both
	// (in field order).
	in = msg(7, msg(1, msg(5, b(0x18, 0x00, 0x15, 0, 0, 0, 0))))
	m, err = Unmarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := msg(7, msg(1, msg(5, b(0x15, 0, 0, 0, 0, 0x18, 0x00))))
	if out := mustMarshal(t, m); !bytes.Equal(out, want) {
		t.Errorf("attribute: got % x, want % x", out, want)
	}
}

// TestUnknownFields: fields this package does not model are kept, at
// every level, and written after the known ones.
func TestUnknownFields(t *testing.T) {
	unknown := [][]byte{
		{0xa0, 0x01, 0x05},                   // field 20 varint
		{0xcd, 0x01, 1, 2, 3, 4},             // field 25 fixed32
		{0xd1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, // field 26 fixed64
		{0xba, 0x01, 0x03, 0x0a, 0x01, 0x00}, // field 23 bytes (a nested message)
		{0xdb, 0x01, 0x08, 0x01, 0xdc, 0x01}, // field 27 group with a varint inside
		{0xf8, 0xff, 0xff, 0xff, 0x0f, 0x2a}, // field 2^29-1 varint
	}
	all := slices.Concat(unknown...)
	// Known content followed by the unknown fields, at the model, graph,
	// node, attribute, tensor and dimension levels.
	wrap := func(num wire.Number, inner []byte) []byte {
		return wire.AppendBytes(wire.AppendTag(nil, num, wire.BytesType), inner)
	}
	dim := slices.Concat([]byte{0x08, 0x04}, all)
	shape := wrap(shapeDim, dim)
	tt := slices.Concat([]byte{0x08, 0x01}, wrap(tensorTypeShape, shape), all)
	typ := slices.Concat(wrap(typeTensorType, tt), all)
	vi := slices.Concat([]byte{0x0a, 0x01, 'x'}, wrap(valueInfoType, typ), all)
	tensor := slices.Concat([]byte{0x08, 0x01, 0x10, 0x01}, all)
	attr := slices.Concat([]byte{0x0a, 0x01, 'a'}, wrap(attrT, tensor), []byte{0xa0, 0x01, 0x04}, all[3:]) // field 20 is AttributeProto.type
	node := slices.Concat(wrap(nodeAttribute, attr), all)
	opset := slices.Concat([]byte{0x10, 0x0d}, all)
	entry := slices.Concat([]byte{0x0a, 0x01, 'k'}, all)
	graph := slices.Concat(wrap(graphNode, node), wrap(graphInput, vi), all)
	model := slices.Concat([]byte{0x08, 0x07}, wrap(modelGraph, graph), wrap(modelOpsetImport, opset), wrap(modelMetadataProps, entry), all)

	m, err := Unmarshal(model)
	if err != nil {
		t.Fatal(err)
	}
	if out := mustMarshal(t, m); !bytes.Equal(out, model) {
		t.Errorf("re-encoding with unknown fields:\n got % x\nwant % x", out, model)
	}
	if !bytes.Equal(m.x.unknown, all) || !bytes.Equal(m.Graph.Input[0].Type.Tensor.Shape.Dim[0].x.unknown, all) {
		t.Errorf("unknown bytes not kept: % x", m.x.unknown)
	}
	if m.Graph.Node[0].Attribute[0].Type != AttrTensor || m.Graph.Node[0].Attribute[0].T.DataType != Float {
		t.Errorf("known fields around unknown ones: %+v", m.Graph.Node[0].Attribute[0])
	}
	// Unknown fields in the middle move to the end; the content is the same.
	mid := slices.Concat([]byte{0x08, 0x07}, all, []byte{0x12, 0x01, 'p'})
	m, err = Unmarshal(mid)
	if err != nil {
		t.Fatal(err)
	}
	if out := mustMarshal(t, m); !bytes.Equal(out, slices.Concat([]byte{0x08, 0x07, 0x12, 0x01, 'p'}, all)) {
		t.Errorf("unknown fields in the middle: % x", out)
	}
}

// TestMergeSemantics: protobuf's rules for repeated occurrences.
func TestMergeSemantics(t *testing.T) {
	// graph twice: merged (two nodes, name from the second).
	in := []byte{0x3a, 0x04, 0x0a, 0x00, 0x12, 0x00, 0x3a, 0x05, 0x0a, 0x00, 0x12, 0x01, 'g'}
	m, err := Unmarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Node) != 2 || m.Graph.Name != "g" {
		t.Errorf("merged graph: %d nodes, name %q", len(m.Graph.Node), m.Graph.Name)
	}
	// ir_version twice: the last wins.
	if m, err := Unmarshal([]byte{0x08, 0x01, 0x08, 0x09}); err != nil || m.IRVersion != 9 {
		t.Errorf("last ir_version: %v %v", m, err)
	}
	// dims packed and unpacked, int32_data packed in two runs.
	tensor := []byte{0x0a, 0x02, 0x02, 0x03, 0x08, 0x04, 0x2a, 0x01, 0x05, 0x2a, 0x01, 0x06}
	model := wire.AppendBytes(wire.AppendTag(nil, modelGraph, wire.BytesType),
		wire.AppendBytes(wire.AppendTag(nil, graphInitializer, wire.BytesType), tensor))
	m, err = Unmarshal(model)
	if err != nil {
		t.Fatal(err)
	}
	tt := m.Graph.Initializer[0]
	if !slices.Equal(tt.Dims, []int64{2, 3, 4}) || !slices.Equal(tt.Int32Data, []int32{5, 6}) {
		t.Errorf("packed/unpacked: dims %v int32_data %v", tt.Dims, tt.Int32Data)
	}
	// oneof dim_value / dim_param: the last one wins.
	for _, tc := range []struct {
		dim   []byte
		value int64
		param string
		out   []byte
	}{
		{[]byte{0x08, 0x05, 0x12, 0x01, 'n'}, 0, "n", []byte{0x12, 0x01, 'n'}},
		{[]byte{0x12, 0x01, 'n', 0x08, 0x00}, 0, "", []byte{0x08, 0x00}},
	} {
		var d Dimension
		if err := d.decode(&reader{b: tc.dim, msg: "Dimension"}); err != nil {
			t.Fatal(err)
		}
		if d.Value != tc.value || d.Param != tc.param {
			t.Errorf("% x: value %d param %q", tc.dim, d.Value, d.Param)
		}
		if out := d.appendTo(nil); !bytes.Equal(out, tc.out) {
			t.Errorf("% x re-encodes as % x, want % x", tc.dim, out, tc.out)
		}
	}
}

// TestDecodeErrors: malformed input gives a *DecodeError naming the
// message and field, at the right offset.
func TestDecodeErrors(t *testing.T) {
	graph := func(inner ...byte) []byte {
		return wire.AppendBytes(wire.AppendTag(nil, modelGraph, wire.BytesType), inner)
	}
	nested := func() []byte {
		var b []byte
		for range wire.MaxGroupDepth + 1 {
			b = append(b, 0xdb, 0x01) // field 27 start-group
		}
		for range wire.MaxGroupDepth + 1 {
			b = append(b, 0xdc, 0x01)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		in     []byte
		offset int
		path   string
		msg    string
	}{
		{"wrong wire type", []byte{0x0a, 0x00}, 0, "ModelProto", "ModelProto.ir_version (field 1): wire type bytes, want varint"},
		{"string as varint", []byte{0x10, 0x01}, 0, "ModelProto", "ModelProto.producer_name (field 2): wire type varint, want bytes"},
		{"nested wrong type", graph(0x0a, 0x03, 0x20, 0x01, 0x00), 4, "ModelProto.graph.node[0]", "NodeProto.op_type (field 4): wire type varint, want bytes"},
		{"attribute f as varint", graph(0x0a, 0x04, 0x2a, 0x02, 0x10, 0x01), 6, "ModelProto.graph.node[0].attribute[0]", "AttributeProto.f (field 2): wire type varint, want fixed32"},
		{"dims as fixed32", graph(0x2a, 0x05, 0x0d, 1, 2, 3, 4), 4, "ModelProto.graph.initializer[0]", "TensorProto.dims (field 1): wire type fixed32, want varint or bytes (packed)"},
		{"float_data bad packed length", graph(0x2a, 0x05, 0x22, 0x03, 1, 2, 3), 6, "ModelProto.graph.initializer[0]", "TensorProto.float_data (field 4, packed): wire: packed fixed-width payload"},
		{"length beyond input", []byte{0x3a, 0x7f, 0x00}, 0, "ModelProto", "ModelProto.graph (field 7): wire: unexpected end of input"},
		{"huge length", append([]byte{0x3a}, wire.AppendVarint(nil, 1<<62)...), 0, "ModelProto", "unexpected end of input"},
		{"truncated varint", []byte{0x08, 0x80}, 0, "ModelProto", "ModelProto.ir_version (field 1): wire: unexpected end of input"},
		{"varint overflow", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 0, "ModelProto", "varint longer than 10 bytes"},
		{"field number 0", []byte{0x08, 0x01, 0x00}, 2, "ModelProto", "ModelProto: field tag: wire: invalid field number"},
		{"reserved wire type", []byte{0x3e}, 0, "ModelProto", "ModelProto.graph (field 7): wire type reserved(6), want bytes"},
		{"unknown reserved wire type", []byte{0xa6, 0x01}, 0, "ModelProto", "ModelProto field 20 (not modelled, reserved(6)): wire: reserved wire type"},
		{"stray end group", []byte{0x08, 0x01, 0xdc, 0x01}, 2, "ModelProto", "end-group"},
		{"groups too deep", nested(), 0, "ModelProto", "groups nested too deeply"},
		{"deep dims packed truncated", graph(0x2a, 0x03, 0x0a, 0x01, 0x80), 6, "ModelProto.graph.initializer[0]", "TensorProto.dims (field 1, packed): wire: unexpected end of input"},
		{"shape dim wrong type", graph(0x5a, 0x0a, 0x12, 0x08, 0x0a, 0x06, 0x12, 0x04, 0x0a, 0x02, 0x08, 0xff), 12, "ModelProto.graph.input[0].type.tensor_type.shape.dim[0]", "TensorShapeProto.Dimension.dim_value (field 1): wire: unexpected end of input"},
	} {
		m, err := Unmarshal(tc.in)
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%s: got %v, %v; want a *DecodeError", tc.name, m, err)
			continue
		}
		if de.Offset != tc.offset || de.Path != tc.path || !strings.Contains(de.Err.Error(), tc.msg) {
			t.Errorf("%s: offset %d path %q err %q; want %d %q containing %q", tc.name, de.Offset, de.Path, de.Err, tc.offset, tc.path, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "onnx: malformed model at byte ") {
			t.Errorf("%s: message %q", tc.name, err)
		}
	}
}

// TestDecodeAllocationBounded: a length or a packed count far beyond the
// input allocates nothing of that size.
func TestDecodeAllocationBounded(t *testing.T) {
	// raw_data claiming 2^40 bytes, and 100000 packed varints in 100000 bytes.
	claim := msg(modelGraph, msg(graphInitializer, wire.AppendVarint([]byte{0x4a}, 1<<40)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Unmarshal(claim)
	runtime.ReadMemStats(&after)
	var de *DecodeError
	if !errors.As(err, &de) || de.Path != "ModelProto.graph.initializer[0]" || !strings.Contains(de.Err.Error(), "raw_data") {
		t.Fatalf("raw_data claiming 2^40 bytes: %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("%d bytes allocated for a %d-byte input", d, len(claim))
	}
	packed := bytes.Repeat([]byte{0x01}, 100000)
	tensor := wire.AppendBytes(wire.AppendTag(nil, tensorDims, wire.BytesType), packed)
	model := wire.AppendBytes(wire.AppendTag(nil, modelGraph, wire.BytesType),
		wire.AppendBytes(wire.AppendTag(nil, graphInitializer, wire.BytesType), tensor))
	m, err := Unmarshal(model)
	if err != nil {
		t.Fatal(err)
	}
	if d := m.Graph.Initializer[0].Dims; len(d) != 100000 || cap(d) > 110000 {
		t.Errorf("dims: len %d cap %d", len(d), cap(d))
	}
}

func TestTensors(t *testing.T) {
	f, err := NewTensor("w", []int64{2, 2}, []float32{1, -2, float32(math.Inf(1)), float32(math.Copysign(0, -1))})
	if err != nil {
		t.Fatal(err)
	}
	if f.DataType != Float || !bytes.Equal(f.RawData, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0x80, 0x7f, 0, 0, 0, 0x80}) {
		t.Errorf("float tensor: %v % x", f.DataType, f.RawData)
	}
	roundTrip := func(name string, got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, %v; want %v", name, got, err, want)
		}
	}
	check := func(tt Tensor, err error) *Tensor {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return &tt
	}
	v8 := []int8{-128, 127, 0}
	got8, err := TensorValues[int8](check(NewTensor("", []int64{3}, v8)))
	roundTrip("int8", got8, v8, err)
	vu8 := []uint8{255, 0}
	gotu8, err := TensorValues[uint8](check(NewTensor("", []int64{2}, vu8)))
	roundTrip("uint8", gotu8, vu8, err)
	v16 := []int16{-300}
	got16, err := TensorValues[int16](check(NewTensor("", []int64{1}, v16)))
	roundTrip("int16", got16, v16, err)
	vu16 := []uint16{65535}
	gotu16, err := TensorValues[uint16](check(NewTensor("", []int64{1}, vu16)))
	roundTrip("uint16", gotu16, vu16, err)
	v32 := []int32{-1, 1 << 30}
	got32, err := TensorValues[int32](check(NewTensor("", []int64{2}, v32)))
	roundTrip("int32", got32, v32, err)
	vu32 := []uint32{1 << 31}
	gotu32, err := TensorValues[uint32](check(NewTensor("", []int64{1}, vu32)))
	roundTrip("uint32", gotu32, vu32, err)
	v64 := []int64{math.MinInt64}
	got64, err := TensorValues[int64](check(NewTensor("", []int64{1}, v64)))
	roundTrip("int64", got64, v64, err)
	vu64 := []uint64{math.MaxUint64}
	gotu64, err := TensorValues[uint64](check(NewTensor("", []int64{1}, vu64)))
	roundTrip("uint64", gotu64, vu64, err)
	vf64 := []float64{0.1}
	gotf64, err := TensorValues[float64](check(NewTensor("", []int64{1}, vf64)))
	roundTrip("float64", gotf64, vf64, err)
	vb := []bool{true, false}
	gotb, err := TensorValues[bool](check(NewTensor("", []int64{2}, vb)))
	roundTrip("bool", gotb, vb, err)
	scalar, err := TensorValues[float32](check(NewTensor("", nil, []float32{3})))
	roundTrip("scalar", scalar, []float32{3}, err)
	empty, err := TensorValues[float32](check(NewTensor("", []int64{0, 5}, []float32{})))
	roundTrip("empty", empty, []float32{}, err)

	// Typed fields.
	typed := []struct {
		name string
		t    Tensor
		get  func(*Tensor) (any, error)
		want any
	}{
		{"float_data", Tensor{DataType: Float, Dims: []int64{2}, FloatData: []float32{1, 2}}, func(t *Tensor) (any, error) { return TensorValues[float32](t) }, []float32{1, 2}},
		{"int32_data int8", Tensor{DataType: Int8, Dims: []int64{2}, Int32Data: []int32{-128, 5}}, func(t *Tensor) (any, error) { return TensorValues[int8](t) }, []int8{-128, 5}},
		{"int32_data bool", Tensor{DataType: Bool, Int32Data: []int32{1}}, func(t *Tensor) (any, error) { return TensorValues[bool](t) }, []bool{true}},
		{"int64_data", Tensor{DataType: Int64, Dims: []int64{1}, Int64Data: []int64{-5}}, func(t *Tensor) (any, error) { return TensorValues[int64](t) }, []int64{-5}},
		{"double_data", Tensor{DataType: Double, Dims: []int64{1}, DoubleData: []float64{2.5}}, func(t *Tensor) (any, error) { return TensorValues[float64](t) }, []float64{2.5}},
		{"uint64_data uint32", Tensor{DataType: Uint32, Dims: []int64{1}, Uint64Data: []uint64{7}}, func(t *Tensor) (any, error) { return TensorValues[uint32](t) }, []uint32{7}},
	}
	for _, tc := range typed {
		got, err := tc.get(&tc.t)
		roundTrip(tc.name, got, tc.want, err)
	}

	// Errors.
	if _, err := NewTensor("n", []int64{2, 2}, []float32{1}); err == nil || !strings.Contains(err.Error(), `"n"`) {
		t.Errorf("count mismatch: %v", err)
	}
	if _, err := NewTensor("n", []int64{-1}, []float32{}); err == nil {
		t.Error("negative dim: no error")
	}
	if _, err := NewTensor("n", []int64{1 << 40, 1 << 40}, []float32{}); err == nil {
		t.Error("overflowing dims: no error")
	}
	for _, tc := range []struct {
		name string
		t    Tensor
	}{
		{"wrong type", Tensor{DataType: Int8, RawData: []byte{1}}},
		{"raw length", Tensor{DataType: Float, Dims: []int64{2}, RawData: []byte{1, 2, 3, 4}}},
		{"raw and typed", Tensor{DataType: Float, RawData: []byte{0, 0, 0, 0}, FloatData: []float32{1}}},
		{"typed count", Tensor{DataType: Float, Dims: []int64{3}, FloatData: []float32{1}}},
		{"wrong typed field", Tensor{DataType: Float, Int32Data: []int32{1}}},
		{"no data", Tensor{DataType: Float, Dims: []int64{1}}},
		{"huge dims, little data", Tensor{DataType: Float, Dims: []int64{1 << 30, 1 << 30}, RawData: []byte{1, 2, 3, 4}}},
	} {
		if _, err := TensorValues[float32](&tc.t); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	for _, tc := range []struct {
		name string
		t    Tensor
		get  func(*Tensor) error
	}{
		{"int8 out of range", Tensor{DataType: Int8, Int32Data: []int32{128}}, func(t *Tensor) error { _, err := TensorValues[int8](t); return err }},
		{"uint8 out of range", Tensor{DataType: Uint8, Int32Data: []int32{-1}}, func(t *Tensor) error { _, err := TensorValues[uint8](t); return err }},
		{"bool out of range", Tensor{DataType: Bool, Int32Data: []int32{2}}, func(t *Tensor) error { _, err := TensorValues[bool](t); return err }},
		{"uint32 out of range", Tensor{DataType: Uint32, Uint64Data: []uint64{1 << 32}}, func(t *Tensor) error { _, err := TensorValues[uint32](t); return err }},
	} {
		if err := tc.get(&tc.t); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestSizesAndNames(t *testing.T) {
	for dt, size := range map[DataType]int{Float: 4, Uint8: 1, Int8: 1, Uint16: 2, Int16: 2, Int32: 4, Int64: 8, String: 0, Bool: 1,
		Float16: 2, Double: 8, Uint32: 4, Uint64: 8, Complex64: 8, Complex128: 16, BFloat16: 2, Float8E4M3FN: 1, Uint4: 0, Int4: 0, Undefined: 0} {
		if got := dt.Size(); got != size {
			t.Errorf("%v.Size() = %d, want %d", dt, got, size)
		}
	}
	if Int8.String() != "INT8" || Int2.String() != "INT2" || DataType(99).String() != "DataType(99)" {
		t.Errorf("DataType names: %v %v %v", Int8, Int2, DataType(99))
	}
	if AttrInts.String() != "INTS" || AttrTypeProtos.String() != "TYPE_PROTOS" || AttributeType(-1).String() != "AttributeType(-1)" {
		t.Errorf("AttributeType names: %v %v %v", AttrInts, AttrTypeProtos, AttributeType(-1))
	}
	for _, tc := range []struct{ opset, ir int64 }{{7, 3}, {8, 3}, {9, 4}, {10, 5}, {11, 6}, {12, 7}, {13, 7}, {14, 7}, {15, 8}, {17, 8}, {18, 8}, {19, 9}, {20, 9}, {21, 10}, {22, 10}} {
		if ir, err := IRVersionForOpset(tc.opset); ir != tc.ir || err != nil {
			t.Errorf("IRVersionForOpset(%d) = %d, %v; want %d", tc.opset, ir, err, tc.ir)
		}
	}
	for _, opset := range []int64{0, 6, 23, -1} {
		if _, err := IRVersionForOpset(opset); err == nil {
			t.Errorf("IRVersionForOpset(%d): no error", opset)
		}
	}
}

// TestLongMessages crosses the one-byte length prefix boundaries of nested
// messages and compares with an encoding built bottom-up.
func TestLongMessages(t *testing.T) {
	for _, n := range []int{1, 120, 121, 122, 123, 124, 125, 126, 127, 128, 16370, 16380, 16384, 16390, 2097152} {
		name := strings.Repeat("n", n)
		m := &Model{Graph: &Graph{Node: []Node{{Name: name}}}}
		got := mustMarshal(t, m)
		node := wire.AppendString(wire.AppendTag(nil, nodeName, wire.BytesType), name)
		graph := wire.AppendBytes(wire.AppendTag(nil, graphNode, wire.BytesType), node)
		want := wire.AppendBytes(wire.AppendTag(nil, modelGraph, wire.BytesType), graph)
		if !bytes.Equal(got, want) {
			t.Errorf("name of %d bytes: encodings differ (%d vs %d bytes)", n, len(got), len(want))
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	if _, err := Marshal(nil); err == nil {
		t.Error("Marshal(nil): no error")
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "x.onnx"), nil); err == nil {
		t.Error("WriteFile(nil): no error")
	}
}

func TestWriteReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	m := &Model{IRVersion: 7, ProducerName: "tensorquant", OpsetImport: []OperatorSetID{{Version: 13}}, Graph: &Graph{Name: "g"}}
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, mustMarshal(t, m)) {
		t.Errorf("file content % x", b)
	}
	// The file keeps its mode (main reset it to 0644).
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %d entries (temporary file left?)", len(entries))
	}
	back, err := ReadFile(path)
	if err != nil || back.Graph.Name != "g" || back.ProducerName != "tensorquant" {
		t.Errorf("ReadFile: %+v, %v", back, err)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "m.onnx"), m); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("write into a missing directory: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte{0x0a}, 0o644); err != nil {
		t.Fatal(err)
	}
	var de *DecodeError
	if _, err := ReadFile(path); !errors.As(err, &de) {
		t.Errorf("ReadFile of a malformed file: %v", err)
	}
}

// TestMarshalRefusesInconsistentTensors: Marshal checks every tensor it
// writes with Tensor.Validate, the check TensorValues makes. Before, it
// wrote a FLOAT tensor of dims [2^40] holding one value.
func TestMarshalRefusesInconsistentTensors(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Tensor
	}{
		{"dims 2^40, one value", Tensor{Name: "w", Dims: []int64{1 << 40}, DataType: Float, FloatData: []float32{1}}},
		{"raw_data short", Tensor{Name: "w", Dims: []int64{3}, DataType: Float, RawData: make([]byte, 8)}},
		{"no data", Tensor{Name: "w", Dims: []int64{2, 2}, DataType: Int64}},
		{"negative dim", Tensor{Name: "w", Dims: []int64{-1}, DataType: Float}},
		{"wrong field", Tensor{Name: "w", Dims: []int64{1}, DataType: Float, Int64Data: []int64{1}}},
		{"int4 packed", Tensor{Name: "w", Dims: []int64{5}, DataType: Int4, RawData: make([]byte, 2)}},
		{"complex64 pairs", Tensor{Name: "w", Dims: []int64{2}, DataType: Complex64, FloatData: []float32{1, 2}}},
	} {
		for _, m := range []*Model{
			{Graph: &Graph{Initializer: []Tensor{tc.t}}},
			{Graph: &Graph{Node: []Node{ConstantNode("c", "y", tc.t)}}},
		} {
			if _, err := Marshal(m); !errors.Is(err, ErrInvalidTensor) {
				t.Errorf("%s: Marshal: %v", tc.name, err)
			}
		}
	}
	for _, tn := range []Tensor{
		{Name: "ok", Dims: []int64{5}, DataType: Int4, RawData: make([]byte, 3)},
		{Name: "ok", Dims: []int64{2}, DataType: Complex64, FloatData: []float32{1, 2, 3, 4}},
		{Name: "ok", Dims: []int64{0, 3}, DataType: Float},
		{Name: "ok", Dims: []int64{}, DataType: Float, FloatData: []float32{1}},
	} {
		if err := tn.Validate(); err != nil {
			t.Errorf("%+v: %v", tn, err)
		}
	}
}

// TestReadFileRefusesNonRegular: a named pipe, /dev/zero or a directory is
// refused before it is read (main read /dev/zero until memory ran out).
func TestReadFileRefusesNonRegular(t *testing.T) {
	badfile.Refused(t, "", func(path string) error {
		_, err := ReadFile(path)
		return err
	})
}
