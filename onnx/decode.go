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
// the bytes that remain before anything is allocated; strings and bytes are
// copied, so the result does not alias b. Fields this package does not
// model are skipped and kept for Marshal (their content is not interpreted,
// so nesting inside them costs nothing; protobuf groups, which ONNX does
// not use, may nest at most wire.MaxGroupDepth deep). The modelled messages
// themselves are not recursive: the deepest is six levels below
// ModelProto. A known field with the wrong wire type, a truncated value,
// an invalid field number or a reserved wire type is an error
// (*DecodeError naming the message and field); Unmarshal never panics.
//
// What it allocates is bounded by the input: each message first counts the
// elements of its repeated fields (a packed field by the values its bytes
// hold), so every slice is allocated once with exactly the length its
// bytes encode, and the decoder itself allocates nothing per element. The
// largest cost per input byte is an empty message (two bytes) in a
// repeated field: one struct of its type, at most 264 bytes for a Tensor,
// so a model never costs more than MaxDecodeRatio bytes per input byte,
// plus a few kilobytes.
//
// As in protobuf, a singular field that occurs twice keeps the last value
// (a message field is merged: its occurrences are decoded as one message),
// repeated scalar fields are accepted packed and unpacked, and of the
// oneof dim_value/dim_param the last one wins. Scalar fields record
// whether they were present, so that Marshal writes a present zero back.
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

// MaxDecodeRatio bounds what Unmarshal allocates per byte of input (plus a
// fixed few kilobytes): the size of the largest message struct, Tensor,
// per two bytes of an empty message in a repeated field, rounded up.
const MaxDecodeRatio = 136

// reader walks the fields of one message. Errors are sticky: after the
// first one every accessor returns a zero value and next reports false;
// decode functions return r.err at the end.
//
// A message field that occurs more than once is decoded as one message
// from all its occurrences (protobuf's merge is the concatenation of their
// bytes): b is the current occurrence and more the later ones.
type reader struct {
	b    []byte  // the message's bytes not yet read
	off  int     // offset of b[0] in the whole input
	more []chunk // later occurrences of the message, read after b
	msg  string  // message type name, for errors

	num   wire.Number
	typ   wire.Type
	start []byte // the current field, from its tag
	soff  int    // offset of start[0]
	err   error

	subs  *subReaders // the readers of sub-messages, one per depth (allocated by the first)
	depth int         // r is subs[depth-1]; 0 for the root
}

// chunk is a part of the input and its offset.
type chunk struct {
	b   []byte
	off int
}

// subReaders holds one reader per depth below the root, reused for every
// sub-message at that depth (they are decoded one at a time), so that
// decoding allocates no reader per message. The deepest modelled message,
// TensorShapeProto.Dimension, is six levels below ModelProto.
type subReaders [6]reader

