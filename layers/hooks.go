package layers

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tensorquant/tensorquant/tensor"
)

// ForwardHook is PyTorch's forward hook: it is called after the Forward of
// the layer it was registered on, with the name it was registered under,
// the layer, the layer's input and its output. A non-nil tensor it
// returns replaces the output; an error fails the Forward.
type ForwardHook func(name string, l Layer, x, y *tensor.Tensor) (*tensor.Tensor, error)

// ForwardPreHook is PyTorch's forward pre-hook: it is called before the
// Forward of the layer it was registered on, with the layer's input. A
// non-nil tensor it returns replaces the input; an error fails the
// Forward.
type ForwardPreHook func(name string, l Layer, x *tensor.Tensor) (*tensor.Tensor, error)

// HookHandle is a registered hook; Remove unregisters it.
type HookHandle struct{ h *hook }

// hook is one registered hook (pre or post).
type hook struct {
	layer Layer
	name  string
	pre   ForwardPreHook
	post  ForwardHook
}

// hooks holds the registered hooks of every model; count is their number,
// so that a Forward without hooks costs one atomic load.
var hooks struct {
	count atomic.Int64
	sync.RWMutex
	list []*hook
}

// RegisterForwardHook registers fn on the layer of root called name
// ("features.0", as Walk names it) and returns a handle that removes it.
// The hook runs when a container (Sequential, Residual, a quantized layer
// for its quantizers) runs the layer, in registration order with the other
// hooks of the layer, until removed; it stays on that layer if the layer
// is later replaced in the model. Hooks change nothing else: the walker,
// the quantizers a walk finds, checkpoints and exports see the model as it
// is. Backward passes the output gradient to the layer as if its output
// were its own, and the layer's input gradient on as that of the original
// input: the hooks are not differentiated.
//
// It returns an error for a nil fn, a name that is not in root (the errors
// of Find), the model itself (name "": no container runs it; wrap its
// Forward instead), and a layer type that cannot be compared (a struct
// value holding slices, say).
func RegisterForwardHook(root Layer, name string, fn ForwardHook) (*HookHandle, error) {
	if fn == nil {
		return nil, fmt.Errorf("layers: RegisterForwardHook(%q): nil hook", name)
	}
	return register(root, name, &hook{post: fn})
}

// RegisterForwardPreHook registers fn to run before the Forward of the
// layer of root called name, as RegisterForwardHook does after it, with
// the same errors.
func RegisterForwardPreHook(root Layer, name string, fn ForwardPreHook) (*HookHandle, error) {
	if fn == nil {
		return nil, fmt.Errorf("layers: RegisterForwardPreHook(%q): nil hook", name)
	}
	return register(root, name, &hook{pre: fn})
}

func register(root Layer, name string, h *hook) (*HookHandle, error) {
	if name == "" {
		return nil, fmt.Errorf(`layers: a hook on the model itself (""): hooks run where a container runs a layer; wrap the model's Forward instead`)
	}
	l, err := Find(root, name)
	if err != nil {
		return nil, err
	}
	if !reflect.TypeOf(l).Comparable() {
		return nil, fmt.Errorf("layers: %s (%T): a hook needs a layer type that can be compared (a pointer)", name, l)
	}
	h.layer, h.name = l, name
	hooks.Lock()
	defer hooks.Unlock()
	hooks.list = append(hooks.list, h)
	hooks.count.Add(1)
	return &HookHandle{h}, nil
}

// Remove unregisters the hook; removing it again does nothing.
func (hh *HookHandle) Remove() {
	hooks.Lock()
	defer hooks.Unlock()
	if i := slices.Index(hooks.list, hh.h); i >= 0 {
		hooks.list = slices.Delete(hooks.list, i, i+1)
		hooks.count.Add(-1)
	}
}

// hooksOf returns the hooks registered on l, in registration order.
func hooksOf(l Layer) []*hook {
	hooks.RLock()
	defer hooks.RUnlock()
	var out []*hook
	for _, h := range hooks.list {
		// h.layer's type is comparable, so == cannot panic.
		if h.layer == l {
			out = append(out, h)
		}
	}
	return out
}

// forward runs l.Forward(x) with the hooks registered on l. Containers
// run their children through it.
func forward(l Layer, x *tensor.Tensor) (*tensor.Tensor, error) {
	if hooks.count.Load() == 0 {
		return l.Forward(x)
	}
	hs := hooksOf(l)
	for _, h := range hs {
		if h.pre == nil {
			continue
		}
		r, err := h.pre(h.name, l, x)
		if err != nil {
			return nil, fmt.Errorf("forward pre-hook: %w", err)
		}
		if r != nil {
			x = r
		}
	}
	y, err := l.Forward(x)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if h.post == nil {
			continue
		}
		r, err := h.post(h.name, l, x, y)
		if err != nil {
			return nil, fmt.Errorf("forward hook: %w", err)
		}
		if r != nil {
			y = r
		}
	}
	return y, nil
}
