// Package progress reports the advance of long steps (training epochs,
// calibration batches, fine-tuning) on stderr: a single line redrawn in
// place when the output is a terminal, and a few plain log lines otherwise,
// so that CI logs stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar reports the progress of one step of a known number of units. It is
// not safe for concurrent use.
type Bar struct {
	w       io.Writer
	tty     bool
	label   string
	total   int
	start   time.Time
	last    time.Time
	lastPct int
	now     func() time.Time
	width   int
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// New starts a bar labelled label for total units, writing to w. A nil w
// (or io.Discard) reports nothing.
func New(w io.Writer, label string, total int) *Bar {
	if w == nil {
		w = io.Discard
	}
	b := &Bar{w: w, tty: IsTerminal(w), label: label, total: max(total, 1), now: time.Now, lastPct: -1}
	b.start = b.now()
	return b
}

// Update reports done units finished; note (for example "loss 0.1234") is
// shown after the counts. On a terminal the line is redrawn at most ten
// times a second; otherwise a log line is written at each 25% step.
func (b *Bar) Update(done int, note string) {
	now := b.now()
	elapsed := now.Sub(b.start)
	pct := 100 * done / b.total
	if b.tty {
		if now.Sub(b.last) < 100*time.Millisecond && done < b.total {
			return
		}
		b.last = now
		line := fmt.Sprintf("%s %d/%d %s ETA %s %s", b.label, done, b.total, round(elapsed), eta(elapsed, done, b.total), note)
		pad := max(0, b.width-len(line))
		b.width = len(line)
		fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
		return
	}
	if step := pct / 25; step > b.lastPct/25 || b.lastPct < 0 {
		b.lastPct = pct
		fmt.Fprintf(b.w, "%s %d/%d (%d%%) %s %s\n", b.label, done, b.total, pct, round(elapsed), note)
	}
}

// Done ends the bar with a final line: summary, and the time taken.
func (b *Bar) Done(summary string) {
	elapsed := round(b.now().Sub(b.start))
	if b.tty {
		line := fmt.Sprintf("%s done in %s %s", b.label, elapsed, summary)
		fmt.Fprintf(b.w, "\r%s%s\n", line, strings.Repeat(" ", max(0, b.width-len(line))))
		return
	}
	fmt.Fprintf(b.w, "%s done in %s %s\n", b.label, elapsed, summary)
}

func eta(elapsed time.Duration, done, total int) string {
	if done <= 0 {
		return "?"
	}
	return round(time.Duration(float64(elapsed) * float64(total-done) / float64(done))).String()
}

func round(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
