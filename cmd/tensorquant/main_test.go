package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDemoSeedExample(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "-epochs", "1", "-out", t.TempDir()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// The original's documentation: quant_x = [126, 113, 127, 59, 11, 23,
	// 47, 73, 43, 27] with scale=128.0057.
	var codes []string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && strings.HasPrefix(f[0], "0.") {
			codes = append(codes, f[2])
		}
	}
	if got, want := strings.Join(codes, " "), "126 113 127 59 11 23 47 73 43 27"; got != want {
		t.Errorf("codes %q, want %q\n%s", got, want, out.String())
	}
	if !strings.Contains(out.String(), "scale = 128.0057") {
		t.Errorf("no scale line:\n%s", out.String())
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, `tensorquant: unknown command "nope"`},
		{[]string{"demo", "--bits", "99"}, "tensorquant demo: -bits 99 out of range [2, 16]"},
		{[]string{"demo", "-out", "/nonexistent"}, "tensorquant demo: -out /nonexistent is not a directory"},
		{[]string{"version", "x"}, "tensorquant version: takes no arguments"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", tc.args, code)
		}
		if got := errb.String(); !strings.HasPrefix(got, tc.want) || strings.Count(got, "\n") != 1 {
			t.Errorf("%q: stderr %q, want one line starting %q", tc.args, got, tc.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run(nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "usage: tensorquant") {
		t.Errorf("no arguments: exit %d, stderr %q", code, errb.String())
	}
}
