package reduce

import "math"

// abs32 clears the sign bit.
func abs32(v float32) float32 {
	return math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
}
