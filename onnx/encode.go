package onnx

import (
	"errors"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/onnx/internal/wire"
)

// MaxModelSize is the largest encoding Marshal produces: protobuf's 2 GiB
// message limit, which ONNX Runtime, protoc and the onnx package enforce.
const MaxModelSize = math.MaxInt32

// maxModelSize is MaxModelSize, lowered by tests of what happens above it.
var maxModelSize int64 = MaxModelSize

// ErrTooLarge is returned (wrapped) by Marshal for a model whose encoding
// exceeds MaxModelSize.
var ErrTooLarge = errors.New("onnx: model larger than 2 GiB (protobuf limit)")

// Marshal encodes m in protobuf wire format, in canonical order: fields by
// number, proto2 repeated scalars unpacked unless onnx.proto declares them
// packed, then the unknown fields that Unmarshal kept. For a file written
// by PyTorch or by onnx's Python helper, Marshal(Unmarshal(file)) gives the
// file's bytes back.
//
// It returns an error for a nil m, a tensor (an initializer or a node's
// tensor attribute) whose data disagrees with its dims (Tensor.Validate),
// or an encoding above MaxModelSize (ErrTooLarge).
func Marshal(m *Model) ([]byte, error) {
	if m == nil {
		return nil, errors.New("onnx: Marshal of a nil *Model")
	}
	if g := m.Graph; g != nil {
		for i := range g.Initializer {
			if err := g.Initializer[i].Validate(); err != nil {
				return nil, fmt.Errorf("onnx: initializer %d: %w", i, err)
			}
		}
		for i := range g.Node {
			for _, a := range g.Node[i].Attribute {
				if a.T == nil {
					continue
				}
				if err := a.T.Validate(); err != nil {
					return nil, fmt.Errorf("onnx: node %q attribute %q: %w", g.Node[i].Name, a.Name, err)
				}
			}
		}
	}
	b := m.appendTo(nil)
	if int64(len(b)) > maxModelSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	return b, nil
}

// appendMessage appends field num holding the message that enc appends. The
// length prefix is written as one byte first and widened afterwards if the
// message turned out longer than 127 bytes, so every message is encoded
// once (a size pass would walk each subtree once per nesting level).
func appendMessage(b []byte, num wire.Number, enc func([]byte) []byte) []byte {
	b = wire.AppendTag(b, num, wire.BytesType)
	start := len(b)
	b = enc(append(b, 0))
	n := len(b) - start - 1
	if n < 0x80 {
		b[start] = byte(n)
		return b
	}
	k := wire.SizeVarint(uint64(n))
	b = append(b, make([]byte, k-1)...)
	copy(b[start+k:], b[start+1:start+1+n])
	wire.AppendVarint(b[start:start], uint64(n))
	return b
}

// appendMessages appends one field num per element of list.
func appendMessages[T any](b []byte, num wire.Number, list []T, enc func(*T, []byte) []byte) []byte {
	for i := range list {
		b = appendMessage(b, num, func(b []byte) []byte { return enc(&list[i], b) })
	}
	return b
}

func appendString(b []byte, num wire.Number, s string, present bool) []byte {
	if s == "" && !present {
		return b
	}
	return wire.AppendString(wire.AppendTag(b, num, wire.BytesType), s)
}

func appendBytes(b []byte, num wire.Number, p []byte) []byte {
	if p == nil {
		return b
	}
	return wire.AppendBytes(wire.AppendTag(b, num, wire.BytesType), p)
}

// appendInt appends an int32, int64 or enum field (negative values as ten
// sign-extended bytes, as protobuf encodes them).
func appendInt(b []byte, num wire.Number, v int64, present bool) []byte {
	if v == 0 && !present {
		return b
	}
	return wire.AppendVarint(wire.AppendTag(b, num, wire.VarintType), uint64(v))
}

func appendFloat(b []byte, num wire.Number, v float32, present bool) []byte {
	bits := math.Float32bits(v)
	if bits == 0 && !present {
		return b
	}
	return wire.AppendFixed32(wire.AppendTag(b, num, wire.Fixed32Type), bits)
}

func appendStrings(b []byte, num wire.Number, ss []string) []byte {
	for _, s := range ss {
		b = wire.AppendString(wire.AppendTag(b, num, wire.BytesType), s)
	}
	return b
}

func (m *Model) appendTo(b []byte) []byte {
	b = appendInt(b, modelIRVersion, m.IRVersion, m.x.has(modelIRVersion))
	b = appendString(b, modelProducerName, m.ProducerName, m.x.has(modelProducerName))
	b = appendString(b, modelProducerVersion, m.ProducerVersion, m.x.has(modelProducerVersion))
	b = appendString(b, modelDomain, m.Domain, m.x.has(modelDomain))
	b = appendInt(b, modelModelVersion, m.ModelVersion, m.x.has(modelModelVersion))
	b = appendString(b, modelDocString, m.DocString, m.x.has(modelDocString))
	if m.Graph != nil {
		b = appendMessage(b, modelGraph, m.Graph.appendTo)
	}
	b = appendMessages(b, modelOpsetImport, m.OpsetImport, (*OperatorSetID).appendTo)
	b = appendMessages(b, modelMetadataProps, m.MetadataProps, (*StringStringEntry).appendTo)
	return append(b, m.x.unknown...)
}

func (o *OperatorSetID) appendTo(b []byte) []byte {
	b = appendString(b, opsetDomain, o.Domain, o.x.has(opsetDomain))
	b = appendInt(b, opsetVersion, o.Version, o.x.has(opsetVersion))
	return append(b, o.x.unknown...)
}

