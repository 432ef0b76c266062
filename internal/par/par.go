// Package par runs the parts of the kernels' parallel loops (the GEMM's
// blocks, a convolution's samples, a graph op's ranges) on worker
// goroutines that stay awake for a while between loops.
//
// A model run at batch 1 is a chain of short parallel loops (tens of
// microseconds each) with serial work between them. Starting a goroutine
// per part for each loop costs a wake-up of an idle CPU, which on a
// virtual machine takes tens of microseconds: as much as the part
// itself. A worker of this package spins for a job for spinTime after
// its last one, then parks; the next loop's parts reach a spinning
// worker in well under a microsecond. ONNX Runtime's thread pool spins
// the same way.
//
// Do never waits for a busy worker: a part that finds no idle worker
// runs on the calling goroutine, so nested loops (a GEMM inside one part
// of a convolution's samples) and concurrent callers (sessions on
// several goroutines) cannot deadlock, and use at most the workers that
// are idle.
package par

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinTime is how long a worker looks for its next job after one before
// it parks: longer than the serial work between two of a model's
// parallel loops at batch 1 (an elementwise op, a small layer).
const spinTime = 200 * time.Microsecond

// job is one part of a loop handed to a worker.
type job struct {
	fn   func(int)
	part int
	loop *loop
}

// loop is one call of Do: the parts still running on workers.
type loop struct {
	left atomic.Int32
	wg   sync.WaitGroup
}

// worker is one pooled goroutine.
type worker struct {
	busy   atomic.Bool // taken by a Do (from acquire until its job returns)
	job    atomic.Pointer[job]
	parked atomic.Bool
	wake   chan struct{} // one token: a job was stored while parked
}

var (
	mu      sync.Mutex
	workers atomic.Pointer[[]*worker] // grown under mu, read without it
)

// Do calls fn(p) for each p in [0, parts) and returns when all calls have
// returned: part 0 on the calling goroutine, each other part on an idle
// worker, or on the calling goroutine after part 0 when no worker is
// idle. The parts must be independent. parts < 1 does nothing.
func Do(parts int, fn func(p int)) {
	if parts <= 1 {
		if parts == 1 {
			fn(0)
		}
		return
	}
	var l loop
	var inline []int
	ws := pool(parts - 1)
	next := 0
	for p := 1; p < parts; p++ {
		w := acquire(ws, &next)
		if w == nil {
			inline = append(inline, p)
			continue
		}
		l.left.Add(1)
		l.wg.Add(1)
		w.assign(&job{fn: fn, part: p, loop: &l})
	}
	fn(0)
	for _, p := range inline {
		fn(p)
	}
	// The workers' parts are as long as part 0: spin a little for them
	// before blocking, yielding now and then: a worker woken onto this
	// goroutine's P (its next to run) would otherwise wait for the spin
	// to end (a Do of empty parts took 3.2 µs on average on two cores,
	// 1.2 with the yields).
	deadline := time.Now().Add(spinTime)
	for i := 0; l.left.Load() > 0; i++ {
		if i&255 == 255 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	l.wg.Wait()
}

// pool returns the workers, at least min(n, GOMAXPROCS-1) of them.
func pool(n int) []*worker {
	n = min(n, runtime.GOMAXPROCS(0)-1)
	if ws := workers.Load(); ws != nil && len(*ws) >= n {
		return *ws
	}
	mu.Lock()
	defer mu.Unlock()
	var ws []*worker
	if p := workers.Load(); p != nil {
		ws = *p
	}
	for len(ws) < n {
		w := &worker{wake: make(chan struct{}, 1)}
		go w.run()
		ws = append(ws, w)
	}
	ws = ws[:len(ws):len(ws)]
	workers.Store(&ws)
	return ws
}

// acquire returns an idle worker of ws, marked busy, trying them from
// *next on (which it moves past the one it returns), or nil.
func acquire(ws []*worker, next *int) *worker {
	for ; *next < len(ws); *next++ {
		if w := ws[*next]; w.busy.CompareAndSwap(false, true) {
			*next++
			return w
		}
	}
	return nil
}

// assign hands j to w, which acquire marked busy, waking it if parked.
func (w *worker) assign(j *job) {
	w.job.Store(j)
	if w.parked.Load() {
		select {
		case w.wake <- struct{}{}:
		default: // a token is already there
		}
	}
}

// run is the worker's goroutine: it takes jobs forever, spinning for
// spinTime after each before it parks.
func (w *worker) run() {
	for {
		j := w.await()
		j.fn(j.part)
		l := j.loop
		l.left.Add(-1)
		l.wg.Done()
		w.busy.Store(false)
	}
}

// await returns the worker's next job: spinning for it, then parked.
func (w *worker) await() *job {
	for {
		deadline := time.Now().Add(spinTime)
		// Polled with loads (a swap writes the line assign writes to),
		// yielding now and then as Do does.
		for i := 0; ; i++ {
			if w.job.Load() != nil {
				if j := w.job.Swap(nil); j != nil {
					return j
				}
			}
			if i&255 == 255 {
				if time.Now().After(deadline) {
					break
				}
				runtime.Gosched()
			}
		}
		// Parked is set before the job is looked at once more: assign
		// stores the job before it looks at parked, so either this look
		// finds the job or assign sends a token.
		w.parked.Store(true)
		if j := w.job.Swap(nil); j != nil {
			w.parked.Store(false)
			return j
		}
		<-w.wake
		w.parked.Store(false)
		if j := w.job.Swap(nil); j != nil {
			return j
		}
		// A token left by an assign whose job an earlier look took:
		// look again.
	}
}
