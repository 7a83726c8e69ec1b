package papi

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// The DHT network the tests share outlives each of them.
	closeAll(sharedDHT.peers)
	if sharedDHT.mn != nil {
		sharedDHT.mn.Close()
	}
	os.Exit(code)
}
