package graph

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/onnx"
)

// Dim is one dimension of a value's shape as known before the graph runs:
// a size (Size >= 0), or an unknown size (Size < 0) that Param names when
// it is symbolic ("batch", "N"). Two unknown dimensions with the same
// non-empty Param are equal.
type Dim struct {
	Size  int
	Param string
}

// Known reports whether d's size is known.
func (d Dim) Known() bool { return d.Size >= 0 }

// String returns the size, the parameter name, or "?".
func (d Dim) String() string {
	switch {
	case d.Known():
		return strconv.Itoa(d.Size)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// Same reports whether a and b are known to be equal.
func (d Dim) Same(e Dim) bool {
	if d.Known() || e.Known() {
		return d.Size == e.Size
	}
	return d.Param != "" && d.Param == e.Param
}

// Sizes returns a shape of known dimensions.
func Sizes(shape ...int) []Dim {
	out := make([]Dim, len(shape))
	for i, s := range shape {
		out[i] = Dim{Size: s}
	}
	return out
}

// Unknown returns an unknown dimension.
func Unknown() Dim { return Dim{Size: -1} }

// ShapeString formats a shape of dims as [N 3 224 224].
func ShapeString(shape []Dim) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Info is what is known of a value before the graph runs: its element type
// and shape (the rank is always known; dimensions may not be), and, when
// the value does not depend on the graph inputs, the value itself.
type Info struct {
	DType onnx.DataType
	Shape []Dim
	// Const is the value when it is known at load: an initializer, a
	// Constant, or the output of a node whose inputs were all constant
	// (constant folding).
	Const *Tensor
	// Elems, for a small 1-D integer value computed from shapes (the
	// output of Shape and what Gather, Slice, Concat, Unsqueeze ... make
	// of it), is what is known of each element: a symbolic batch
	// dimension stays symbolic, so that a Reshape fed by such a subgraph
	// still has a known output shape. Nil when nothing is known.
	Elems []Elem

	dq *dequantized // a constant folded from DequantizeLinear: its codes (int8_pass.go)
}

// Elem is what is known of one element of an integer value computed from
// shapes (Info.Elems): its value when Known (of any sign: a Reshape
// target's -1 is one), else, when Param is set, the size of the symbolic
// dimension of that name, else nothing.
type Elem struct {
	Value int
	Known bool
	Param string
}

// InfoOf returns the Info of a known tensor: its type, shape and value.
func InfoOf(t *Tensor) *Info {
	return &Info{DType: t.DType, Shape: Sizes(t.Shape...), Const: t}
}

// Static returns the shape as sizes when every dimension is known.
func (in *Info) Static() ([]int, bool) {
	out := make([]int, len(in.Shape))
	for i, d := range in.Shape {
		if !d.Known() {
			return nil, false
		}
		out[i] = d.Size
	}
	return out, true
}

// Rank returns the number of dimensions.
func (in *Info) Rank() int { return len(in.Shape) }

// IntElems returns what is known of the elements of a 1-D (or scalar)
// integer value: its constant elements, or Elems. ok is false when
// neither is known.
func (in *Info) IntElems() (elems []Elem, ok bool) {
	if in.Const != nil {
		v, err := in.Const.Ints()
		if err != nil {
			return nil, false
		}
		elems = make([]Elem, len(v))
		for i, x := range v {
			elems[i] = Elem{Value: x, Known: true}
		}
		return elems, true
	}
	if in.Elems != nil {
		return in.Elems, true
	}
	return nil, false
}

// String formats the info as FLOAT[N 3 224 224] (with "const" when the
// value is known).
func (in *Info) String() string {
	s := fmt.Sprintf("%v%s", in.DType, ShapeString(in.Shape))
	if in.Const != nil {
		s += " const"
	}
	return s
}