func (e *StringStringEntry) appendTo(b []byte) []byte {
	b = appendString(b, entryKey, e.Key, e.x.has(entryKey))
	b = appendString(b, entryValue, e.Value, e.x.has(entryValue))
	return append(b, e.x.unknown...)
}

func (g *Graph) appendTo(b []byte) []byte {
	b = appendMessages(b, graphNode, g.Node, (*Node).appendTo)
	b = appendString(b, graphName, g.Name, g.x.has(graphName))
	b = appendMessages(b, graphInitializer, g.Initializer, (*Tensor).appendTo)
	b = appendString(b, graphDocString, g.DocString, g.x.has(graphDocString))
	b = appendMessages(b, graphInput, g.Input, (*ValueInfo).appendTo)
	b = appendMessages(b, graphOutput, g.Output, (*ValueInfo).appendTo)
	b = appendMessages(b, graphValueInfo, g.ValueInfo, (*ValueInfo).appendTo)
	return append(b, g.x.unknown...)
}

func (n *Node) appendTo(b []byte) []byte {
	b = appendStrings(b, nodeInput, n.Input)
	b = appendStrings(b, nodeOutput, n.Output)
	b = appendString(b, nodeName, n.Name, n.x.has(nodeName))
	b = appendString(b, nodeOpType, n.OpType, n.x.has(nodeOpType))
	b = appendMessages(b, nodeAttribute, n.Attribute, (*Attribute).appendTo)
	b = appendString(b, nodeDocString, n.DocString, n.x.has(nodeDocString))
	b = appendString(b, nodeDomain, n.Domain, n.x.has(nodeDomain))
	return append(b, n.x.unknown...)
}

func (a *Attribute) appendTo(b []byte) []byte {
	b = appendString(b, attrName, a.Name, a.x.has(attrName))
	b = appendFloat(b, attrF, a.F, a.Type == AttrFloat || a.x.has(attrF))
	b = appendInt(b, attrI, a.I, a.Type == AttrInt || a.x.has(attrI))
	s := a.S
	if s == nil && a.Type == AttrString {
		s = []byte{}
	}
	b = appendBytes(b, attrS, s)
	if a.T != nil {
		b = appendMessage(b, attrT, a.T.appendTo)
	}
	for _, f := range a.Floats {
		b = wire.AppendFixed32(wire.AppendTag(b, attrFloats, wire.Fixed32Type), math.Float32bits(f))
	}
	for _, v := range a.Ints {
		b = wire.AppendVarint(wire.AppendTag(b, attrInts, wire.VarintType), uint64(v))
	}
	for _, s := range a.Strings {
		b = wire.AppendBytes(wire.AppendTag(b, attrStrings, wire.BytesType), s)
	}
	b = appendString(b, attrDocString, a.DocString, a.x.has(attrDocString))
	b = appendInt(b, attrType, int64(a.Type), a.x.has(attrType))
	return append(b, a.x.unknown...)
}

func (t *Tensor) appendTo(b []byte) []byte {
	for _, d := range t.Dims {
		b = wire.AppendVarint(wire.AppendTag(b, tensorDims, wire.VarintType), uint64(d))
	}
	b = appendInt(b, tensorDataType, int64(t.DataType), t.x.has(tensorDataType))
	b = wire.AppendPackedFloat32(b, tensorFloatData, t.FloatData)
	b = wire.AppendPackedVarint(b, tensorInt32Data, t.Int32Data)
	b = wire.AppendPackedVarint(b, tensorInt64Data, t.Int64Data)
	b = appendString(b, tensorName, t.Name, t.x.has(tensorName))
	b = appendBytes(b, tensorRawData, t.RawData)
	b = wire.AppendPackedFloat64(b, tensorDoubleData, t.DoubleData)
	b = wire.AppendPackedVarint(b, tensorUint64Data, t.Uint64Data)
	b = appendString(b, tensorDocString, t.DocString, t.x.has(tensorDocString))
	b = appendMessages(b, tensorExtData, t.ExternalData, (*StringStringEntry).appendTo)
	b = appendInt(b, tensorDataLoc, int64(t.DataLocation), t.x.has(tensorDataLoc))
	return append(b, t.x.unknown...)
}

func (v *ValueInfo) appendTo(b []byte) []byte {
	b = appendString(b, valueInfoName, v.Name, v.x.has(valueInfoName))
	if v.Type != nil {
		b = appendMessage(b, valueInfoType, v.Type.appendTo)
	}
	b = appendString(b, valueInfoDocString, v.DocString, v.x.has(valueInfoDocString))
	return append(b, v.x.unknown...)
}

func (t *Type) appendTo(b []byte) []byte {
	if t.Tensor != nil {
		b = appendMessage(b, typeTensorType, t.Tensor.appendTo)
	}
	b = appendString(b, typeDenotation, t.Denotation, t.x.has(typeDenotation))
	return append(b, t.x.unknown...)
}

func (t *TensorType) appendTo(b []byte) []byte {
	b = appendInt(b, tensorTypeElemType, int64(t.ElemType), t.x.has(tensorTypeElemType))
	if t.Shape != nil {
		b = appendMessage(b, tensorTypeShape, t.Shape.appendTo)
	}
	return append(b, t.x.unknown...)
}

func (s *TensorShape) appendTo(b []byte) []byte {
	b = appendMessages(b, shapeDim, s.Dim, (*Dimension).appendTo)
	return append(b, s.x.unknown...)
}

func (d *Dimension) appendTo(b []byte) []byte {
	b = appendInt(b, dimValue, d.Value, d.x.has(dimValue))
	b = appendString(b, dimParam, d.Param, d.x.has(dimParam))
	b = appendString(b, dimDenotation, d.Denotation, d.x.has(dimDenotation))
	return append(b, d.x.unknown...)
}
