package graph

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCodeSums compares byteSum and channelSums, the lane sums of
// QGlobalAveragePool, with plain loops: random bytes and bytes all 255
// or all 0 after the sign flip (the largest lane sums), 0 to 17 pixels
// and lengths around the lane runs, channels with and without a tail.
func TestCodeSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, fill := range []string{"random", "max", "min"} {
		for _, sign := range []byte{0, 0x80} {
			pixels := []int{swarRun - 1, swarRun, swarRun + 1, 3*swarRun + 5}
			for n := range 18 {
				pixels = append(pixels, n)
			}
			for _, pixels := range pixels {
				for _, c := range []int{1, 8, 13, 24} {
					b := make([]byte, pixels*c)
					for i := range b {
						switch fill {
						case "random":
							b[i] = byte(rng.IntN(256))
						case "max":
							b[i] = 0xFF ^ sign
						case "min":
							b[i] = sign
						}
					}
					name := fmt.Sprintf("%s sign %#x, %d pixels × %d channels", fill, sign, pixels, c)
					var all uint32
					want := make([]int32, c)
					for i, v := range b {
						all += uint32(v ^ sign)
						want[i%c] += int32(v ^ sign)
					}
					if got := byteSum(b, sign); got != all {
						t.Fatalf("%s: byteSum = %d, want %d", name, got, all)
					}
					got := make([]int32, c)
					channelSums(got, b, sign)
					for ch := range c {
						if got[ch] != want[ch] {
							t.Fatalf("%s: channel %d sum = %d, want %d", name, ch, got[ch], want[ch])
						}
					}
				}
			}
		}
	}
}
