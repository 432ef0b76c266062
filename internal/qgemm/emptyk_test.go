package qgemm

import (
	"slices"
	"testing"
)

// TestEmptyK: with K = 0 every sum is empty, so the output is the bias
// (MatMulInteger of an M×0 and a 0×N matrix is zero).
func TestEmptyK(t *testing.T) {
	for _, c := range []struct{ rows, stride int }{{1, 0}, {3, 0}, {17, 0}, {3, 4}, {17, 9}} {
		rows := c.rows
		w, err := PackMatrix[int8](nil, 0, 5, 5, false, make([]int8, 5))
		if err != nil {
			t.Fatal(err)
		}
		bias := []int32{1, -2, 3, -4, 5}
		out := make([]int32, rows*5)
		if err := MatMulInt32(1, Matrix[uint8]{Rows: rows, Stride: c.stride, ZeroPoint: 7}, w, bias, out, 5); err != nil {
			t.Fatal(err)
		}
		i8 := make([]int32, rows*5)
		if err := MatMulInt32(1, Matrix[int8]{Rows: rows, Stride: c.stride, ZeroPoint: -7}, w, bias, i8, 5); err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			if got := out[r*5 : r*5+5]; !slices.Equal(got, bias) {
				t.Fatalf("rows %d: row %d = %v, want the bias %v", rows, r, got, bias)
			}
			if got := i8[r*5 : r*5+5]; !slices.Equal(got, bias) {
				t.Fatalf("rows %d: row %d = %v, want the bias %v", rows, r, got, bias)
			}
		}
	}
}
