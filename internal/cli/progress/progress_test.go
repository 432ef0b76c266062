package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func TestPlainLogLines(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "train", 8)
	b.Delay = 0
	b.now = fakeClock(time.Second)
	b.start = time.Unix(0, 0)
	for i := 1; i <= 8; i++ {
		b.Update(i, "loss 0.5")
	}
	b.Done("acc 97%")
	want := "train 1/8 (12%) 1s loss 0.5\n" +
		"train 2/8 (25%) 2s loss 0.5\n" +
		"train 4/8 (50%) 4s loss 0.5\n" +
		"train 6/8 (75%) 6s loss 0.5\n" +
		"train 8/8 (100%) 8s loss 0.5\n" +
		"train done in 9s acc 97%\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if strings.Contains(buf.String(), "\r") {
		t.Fatal("carriage return in plain output")
	}
}

func TestTerminalRedraw(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "calib", 4)
	b.Delay = 0
	b.tty = true
	b.now = fakeClock(50 * time.Millisecond)
	b.start = time.Unix(0, 0)
	for i := 1; i <= 4; i++ {
		b.Update(i, "")
	}
	b.Done("")
	out := buf.String()
	if n := strings.Count(out, "\r"); n != 4 {
		t.Fatalf("%d redraws in %q, want 4 (two rate-limited, last always drawn, done)", n, out)
	}
	if !strings.HasSuffix(out, "\n") || !strings.Contains(out, "calib 4/4") || !strings.Contains(out, "ETA 0s") {
		t.Fatalf("output %q", out)
	}
}

func TestNilWriter(t *testing.T) {
	b := New(nil, "x", 0)
	b.Update(1, "")
	b.Done("")
}

func TestQuickStepsAreSilent(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "quick", 3)
	b.now = fakeClock(100 * time.Millisecond)
	b.start = time.Unix(0, 0)
	for i := 1; i <= 3; i++ {
		b.Update(i, "")
	}
	b.Done("")
	if buf.Len() != 0 {
		t.Fatalf("a step shorter than Delay printed %q", buf.String())
	}
	slow := New(&buf, "slow", 2)
	slow.now = fakeClock(400 * time.Millisecond)
	slow.start = time.Unix(0, 0)
	slow.Update(1, "") // 0.4 s: silent
	slow.Update(2, "") // 0.8 s: shown
	slow.Done("")
	if want := "slow 2/2 (100%) 800ms \nslow done in 1.2s \n"; buf.String() != want {
		t.Fatalf("got %q want %q", buf.String(), want)
	}
}
