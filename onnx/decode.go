package onnx

import (
	"errors"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/onnx/internal/wire"
)

// DecodeError reports malformed input to Unmarshal: where the bad field
// starts, the chain of fields leading to it, and what is wrong.
type DecodeError struct {
	// Offset is the byte offset in the input of the field (or value) that
	// could not be decoded.
	Offset int
	// Path names the message that holds the bad field, from the root:
	// "ModelProto.graph.node[2].attribute[0]".
	Path string
	// Err says what is wrong, naming the message type and field, e.g.
	// "NodeProto.op_type (field 4): wire type varint, want bytes".
	Err error
}

// Error returns "onnx: malformed model at byte N in PATH: ERR".
func (e *DecodeError) Error() string {
	return fmt.Sprintf("onnx: malformed model at byte %d in %s: %v", e.Offset, e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Unmarshal decodes a serialized ModelProto (the content of an .onnx file).
//
// The decoder is written for hostile input. Every length is checked against
// the bytes that remain before anything is allocated; a packed field is
// counted before its slice is allocated, so no slice is longer than its
// bytes could describe; strings and bytes are copied, so the result does
// not alias b. Fields this package does not model are skipped and kept for
// Marshal (their content is not interpreted, so nesting inside them costs
// nothing; protobuf groups, which ONNX does not use, may nest at most
// wire.MaxGroupDepth deep). The modelled messages themselves are not
// recursive: the deepest is six levels below ModelProto. A known field with
// the wrong wire type, a truncated value, an invalid field number or a
// reserved wire type is an error (*DecodeError naming the message and
// field); Unmarshal never panics.
//
// As in protobuf, a singular field that occurs twice keeps the last value
// (a message field is merged), repeated scalar fields are accepted packed
// and unpacked, and of the oneof dim_value/dim_param the last one wins.
// Scalar fields record whether they were present, so that Marshal writes a
// present zero back.
func Unmarshal(b []byte) (*Model, error) {
	m := new(Model)
	r := &reader{b: b}
	if err := m.decode(r); err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.Path = "ModelProto" + de.Path
		}
		return nil, err
	}
	return m, nil
}

// reader walks the fields of one message. Errors are sticky: after the
// first one every accessor returns a zero value and next reports false;
// decode functions return r.err at the end.
type reader struct {
	b   []byte // the message's bytes not yet read
	off int    // offset of b[0] in the whole input
	msg string // message type name, for errors

	num   wire.Number
	typ   wire.Type
	start []byte // the current field, from its tag
	soff  int    // offset of start[0]
	err   error
}

// next reads the tag of the next field; it returns false at the end of the
// message or after an error.
func (r *reader) next() bool {
	if r.err != nil || len(r.b) == 0 {
		return false
	}
	num, typ, n := wire.ConsumeTag(r.b)
	if n < 0 {
		r.fail(r.off, fmt.Errorf("%s: field tag: %w", r.msg, wire.ParseError(n)))
		return false
	}
	r.num, r.typ, r.start, r.soff = num, typ, r.b, r.off
	r.advance(n)
	return true
}

func (r *reader) advance(n int) { r.b, r.off = r.b[n:], r.off+n }

func (r *reader) fail(off int, err error) {
	if r.err == nil {
		r.err = &DecodeError{Offset: off, Err: err}
	}
}

// fieldErr records an error about the current field.
func (r *reader) fieldErr(name string, err error) {
	r.fail(r.soff, fmt.Errorf("%s.%s (field %d): %w", r.msg, name, r.num, err))
}

// want checks the wire type of the current field.
func (r *reader) want(name string, typ wire.Type) bool {
	if r.typ != typ {
		r.fieldErr(name, fmt.Errorf("wire type %v, want %v", r.typ, typ))
		return false
	}
	return true
}

// value advances past a value of n bytes that a wire.Consume function
// read, or records its error (n < 0) against the current field.
func (r *reader) value(name string, n int) bool {
	if n < 0 {
		r.fieldErr(name, wire.ParseError(n))
		return false
	}
	r.advance(n)
	return true
}

func (r *reader) varint(name string) uint64 {
	if !r.want(name, wire.VarintType) {
		return 0
	}
	v, n := wire.ConsumeVarint(r.b)
	r.value(name, n)
	return v
}

