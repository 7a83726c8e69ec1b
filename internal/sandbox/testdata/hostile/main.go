// Command hostile is a module whose methods each try to escape or exhaust
// the sandbox, beside one honest method.
package main

import (
	"context"
	"net"
	"os"
	"strings"
	"time"

	"github.com/papi-dev/papi/guest"
)

type In struct {
	S string `cbor:"s"`
	N int    `cbor:"n"`
}

type Out struct {
	S string `cbor:"s"`
}

var sink [][]byte

func init() {
	api := guest.New("hostile", "1.0.0")
	guest.Handle(api, "Echo", func(_ context.Context, in In) (Out, error) { return Out{S: in.S}, nil })
	guest.Handle(api, "Data", func(ctx context.Context, in In) (Out, error) {
		v, err := guest.Load[[]string](ctx, in.S)
		if err != nil {
			return Out{}, err
		}
		return Out{S: strings.Join(v, ",")}, nil
	})
	guest.Handle(api, "Range", func(ctx context.Context, in In) (Out, error) {
		b := make([]byte, 4)
		n, err := guest.ReadAt(ctx, in.S, b, int64(in.N))
		return Out{S: string(b[:n])}, err
	})
	guest.Handle(api, "Loop", func(_ context.Context, in In) (Out, error) {
		x := in.N
		for {
			x = x*31 + 7
			if x == -1 {
				break
			}
		}
		return Out{S: "unreachable"}, nil
	})
	guest.Handle(api, "Bomb", func(_ context.Context, in In) (Out, error) {
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	})
	guest.Handle(api, "ReadFile", func(_ context.Context, in In) (Out, error) {
		b, err := os.ReadFile(in.S)
		if err != nil {
			return Out{}, guest.Errorf(guest.CodeNotFound, "%v", err)
		}
		return Out{S: string(b)}, nil
	})
	guest.Handle(api, "Env", func(_ context.Context, in In) (Out, error) {
		return Out{S: strings.Join(os.Environ(), "\n")}, nil
	})
	guest.Handle(api, "Dial", func(_ context.Context, in In) (Out, error) {
		c, err := net.DialTimeout("tcp", in.S, time.Second)
		if err != nil {
			return Out{}, guest.Errorf(guest.CodeUnavailable, "%v", err)
		}
		c.Close()
		return Out{S: "connected"}, nil
	})
	guest.Handle(api, "Huge", func(_ context.Context, in In) (Out, error) {
		return Out{S: strings.Repeat("x", in.N)}, nil
	})
	guest.Handle(api, "Panic", func(_ context.Context, in In) (Out, error) { panic("boom: " + in.S) })
	guest.Handle(api, "Exit", func(_ context.Context, in In) (Out, error) {
		os.Exit(3)
		return Out{}, nil
	})
}

func main() {}
