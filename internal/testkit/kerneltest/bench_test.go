package kerneltest

import (
	"slices"
	"testing"
)

func TestFloat32s(t *testing.T) {
	a, b := Float32s(1000, 2), Float32s(1000, 2)
	if !slices.Equal(a, b) {
		t.Fatal("Float32s is not deterministic")
	}
	lo, hi := slices.Min(a), slices.Max(a)
	if lo < -2.2 || hi >= 2.2 || lo > -2 || hi < 2 {
		t.Fatalf("Float32s(1000, 2) spans [%v, %v], want about [-2.2, 2.2)", lo, hi)
	}
	if got := len(Float32s(MaxN, 1)); got != Sizes[len(Sizes)-1] || got != MaxN {
		t.Fatalf("MaxN = %d, largest size %d, len %d", MaxN, Sizes[len(Sizes)-1], got)
	}
}
