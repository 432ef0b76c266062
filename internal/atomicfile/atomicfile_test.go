package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// files returns the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFile(p, func(w io.Writer) error {
		w.Write([]byte("partial new content"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if got := content(t, p); got != "old" {
		t.Fatalf("failed write changed the file to %q", got)
	}
	if names := files(t, dir); len(names) != 1 {
		t.Fatalf("a failed write left %v", names)
	}
	if err := WriteBytes(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got := content(t, p); got != "new" {
		t.Fatalf("content %q", got)
	}
	if names := files(t, dir); len(names) != 1 {
		t.Fatalf("temporary files left behind: %v", names)
	}
}

// TestWriteFileKeepsMode: an existing file keeps its permission bits (main
// reset them to 0644, so a 0600 state became world-readable); a new one
// gets 0666 minus the umask, as os.Create gives.
func TestWriteFileKeepsMode(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o755, 0o444} {
		p := filepath.Join(dir, "f"+mode.String())
		if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := WriteBytes(p, []byte("new")); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(p); st.Mode() != mode || content(t, p) != "new" {
			t.Errorf("a %v file became %v", mode, st.Mode())
		}
	}
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	p := filepath.Join(dir, "new")
	if err := WriteBytes(p, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode() != 0o640 {
		t.Errorf("a new file under umask 027 has mode %v, want -rw-r-----", st.Mode())
	}
}

// TestWriteFileThroughSymlinks: a link stays a link and the file it
// points to (through a chain, relative or absolute, dangling or not) gets
// the content, written next to itself. main replaced the link by a
// regular file.
func TestWriteFileThroughSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "data", "real.bin")
	os.Mkdir(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte("old"), 0o600)
	must(t, os.Symlink("data/real.bin", filepath.Join(dir, "rel")))
	must(t, os.Symlink(filepath.Join(dir, "rel"), filepath.Join(dir, "abs")))
	for i, link := range []string{"rel", "abs"} {
		p := filepath.Join(dir, link)
		want := "new" + strconv.Itoa(i)
		if err := WriteBytes(p, []byte(want)); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Lstat(p); err != nil || st.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symbolic link: %v %v", link, st.Mode(), err)
		}
		if got := content(t, real); got != want {
			t.Fatalf("through %s: the target holds %q", link, got)
		}
		if st, _ := os.Stat(real); st.Mode() != 0o600 {
			t.Fatalf("the target's mode became %v", st.Mode())
		}
	}
	if names := files(t, filepath.Dir(real)); len(names) != 1 {
		t.Errorf("next to the target: %v", names)
	}
	// A dangling link creates the file it names.
	must(t, os.Symlink("data/later.bin", filepath.Join(dir, "dangling")))
	if err := WriteBytes(filepath.Join(dir, "dangling"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := content(t, filepath.Join(dir, "data", "later.bin")); got != "x" {
		t.Errorf("dangling link target holds %q", got)
	}
	must(t, os.Symlink("loop", filepath.Join(dir, "loop")))
	if err := WriteBytes(filepath.Join(dir, "loop"), nil); err == nil || !strings.Contains(err.Error(), "more than 40 symbolic links") {
		t.Errorf("a link to itself: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriteFileRefusesNonRegular: a directory, a named pipe or a device is
// refused and stays what it was (main renamed a regular file over a device
// node, as root over /dev/full).
func TestWriteFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o644))
	must(t, os.Symlink("fifo", filepath.Join(dir, "to-fifo")))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	cases := map[string]string{
		"fifo":    "a named pipe",
		"to-fifo": "a named pipe",
		"sub":     "a directory",
	}
	// A copy of /dev/full's node (character device 1, 7), where root can
	// make one.
	full := filepath.Join(dir, "full")
	if syscall.Mknod(full, syscall.S_IFCHR|0o666, 1<<8|7) == nil {
		cases["full"] = "a character device"
	}
	for name, kind := range cases {
		p := filepath.Join(dir, name)
		before, _ := os.Stat(p)
		err := WriteBytes(p, []byte("data"))
		if want := p + ": not a regular file (" + kind + ")"; err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %s", name, err, want)
		}
		if after, _ := os.Stat(p); after.Mode() != before.Mode() {
			t.Errorf("%s changed from %v to %v", name, before.Mode(), after.Mode())
		}
	}
	if names := files(t, dir); len(names) != 5 && len(names) != 4 {
		t.Errorf("left behind: %v", names)
	}
}

