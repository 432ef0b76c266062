package onnx

import "strconv"

// fieldInfo is what a message keeps besides its exported fields: which
// scalar fields the decoder found present (so that a present zero, such as
// PyTorch's "i: 0", is written back), and the fields this package does not
// model, as raw wire bytes in input order.
type fieldInfo struct {
	present uint32 // bit n set: field number n was present in the input
	unknown []byte
}

func (f *fieldInfo) has(num int) bool { return f.present&(1<<num) != 0 }
func (f *fieldInfo) set(num int)      { f.present |= 1 << num }
func (f *fieldInfo) clear(num int)    { f.present &^= 1 << num }

// Model is ONNX's ModelProto: the file format's top-level message.
//
// Scalar and string fields are written when they are not zero, or when
// they were present (even with a zero value) in decoded input; message
// fields when they are not nil; every element of a repeated field.
// Fields this package does not model (training_info, functions, ...) are
// kept as raw bytes by Unmarshal and written back after the known ones.
type Model struct {
	IRVersion       int64               // ir_version = 1
	ProducerName    string              // producer_name = 2
	ProducerVersion string              // producer_version = 3
	Domain          string              // domain = 4
	ModelVersion    int64               // model_version = 5
	DocString       string              // doc_string = 6
	Graph           *Graph              // graph = 7
	OpsetImport     []OperatorSetID     // opset_import = 8
	MetadataProps   []StringStringEntry // metadata_props = 14

	x fieldInfo
}

// OperatorSetID is OperatorSetIdProto: an operator set (domain "" is the
// default ai.onnx domain) and the version the model uses.
type OperatorSetID struct {
	Domain  string // domain = 1
	Version int64  // version = 2

	x fieldInfo
}

// StringStringEntry is StringStringEntryProto, a key/value pair of
// metadata.
type StringStringEntry struct {
	Key   string // key = 1
	Value string // value = 2

	x fieldInfo
}

// Graph is GraphProto: the nodes in topological order, the constant
// initializers, and the typed inputs, outputs and intermediate values.
// Unmodelled fields (sparse_initializer, quantization_annotation,
// metadata_props) are kept as raw bytes.
type Graph struct {
	Node        []Node      // node = 1
	Name        string      // name = 2
	Initializer []Tensor    // initializer = 5
	DocString   string      // doc_string = 10
	Input       []ValueInfo // input = 11
	Output      []ValueInfo // output = 12
	ValueInfo   []ValueInfo // value_info = 13

	x fieldInfo
}

// Node is NodeProto: one operator call. An empty string in Input marks an
// omitted optional input. Unmodelled fields (overload, metadata_props,
// device_configurations) are kept as raw bytes.
type Node struct {
	Input     []string    // input = 1
	Output    []string    // output = 2
	Name      string      // name = 3
	OpType    string      // op_type = 4
	Attribute []Attribute // attribute = 5
	DocString string      // doc_string = 6
	Domain    string      // domain = 7

	x fieldInfo
}

// AttributeType is AttributeProto.AttributeType: which value field of an
// Attribute is in use.
type AttributeType int32

// The attribute types. This package models the values of AttrFloat,
// AttrInt, AttrString, AttrTensor, AttrFloats, AttrInts and AttrStrings;
// the values of the others are kept as raw bytes.
const (
	AttrUndefined     AttributeType = 0
	AttrFloat         AttributeType = 1
	AttrInt           AttributeType = 2
	AttrString        AttributeType = 3
	AttrTensor        AttributeType = 4
	AttrGraph         AttributeType = 5
	AttrFloats        AttributeType = 6
	AttrInts          AttributeType = 7
	AttrStrings       AttributeType = 8
	AttrTensors       AttributeType = 9
	AttrGraphs        AttributeType = 10
	AttrSparseTensor  AttributeType = 11
	AttrSparseTensors AttributeType = 12
	AttrTypeProto     AttributeType = 13
	AttrTypeProtos    AttributeType = 14
)

var attrTypeNames = [...]string{"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS",
	"STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"}

