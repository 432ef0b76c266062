package readfile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestOpenIn: a file inside the root opens (through a symbolic link that
// stays inside too); names that leave the root, and what is not a regular
// file, are refused.
func TestOpenIn(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "data"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"sub/data", "inside"}, {filepath.Join(outside, "secret"), "abs"}, {"../" + filepath.Base(outside) + "/secret", "rel"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, name := range []string{"sub/data", "inside", "sub/../sub/data"} {
		f, size, err := readfile.OpenIn(root, name)
		if err != nil || size != 10 {
			t.Errorf("%s: size %d, %v", name, size, err)
			continue
		}
		f.Close()
	}
	for name, want := range map[string]string{
		"../" + filepath.Base(dir) + "/sub/data": "escapes",
		filepath.Join(dir, "sub", "data"):        "escapes",
		"abs":                                    "escapes",
		"rel":                                    "escapes",
		"missing":                                "no such file",
		"sub":                                    filepath.Join(dir, "sub") + ": not a regular file (a directory)",
		"fifo":                                   filepath.Join(dir, "fifo") + ": not a regular file (a named pipe)",
	} {
		f, _, err := readfile.OpenIn(root, name)
		if err == nil {
			f.Close()
			t.Errorf("%s: opened", name)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}
