// Command pkggraph prints the import graph of tensorquant's packages as the
// README shows it: one line per package, in dependency order (a package
// comes after every package it imports), with the module's packages it
// imports. Test files and build tags are ignored: a package's imports are
// the union over its non-test files.
//
// Run it from the module root:
//
//	go run ./internal/tools/pkggraph
//
// Its test fails when the README's graph differs from what it prints.
package main

import (
	"fmt"
	"os"
)

func main() {
	pkgs, err := load(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pkggraph:", err)
		os.Exit(2)
	}
	fmt.Print(format(pkgs))
}
