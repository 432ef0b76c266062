module github.com/tensorquant/tensorquant/_asm

go 1.26.0

require (
	github.com/mmcloughlin/avo v0.5.0
	github.com/tensorquant/tensorquant v0.0.0
)

require (
	golang.org/x/mod v0.43.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.53.0 // indirect
)

replace github.com/tensorquant/tensorquant => ../