func (r *reader) fixed32(name string) uint32 {
	if !r.want(name, wire.Fixed32Type) {
		return 0
	}
	v, n := wire.ConsumeFixed32(r.b)
	r.value(name, n)
	return v
}

// payload returns the content of a length-delimited field and its offset.
func (r *reader) payload(name string) ([]byte, int) {
	if !r.want(name, wire.BytesType) {
		return nil, 0
	}
	v, n := wire.ConsumeBytes(r.b)
	off := r.off + n - len(v)
	if !r.value(name, n) {
		return nil, 0
	}
	return v, off
}

func (r *reader) str(name string) string {
	p, _ := r.payload(name)
	return string(p)
}

// bytes returns a copy of a bytes field, non-nil even when empty.
func (r *reader) bytes(name string) []byte {
	p, _ := r.payload(name)
	if r.err != nil {
		return nil
	}
	return append([]byte{}, p...)
}

func (r *reader) int64(name string) int64 { return int64(r.varint(name)) }
func (r *reader) int32(name string) int32 { return int32(r.varint(name)) }

// message decodes the current field as a sub-message of type typeName,
// adding "."+name (or "."+name+"[index]" for index >= 0) to the path of an
// error inside it.
func (r *reader) message(name string, index int, typeName string, decode func(*reader) error) {
	p, off := r.payload(name)
	if r.err != nil {
		return
	}
	sub := &reader{b: p, off: off, msg: typeName}
	if err := decode(sub); err != nil {
		elem := "." + name
		if index >= 0 {
			elem = fmt.Sprintf(".%s[%d]", name, index)
		}
		var de *DecodeError
		if errors.As(err, &de) {
			de.Path = elem + de.Path
		}
		r.err = err
	}
}

// fields reads the fields of a message: field reads the current field and
// reports whether it is modelled; the others are kept in x.unknown, and
// the numbers of the modelled ones are recorded as present.
func (r *reader) fields(x *fieldInfo, field func() bool) error {
	for r.next() {
		if !field() {
			r.skip(&x.unknown)
			continue
		}
		x.set(int(r.num))
	}
	return r.err
}

// decodeElem decodes the current field as one more element of a repeated
// message field and returns the extended list.
func decodeElem[T any](r *reader, list []T, name, typeName string, decode func(*T, *reader) error) []T {
	list = append(list, *new(T))
	e := &list[len(list)-1]
	r.message(name, len(list)-1, typeName, func(sub *reader) error { return decode(e, sub) })
	return list
}

// skip consumes the current field, which this package does not model, and
// appends its bytes (tag and value) to unknown.
func (r *reader) skip(unknown *[]byte) {
	n := wire.ConsumeFieldValue(r.num, r.typ, r.b)
	if n < 0 {
		r.fail(r.soff, fmt.Errorf("%s field %d (not modelled, %v): %w", r.msg, r.num, r.typ, wire.ParseError(n)))
		return
	}
	r.advance(n)
	*unknown = append(*unknown, r.start[:len(r.start)-len(r.b)]...)
}

// repeatedVarint appends one element (varint wire type) or a packed run
// (bytes wire type) of a repeated integer field to dst.
func repeatedVarint[T wire.Integer](r *reader, name string, dst []T) []T {
	switch r.typ {
	case wire.VarintType:
		return append(dst, T(r.varint(name)))
	case wire.BytesType:
		p, off := r.payload(name)
		if r.err != nil {
			return dst
		}
		dst, n := wire.ConsumePackedVarint(p, dst)
		if n < 0 {
			r.fail(off, fmt.Errorf("%s.%s (field %d, packed): %w", r.msg, name, r.num, wire.ParseError(n)))
		}
		return dst
	}
	r.fieldErr(name, fmt.Errorf("wire type %v, want varint or bytes (packed)", r.typ))
	return dst
}

func repeatedFloat32(r *reader, name string, dst []float32) []float32 {
	switch r.typ {
	case wire.Fixed32Type:
		return append(dst, math.Float32frombits(r.fixed32(name)))
	case wire.BytesType:
		p, off := r.payload(name)
		if r.err != nil {
			return dst
		}
		dst, n := wire.ConsumePackedFloat32(p, dst)
		if n < 0 {
			r.fail(off, fmt.Errorf("%s.%s (field %d, packed): %w", r.msg, name, r.num, wire.ParseError(n)))
		}
		return dst
	}
	r.fieldErr(name, fmt.Errorf("wire type %v, want fixed32 or bytes (packed)", r.typ))
	return dst
}

