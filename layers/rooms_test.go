package layers

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// roomOf returns the room of a source file of this package, by its name's
// prefix: the float framework has none.
func roomOf(file string) string {
	base := filepath.Base(file)
	for _, r := range []string{"quant", "train", "persist"} {
		if strings.HasPrefix(base, r+"_") {
			return r
		}
	}
	return "float"
}

// TestRooms type-checks the package's own files and fails when a file
// uses an identifier declared in another room than its own or the float
// framework's: the float framework (layers, containers, walker, ops, the
// export description) uses nothing of quantization ("quant_" files),
// training ("train_") or persistence ("persist_"), and those three use
// nothing of each other.
func TestRooms(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the package and its imports from source")
	}
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	rooms := map[string]int{}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, n, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		rooms[roomOf(n)]++
	}
	for _, r := range []string{"float", "quant", "train", "persist"} {
		if rooms[r] == 0 {
			t.Errorf("no file in room %s", r)
		}
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("github.com/tensorquant/tensorquant/layers", fset, files, info)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		from := fset.Position(id.Pos())
		decl := fset.Position(obj.Pos())
		rf, rd := roomOf(from.Filename), roomOf(decl.Filename)
		if rd != "float" && rd != rf {
			bad = append(bad, from.String()+": "+rf+" uses "+id.Name+" of "+rd+" ("+filepath.Base(decl.Filename)+")")
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}
