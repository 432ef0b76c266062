package graph

import (
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/onnx"
)

// tSleep is an op that copies its input after sleeping d: a node whose
// time a profile must show.
type tSleep struct{ d time.Duration }

func (tSleep) Infer(in []*Info) ([]*Info, error) { return []*Info{in[0]}, nil }

func (o tSleep) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	time.Sleep(o.d)
	out, err := ctx.Alloc(onnx.Float, in[0].Shape...)
	if err != nil {
		return nil, err
	}
	copy(out.F32, in[0].F32)
	return []*Tensor{out}, nil
}

// TestProfile runs a graph of a slow node and a fast one with
// Options.Profile: the profile names the nodes in order with their op
// types, counts every run, gives the slow node at least its sleeps and
// more than the fast one; ResetProfile zeroes it, and a session without
// Profile has none.
func TestProfile(t *testing.T) {
	const sleep = 2 * time.Millisecond
	g := &Graph{
		Inputs:       []ValueSpec{{Name: "x", DType: onnx.Float, Shape: Sizes(3)}},
		Outputs:      []ValueSpec{{Name: "y"}},
		Initializers: map[string]*Tensor{"w": floats(t, []float32{1, -2, 3}, 3)},
		Nodes: []*Node{
			{Name: "slow", OpType: "Sleep", Inputs: []string{"x"}, Outputs: []string{"s"}, Op: tSleep{sleep}},
			{Name: "add", OpType: "Add", Inputs: []string{"s", "w"}, Outputs: []string{"y"}, Op: tAdd{}},
		},
	}
	s, err := NewSession(g, Options{Threads: 1, Profile: true, Optimization: OptimizeNone})
	if err != nil {
		t.Fatal(err)
	}
	x := map[string]*Tensor{"x": floats(t, []float32{-2, 1, -5}, 3)}
	const runs = 3
	for range runs {
		if _, err := s.Run(x); err != nil {
			t.Fatal(err)
		}
	}
	p := s.Profile()
	if len(p) != 2 || p[0].Name != "slow" || p[0].OpType != "Sleep" || p[1].Name != "add" || p[1].OpType != "Add" {
		t.Fatalf("profile %+v, want the nodes slow (Sleep) and add (Add) in order", p)
	}
	for _, n := range p {
		if n.Calls != runs {
			t.Errorf("%s ran %d times in the profile, want %d", n.Name, n.Calls, runs)
		}
	}
	if p[0].Total < runs*sleep || p[0].Total <= p[1].Total {
		t.Errorf("slow took %v, add %v: want at least %v for slow, and more than add", p[0].Total, p[1].Total, runs*sleep)
	}
	s.ResetProfile()
	for _, n := range s.Profile() {
		if n.Calls != 0 || n.Total != 0 {
			t.Errorf("after ResetProfile, %s has %d calls and %v", n.Name, n.Calls, n.Total)
		}
	}
	plain, err := NewSession(g, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Run(x); err != nil {
		t.Fatal(err)
	}
	if p := plain.Profile(); p != nil {
		t.Errorf("a session without Options.Profile has the profile %+v", p)
	}
}
