package main

import (
	"slices"
	"strings"
	"testing"
)

// TestReadmeGraph fails when the README's package graph is not what the
// imports say: run `go run ./internal/tools/pkggraph` and paste its output
// below the marker.
func TestReadmeGraph(t *testing.T) {
	pkgs, err := load("../../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := readFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block, err := readmeBlock(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if want := format(pkgs); block != want {
		t.Errorf("README package graph is stale; it should be (go run ./internal/tools/pkggraph):\n%s\ngot:\n%s", want, block)
	}
}

// TestTableNamesEveryPublicPackage fails when the README's package table
// misses a public package (a directory with non-test Go files and no
// internal element in its path).
func TestTableNamesEveryPublicPackage(t *testing.T) {
	pkgs, err := load("../../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := readFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		if slices.Contains(strings.Split(p.dir, "/"), "internal") {
			continue
		}
		if !strings.Contains(string(b), "| `"+p.dir+"` |") {
			t.Errorf("README's package table has no row for %s", p.dir)
		}
	}
}

func TestOrderFindsCycles(t *testing.T) {
	_, err := order([]pkg{{dir: "a", imports: []string{"b"}}, {dir: "b", imports: []string{"a"}}})
	if err == nil {
		t.Fatal("a cycle was accepted")
	}
	got, err := order([]pkg{{dir: "c", imports: []string{"a", "b"}}, {dir: "b", imports: []string{"a"}}, {dir: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if format(got) != "a  -\nb  a\nc  a b\n" {
		t.Errorf("order: %q", format(got))
	}
}
