package calibrators

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFastLog(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	check := func(x float64) {
		got, want := fastLog(x), math.Log(x)
		if d := math.Abs(got - want); d > 2e-15+4e-16*math.Abs(want) {
			t.Fatalf("fastLog(%v) = %v, want %v (diff %g)", x, got, want, d)
		}
	}
	for i := 1; i < 100000; i++ {
		check(float64(i))
	}
	for range 200000 {
		check(math.Exp(r.Float64()*80 - 40))
		check(float64(r.Int64N(1 << 53)))
	}
	for _, x := range []float64{1, 2, 0.5, math.Nextafter(1, 2), math.Nextafter(1, 0), math.Nextafter(2, 0), 1 << 53, 0x1p-1022, math.MaxFloat64} {
		check(x)
	}
}
