package graph

import "testing"

// TestFreeListFit: a free list hands out the smallest buffer that holds a
// request and is at most twice (plus 64 elements) its size, and keeps a
// larger one for the value that needs it.
func TestFreeListFit(t *testing.T) {
	var f freeList[float32]
	big, fit := make([]float32, 3000), make([]float32, 1900)
	f.put(big)
	if b := f.get(1000); cap(b) != 1000 {
		t.Fatalf("get(1000) with a free buffer of 3000 returned one of %d, want a new one of 1000", cap(b))
	}
	f.put(fit)
	if b := f.get(1000); &b[:1][0] != &fit[0] {
		t.Fatalf("get(1000) returned a buffer of %d, want the free one of 1900", cap(b))
	}
	if b := f.get(2500); &b[:1][0] != &big[0] {
		t.Fatalf("get(2500) returned a buffer of %d, want the free one of 3000", cap(b))
	}
	if len(f.bufs) != 0 {
		t.Fatalf("%d buffers left, want none", len(f.bufs))
	}
}
