package calibrators_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/tensor"
)

func gaussian(seed uint64, n int, scale float64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	x := tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

func ExampleNewHistogram() {
	h, err := calibrators.NewHistogram(calibrators.HistogramOptions{}) // 2048 bins, 8 bits, torch.histc
	if err != nil {
		panic(err)
	}
	for b := range 4 {
		if err := h.Collect(gaussian(uint64(b), 10000, 1)); err != nil {
			panic(err)
		}
	}
	for _, method := range []calibrators.Method{"entropy", "percentile", "mse"} {
		amax, err := h.ComputeAmax(method, calibrators.AmaxOptions{})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %.3f\n", method, amax.Data[0])
	}
	p999, _ := h.ComputeAmax("percentile", calibrators.AmaxOptions{Percentile: new(99.9)})
	fmt.Printf("percentile 99.9 %.3f\n", p999.Data[0])
	// Output:
	// entropy 3.825
	// percentile 3.818
	// mse 3.767
	// percentile 99.9 3.207
}

func ExampleNewMax() {
	m := calibrators.NewMax(8, []int{0}, false) // one amax per row
	x, _ := tensor.FromSlice([]float32{1, -4, 2, 0.5, -3, 0}, 2, 3)
	if err := m.Collect(x); err != nil {
		panic(err)
	}
	a := m.ComputeAmax()
	fmt.Println(a.Shape, a.Data)
	// Output: [2 1] [4 3]
}

// Calibration split over goroutines: fork shards from a seed that saw the
// first batch, collect in parallel, merge.
func ExampleHistogram_Merge() {
	seed, _ := calibrators.NewHistogram(calibrators.HistogramOptions{})
	if err := seed.Collect(gaussian(100, 50000, 1)); err != nil {
		panic(err)
	}
	shards := make([]*calibrators.Histogram, 4)
	var wg sync.WaitGroup
	for s := range shards {
		shards[s] = seed.Fork()
		wg.Go(func() {
			for b := range 3 {
				if err := shards[s].Collect(gaussian(uint64(10*s+b), 10000, 0.9)); err != nil {
					panic(err)
				}
			}
		})
	}
	wg.Wait()
	for _, s := range shards {
		if err := seed.Merge(s); err != nil {
			panic(err)
		}
	}
	var total int64
	for _, c := range seed.Counts() {
		total += c
	}
	fmt.Println(total)
	// Output: 170000
}

func ExampleCalibrateWeight() {
	w := gaussian(7, 4*3*3*3, 0.1)
	w, _ = w.Reshape(4, 3, 3, 3) // a Conv2d weight: 4 output channels
	amax, err := calibrators.CalibrateWeight(w, "percentile", calibrators.WeightOptions{Axis: []int{0}})
	if err != nil {
		panic(err)
	}
	fmt.Println(amax.Shape)
	// Output: [4 1 1 1]
}

func ExampleUnmarshal() {
	h, _ := calibrators.NewHistogram(calibrators.HistogramOptions{NumBins: 128})
	_ = h.Collect(gaussian(1, 1000, 1))
	saved, _ := h.MarshalBinary()
	c, err := calibrators.Unmarshal(saved)
	if err != nil {
		panic(err)
	}
	a, _ := c.Amax("percentile", calibrators.AmaxOptions{Percentile: new(50.0)})
	b, _ := h.ComputeAmax("percentile", calibrators.AmaxOptions{Percentile: new(50.0)})
	fmt.Println(a.Data[0] == b.Data[0])
	// Output: true
}

// A calibration set (what tensorquant calibrate -save writes, a .tqcal
// file) calibrated in shards: a seed fixes the bins, each shard collects
// into a Fork of it, possibly in another process, and MergeFiles joins the
// saved files, refusing a shard given twice.
func ExampleSet() {
	dir, err := os.MkdirTemp("", "tqcal")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	seed, err := calibrators.NewSet(calibrators.HistogramOptions{})
	if err != nil {
		panic(err)
	}
	wide := gaussian(1, 10000, 1)
	wide.Data[0] = 5 // the seed spans the range, so no shard grows the bins
	if err := seed.Collect(wide); err != nil {
		panic(err)
	}
	files := []string{filepath.Join(dir, "seed.tqcal")}
	if err := seed.Save(files[0]); err != nil {
		panic(err)
	}
	for i := range 2 {
		shard := seed.Fork()
		if err := shard.Collect(gaussian(uint64(2+i), 10000, 1)); err != nil {
			panic(err)
		}
		files = append(files, filepath.Join(dir, fmt.Sprintf("shard%d.tqcal", i)))
		if err := shard.Save(files[len(files)-1]); err != nil {
			panic(err)
		}
	}
	all, err := calibrators.MergeFiles(files...)
	if err != nil {
		panic(err)
	}
	amax, _ := all.Amax("percentile", calibrators.AmaxOptions{})
	fmt.Printf("%d values from %d shards, percentile amax %.3f\n", all.Values(), len(all.Shards()), amax.Data[0])
	_, err = calibrators.MergeFiles(files[0], files[1], files[1])
	fmt.Println(errors.Is(err, calibrators.ErrDuplicateShard))
	// Output:
	// 30000 values from 3 shards, percentile amax 3.921
	// true
}
