// Package childprobe lets a test binary find out whether a function can
// run at all on this machine when running it may end the process: a
// kernel whose instruction the CPU may lack (SIGILL) although it does not
// report it. The function runs in a child process of the same binary.
package childprobe

import (
	"os"
	"os/exec"
)

// Run is for a TestMain, before m.Run. In the child process that Run
// starts (env set in its environment), it calls try and exits with status
// 0. In the test process it starts that child when want is true and
// reports whether the child exited normally, that is, whether try ran
// without ending the process; with want false it reports false.
func Run(env string, want bool, try func()) bool {
	if os.Getenv(env) != "" {
		try()
		os.Exit(0)
	}
	if !want {
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"=1")
	return cmd.Run() == nil
}
