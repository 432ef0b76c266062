//go:build tools

// The generator reads the Go declarations of the kernel packages (avo's
// Package and Implement); this import keeps their module in go.mod.
package main

import _ "github.com/tensorquant/tensorquant/histogram"
