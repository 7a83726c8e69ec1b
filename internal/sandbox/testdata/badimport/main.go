// Command badimport is a module that imports a host function papi does not
// provide.
package main

import (
	"context"

	"github.com/papi-dev/papi/guest"
)

//go:wasmimport env steal
func steal() int32

type In struct {
	N int `cbor:"n"`
}

func init() {
	api := guest.New("badimport", "1.0.0")
	guest.Handle(api, "Steal", func(_ context.Context, in In) (In, error) { return In{N: int(steal())}, nil })
}

func main() {}
