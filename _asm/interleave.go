package main

import "github.com/mmcloughlin/avo/ir"

// The comments that delimit the chains of instructions interleaveChains
// merges: chainMark before each chain of a run, chainsEnd after the last.
const (
	chainMark = "@chain"
	chainsEnd = "@chains-end"
)

// interleaveChains replaces each run of marked chains in f's functions
// by their instructions taken in turn (the first of each chain, then the
// second of each ...), and drops the marks. The chains of an unrolled
// loop compute independent vectors (their own virtual registers, reading
// memory only), so any merge of them that keeps each chain's order
// computes the same values; the register allocator runs after it.
func interleaveChains(f *ir.File) {
	for _, fn := range f.Functions() {
		var out []ir.Node
		var chains [][]ir.Node
		for _, n := range fn.Nodes {
			switch mark(n) {
			case chainMark:
				chains = append(chains, nil)
			case chainsEnd:
				out = append(out, merge(chains)...)
				chains = nil
			default:
				if len(chains) > 0 {
					chains[len(chains)-1] = append(chains[len(chains)-1], n)
				} else {
					out = append(out, n)
				}
			}
		}
		if len(chains) > 0 {
			panic(fn.Name + ": a run of chains without its end mark")
		}
		fn.Nodes = out
	}
}

// mark returns the mark n is, or "".
func mark(n ir.Node) string {
	if c, ok := n.(*ir.Comment); ok && len(c.Lines) == 1 && (c.Lines[0] == chainMark || c.Lines[0] == chainsEnd) {
		return c.Lines[0]
	}
	return ""
}

// merge returns the nodes of chains in turn.
func merge(chains [][]ir.Node) []ir.Node {
	var out []ir.Node
	for i := 0; ; i++ {
		more := false
		for _, c := range chains {
			if i < len(c) {
				out = append(out, c[i])
				more = true
			}
		}
		if !more {
			return out
		}
	}
}
