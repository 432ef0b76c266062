package layers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/tensor"
)

// Sequential runs its layers one after the other, like torch.nn.Sequential.
// The layers are named "0", "1" ... by position, or by Names when it is set
// (as an OrderedDict does in PyTorch), so that a model built as
//
//	NewNamedSequential(Named{"features", NewSequential(conv, relu)}, Named{"classifier", fc})
//
// has the layers "features.0", "features.1" and "classifier".
type Sequential struct {
	Layers []Layer
	// Names, when not nil, holds one name per layer: non-empty, unique,
	// without dots.
	Names []string
}

// NewSequential returns a Sequential of the given layers, named by
// position.
func NewSequential(layers ...Layer) *Sequential {
	return &Sequential{Layers: layers}
}

// NewNamedSequential returns a Sequential of the given named layers. It
// returns an error for an empty, repeated or dotted name or a nil layer.
func NewNamedSequential(children ...Named) (*Sequential, error) {
	s := &Sequential{}
	for _, c := range children {
		s.Layers = append(s.Layers, c.Layer)
		s.Names = append(s.Names, c.Name)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

// check returns an *Error if Names does not fit Layers or a layer is nil.
func (s *Sequential) check() error {
	if err := s.validate(); err != nil {
		return errorf(s, "%v", err)
	}
	return nil
}

// validate returns an error if Names does not fit Layers or a layer is
// nil.
func (s *Sequential) validate() error {
	if s.Names != nil {
		if len(s.Names) != len(s.Layers) {
			return fmt.Errorf("%d names for %d layers", len(s.Names), len(s.Layers))
		}
		seen := map[string]bool{}
		for _, n := range s.Names {
			if n == "" || strings.Contains(n, ".") || seen[n] {
				return fmt.Errorf("bad or repeated layer name %q", n)
			}
			seen[n] = true
		}
	}
	for i, l := range s.Layers {
		if l == nil {
			return fmt.Errorf("layer %s is nil", s.name(i))
		}
	}
	return nil
}

func (s *Sequential) name(i int) string {
	if s.Names != nil && i < len(s.Names) {
		return s.Names[i]
	}
	return strconv.Itoa(i)
}

// Forward runs x through every layer in order. An error names the layer
// that failed.
func (s *Sequential) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	for i, l := range s.Layers {
		var err error
		if x, err = forward(l, x); err != nil {
			return nil, inChild(s.name(i), l, err)
		}
	}
	return x, nil
}

// Backward runs dy back through the layers in reverse order.
func (s *Sequential) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	for i := len(s.Layers) - 1; i >= 0; i-- {
		var err error
		if dy, err = s.Layers[i].Backward(dy); err != nil {
			return nil, inChild(s.name(i), s.Layers[i], err)
		}
	}
	return dy, nil
}

// Export writes the layers one after the other (Builder.Chain). It
// returns an error for names that do not fit the layers, a nil layer, and
// the layers' errors.
func (s *Sequential) Export(b Builder, x Value) (Value, error) {
	if err := s.validate(); err != nil {
		return Value{}, err
	}
	return b.Chain(s.Children(), x)
}

// Params returns nil: a Sequential has no parameters of its own.
func (s *Sequential) Params() []Param { return nil }

// Kind returns "Sequential".
func (s *Sequential) Kind() string { return "Sequential" }

// String returns "Sequential()"; Describe shows the children.
func (s *Sequential) String() string { return "Sequential()" }

// Children returns the layers with their names.
func (s *Sequential) Children() []Named {
	out := make([]Named, len(s.Layers))
	for i, l := range s.Layers {
		out[i] = Named{Name: s.name(i), Layer: l}
	}
	return out
}

// SetChild replaces the layer called name. It returns an error if there is
// none or l is nil.
func (s *Sequential) SetChild(name string, l Layer) error {
	if l == nil {
		return errorf(s, "SetChild(%q): nil layer", name)
	}
	for i := range s.Layers {
		if s.name(i) == name {
			s.Layers[i] = l
			return nil
		}
	}
	return errorf(s, "SetChild: no layer named %q", name)
}

