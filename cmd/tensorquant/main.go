// Command tensorquant is the command-line front end of the tensorquant
// quantization toolkit: the seed's whole workflow on an embedded data set
// (demo), post-training quantization of ONNX models (quantize, merge),
// quantization-aware fine-tuning of ONNX models (finetune), calibration of
// users' own data (calibrate, merge), ONNX export (export), running and
// describing ONNX models (run, info), the kernel throughput table (bench)
// and version information.
//
// Usage:
//
//	tensorquant <command> [flags]
//
// Every command prints an example with -h. Errors print one line on stderr
// and exit with status 2; files are written atomically.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: its one-line summary and its body, which
// returns an error to print (exit status 2).
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "the seed's whole workflow on the embedded digits data set", runDemo},
		{"calibrate", "calibrate the amax of a .npy (or raw float32) file with every method", runCalibrate},
		{"quantize", "quantize an ONNX model: calibrate on data files, write the QDQ model (post-training quantization)", runQuantize},
		{"merge", "join calibrator states from several shards (-model: a model's shards into its QDQ model)", runMerge},
		{"export", "write the demo's quantized model (or a checkpoint of it) as ONNX", runExport},
		{"finetune", "fine-tune an ONNX model (quantization-aware for a QDQ model) and write it back", runFinetune},
		{"run", "run an ONNX model on .npy inputs and write its outputs, or benchmark it", runRun},
		{"info", "describe an ONNX model: inputs, outputs, opsets, ops, parameters, support", runInfo},
		{"bench", "kernel throughput: every implementation vs pure Go vs copy(); bench models: ours vs ONNX Runtime vs PyTorch, fp32 and int8", runBench},
		{"version", "print the module and Go versions and the kernels in use", runVersion},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		usage(w, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0
		case err != nil:
			fmt.Fprintf(stderr, "tensorquant %s: %s\n", c.name, oneLine(err))
			return 2
		}
		return 0
	}
	fmt.Fprintf(stderr, "tensorquant: unknown command %q (try tensorquant help)\n", args[0])
	return 2
}

// oneLine keeps an error message on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "usage: tensorquant <command> [flags]\n\ncommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'tensorquant <command> -h' for the flags of a command and an example.")
}

// flagSet is a subcommand's flag set. Parse errors come back as errors (one
// line on stderr, exit 2); -h prints the synopsis, the example and the
// flags on stdout.
type flagSet struct {
	*flag.FlagSet
	synopsis, example string
	stdout            io.Writer
}

func newFlags(name, synopsis, example string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, synopsis: synopsis, example: example, stdout: stdout}
}

// parseModel parses the args of a command that reads one model file
// after its flags, whose -threads value is threads: it returns an error
// for other arguments than one file, or a negative -threads.
func (f *flagSet) parseModel(args []string, threads *int) error {
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return fmt.Errorf("want one model file after the flags, got %d (try -h)", f.NArg())
	}
	if *threads < 0 {
		return fmt.Errorf("-threads %d is negative", *threads)
	}
	return nil
}

// parse parses args; on -h it prints the help and returns flag.ErrHelp.
func (f *flagSet) parse(args []string) error {
	err := f.FlagSet.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(f.stdout, "usage: tensorquant %s %s\n\nexample:\n  %s\n\nflags:\n", f.Name(), f.synopsis, f.example)
		f.SetOutput(f.stdout)
		f.PrintDefaults()
	}
	return err
}