// TestWriteFileErrorsNameTarget: errors name the file the caller gave,
// never the temporary file (main: "open …/.x.tqcal.tmp3937046883: no such
// file or directory"), and a failed write leaves nothing behind.
func TestWriteFileErrorsNameTarget(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "x.tqcal")
	if err := WriteBytes(missing, nil); err == nil || err.Error() != "create "+missing+": no such file or directory" {
		t.Errorf("missing directory: %v", err)
	}
	// A write that fails for lack of room: the file-size limit makes
	// write(2) fail with EFBIG (Go ignores SIGXFSZ).
	p := filepath.Join(dir, "big")
	must(t, os.WriteFile(p, []byte("old"), 0o644))
	var lim syscall.Rlimit
	must(t, syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim))
	small := lim
	small.Cur = 1 << 16
	must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &small))
	err := WriteBytes(p, make([]byte, 1<<20))
	must(t, syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim))
	if err == nil || err.Error() != "write "+p+": file too large" {
		t.Errorf("write beyond the file-size limit: %v", err)
	}
	if got := content(t, p); got != "old" {
		t.Errorf("the file became %d bytes", len(got))
	}
	if names := files(t, dir); len(names) != 1 {
		t.Errorf("left behind: %v", names)
	}
}

// childEnv makes the test binary a writer that stops in the middle of a
// write, for TestLeftoverOfKilledWriter.
const childEnv = "ATOMICFILE_TEST_KILLED_WRITER"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		WriteFile(path, func(w io.Writer) error {
			w.Write(make([]byte, 1<<18)) // past the buffer: on disk
			w.(*bufio.Writer).Flush()
			os.Stdout.WriteString("writing\n")
			time.Sleep(time.Hour) // until killed
			return nil
		})
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestLeftoverOfKilledWriter kills a process in the middle of a write: the
// target keeps its old content, the temporary file left behind is
// recognisable, and the next write to the target removes it (main left
// ".NAME.tmpNNNN" files forever).
func TestLeftoverOfKilledWriter(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.tqcal")
	must(t, os.WriteFile(p, []byte("old"), 0o644))
	argv := []string{os.Args[0], "-test.run=^$"}
	if err := exec.Command(os.Args[0], "-test.run=^$").Run(); errors.Is(err, syscall.ENOEXEC) {
		// The tests run under an emulator (GOARCH=arm64 -exec
		// qemu-aarch64-static, as make test does).
		argv = append([]string{"qemu-aarch64-static"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+p)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if line != "writing\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	if got := content(t, p); got != "old" {
		t.Fatalf("the target holds %d bytes after the kill", len(got))
	}
	names := files(t, dir)
	leftover := ".state.tqcal.tqtmp-" + strconv.Itoa(cmd.Process.Pid) + "-"
	if len(names) != 2 || !strings.HasPrefix(names[0], leftover) {
		t.Fatalf("after the kill: %v, want the target and %s*", names, leftover)
	}
	if st, _ := os.Stat(filepath.Join(dir, names[0])); st.Size() < 1<<18 {
		t.Fatalf("the leftover has %d bytes", st.Size())
	}
	// A leftover of a live process (this one, writing) is kept.
	live := filepath.Join(dir, ".state.tqcal.tqtmp-1-00")
	must(t, os.WriteFile(live, nil, 0o600))
	if err := WriteBytes(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got := content(t, p); got != "new" {
		t.Fatalf("the target holds %q", got)
	}
	if names := files(t, dir); len(names) != 2 || names[0] != filepath.Base(live) {
		t.Errorf("after the next write: %v, want the live writer's file and the target", names)
	}
}