// Residual is the residual block of ResNet-style models: its output is
// Body(x) + Shortcut(x), where a nil Shortcut is the identity. The two
// branches must give the same shape. Its children are named "body" and
// "shortcut" (when not nil); put a ReLU after it in a Sequential for the
// usual post-addition activation.
type Residual struct {
	Body     Layer
	Shortcut Layer
}

// NewResidual returns the block body(x) + shortcut(x); shortcut may be nil
// for the identity.
func NewResidual(body, shortcut Layer) *Residual {
	return &Residual{Body: body, Shortcut: shortcut}
}

// Forward returns Body(x) + Shortcut(x). It returns an error if a branch
// fails or the branches' shapes differ.
func (r *Residual) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if r.Body == nil {
		return nil, errorf(r, "nil body")
	}
	if err := x.Validate(); err != nil {
		return nil, errorf(r, "input: %v", err)
	}
	a, err := forward(r.Body, x)
	if err != nil {
		return nil, inChild("body", r.Body, err)
	}
	s := x
	if r.Shortcut != nil {
		if s, err = forward(r.Shortcut, x); err != nil {
			return nil, inChild("shortcut", r.Shortcut, err)
		}
	}
	if !tensor.SameShape(a.Shape, s.Shape) {
		return nil, errorf(r, "input shape %v: body gives %v, shortcut gives %v", x.Shape, a.Shape, s.Shape)
	}
	y := tensor.New(a.Shape...)
	for i := range y.Data {
		y.Data[i] = a.Data[i] + s.Data[i]
	}
	return y, nil
}

// Backward sends dy through both branches and returns the sum of their
// input gradients.
func (r *Residual) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if r.Body == nil {
		return nil, errorf(r, "nil body")
	}
	da, err := r.Body.Backward(dy)
	if err != nil {
		return nil, inChild("body", r.Body, err)
	}
	ds := dy
	if r.Shortcut != nil {
		if ds, err = r.Shortcut.Backward(dy); err != nil {
			return nil, inChild("shortcut", r.Shortcut, err)
		}
	}
	if !tensor.SameShape(da.Shape, ds.Shape) {
		return nil, errorf(r, "gradient shapes differ: body %v, shortcut %v", da.Shape, ds.Shape)
	}
	dx := tensor.New(da.Shape...)
	for i := range dx.Data {
		dx.Data[i] = da.Data[i] + ds.Data[i]
	}
	return dx, nil
}

// Export writes body(x) + shortcut(x) as Add (x itself for a nil
// shortcut). It returns the branches' errors and an error when their
// shapes differ.
func (r *Residual) Export(b Builder, x Value) (Value, error) {
	if r.Body == nil {
		return Value{}, fmt.Errorf("nil body")
	}
	a, err := b.Apply("body", r.Body, x)
	if err != nil {
		return Value{}, err
	}
	s := x
	if r.Shortcut != nil {
		if s, err = b.Apply("shortcut", r.Shortcut, x); err != nil {
			return Value{}, err
		}
	}
	if !slices.Equal(a.Shape, s.Shape) {
		return Value{}, fmt.Errorf("input shape %s: body gives %s, shortcut gives %s", FormatShape(x.Shape), FormatShape(a.Shape), FormatShape(s.Shape))
	}
	return b.Node("Add", []Value{a, s}, a.Shape), nil
}

// Params returns nil: the block's parameters belong to its branches.
func (r *Residual) Params() []Param { return nil }

// Kind returns "Residual".
func (r *Residual) Kind() string { return "Residual" }

// String returns "Residual()"; Describe shows the branches.
func (r *Residual) String() string { return "Residual()" }

// Children returns the body and, when not nil, the shortcut.
func (r *Residual) Children() []Named {
	out := []Named{{Name: "body", Layer: r.Body}}
	if r.Shortcut != nil {
		out = append(out, Named{Name: "shortcut", Layer: r.Shortcut})
	}
	return out
}

// SetChild replaces "body" or "shortcut". It returns an error for another
// name or a nil layer.
func (r *Residual) SetChild(name string, l Layer) error {
	if l == nil {
		return errorf(r, "SetChild(%q): nil layer", name)
	}
	switch name {
	case "body":
		r.Body = l
	case "shortcut":
		r.Shortcut = l
	default:
		return errorf(r, "SetChild: no child named %q", name)
	}
	return nil
}
