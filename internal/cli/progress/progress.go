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

// Bar reports the progress of one step of a known number of units. It
// stays silent for the first Delay of the step, so that quick steps (and
// the error of a step that fails at once) print nothing. It is not safe
// for concurrent use.
type Bar struct {
	// Delay is how long the step runs before anything is reported.
	Delay time.Duration

	w       io.Writer
	tty     bool
	label   string
	total   int
	start   time.Time
	last    time.Time
	lastPct int
	now     func() time.Time
	width   int
	shown   bool
}

// DefaultDelay is the Delay of a new Bar.
const DefaultDelay = 500 * time.Millisecond

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
	b := &Bar{Delay: DefaultDelay, w: w, tty: IsTerminal(w), label: label, total: max(total, 1), now: time.Now, lastPct: -1}
	b.start = b.now()
	return b
}

// Update reports done units finished; note (for example "loss 0.1234") is
// shown after the counts. On a terminal the line is redrawn at most ten
// times a second; otherwise a log line is written at each 25% step.
func (b *Bar) Update(done int, note string) {
	now := b.now()
	elapsed := now.Sub(b.start)
	if elapsed < b.Delay {
		return
	}
	b.shown = true
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

// Done ends the bar with a final line: summary, and the time taken. A step
// that finished within Delay prints nothing.
func (b *Bar) Done(summary string) {
	d := b.now().Sub(b.start)
	if !b.shown && d < b.Delay {
		return
	}
	elapsed := round(d)
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
