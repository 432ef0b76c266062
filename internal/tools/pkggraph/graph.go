package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// module is the module path every package of ours starts with.
const module = "github.com/tensorquant/tensorquant"

// pkg is one package of the module: its directory relative to the module
// root, and the module packages it imports.
type pkg struct {
	dir     string
	imports []string
}

// load reads the imports of every package under root, skipping testdata,
// hidden and underscore directories (the generators' own modules).
func load(root string) ([]pkg, error) {
	byDir := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		dir = filepath.ToSlash(dir)
		if byDir[dir] == nil {
			byDir[dir] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p, err := strconv.Unquote(im.Path.Value)
			if err != nil {
				return err
			}
			if rest, ok := strings.CutPrefix(p, module+"/"); ok {
				byDir[dir][rest] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []pkg
	for dir, ims := range byDir {
		p := pkg{dir: dir}
		for im := range ims {
			p.imports = append(p.imports, im)
		}
		sort.Strings(p.imports)
		out = append(out, p)
	}
	return order(out)
}

// order sorts packages by level — a package that imports nothing of ours
// is level 0, any other is one above the highest level it imports — and by
// directory within a level, so that every package comes after what it
// imports and the tiers read like the pipeline. It returns an error for an
// import cycle or an import of a directory that holds no package.
func order(pkgs []pkg) ([]pkg, error) {
	byDir := map[string]pkg{}
	for _, p := range pkgs {
		byDir[p.dir] = p
	}
	level := map[string]int{}
	visiting := map[string]bool{}
	var visit func(dir string) (int, error)
	visit = func(dir string) (int, error) {
		if l, ok := level[dir]; ok {
			return l, nil
		}
		p, ok := byDir[dir]
		if !ok {
			return 0, fmt.Errorf("%s is imported but is not a package of the module", dir)
		}
		if visiting[dir] {
			return 0, fmt.Errorf("import cycle through %s", dir)
		}
		visiting[dir] = true
		l := 0
		for _, im := range p.imports {
			li, err := visit(im)
			if err != nil {
				return 0, err
			}
			l = max(l, li+1)
		}
		level[dir] = l
		return l, nil
	}
	out := slices.Clone(pkgs)
	for _, p := range out {
		if _, err := visit(p.dir); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool {
		li, lj := level[out[i].dir], level[out[j].dir]
		if li != lj {
			return li < lj
		}
		return out[i].dir < out[j].dir
	})
	return out, nil
}

// format prints one line per package: its directory, padded, then what it
// imports ("." for the module root, "-" for nothing of ours).
func format(pkgs []pkg) string {
	width := 0
	for _, p := range pkgs {
		width = max(width, len(p.dir))
	}
	var b strings.Builder
	for _, p := range pkgs {
		ims := "-"
		if len(p.imports) > 0 {
			ims = strings.Join(p.imports, " ")
		}
		fmt.Fprintf(&b, "%-*s  %s\n", width, p.dir, ims)
	}
	return b.String()
}

// readmeBlock returns the package graph block of the README: the lines of
// the fenced block that follows the marker line.
func readmeBlock(readme string) (string, error) {
	const marker = "<!-- package graph: go run ./internal/tools/pkggraph -->"
	_, after, ok := strings.Cut(readme, marker)
	if !ok {
		return "", fmt.Errorf("README has no line %q", marker)
	}
	after = strings.TrimLeft(after, "\n")
	body, ok := strings.CutPrefix(after, "```text\n")
	if !ok {
		return "", fmt.Errorf("the marker is not followed by a ```text block")
	}
	block, _, ok := strings.Cut(body, "```")
	if !ok {
		return "", fmt.Errorf("the package graph block is not closed")
	}
	return block, nil
}

// readFile is os.ReadFile, a variable for the test.
var readFile = os.ReadFile
