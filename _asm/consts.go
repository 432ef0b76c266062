package main

import (
	"go/constant"
	"go/types"
	"log"
	"strings"

	"golang.org/x/tools/go/packages"
)

// constants returns the integer constants of package pkg (below module)
// whose names start with prefix, so that the assembly uses the values the
// Go code declares.
func constants(pkg, prefix string) map[string]int {
	out := map[string]int{}
	scope := scopeOf(pkg)
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if !ok || !strings.HasPrefix(name, prefix) {
			continue
		}
		if v, exact := constant.Int64Val(c.Val()); exact {
			out[name] = int(v)
		}
	}
	return out
}

// scopeOf returns the package scope of package pkg (below module).
func scopeOf(pkg string) *types.Scope {
	ps, err := packages.Load(&packages.Config{Mode: packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo}, module+"/"+pkg)
	if err != nil {
		log.Fatal(err)
	}
	if packages.PrintErrors(ps) > 0 {
		log.Fatalf("loading %s failed", pkg)
	}
	return ps[0].Types.Scope()
}
