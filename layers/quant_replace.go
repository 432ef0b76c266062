package layers

import (
	"fmt"
	"strings"
)

// DefaultQuantMap returns the float layer kinds QuantizeModel replaces by
// default, in the order of the original's _DEFAULT_QUANT_MAP (without LSTM
// and LSTMCell, which this package does not have): the convolutions,
// Linear, and the average poolings. Max pooling is not in it, as in the
// original, nor MatMul; add them with ReplaceOptions.Include.
func DefaultQuantMap() []string {
	var out []string
	for _, t := range layerTypes.list {
		if t.byDefault {
			out = append(out, t.kind)
		}
	}
	return out
}

// quantizableKinds returns the kinds of every quantizable float layer
// type.
func quantizableKinds() []string {
	var out []string
	for _, t := range layerTypes.list {
		out = append(out, t.kind)
	}
	return out
}

// ReplaceOptions configures QuantizeModel. Kinds are the float layers'
// Kind names, as the original names modules in its lists.
type ReplaceOptions struct {
	// Skip lists float kinds to leave alone ("Linear", "AvgPool2d"): the
	// original's float_module_list.
	Skip []string
	// Include lists kinds outside DefaultQuantMap() to replace as well:
	// "MaxPool1d", "MaxPool2d", "MaxPool3d", "MatMul".
	Include []string
	// Descs chooses the descriptors of the replacements of a float kind
	// ("Conv2d": QuantDescs{Weight: &fourBit}); nil fields and kinds not
	// in the map take Input, then the defaults of the quantized type
	// (DefaultQuantDescs).
	Descs map[string]QuantDescs
	// Input, when not nil, is the input descriptor of every replacement
	// whose kind has none in Descs (for example histogram calibration for
	// every activation).
	Input *QuantDescriptor
}

// QuantizeModel is the Go form of the original's quant_modules.initialize()
// followed by building the model: it replaces every float layer of model
// whose kind is in DefaultQuantMap() (plus o.Include, minus o.Skip) by its
// quantized counterpart (Quantize), which keeps the same weight and bias
// tensors. Layers are replaced in place through their parent's
// Container.SetChild; the model itself, if it is such a layer, is returned
// quantized (otherwise model is returned). Already quantized layers are
// left as they are.
//
// It checks everything before changing anything, and returns an error for
// a model the walker rejects, an unknown kind in Skip or Include, a
// descriptor error (naming the layer by its hierarchical name), and a
// layer to replace whose parent is not a Container.
func QuantizeModel(model Layer, o ReplaceOptions) (Layer, error) {
	if _, err := NamedLayers(model); err != nil {
		return nil, err
	}
	chosen := map[*layerType]bool{}
	for _, t := range layerTypes.list {
		chosen[t] = t.byDefault
	}
	for _, k := range o.Include {
		t := typeOfKind(k)
		if t == nil {
			return nil, fmt.Errorf("layers: QuantizeModel: cannot include %q: it has no quantized counterpart (%s)", k, strings.Join(quantizableKinds(), ", "))
		}
		chosen[t] = true
	}
	for _, k := range o.Skip {
		t := typeOfKind(k)
		if t == nil {
			return nil, fmt.Errorf("layers: QuantizeModel: cannot skip %q: it has no quantized counterpart (%s)", k, strings.Join(quantizableKinds(), ", "))
		}
		chosen[t] = false
	}
	replacement := func(name string, l Layer) (QuantLayer, error) {
		if t := typeOf(l); t == nil || !chosen[t] {
			return nil, nil
		}
		d := o.Descs[l.Kind()]
		if d.Input == nil {
			d.Input = o.Input
		}
		q, err := Quantize(l, d)
		if err != nil {
			if name == "" {
				return nil, err
			}
			return nil, fmt.Errorf("layers: %s: %w", name, err)
		}
		return q, nil
	}
	if q, err := replacement("", model); q != nil || err != nil {
		return q, err
	}
	type swap struct {
		parent Container
		name   string
		l      Layer
	}
	var swaps []swap
	err := Walk(model, func(name string, l Layer) error {
		p, ok := l.(Parent)
		if !ok {
			return nil
		}
		if _, done := l.(QuantLayer); done {
			return nil
		}
		c, isContainer := l.(Container)
		for _, ch := range p.Children() {
			full := joinName(name, ch.Name)
			q, err := replacement(full, ch.Layer)
			if err != nil {
				return err
			}
			if q == nil {
				continue
			}
			if !isContainer {
				return fmt.Errorf("layers: %s: cannot replace %s: its parent %s is not a Container", full, ch.Layer, l.Kind())
			}
			swaps = append(swaps, swap{c, ch.Name, q})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range swaps {
		if err := s.parent.SetChild(s.name, s.l); err != nil {
			return nil, err
		}
	}
	return model, nil
}

// NamedQuantizer is a quantizer with its hierarchical name in a model.
type NamedQuantizer struct {
	Name      string
	Quantizer *TensorQuantizer
}

// NamedQuantizers returns every TensorQuantizer of the model (those of the
// quantized layers and standalone ones) with its hierarchical name
// ("features.0.input_quantizer"), in the order of Walk, so that the
// original's calibration loop
//
//	for name, module in model.named_modules():
//	    if name.endswith('_input_quantizer'): ...
//
// is, in Go,
//
//	qs, err := layers.NamedQuantizers(model)
//	for _, q := range qs {
//	    if strings.HasSuffix(q.Name, "input_quantizer") { ... }
//	}
//
// It returns the errors of Walk.
func NamedQuantizers(root Layer) ([]NamedQuantizer, error) {
	var out []NamedQuantizer
	err := Walk(root, func(name string, l Layer) error {
		if q, ok := l.(*TensorQuantizer); ok {
			out = append(out, NamedQuantizer{Name: name, Quantizer: q})
		}
		return nil
	})
	return out, err
}
