package checked

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// productCase is one call of Product and what it must return: want, or an
// error containing err.
type productCase[D Dim] struct {
	dims []D
	size int
	want int
	err  string
}

func checkProduct[D Dim](t *testing.T, cases []productCase[D]) {
	t.Helper()
	for _, tc := range cases {
		got, err := Product(tc.dims, tc.size)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("Product(%v, %d) = %d, %v; want %d", tc.dims, tc.size, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || got != 0 {
			t.Errorf("Product(%v, %d) = %d, %v; want an error containing %q", tc.dims, tc.size, got, err, tc.err)
		}
	}
}

func TestProduct(t *testing.T) {
	big := math.MaxInt/4 + 1 // 2^61 on 64-bit, 2^29 on 32-bit: times 4 overflows
	checkProduct(t, []productCase[int]{
		{nil, 1, 1, ""},
		{[]int{}, 4, 4, ""},
		{[]int{2, 3}, 1, 6, ""},
		{[]int{2, 3}, 8, 48, ""},
		{[]int{0, 5}, 4, 0, ""},
		{[]int{5, 0}, 4, 0, ""},
		{[]int{math.MaxInt}, 1, math.MaxInt, ""},
		{[]int{big}, 2, 2 * big, ""},
		{[]int{big}, 4, 0, "shape [" + strconv.Itoa(big) + "] of 4-byte elements has more bytes than an int can count"},
		{[]int{math.MaxInt}, 4, 0, "of 4-byte elements has more bytes than an int can count"},
		{[]int{big, 4}, 1, 0, "has more elements than an int can count"},
		{[]int{big, 4, 0}, 4, 0, "has more elements than an int can count"},
		{[]int{0, big, 4}, 4, 0, "has more elements than an int can count"},
		{[]int{2, -3}, 4, 0, "negative dimension -3 at axis 1 of shape [2 -3]"},
		{[]int{0, -1}, 4, 0, "negative dimension -1 at axis 1"},
		{[]int{2}, 0, 0, "element size 0 is not positive"},
		{[]int{2}, -4, 0, "element size -4 is not positive"},
	})
}

// TestProductInt64: ONNX dims are int64, and a dimension beyond an int (on
// a 32-bit platform) is an overflow, never a truncation.
func TestProductInt64(t *testing.T) {
	maxDim := productCase[int64]{[]int64{math.MaxInt64}, 1, math.MaxInt, ""}
	if math.MaxInt < math.MaxInt64 {
		maxDim.err = "more elements than an int can count"
	}
	checkProduct(t, []productCase[int64]{
		{[]int64{3, 4}, 2, 24, ""},
		{[]int64{1 << 62}, 8, 0, "than an int can count"}, // elements on 32-bit, bytes on 64-bit
		{[]int64{1 << 62, 4}, 1, 0, "more elements than an int can count"},
		{[]int64{-1 << 63}, 1, 0, "negative dimension -9223372036854775808 at axis 0"},
		maxDim,
	})
}
