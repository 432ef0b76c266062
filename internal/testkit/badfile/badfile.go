// Package badfile makes the inputs that a file reader must refuse without
// reading them: a named pipe, a device that never ends, a directory, and a
// huge sparse file whose first bytes are wrong. Every reader of the
// project (checkpoints, calibration sets, ONNX models, .npy arrays) is
// tested against them through Refused.
//
// It is a test helper: only _test.go files import it.
package badfile

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Case is one input a reader must refuse, with a part of the error it
// must give.
type Case struct {
	Name, Path, Want string
}

// HugeSize is the size of the sparse file: 1 GiB, of which the reader may
// read almost nothing.
const HugeSize = 1 << 30

// Cases makes the inputs in a temporary directory: a named pipe (with a
// writer waiting, so that a reader that opens it reads junk and returns,
// instead of blocking), /dev/zero (when the machine has it), a directory,
// and a 1 GiB sparse file that starts with junk.
func Cases(t *testing.T) []Case {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		// Blocks until a reader opens the pipe: the reader under test, or
		// the cleanup below.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.WriteString("junk that is no file format")
			w.Close()
		}
	})
	t.Cleanup(func() {
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			wg.Wait()
			r.Close()
		}
	})
	sparse := filepath.Join(dir, "huge")
	f, err := os.Create(sparse)
	if err == nil {
		_, err = f.WriteString("junk")
	}
	if err == nil {
		err = f.Truncate(HugeSize)
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	cases := []Case{
		{"fifo", fifo, fifo + ": not a regular file (a named pipe)"},
		{"dir", dir, dir + ": not a regular file (a directory)"},
		{"sparse", sparse, ""},
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		cases = append(cases, Case{"devzero", "/dev/zero", "/dev/zero: not a regular file (a character device)"})
	}
	return cases
}

// Refused runs read on every case and checks that it fails with the
// case's message, allocating less than 1 MiB. For the sparse file the
// message is badMagic, the reader's error for a file that is not of its
// format; a format without a magic number (badMagic "") skips that case,
// as its reader may read a regular file of any size.
func Refused(t *testing.T, badMagic string, read func(path string) error) {
	t.Helper()
	for _, c := range Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			if c.Want == "" {
				if badMagic == "" {
					t.Skip("a format without a magic number")
				}
				c.Want = badMagic
			}
			var err error
			if n := Allocated(func() { err = read(c.Path) }); n > 1<<20 {
				t.Errorf("allocated %d bytes", n)
			}
			if err == nil || !strings.Contains(err.Error(), c.Want) {
				t.Errorf("error %v, want %q", err, c.Want)
			}
		})
	}
}

// Allocated returns the bytes that f allocates on the heap.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
