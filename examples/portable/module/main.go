// Command module is the booths API as a WebAssembly module: `papi build`
// compiles it into a bundle whose code serves Nearest on any peer, with no
// Go code of that peer's own. The handler is booths.Nearest, the one the
// native examples serve with papi.Handle.
package main

import "github.com/papi-dev/papi/internal/booths"

// init declares the API: a module built as a reactor never runs main.
func init() { booths.Declare() }

func main() {}
