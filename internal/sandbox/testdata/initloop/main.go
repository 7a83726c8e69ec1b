// Command initloop is a module that never finishes initialising.
package main

import "github.com/papi-dev/papi/guest"

var x = 1

func init() {
	guest.New("initloop", "1.0.0")
	for x != 0 {
		x = x*3 + 2
	}
}

func main() {}