func repeatedFloat64(r *reader, name string, dst []float64) []float64 {
	switch r.typ {
	case wire.Fixed64Type:
		v, n := wire.ConsumeFixed64(r.b)
		if r.value(name, n) {
			dst = append(dst, math.Float64frombits(v))
		}
		return dst
	case wire.BytesType:
		p, off := r.payload(name)
		if r.err != nil {
			return dst
		}
		dst, n := wire.ConsumePackedFloat64(p, dst)
		if n < 0 {
			r.fail(off, fmt.Errorf("%s.%s (field %d, packed): %w", r.msg, name, r.num, wire.ParseError(n)))
		}
		return dst
	}
	r.fieldErr(name, fmt.Errorf("wire type %v, want fixed64 or bytes (packed)", r.typ))
	return dst
}

func (m *Model) decode(r *reader) error {
	r.msg = "ModelProto"
	return r.fields(&m.x, func() bool {
		switch r.num {
		case modelIRVersion:
			m.IRVersion = r.int64("ir_version")
		case modelProducerName:
			m.ProducerName = r.str("producer_name")
		case modelProducerVersion:
			m.ProducerVersion = r.str("producer_version")
		case modelDomain:
			m.Domain = r.str("domain")
		case modelModelVersion:
			m.ModelVersion = r.int64("model_version")
		case modelDocString:
			m.DocString = r.str("doc_string")
		case modelGraph:
			if m.Graph == nil {
				m.Graph = new(Graph)
			}
			r.message("graph", -1, "GraphProto", m.Graph.decode)
		case modelOpsetImport:
			m.OpsetImport = decodeElem(r, m.OpsetImport, "opset_import", "OperatorSetIdProto", (*OperatorSetID).decode)
		case modelMetadataProps:
			m.MetadataProps = decodeElem(r, m.MetadataProps, "metadata_props", "StringStringEntryProto", (*StringStringEntry).decode)
		default:
			return false
		}
		return true
	})
}

func (o *OperatorSetID) decode(r *reader) error {
	return r.fields(&o.x, func() bool {
		switch r.num {
		case opsetDomain:
			o.Domain = r.str("domain")
		case opsetVersion:
			o.Version = r.int64("version")
		default:
			return false
		}
		return true
	})
}

func (e *StringStringEntry) decode(r *reader) error {
	return r.fields(&e.x, func() bool {
		switch r.num {
		case entryKey:
			e.Key = r.str("key")
		case entryValue:
			e.Value = r.str("value")
		default:
			return false
		}
		return true
	})
}

func (g *Graph) decode(r *reader) error {
	return r.fields(&g.x, func() bool {
		switch r.num {
		case graphNode:
			g.Node = decodeElem(r, g.Node, "node", "NodeProto", (*Node).decode)
		case graphName:
			g.Name = r.str("name")
		case graphInitializer:
			g.Initializer = decodeElem(r, g.Initializer, "initializer", "TensorProto", (*Tensor).decode)
		case graphDocString:
			g.DocString = r.str("doc_string")
		case graphInput:
			g.Input = decodeElem(r, g.Input, "input", "ValueInfoProto", (*ValueInfo).decode)
		case graphOutput:
			g.Output = decodeElem(r, g.Output, "output", "ValueInfoProto", (*ValueInfo).decode)
		case graphValueInfo:
			g.ValueInfo = decodeElem(r, g.ValueInfo, "value_info", "ValueInfoProto", (*ValueInfo).decode)
		default:
			return false
		}
		return true
	})
}

func (n *Node) decode(r *reader) error {
	return r.fields(&n.x, func() bool {
		switch r.num {
		case nodeInput:
			n.Input = append(n.Input, r.str("input"))
		case nodeOutput:
			n.Output = append(n.Output, r.str("output"))
		case nodeName:
			n.Name = r.str("name")
		case nodeOpType:
			n.OpType = r.str("op_type")
		case nodeAttribute:
			n.Attribute = decodeElem(r, n.Attribute, "attribute", "AttributeProto", (*Attribute).decode)
		case nodeDocString:
			n.DocString = r.str("doc_string")
		case nodeDomain:
			n.Domain = r.str("domain")
		default:
			return false
		}
		return true
	})
}

