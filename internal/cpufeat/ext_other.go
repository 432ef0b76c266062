//go:build (!amd64 && !arm64) || !gc || purego

package cpufeat

func hasAVX512VNNI() bool { return false }

func hasAVXVNNI() bool { return false }

func hasASIMDDP() bool { return false }