// String returns the schema's name of t ("INT", "FLOATS", ...), or the
// number for a value the schema does not define.
func (t AttributeType) String() string {
	if t >= 0 && int(t) < len(attrTypeNames) {
		return attrTypeNames[t]
	}
	return "AttributeType(" + strconv.Itoa(int(t)) + ")"
}

// Attribute is AttributeProto: a named constant argument of a node. Type
// says which value field is meant; the encoder always writes that field
// (F for AttrFloat, I for AttrInt, S for AttrString) even when it is zero,
// as ONNX requires exactly one value. S and the elements of Strings are
// bytes (UTF-8 by convention). A nil S is absent, a non-nil empty S is
// present. Unmodelled fields (g, graphs, tensors, tp, ref_attr_name, ...)
// are kept as raw bytes.
type Attribute struct {
	Name      string        // name = 1
	F         float32       // f = 2
	I         int64         // i = 3
	S         []byte        // s = 4
	T         *Tensor       // t = 5
	Floats    []float32     // floats = 7
	Ints      []int64       // ints = 8
	Strings   [][]byte      // strings = 9
	DocString string        // doc_string = 13
	Type      AttributeType // type = 20

	x fieldInfo
}

// DataType is TensorProto.DataType, the element type of a tensor.
type DataType int32

// The element types of the ONNX schema. Float is float32.
const (
	Undefined      DataType = 0
	Float          DataType = 1
	Uint8          DataType = 2
	Int8           DataType = 3
	Uint16         DataType = 4
	Int16          DataType = 5
	Int32          DataType = 6
	Int64          DataType = 7
	String         DataType = 8
	Bool           DataType = 9
	Float16        DataType = 10
	Double         DataType = 11
	Uint32         DataType = 12
	Uint64         DataType = 13
	Complex64      DataType = 14
	Complex128     DataType = 15
	BFloat16       DataType = 16
	Float8E4M3FN   DataType = 17
	Float8E4M3FNUZ DataType = 18
	Float8E5M2     DataType = 19
	Float8E5M2FNUZ DataType = 20
	Uint4          DataType = 21
	Int4           DataType = 22
	Float4E2M1     DataType = 23
	Float8E8M0     DataType = 24
	Uint2          DataType = 25
	Int2           DataType = 26
)

var dataTypeNames = [...]string{"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64",
	"STRING", "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
	"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1",
	"FLOAT8E8M0", "UINT2", "INT2"}

// String returns the schema's name of t ("FLOAT", "INT8", ...), or the
// number for a value the schema does not define.
func (t DataType) String() string {
	if t >= 0 && int(t) < len(dataTypeNames) {
		return dataTypeNames[t]
	}
	return "DataType(" + strconv.Itoa(int(t)) + ")"
}

// Tensor is TensorProto: a named constant tensor. The elements are in
// RawData (little-endian, row-major; what PyTorch writes and what the
// helpers here produce) or in the typed field the schema assigns to
// DataType: FloatData for FLOAT and COMPLEX64; Int32Data for INT32, INT16,
// INT8, UINT16, UINT8, BOOL, and FLOAT16, BFLOAT16 and the 8-bit floats as
// bit patterns (4-bit types two to an element); Int64Data for INT64;
// DoubleData for DOUBLE and COMPLEX128; Uint64Data for UINT32 and UINT64.
// A nil RawData is absent, a non-nil empty one is present.
//
// A tensor whose DataLocation is DataLocationExternal keeps its elements
// in a file beside the model, in raw_data's layout, where ExternalData
// says (see Tensor.External, ReadExternalData); this is how models larger
// than protobuf's 2 GiB limit are stored.
// Unmodelled fields (segment, string_data, metadata_props) are kept as
// raw bytes.
type Tensor struct {
	Dims         []int64      // dims = 1
	DataType     DataType     // data_type = 2
	DataLocation DataLocation // data_location = 14
	FloatData    []float32    // float_data = 4 (packed)
	Int32Data    []int32      // int32_data = 5 (packed)
	Int64Data    []int64      // int64_data = 7 (packed)
	Name         string       // name = 8
	RawData      []byte       // raw_data = 9
	DoubleData   []float64    // double_data = 10 (packed)
	Uint64Data   []uint64     // uint64_data = 11 (packed)
	DocString    string       // doc_string = 12
	// ExternalData holds the key/value pairs that locate the data of an
	// external tensor: location, offset, length, checksum.
	ExternalData []StringStringEntry // external_data = 13

	x fieldInfo
}

