package graph

import (
	"unsafe"

	"github.com/tensorquant/tensorquant/onnx"
)

// arena is the buffer pool of one run at a time: the buffers of values
// whose last reader has run, by element kind, handed out again by Alloc.
type arena struct {
	f32 freeList[float32]
	f64 freeList[float64]
	i64 freeList[int64]
	i32 freeList[int32]
	i8  freeList[int8]
	u8  freeList[uint8]
}

// get gives x (whose DType is set) a data slice of n elements.
func (a *arena) get(x *Tensor, n int) {
	switch x.DType {
	case onnx.Float:
		x.F32 = a.f32.get(n)
	case onnx.Double:
		x.F64 = a.f64.get(n)
	case onnx.Int64:
		x.I64 = a.i64.get(n)
	case onnx.Int32, onnx.Int16, onnx.Uint16:
		x.I32 = a.i32.get(n)
	case onnx.Int8, onnx.Int4:
		x.I8 = a.i8.get(n)
	default:
		x.U8 = a.u8.get(n)
	}
}

// put returns t's buffer to the pool; t must not be used afterwards.
func (a *arena) put(t *Tensor) {
	a.f32.put(t.F32)
	a.f64.put(t.F64)
	a.i64.put(t.I64)
	a.i32.put(t.I32)
	a.i8.put(t.I8)
	a.u8.put(t.U8)
}

// freeList holds free buffers of one element type.
type freeList[T any] struct{ bufs [][]T }

// maxFree bounds the buffers a free list keeps, so that runs with varying
// shapes cannot grow a pool without limit.
const maxFree = 64

// get returns a slice of length n: the smallest free buffer that holds n
// elements and is not more than twice too large (so that a small value
// does not hold on to a large buffer a later value needs: with four
// times, the encoder's residual stream at batch 8, 1 MiB, took the 3 MiB
// buffer of the first layer's projection, and the second layer's
// allocated one anew, zeroed and faulted in, on every run), or a new one.
func (f *freeList[T]) get(n int) []T {
	best := -1
	for i, b := range f.bufs {
		c := cap(b)
		if c >= n && c <= 2*n+64 && (best < 0 || c < cap(f.bufs[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]T, n)
	}
	b := f.bufs[best]
	last := len(f.bufs) - 1
	f.bufs[best], f.bufs[last] = f.bufs[last], nil
	f.bufs = f.bufs[:last]
	return b[:n]
}

func (f *freeList[T]) put(b []T) {
	if cap(b) == 0 {
		return
	}
	if len(f.bufs) >= maxFree {
		// Drop the smallest: large buffers are the expensive ones.
		small := 0
		for i, x := range f.bufs {
			if cap(x) < cap(f.bufs[small]) {
				small = i
			}
		}
		if cap(b) <= cap(f.bufs[small]) {
			return
		}
		f.bufs[small] = b
		return
	}
	f.bufs = append(f.bufs, b)
}

// sameBuffer reports whether a and b share a backing array (compared by
// the address of their first element's underlying storage).
func sameBuffer(a, b *Tensor) bool {
	pa, pb := dataPtr(a), dataPtr(b)
	return pa != nil && pa == pb
}

func dataPtr(t *Tensor) unsafe.Pointer {
	switch {
	case cap(t.F32) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.F32))
	case cap(t.F64) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.F64))
	case cap(t.I64) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.I64))
	case cap(t.I32) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.I32))
	case cap(t.I8) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.I8))
	case cap(t.U8) > 0:
		return unsafe.Pointer(unsafe.SliceData(t.U8))
	}
	return nil
}