// next reads the tag of the next field; it returns false at the end of the
// message or after an error.
func (r *reader) next() bool {
	for len(r.b) == 0 && len(r.more) > 0 && r.err == nil {
		r.b, r.off, r.more = r.more[0].b, r.more[0].off, r.more[1:]
	}
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
// error inside it. For a singular field (index < 0), the later
// occurrences of the field in the rest of the message are decoded with
// this one (the caller skips them when it meets them).
func (r *reader) message(name string, index int, typeName string, decode func(*reader) error) {
	num := r.num
	p, off := r.payload(name)
	if r.err != nil {
		return
	}
	if r.subs == nil {
		r.subs = new(subReaders)
	}
	sub := &r.subs[r.depth] // in range: the modelled messages nest at most 6 deep
	*sub = reader{b: p, off: off, msg: typeName, subs: r.subs, depth: r.depth + 1}
	if index < 0 {
		sub.more = r.later(num)
	}
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

// later returns the payloads of the occurrences of field num (bytes wire
// type) in the rest of the message, or nil when there are none. It stops
// at a malformed field, which the caller reports when it gets there.
func (r *reader) later(num wire.Number) []chunk {
	n := 0
	r.scan(func(fn wire.Number, typ wire.Type, _ []byte, _ int) {
		if fn == num && typ == wire.BytesType {
			n++
		}
	})
	if n == 0 {
		return nil
	}
	more := make([]chunk, 0, n)
	r.scan(func(fn wire.Number, typ wire.Type, v []byte, off int) {
		if fn == num && typ == wire.BytesType {
			p, k := wire.ConsumeBytes(v)
			more = append(more, chunk{p, off + k - len(p)})
		}
	})
	return more
}

// scan calls f for each field in the rest of the message with its number,
// wire type, value and the value's offset; r is not advanced. It stops at
// the first malformed field.
func (r *reader) scan(f func(num wire.Number, typ wire.Type, v []byte, off int)) {
	s := *r
	for s.next() {
		n := wire.ConsumeFieldValue(s.num, s.typ, s.b)
		if n < 0 {
			return
		}
		f(s.num, s.typ, s.b[:n], s.off)
		s.advance(n)
	}
}

// kind says how count counts the occurrences of a repeated field.
type kind uint8

const (
	notCounted kind = iota
	perField        // a message, string or bytes field: one element per occurrence
	varints         // an integer field: one per varint, unpacked or packed
	fixed32s        // a float field: one per fixed32, unpacked or packed
	fixed64s        // a double field: one per fixed64, unpacked or packed
)

// counts holds the number of elements of each repeated field, by field
// number (the repeated fields of the modelled messages are numbered below
// 16).
type counts [16]int

// count returns the number of elements of each repeated field of the
// message that spec names, read from the whole message (r is not
// advanced): the length its slice gets, so that decoding appends without
// growing it. A packed payload counts the values it holds; a malformed
// field ends the count (the decoder reports it).
func (r *reader) count(spec *[16]kind) counts {
	var c counts
	r.scan(func(num wire.Number, typ wire.Type, v []byte, _ int) {
		if int(num) >= len(spec) || spec[num] == notCounted {
			return
		}
		k := spec[num]
		if k == perField || typ != wire.BytesType {
			c[num]++
			return
		}
		p, _ := wire.ConsumeBytes(v)
		switch k {
		case varints:
			for _, b := range p {
				if b < 0x80 {
					c[num]++
				}
			}
		case fixed32s:
			c[num] += len(p) / 4
		case fixed64s:
			c[num] += len(p) / 8
		}
	})
	return c
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
// message field and returns the extended list (which count sized).
//
// An element past what count saw is one where count stopped, a malformed
// field: it is decoded into a scratch element first (appended only if it
// decodes after all), so that the error does not cost growing a list of
// every element before it.
func decodeElem[T any](r *reader, list []T, name, typeName string, decode func(*T, *reader) error) []T {
	if len(list) == cap(list) {
		var e T
		r.message(name, len(list), typeName, func(sub *reader) error { return decode(&e, sub) })
		if r.err != nil {
			return list
		}
		return append(list, e)
	}
	list = append(list, *new(T))
	e := &list[len(list)-1]
	r.message(name, len(list)-1, typeName, func(sub *reader) error { return decode(e, sub) })
	return list
}

// sized returns s (nil, as a message starts) with room for n elements:
// make, where slices.Grow allocates twice under the race detector.
func sized[T any](s []T, n int) []T {
	if n == 0 || cap(s)-len(s) >= n {
		return s
	}
	return append(make([]T, 0, len(s)+n), s...)
}

// singular decodes the current field as the singular message field *p of
// type typeName, allocating it on the first occurrence: that decode reads
// every occurrence (see message), so the later ones are only checked and
// skipped.
func singular[T any](r *reader, p **T, name, typeName string, decode func(*T, *reader) error) {
	if *p != nil {
		r.payload(name)
		return
	}
	*p = new(T)
	m := *p
	r.message(name, -1, typeName, func(sub *reader) error { return decode(m, sub) })
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

var modelCounts = [16]kind{modelOpsetImport: perField, modelMetadataProps: perField}

func (m *Model) decode(r *reader) error {
	r.msg = "ModelProto"
	c := r.count(&modelCounts)
	m.OpsetImport = sized(m.OpsetImport, c[modelOpsetImport])
	m.MetadataProps = sized(m.MetadataProps, c[modelMetadataProps])
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
			singular(r, &m.Graph, "graph", "GraphProto", (*Graph).decode)
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

var graphCounts = [16]kind{graphNode: perField, graphInitializer: perField, graphInput: perField,
	graphOutput: perField, graphValueInfo: perField}

func (g *Graph) decode(r *reader) error {
	c := r.count(&graphCounts)
	g.Node = sized(g.Node, c[graphNode])
	g.Initializer = sized(g.Initializer, c[graphInitializer])
	g.Input = sized(g.Input, c[graphInput])
	g.Output = sized(g.Output, c[graphOutput])
	g.ValueInfo = sized(g.ValueInfo, c[graphValueInfo])
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

var nodeCounts = [16]kind{nodeInput: perField, nodeOutput: perField, nodeAttribute: perField}

func (n *Node) decode(r *reader) error {
	c := r.count(&nodeCounts)
	n.Input = sized(n.Input, c[nodeInput])
	n.Output = sized(n.Output, c[nodeOutput])
	n.Attribute = sized(n.Attribute, c[nodeAttribute])
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

var attrCounts = [16]kind{attrFloats: fixed32s, attrInts: varints, attrStrings: perField}

func (a *Attribute) decode(r *reader) error {
	c := r.count(&attrCounts)
	a.Floats = sized(a.Floats, c[attrFloats])
	a.Ints = sized(a.Ints, c[attrInts])
	a.Strings = sized(a.Strings, c[attrStrings])
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
			singular(r, &a.T, "t", "TensorProto", (*Tensor).decode)
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

var tensorCounts = [16]kind{tensorDims: varints, tensorFloatData: fixed32s, tensorInt32Data: varints,
	tensorInt64Data: varints, tensorDoubleData: fixed64s, tensorUint64Data: varints, tensorExtData: perField}

func (t *Tensor) decode(r *reader) error {
	c := r.count(&tensorCounts)
	t.Dims = sized(t.Dims, c[tensorDims])
	t.FloatData = sized(t.FloatData, c[tensorFloatData])
	t.Int32Data = sized(t.Int32Data, c[tensorInt32Data])
	t.Int64Data = sized(t.Int64Data, c[tensorInt64Data])
	t.DoubleData = sized(t.DoubleData, c[tensorDoubleData])
	t.Uint64Data = sized(t.Uint64Data, c[tensorUint64Data])
	t.ExternalData = sized(t.ExternalData, c[tensorExtData])
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
		case tensorExtData:
			t.ExternalData = decodeElem(r, t.ExternalData, "external_data", "StringStringEntryProto", (*StringStringEntry).decode)
		case tensorDataLoc:
			t.DataLocation = DataLocation(r.int32("data_location"))
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
			singular(r, &v.Type, "type", "TypeProto", (*Type).decode)
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
			singular(r, &t.Tensor, "tensor_type", "TypeProto.Tensor", (*TensorType).decode)
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
			singular(r, &t.Shape, "shape", "TensorShapeProto", (*TensorShape).decode)
		default:
			return false
		}
		return true
	})
}

var shapeCounts = [16]kind{shapeDim: perField}

func (s *TensorShape) decode(r *reader) error {
	s.Dim = sized(s.Dim, r.count(&shapeCounts)[shapeDim])
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
