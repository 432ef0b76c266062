package fuzz

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/tqfile"
	"github.com/tensorquant/tensorquant/layers"
)

// FuzzCheckpointUnmarshal feeds arbitrary bytes to the checkpoint decoder,
// as they are and as the first entry of a checkpoint file (framed with the
// right length and checksum, so that the fuzzer reaches the entry decoder):
// it must return an error or a checkpoint, never panic, and a checkpoint it
// accepts must encode back to the same bytes.
func FuzzCheckpointUnmarshal(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	conv, _ := layers.NewConv2d(1, 2, 3, layers.ConvOptions{}, rng)
	bn, _ := layers.NewBatchNorm2d(2)
	lin, _ := layers.NewLinear(8, 3, true, rng)
	for _, m := range []layers.Layer{layers.NewSequential(conv, bn, layers.NewReLU(), layers.NewFlatten(1, -1), lin), lin} {
		c, err := layers.Capture(m)
		if err != nil {
			f.Fatal(err)
		}
		b, err := c.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(section(f, tqfile.Checkpoint, b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCheckpoint(t, data)
		if len(data) > 0 {
			checkCheckpoint(t, frame(tqfile.Checkpoint, data))
		}
	})
}

func checkCheckpoint(t *testing.T, data []byte) {
	var c layers.Checkpoint
	if c.UnmarshalBinary(data) != nil {
		return
	}
	again, err := c.MarshalBinary()
	if err != nil {
		t.Fatalf("decoded checkpoint does not encode: %v", err)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("round trip changed the bytes")
	}
}
