package layers

import (
	"fmt"
	"reflect"
)

// The layer types that have a quantized form are declared, each by the
// file that defines it, in an init function: the facts the code that works
// on types rather than on values needs (QuantizeModel's kinds, the default
// descriptors of a quantized type), and a value of opType that lets other
// files of this package run generic code for the dynamic type of a layer.

// quantFacts is how the original toolkit quantizes a layer type.
type quantFacts struct {
	// kind is the Kind of the type's layers ("Conv2d").
	kind string
	// weightAxis is the axis of the weight's output channels, which the
	// default weight descriptor keeps, or -1 for a layer quantized at its
	// input only (pooling).
	weightAxis int
	// byDefault: QuantizeModel replaces layers of this type unless told
	// otherwise (the original's _DEFAULT_QUANT_MAP).
	byDefault bool
}

// layerType is one declared layer type.
type layerType struct {
	quantFacts
	typ reflect.Type // *T
	op  any          // opType[T, *T]{}
}

// unsharer is implemented by the declared types: after c := *l (a copy
// made by assignment), c.unshare() makes c independent of l except for
// the parameter tensors and their gradients, which stay shared.
type unsharer interface{ unshare() }

// opType stands for the layer type P = *T. It has no methods here: the
// files that need generic code for a layer's dynamic type declare them
// (Quantize builds a Quant[P] through one), so that this file knows
// nothing of them.
type opType[T any, P interface {
	*T
	Layer
	unsharer
}] struct{}

// layerTypes holds the declared types, in declaration order (file order,
// then the order within each init function).
var layerTypes = struct {
	list   []*layerType
	byType map[reflect.Type]*layerType
}{byType: map[reflect.Type]*layerType{}}

// declareQuantizable declares the layer type *T as quantizable as f says.
// It panics on a second declaration of a type or kind, a programming error
// caught by any test.
func declareQuantizable[T any, P interface {
	*T
	Layer
	unsharer
}](f quantFacts) {
	t := &layerType{quantFacts: f, typ: reflect.TypeFor[P](), op: opType[T, P]{}}
	if layerTypes.byType[t.typ] != nil || typeOfKind(f.kind) != nil {
		panic(fmt.Sprintf("layers: %v (%s) declared twice", t.typ, f.kind))
	}
	layerTypes.byType[t.typ] = t
	layerTypes.list = append(layerTypes.list, t)
}

// typeOf returns the declared type of l, or nil.
func typeOf(l Layer) *layerType {
	return layerTypes.byType[reflect.TypeOf(l)]
}

// typeFor returns the declared type P, or nil.
func typeFor[P Layer]() *layerType {
	return layerTypes.byType[reflect.TypeFor[P]()]
}

// typeOfKind returns the declared type of the given kind, or nil.
func typeOfKind(kind string) *layerType {
	for _, t := range layerTypes.list {
		if t.kind == kind {
			return t
		}
	}
	return nil
}