// DataLocation is TensorProto.DataLocation: where a tensor's elements are.
type DataLocation int32

// The data locations. DataLocationDefault keeps the elements in the
// tensor's own fields; DataLocationExternal in an external file.
const (
	DataLocationDefault  DataLocation = 0
	DataLocationExternal DataLocation = 1
)

// String returns the schema's name of l ("DEFAULT", "EXTERNAL"), or the
// number for a value the schema does not define.
func (l DataLocation) String() string {
	switch l {
	case DataLocationDefault:
		return "DEFAULT"
	case DataLocationExternal:
		return "EXTERNAL"
	}
	return "DataLocation(" + strconv.Itoa(int(l)) + ")"
}

// ValueInfo is ValueInfoProto: the name and type of a graph input, output
// or intermediate value.
type ValueInfo struct {
	Name      string // name = 1
	Type      *Type  // type = 2
	DocString string // doc_string = 3

	x fieldInfo
}

// Type is TypeProto. Only its tensor_type case is modelled; the sequence,
// map, optional and sparse-tensor cases are kept as raw bytes.
type Type struct {
	Tensor     *TensorType // tensor_type = 1
	Denotation string      // denotation = 6

	x fieldInfo
}

// TensorType is TypeProto.Tensor: an element type and a shape. A nil Shape
// means the rank is unknown; an empty non-nil Shape is a scalar.
type TensorType struct {
	ElemType DataType     // elem_type = 1
	Shape    *TensorShape // shape = 2

	x fieldInfo
}

// TensorShape is TensorShapeProto: one Dimension per axis.
type TensorShape struct {
	Dim []Dimension // dim = 1

	x fieldInfo
}

// Dimension is TensorShapeProto.Dimension: a fixed size (Value), a named
// symbolic size (Param), or neither (unknown). Set at most one of them; a
// zero Value is written only when made by DimValue or decoded as present,
// so that the zero Dimension is an unknown size.
type Dimension struct {
	Value      int64  // dim_value = 1 (oneof value)
	Param      string // dim_param = 2 (oneof value)
	Denotation string // denotation = 3

	x fieldInfo
}

// Field numbers, named as in onnx.proto.
const (
	modelIRVersion       = 1
	modelProducerName    = 2
	modelProducerVersion = 3
	modelDomain          = 4
	modelModelVersion    = 5
	modelDocString       = 6
	modelGraph           = 7
	modelOpsetImport     = 8
	modelMetadataProps   = 14

	opsetDomain  = 1
	opsetVersion = 2

	entryKey   = 1
	entryValue = 2

	graphNode        = 1
	graphName        = 2
	graphInitializer = 5
	graphDocString   = 10
	graphInput       = 11
	graphOutput      = 12
	graphValueInfo   = 13

	nodeInput     = 1
	nodeOutput    = 2
	nodeName      = 3
	nodeOpType    = 4
	nodeAttribute = 5
	nodeDocString = 6
	nodeDomain    = 7

	attrName      = 1
	attrF         = 2
	attrI         = 3
	attrS         = 4
	attrT         = 5
	attrFloats    = 7
	attrInts      = 8
	attrStrings   = 9
	attrDocString = 13
	attrType      = 20

	tensorDims       = 1
	tensorDataType   = 2
	tensorFloatData  = 4
	tensorInt32Data  = 5
	tensorInt64Data  = 7
	tensorName       = 8
	tensorRawData    = 9
	tensorDoubleData = 10
	tensorUint64Data = 11
	tensorDocString  = 12
	tensorExtData    = 13
	tensorDataLoc    = 14

	valueInfoName      = 1
	valueInfoType      = 2
	valueInfoDocString = 3

	typeTensorType = 1
	typeDenotation = 6

	tensorTypeElemType = 1
	tensorTypeShape    = 2

	shapeDim = 1

	dimValue      = 1
	dimParam      = 2
	dimDenotation = 3
)
