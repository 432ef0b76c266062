// Package digits embeds the UCI optical handwritten digits data set (1797
// images of 8×8 pixels, classes 0-9; E. Alpaydin and C. Kaynak, 1998, UCI
// Machine Learning Repository, CC BY 4.0; see README.md) for the demo and
// the training tests of the layers package.
//
// Load returns the images as a [1797, 1, 8, 8] tensor scaled to [0, 1] and
// their labels; Split divides a set into training and test parts with a
// seeded shuffle.
package digits

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"

	"github.com/tensorquant/tensorquant/tensor"
)

//go:embed digits.csv.gz
var digitsCSV []byte

// Image geometry and class count of the data set.
const (
	Height  = 8
	Width   = 8
	Classes = 10
	// Samples is the number of images in the embedded file.
	Samples = 1797
	// MaxPixel is the largest raw pixel value; Load divides by it.
	MaxPixel = 16
)

// Set is a batch of images X ([N, 1, 8, 8]) with their class labels (len N).
type Set struct {
	X      *tensor.Tensor
	Labels []int
}

// Len returns the number of samples.
func (s Set) Len() int { return len(s.Labels) }

// Load decodes the embedded file: X is [1797, 1, 8, 8] with the pixels
// divided by 16 (so in [0, 1]), Labels holds the classes 0-9. It returns an
// error only if the embedded file is corrupt.
func Load() (Set, error) {
	return decode(digitsCSV)
}

// decode parses a gzip-compressed CSV of rows of 64 pixels in 0..16 and a
// label in 0..9.
func decode(gz []byte) (Set, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return Set{}, fmt.Errorf("digits: %w", err)
	}
	r := csv.NewReader(zr)
	r.FieldsPerRecord = Height*Width + 1
	r.ReuseRecord = true
	var data []float32
	var labels []int
	for line := 1; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Set{}, fmt.Errorf("digits: %w", err)
		}
		for i, f := range rec {
			v, err := strconv.Atoi(f)
			limit := MaxPixel
			if i == Height*Width {
				limit = Classes - 1
			}
			if err != nil || v < 0 || v > limit {
				return Set{}, fmt.Errorf("digits: line %d, field %d: %q is not an integer in [0, %d]", line, i+1, f, limit)
			}
			if i == Height*Width {
				labels = append(labels, v)
			} else {
				data = append(data, float32(v)/MaxPixel)
			}
		}
	}
	if len(labels) == 0 {
		return Set{}, fmt.Errorf("digits: no samples")
	}
	x, err := tensor.FromSlice(data, len(labels), 1, Height, Width)
	if err != nil {
		return Set{}, fmt.Errorf("digits: %w", err)
	}
	return Set{X: x, Labels: labels}, nil
}

// Split shuffles the samples with a generator seeded by seed and returns
// the first round(testFraction·N) as test and the rest as train (copies;
// s is not modified). The same seed always gives the same split. It
// returns an error unless 0 <= testFraction <= 1 and X has one sample per
// label.
func (s Set) Split(testFraction float64, seed uint64) (train, test Set, err error) {
	if !(testFraction >= 0 && testFraction <= 1) {
		return Set{}, Set{}, fmt.Errorf("digits: test fraction %v: want [0, 1]", testFraction)
	}
	if err := s.X.Validate(); err != nil || len(s.X.Shape) < 1 || s.X.Shape[0] != len(s.Labels) {
		return Set{}, Set{}, fmt.Errorf("digits: %d labels for images of shape %v", len(s.Labels), s.X.Shape)
	}
	n := len(s.Labels)
	perm := rand.New(rand.NewPCG(seed, 0x646967697473)).Perm(n)
	nTest := int(testFraction*float64(n) + 0.5)
	return s.subset(perm[nTest:]), s.subset(perm[:nTest]), nil
}

func (s Set) subset(idx []int) Set {
	per := 0
	if len(s.Labels) > 0 {
		per = len(s.X.Data) / len(s.Labels)
	}
	x := tensor.New(append([]int{len(idx)}, s.X.Shape[1:]...)...)
	labels := make([]int, len(idx))
	for i, j := range idx {
		copy(x.Data[i*per:(i+1)*per], s.X.Data[j*per:(j+1)*per])
		labels[i] = s.Labels[j]
	}
	return Set{X: x, Labels: labels}
}
