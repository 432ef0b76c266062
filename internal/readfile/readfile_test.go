package readfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/internal/readfile"
	"github.com/tensorquant/tensorquant/internal/testkit/badfile"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, []byte("MAGIC and the rest"), 0o644); err != nil {
		t.Fatal(err)
	}
	var seen string
	var size int64
	b, err := readfile.Read(p, 5, func(h []byte, n int64) error {
		seen, size = string(h), n
		return nil
	})
	if err != nil || string(b) != "MAGIC and the rest" || seen != "MAGIC" || size != 18 {
		t.Errorf("Read: %q %v; check saw %q and size %d", b, err, seen, size)
	}
	// A head longer than the file: check sees the whole file.
	if _, err := readfile.Read(p, 100, func(h []byte, _ int64) error { seen = string(h); return nil }); err != nil || seen != "MAGIC and the rest" {
		t.Errorf("long head: %q %v", seen, err)
	}
	// No check: the whole file.
	if b, err := readfile.Read(p, 0, nil); err != nil || len(b) != 18 {
		t.Errorf("no check: %q %v", b, err)
	}
	// Through a symbolic link.
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if b, err := readfile.Read(filepath.Join(dir, "link"), 0, nil); err != nil || len(b) != 18 {
		t.Errorf("through a link: %q %v", b, err)
	}
	var pe *fs.PathError
	if _, err := readfile.Read(filepath.Join(dir, "missing"), 0, nil); !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadRefuses: what is not a regular file is refused before it is
// opened, and check's error comes before the rest of a 1 GiB file is read.
func TestReadRefuses(t *testing.T) {
	bad := errors.New("bad magic")
	badfile.Refused(t, "bad magic", func(path string) error {
		_, err := readfile.Read(path, 4, func(h []byte, size int64) error {
			if string(h) != "good" {
				return bad
			}
			return nil
		})
		return err
	})
}
