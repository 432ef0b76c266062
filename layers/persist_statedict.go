package layers

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// LoadStateDict loads the parameters and buffers of model from path, keyed
// by hierarchical name as PyTorch's state_dict keys them
// ("features.0.weight", "features.1.running_mean"): path is a .npz archive
// (np.savez of {name: tensor.numpy()}, or npy.WriteNPZ) or a directory of
// NAME.npy files (its other files and subdirectories are ignored). See
// SetStateDict for what must match; the model is unchanged on any error.
//
// It returns the errors of reading the archive or files (npy.ReadNPZFile,
// npy.ReadArrayFile) and SetStateDict's.
func LoadStateDict(model Layer, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("layers: LoadStateDict: %w", err)
	}
	var arrays map[string]*npy.Array
	if st.IsDir() {
		arrays, err = readNPYDir(path)
	} else {
		arrays, err = npy.ReadNPZFile(path)
	}
	if err != nil {
		return fmt.Errorf("layers: LoadStateDict: %w", err)
	}
	return SetStateDict(model, arrays)
}

// readNPYDir reads every regular NAME.npy file of dir into arrays[NAME].
func readNPYDir(dir string) (map[string]*npy.Array, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	arrays := map[string]*npy.Array{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".npy")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		a, err := npy.ReadArrayFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		arrays[name] = a
	}
	return arrays, nil
}

// SetStateDict loads the named arrays into model's parameters and buffers
// (BatchNorm running statistics, quantizer amax: what Stateful layers
// keep), strictly and all or nothing:
//
//   - every parameter of the model and every buffer it has set must be
//     there, with the model's shape;
//   - a name that belongs to nothing in the model is refused; a quantizer
//     without a static amax may get one (its "amax", any shape its
//     SetState accepts), and a layer with running statistics accepts
//     PyTorch's integer scalar "num_batches_tracked" and ignores it (it
//     only matters to PyTorch for momentum=None);
//   - the arrays are converted to float32 as npy.Values converts them.
//
// Names are the model's (see Walk): "features.0.input_quantizer.amax".
// The original toolkit's spelling of a quantizer's state is accepted as
// well: "_input_quantizer", "_weight_quantizer" and "_amax" (the key of a
// pytorch_quantization state_dict) mean "input_quantizer",
// "weight_quantizer" and "amax".
//
// It returns an error listing every missing and unknown name and every
// shape that differs; an error for an array that does not convert, for two
// names that mean the same tensor, and for a value a layer refuses (a
// negative amax); the model is then left as it was.
func SetStateDict(model Layer, arrays map[string]*npy.Array) error {
	type slot struct {
		shape  []int
		buffer bool
	}
	required := map[string]slot{} // every parameter and set buffer
	var order []string            // the model's names, in Walk order
	optional := map[string]string{}
	err := Walk(model, func(name string, l Layer) error {
		for _, p := range l.Params() {
			full := joinName(name, p.Name)
			required[full] = slot{p.Value.Shape, false}
			order = append(order, full)
		}
		s, ok := l.(Stateful)
		if !ok {
			return nil
		}
		for _, b := range s.State() {
			if b.Tensor == nil {
				continue
			}
			full := joinName(name, b.Name)
			required[full] = slot{b.Tensor.Shape, true}
			order = append(order, full)
			if b.Name == "running_mean" {
				optional[joinName(name, "num_batches_tracked")] = "ignore"
			}
		}
		if o, ok := l.(OptionalBuffers); ok {
			for _, b := range o.OptionalBuffers() {
				full := joinName(name, b)
				if _, set := required[full]; !set {
					optional[full] = "buffer"
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	given := map[string]*tensor.Tensor{}
	var unknown, shapes []string
	for _, key := range slices.Sorted(maps.Keys(arrays)) {
		name := modelName(key)
		if _, dup := given[name]; dup {
			return fmt.Errorf("layers: state dict: %q and another key both name %q", key, name)
		}
		_, isRequired := required[name]
		use := optional[name]
		if !isRequired && use == "" {
			unknown = append(unknown, key)
			continue
		}
		a := arrays[key]
		if use == "ignore" {
			if _, err := npy.Values[int64](a); err != nil || a.Numel() != 1 {
				return fmt.Errorf("layers: state dict: %q must be one integer (%v %v)", key, a.DType, a.Shape)
			}
			given[name] = nil
			continue
		}
		t, err := a.Tensor()
		if err != nil {
			return fmt.Errorf("layers: state dict: %q: %w", key, err)
		}
		if s, ok := required[name]; ok && !tensor.SameShape(t.Shape, s.shape) {
			shapes = append(shapes, fmt.Sprintf("%s %v, the model's %v", key, t.Shape, s.shape))
		}
		given[name] = t
	}
	var missing []string
	for _, name := range order {
		if _, ok := given[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing)+len(unknown)+len(shapes) > 0 {
		var parts []string
		for _, l := range []struct {
			what  string
			names []string
		}{{"missing", missing}, {"unknown", unknown}, {"shape", shapes}} {
			if len(l.names) > 0 {
				parts = append(parts, fmt.Sprintf("%s %d (%s)", l.what, len(l.names), listNames(l.names)))
			}
		}
		return fmt.Errorf("layers: state dict does not fit the model: %s", strings.Join(parts, "; "))
	}

	c := &Checkpoint{}
	for _, name := range order {
		c.Entries = append(c.Entries, CheckpointEntry{Name: name, Buffer: required[name].buffer, Tensor: given[name]})
	}
	for _, name := range slices.Sorted(maps.Keys(given)) {
		if optional[name] == "buffer" {
			c.Entries = append(c.Entries, CheckpointEntry{Name: name, Buffer: true, Tensor: given[name]})
		}
	}
	return c.Restore(model)
}

// modelName maps the original toolkit's names of a quantizer's state to the
// model's: "_input_quantizer" and "_weight_quantizer" components lose
// their underscore, and so does a final "_amax" after a quantizer.
func modelName(key string) string {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		switch {
		case p == "_input_quantizer" || p == "_weight_quantizer":
			parts[i] = p[1:]
		case p == "_amax" && i == len(parts)-1 && i > 0 && strings.HasSuffix(parts[i-1], "_quantizer"):
			parts[i] = "amax"
		}
	}
	return strings.Join(parts, ".")
}

// listNames joins names with ", ", the first ten of them and the count of
// the rest.
func listNames(names []string) string {
	const show = 10
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:show], ", "), len(names)-show)
}
