//go:build linux

package netlab_test

func runPeer() error { return nil }
