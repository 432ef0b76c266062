// Package atomicfile is the one writer of every file tensorquant writes
// (checkpoints, calibrator states and sets, ONNX models, reports, .npy
// arrays): readers see either the old content or the new, never a torn
// mix, and nothing is left behind.
//
// WriteFile writes a temporary file next to the target, named
// ".NAME.tqtmp-PID-RANDOM", syncs it and renames it over the target. On
// any error the temporary file is removed; one left by a killed process is
// removed by the next write to the same target, once that process is gone.
// The target keeps its permission bits (a new file gets 0666 minus the
// umask, as os.Create gives), a symbolic link is written through (the file
// it points to is replaced, next to itself, and the link stays), and a
// target that is not a regular file (a device such as /dev/full, a named
// pipe, a directory) is refused. Errors name the path the caller gave,
// never the temporary file.
package atomicfile

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/tensorquant/tensorquant/internal/readfile"
)

// WriteFile writes the file at path atomically with the content that fill
// writes to w (a buffered writer over the temporary file), syncs it to disk
// and renames it over path (see the package doc). On any error path is left
// untouched and the temporary file is removed.
//
// It returns fill's error as it is (an error writing to w names path), an
// error naming path for a target that is not a regular file or a chain of
// symbolic links that does not end, and the file system's errors as
// *fs.PathError naming path.
func WriteFile(path string, fill func(w io.Writer) error) error {
	target, old, err := resolve(path)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	prefix := tempPrefix(base)
	removeLeftovers(dir, prefix)
	perm := fs.FileMode(0o666) // minus the umask, as os.Create
	if old != nil {
		perm = 0o600 // until it gets the old file's mode below
	}
	f, tmp, err := create(dir, prefix, perm)
	if err != nil {
		return pathError("create", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
		active.Delete(tmp)
	}()
	bw := bufio.NewWriterSize(writer{f, path}, 1<<16)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if old != nil {
		if err := f.Chmod(old.Mode().Perm()); err != nil {
			return pathError("chmod", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return pathError("sync", path, err)
	}
	if err := f.Close(); err != nil {
		return pathError("close", path, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return pathError("rename", path, err)
	}
	ok = true
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteBytes is WriteFile for content already in memory.
func WriteBytes(path string, b []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// maxLinks bounds a chain of symbolic links, as the kernel's ELOOP does.
const maxLinks = 40

// resolve follows path's symbolic links to the file they name, which need
// not exist yet (old is then nil), and refuses a target that is not a
// regular file.
func resolve(path string) (target string, old fs.FileInfo, err error) {
	target = path
	for range maxLinks {
		st, err := os.Lstat(target)
		if errors.Is(err, fs.ErrNotExist) {
			return target, nil, nil
		}
		if err != nil {
			return "", nil, pathError("stat", path, err)
		}
		if st.Mode()&fs.ModeSymlink == 0 {
			if err := readfile.CheckRegular(path, st.Mode()); err != nil {
				return "", nil, err
			}
			return target, st, nil
		}
		link, err := os.Readlink(target)
		if err != nil {
			return "", nil, pathError("readlink", path, err)
		}
		if !filepath.IsAbs(link) {
			// Relative to the link's directory, without lexical cleaning
			// (which would be wrong for ".." after a linked directory).
			link = target[:len(target)-len(filepath.Base(target))] + link
		}
		target = link
	}
	return "", nil, fmt.Errorf("%s: more than %d symbolic links", path, maxLinks)
}

// tempSuffix marks temporary files; tempPrefix(base) + "PID-RANDOM" is the
// name of one.
const tempSuffix = ".tqtmp-"

// tempPrefix returns the start of the temporary files' names for a target
// named base, short enough that the whole name fits in 255 bytes.
func tempPrefix(base string) string {
	const room = 255 - 1 - len(tempSuffix) - 20 - 1 - 16
	if len(base) > room {
		base = base[:room]
	}
	return "." + base + tempSuffix
}

// active holds the temporary files this process is writing, so that
// removeLeftovers can tell them from ones an earlier process with the same
// id left.
var active sync.Map

// create makes a new temporary file in dir.
func create(dir, prefix string, perm fs.FileMode) (*os.File, string, error) {
	for {
		var r [8]byte
		rand.Read(r[:])
		name := filepath.Join(dir, prefix+strconv.Itoa(os.Getpid())+"-"+hex.EncodeToString(r[:]))
		active.Store(name, true) // before it exists: see removeLeftovers
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			active.Delete(name)
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
}

// removeLeftovers removes the temporary files for the same target that a
// process left when it was killed: those of a process that no longer
// exists, and those of this process that no write is using. A file whose
// process is alive may be a write in progress and is kept.
func removeLeftovers(dir, prefix string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 {
			continue
		}
		full := filepath.Join(dir, name)
		if _, mine := active.Load(full); mine {
			continue
		}
		if pid == os.Getpid() || !alive(pid) {
			os.Remove(full)
		}
	}
}

// writer is the temporary file, with errors that name the target.
type writer struct {
	f    *os.File
	path string
}

func (w writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = pathError("write", w.path, err)
	}
	return n, err
}

// pathError is err (its cause, when it names another file) as an
// *fs.PathError that names path.
func pathError(op, path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}
