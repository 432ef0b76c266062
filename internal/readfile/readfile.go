// Package readfile reads whole files with a bound: every file tensorquant
// reads (checkpoints, calibrator states and sets, ONNX models) goes through
// Read, which refuses what is not a regular file (a named pipe, a device
// such as /dev/zero, a directory) before it opens it, lets the caller check
// the file's first bytes (a magic number, a header that gives the size)
// before anything else is read, and never reads more than the size the
// file had when it was opened.
package readfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Open opens path for reading if it is a regular file (after following
// symbolic links) and returns it with its size. It checks the type before
// opening, so that a named pipe without a writer cannot block it, and again
// on the open file. It returns the error of os.Stat or os.Open (a
// *fs.PathError whose Op is "open"), or an error that names path and its
// type for anything but a regular file.
func Open(path string) (*os.File, int64, error) {
	return open(osDir{}, path, path)
}

// OpenIn is Open for the file name inside the directory root: a name that
// leaves root (an absolute name, a ".." component that climbs out, a
// symbolic link that points outside) is refused with os.Root's error.
// Errors name the file as root's directory joined with name.
func OpenIn(root *os.Root, name string) (*os.File, int64, error) {
	return open(root, name, filepath.Join(root.Name(), name))
}

// dir is what open needs of a directory: os.Root, or the file system as a
// whole (osDir).
type dir interface {
	Stat(name string) (fs.FileInfo, error)
	Open(name string) (*os.File, error)
}

type osDir struct{}

func (osDir) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osDir) Open(name string) (*os.File, error)    { return os.Open(name) }

// open opens name in d; path names it in errors.
func open(d dir, name, path string) (*os.File, int64, error) {
	st, err := d.Stat(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, 0, &fs.PathError{Op: "open", Path: path, Err: pe.Err}
		}
		return nil, 0, err
	}
	if err := CheckRegular(path, st.Mode()); err != nil {
		return nil, 0, err
	}
	f, err := d.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err = f.Stat()
	if err == nil {
		err = CheckRegular(path, st.Mode())
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// CheckRegular returns nil for the mode of a regular file and otherwise an
// error that names path and what it is ("x: not a regular file (a named
// pipe)").
func CheckRegular(path string, m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	return fmt.Errorf("%s: not a regular file (%s)", path, kind(m))
}

// kind names the type of a file mode that is neither a regular file nor a
// symbolic link (callers follow those): "a directory", "a named pipe", ...
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "of type " + m.Type().String()
}

// Read returns the content of the regular file at path (see Open). When
// check is not nil, Read first reads the file's first head bytes (all of a
// shorter file) and passes them to check with the file's size; an error
// from check is returned as it is, before the rest is read. Read then
// reads exactly the size the file had when it was opened.
//
// It returns the errors of Open and check, and an error naming path when
// the file changes size while it is read.
func Read(path string, head int, check func(head []byte, size int64) error) ([]byte, error) {
	f, size, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if check != nil {
		h := make([]byte, min(int64(head), size))
		if _, err := io.ReadFull(f, h); err != nil {
			return nil, changed(path, err)
		}
		if err := check(h, size); err != nil {
			return nil, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	if size > int64(^uint(0)>>1) {
		return nil, fmt.Errorf("%s: %d bytes do not fit in memory on this platform", path, size)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, changed(path, err)
	}
	// The file must end where its size said it does.
	var extra [1]byte
	if n, _ := f.Read(extra[:]); n != 0 {
		return nil, changed(path, nil)
	}
	return b, nil
}

func changed(path string, err error) error {
	if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: the file changed size while it was read", path)
	}
	return err
}
