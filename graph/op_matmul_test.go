package graph

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// matmulRef is numpy.matmul in float64 for FLOAT tensors.
func matmulRef(a, b *Tensor) ([]int, []float64) {
	as, bs := slices.Clone(a.Shape), slices.Clone(b.Shape)
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	// The batches in output order, with the batch of a and of b each reads.
	var pairs [][2]int
	batch, _ := refBroadcast(as[:len(as)-2], bs[:len(bs)-2], func(i, j int) float64 {
		pairs = append(pairs, [2]int{i, j})
		return 0
	})
	out := make([]float64, len(pairs)*m*n)
	for q, p := range pairs {
		ia, ib := p[0], p[1]
		for i := range m {
			for j := range n {
				var sum float64
				for p := range k {
					sum += float64(a.F32[(ia*m+i)*k+p]) * float64(b.F32[(ib*k+p)*n+j])
				}
				out[(q*m+i)*n+j] = sum
			}
		}
	}
	shape := slices.Clone(batch)
	if len(a.Shape) > 1 {
		shape = append(shape, m)
	}
	if len(b.Shape) > 1 {
		shape = append(shape, n)
	}
	return shape, out
}

func TestMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range [][2][]int{
		{s(2, 3), s(3, 4)},
		{s(3), s(3, 4)},
		{s(2, 3), s(3)},
		{s(5), s(5)},
		{s(2, 2, 3), s(3, 4)},
		{s(3), s(2, 3, 4)},
		{s(2, 1, 2, 3), s(3, 3, 2)},
		{s(4, 2, 3), s(1, 3, 5)},
		{s(2, 0, 3), s(3, 4)},
		{s(2, 3, 0), s(2, 0, 4)},
		{s(64, 8, 16), s(64, 16, 8)},
		{s(3, 70, 90), s(90, 50)},
	} {
		a, b := randF32(rng, c[0]...), randF32(rng, c[1]...)
		shape, want := matmulRef(a, b)
		near(t, "MatMul", runNode(t, 13, node("MatMul", in(2), y), a, b)[0], want, shape, 1e-4)
	}
	mm := node("MatMul", in(2), y)
	wantErr(t, 13, mm, "cannot be multiplied (3 columns, 4 rows)", randF32(rng, 2, 3), randF32(rng, 4, 2))
	wantErr(t, 13, mm, "batch dimensions: shapes [2] and [3] do not broadcast", randF32(rng, 2, 2, 2), randF32(rng, 3, 2, 2))
	wantErr(t, 13, mm, "needs operands of rank 1 or more", f32(scalar, 1), randF32(rng, 2))
	wantErr(t, 13, mm, "only FLOAT is supported", i64(s(1), 1), i64(s(1), 1))

	for _, c := range []struct {
		a, b []onnx.Dimension
		want string
	}{
		{[]onnx.Dimension{onnx.DimParam("N"), onnx.DimParam("S"), onnx.DimValue(256)}, onnx.Dims(256, 64), "[N S 64]"},
		{[]onnx.Dimension{onnx.DimParam("B"), onnx.DimValue(4), onnx.DimParam("S"), onnx.DimValue(64)},
			[]onnx.Dimension{onnx.DimParam("B"), onnx.DimValue(4), onnx.DimValue(64), onnx.DimParam("S")}, "[B 4 S S]"},
		{onnx.Dims(7), []onnx.Dimension{onnx.DimParam("N"), onnx.DimValue(7), onnx.DimValue(2)}, "[N 2]"},
	} {
		m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("a", onnx.Float, c.a...), onnx.TensorValueInfo("b", onnx.Float, c.b...)},
			Output: []onnx.ValueInfo{{Name: "y"}},
			Node:   []onnx.Node{mm},
		}}
		if got := shapeOf(importModel(t, m), "y"); got != c.want {
			t.Errorf("MatMul %v × %v inferred %s, want %s", c.a, c.b, got, c.want)
		}
	}
}

