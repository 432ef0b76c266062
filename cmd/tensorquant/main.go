// Command tensorquant is the command-line front end of the tensorquant
// quantization toolkit.
//
// Usage:
//
//	tensorquant demo       run the seed example and a kernel throughput table
//	tensorquant version    print the module and Go versions and the kernels in use
//
// Errors print one line on stderr and exit with status 2.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: its one-line summary and its body, which
// returns an error to print (exit status 2).
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"demo":    {"run the seed example and a kernel throughput table", runDemo},
		"version": {"print the module and Go versions and the kernels in use", runVersion},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tensorquant: unknown command %q (try tensorquant help)\n", args[0])
		return 2
	}
	if err := c.run(args[1:], stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "tensorquant %s: %v\n", args[0], err)
		return 2
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: tensorquant <command> [flags]\n\ncommands:")
	for _, name := range []string{"demo", "version"} {
		fmt.Fprintf(w, "  %-10s %s\n", name, cmds[name].summary)
	}
}
