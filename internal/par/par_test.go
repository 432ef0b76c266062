package par

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// check runs Do(parts) with a function that counts its calls by part and
// fails unless each part ran exactly once before Do returned.
func check(t *testing.T, parts int, inner func(p int)) {
	t.Helper()
	calls := make([]atomic.Int32, max(parts, 0))
	Do(parts, func(p int) {
		calls[p].Add(1)
		if inner != nil {
			inner(p)
		}
	})
	for p := range calls {
		if n := calls[p].Load(); n != 1 {
			t.Fatalf("Do(%d): part %d ran %d times", parts, p, n)
		}
	}
}

func TestDo(t *testing.T) {
	for parts := -1; parts <= 40; parts++ {
		check(t, parts, nil)
	}
}

// TestDoNested runs loops inside the parts of a loop (a GEMM inside a
// convolution's samples): every inner part runs once, none deadlocks.
func TestDoNested(t *testing.T) {
	for parts := 1; parts <= 8; parts++ {
		check(t, parts, func(int) { check(t, 5, func(int) { check(t, 3, nil) }) })
	}
}

// TestDoConcurrent runs loops from many goroutines at once (sessions on
// several goroutines).
func TestDoConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for parts := range 20 {
				check(t, parts, nil)
			}
		})
	}
	wg.Wait()
}

// TestDoAfterParking runs loops separated by more than spinTime, when
// the workers have parked: they must wake for the next loop's parts.
func TestDoAfterParking(t *testing.T) {
	for range 3 {
		check(t, 4, func(int) { time.Sleep(time.Millisecond) })
		time.Sleep(2 * spinTime)
	}
}

// TestDoWaitsForParts fails unless Do returns only after every part has
// returned, however long a worker's part takes.
func TestDoWaitsForParts(t *testing.T) {
	var done atomic.Int32
	Do(3, func(p int) {
		if p > 0 {
			time.Sleep(time.Duration(p) * spinTime)
		}
		done.Add(1)
	})
	if n := done.Load(); n != 3 {
		t.Fatalf("Do returned after %d of 3 parts", n)
	}
}