func TestGemm(t *testing.T) {
	a := f32(s(2, 3), 1, 2, 3, 4, 5, 6)
	b := f32(s(3, 2), 1, 0, 0, 1, 1, 1)
	ab := []float32{4, 5, 10, 11}
	gemm := func(attrs ...onnx.Attribute) onnx.Node { return node("Gemm", in(3), y, attrs...) }
	check(t, "plain", runNode(t, 13, node("Gemm", in(2), y), a, b)[0], f32(s(2, 2), ab...))
	check(t, "C matrix", runNode(t, 13, gemm(), a, b, f32(s(2, 2), 1, 2, 3, 4))[0], f32(s(2, 2), 5, 7, 13, 15))
	check(t, "C row", runNode(t, 13, gemm(), a, b, f32(s(2), 10, 20))[0], f32(s(2, 2), 14, 25, 20, 31))
	check(t, "C column", runNode(t, 13, gemm(), a, b, f32(s(2, 1), 10, 20))[0], f32(s(2, 2), 14, 15, 30, 31))
	check(t, "C scalar, beta", runNode(t, 13, gemm(onnx.FloatAttr("beta", 0.5)), a, b, f32(scalar, 4))[0], f32(s(2, 2), 6, 7, 12, 13))
	check(t, "alpha, beta", runNode(t, 13, gemm(onnx.FloatAttr("alpha", 2), onnx.FloatAttr("beta", 3)), a, b, f32(s(2), 1, -1))[0],
		f32(s(2, 2), 11, 7, 23, 19))
	check(t, "beta 0", runNode(t, 13, gemm(onnx.FloatAttr("beta", 0)), a, b, f32(s(2), 100, 100))[0], f32(s(2, 2), ab...))
	// Transposed operands: A stored 3×2, B stored 2×3.
	at := f32(s(3, 2), 1, 4, 2, 5, 3, 6)
	bt := f32(s(2, 3), 1, 0, 1, 0, 1, 1)
	check(t, "transA", runNode(t, 13, gemm(onnx.IntAttr("transA", 1)), at, b, f32(scalar, 0))[0], f32(s(2, 2), ab...))
	check(t, "transB", runNode(t, 13, gemm(onnx.IntAttr("transB", 1)), a, bt, f32(scalar, 0))[0], f32(s(2, 2), ab...))
	check(t, "both", runNode(t, 13, gemm(onnx.IntAttr("transA", 1), onnx.IntAttr("transB", 1)), at, bt, f32(scalar, 0))[0], f32(s(2, 2), ab...))
	// A linear layer on a large batch.
	rng := rand.New(rand.NewPCG(13, 14))
	x, w, bias := randF32(rng, 300, 64), randF32(rng, 32, 64), randF32(rng, 32)
	want := make([]float64, 300*32)
	for i := range 300 {
		for j := range 32 {
			sum := float64(bias.F32[j])
			for p := range 64 {
				sum += float64(x.F32[i*64+p]) * float64(w.F32[j*64+p])
			}
			want[i*32+j] = sum
		}
	}
	near(t, "linear", runNode(t, 13, gemm(onnx.IntAttr("transB", 1)), x, w, bias)[0], want, s(300, 32), 1e-4)
	wantErr(t, 13, gemm(), "op(A) is 2×3 and op(B) is 2×2: they cannot be multiplied", a, f32(s(2, 2), 1, 2, 3, 4), f32(scalar, 0))
	wantErr(t, 13, gemm(), "input C: shapes [2 2] and [3] do not broadcast", a, b, f32(s(3), 1, 2, 3))
	wantErr(t, 13, gemm(), "inputs A and B must be matrices", f32(s(6), 1, 2, 3, 4, 5, 6), b, f32(scalar, 0))
	wantErr(t, 13, gemm(), "input 2 is DOUBLE, only FLOAT is supported", a, b, f64(scalar, 0))
	wantErr(t, 9, node("Gemm", in(2), y), "takes 3 inputs, the node has 2", a, b)
}
