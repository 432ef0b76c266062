package qgemm

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestForShape packs weights for one input and runs them, through
// ForShape, on others (batch, size, stride, padding): the outputs equal
// those of weights packed for each shape, dense, grouped and depthwise.
func TestForShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := []Conv{
		{Batch: 1, InC: 8, InH: 5, InW: 5, OutC: 6, KH: 3, KW: 3},
		{Batch: 1, InC: 8, InH: 5, InW: 5, OutC: 4, KH: 3, KW: 1, Groups: 2},
		{Batch: 1, InC: 8, InH: 5, InW: 5, OutC: 8, KH: 3, KW: 3, Groups: 8},
		{Batch: 1, InC: 3, InH: 5, InW: 5, OutC: 5, KH: 3, KW: 3}, // quadChannels
	}
	for _, c := range base {
		w := make([]int8, c.OutC*c.InC/c.normal().Groups*c.KH*c.KW)
		for i := range w {
			w[i] = int8(rng.IntN(256) - 128)
		}
		zp := []int8{3}
		packed, err := PackConv(c, w, zp)
		if err != nil {
			t.Fatal(err)
		}
		d := c
		d.Batch, d.InH, d.InW, d.StrideH, d.StrideW, d.PadTop, d.PadLeft, d.PadBottom, d.PadRight = 3, 9, 7, 2, 1, 1, 0, 2, 0
		fresh, err := PackConv(d, w, zp)
		if err != nil {
			t.Fatal(err)
		}
		re, err := packed.ForShape(d)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]uint8, d.Batch*d.InC*d.InH*d.InW)
		for i := range x {
			x[i] = uint8(rng.IntN(256))
		}
		n := d.Batch * d.OutC * d.OutH() * d.OutW()
		got, want := make([]int32, n), make([]int32, n)
		if err := ConvInt32(1, re, NCHW, NCHW, x, 7, nil, got); err != nil {
			t.Fatal(err)
		}
		if err := ConvInt32(1, fresh, NCHW, NCHW, x, 7, nil, want); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: the reshaped weights compute another convolution", d)
		}
		d.DilationW = 2
		if _, err := packed.ForShape(d); !errors.Is(err, ErrShape) {
			t.Errorf("ForShape with another horizontal dilation: %v, want ErrShape", err)
		}
		d.DilationW = 1
		d.KW++
		if _, err := packed.ForShape(d); !errors.Is(err, ErrShape) {
			t.Errorf("ForShape with another kernel: %v, want ErrShape", err)
		}
	}
}