func (a *Attribute) decode(r *reader) error {
	return r.fields(&a.x, func() bool {
		switch r.num {
		case attrName:
			a.Name = r.str("name")
		case attrF:
			a.F = math.Float32frombits(r.fixed32("f"))
		case attrI:
			a.I = r.int64("i")
		case attrS:
			a.S = r.bytes("s")
		case attrT:
			if a.T == nil {
				a.T = new(Tensor)
			}
			r.message("t", -1, "TensorProto", a.T.decode)
		case attrFloats:
			a.Floats = repeatedFloat32(r, "floats", a.Floats)
		case attrInts:
			a.Ints = repeatedVarint(r, "ints", a.Ints)
		case attrStrings:
			a.Strings = append(a.Strings, r.bytes("strings"))
		case attrDocString:
			a.DocString = r.str("doc_string")
		case attrType:
			a.Type = AttributeType(r.int32("type"))
		default:
			return false
		}
		return true
	})
}

func (t *Tensor) decode(r *reader) error {
	return r.fields(&t.x, func() bool {
		switch r.num {
		case tensorDims:
			t.Dims = repeatedVarint(r, "dims", t.Dims)
		case tensorDataType:
			t.DataType = DataType(r.int32("data_type"))
		case tensorFloatData:
			t.FloatData = repeatedFloat32(r, "float_data", t.FloatData)
		case tensorInt32Data:
			t.Int32Data = repeatedVarint(r, "int32_data", t.Int32Data)
		case tensorInt64Data:
			t.Int64Data = repeatedVarint(r, "int64_data", t.Int64Data)
		case tensorName:
			t.Name = r.str("name")
		case tensorRawData:
			t.RawData = r.bytes("raw_data")
		case tensorDoubleData:
			t.DoubleData = repeatedFloat64(r, "double_data", t.DoubleData)
		case tensorUint64Data:
			t.Uint64Data = repeatedVarint(r, "uint64_data", t.Uint64Data)
		case tensorDocString:
			t.DocString = r.str("doc_string")
		default:
			return false
		}
		return true
	})
}

func (v *ValueInfo) decode(r *reader) error {
	return r.fields(&v.x, func() bool {
		switch r.num {
		case valueInfoName:
			v.Name = r.str("name")
		case valueInfoType:
			if v.Type == nil {
				v.Type = new(Type)
			}
			r.message("type", -1, "TypeProto", v.Type.decode)
		case valueInfoDocString:
			v.DocString = r.str("doc_string")
		default:
			return false
		}
		return true
	})
}

func (t *Type) decode(r *reader) error {
	return r.fields(&t.x, func() bool {
		switch r.num {
		case typeTensorType:
			if t.Tensor == nil {
				t.Tensor = new(TensorType)
			}
			r.message("tensor_type", -1, "TypeProto.Tensor", t.Tensor.decode)
		case typeDenotation:
			t.Denotation = r.str("denotation")
		default:
			return false
		}
		return true
	})
}

func (t *TensorType) decode(r *reader) error {
	return r.fields(&t.x, func() bool {
		switch r.num {
		case tensorTypeElemType:
			t.ElemType = DataType(r.int32("elem_type"))
		case tensorTypeShape:
			if t.Shape == nil {
				t.Shape = new(TensorShape)
			}
			r.message("shape", -1, "TensorShapeProto", t.Shape.decode)
		default:
			return false
		}
		return true
	})
}

func (s *TensorShape) decode(r *reader) error {
	return r.fields(&s.x, func() bool {
		switch r.num {
		case shapeDim:
			s.Dim = decodeElem(r, s.Dim, "dim", "TensorShapeProto.Dimension", (*Dimension).decode)
		default:
			return false
		}
		return true
	})
}

func (d *Dimension) decode(r *reader) error {
	return r.fields(&d.x, func() bool {
		switch r.num {
		case dimValue:
			d.Value = r.int64("dim_value")
			d.Param = ""
			d.x.clear(dimParam)
		case dimParam:
			d.Param = r.str("dim_param")
			d.Value = 0
			d.x.clear(dimValue)
		case dimDenotation:
			d.Denotation = r.str("denotation")
		default:
			return false
		}
		return true
	})
}
