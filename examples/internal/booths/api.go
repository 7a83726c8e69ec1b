//go:build !wasip1

package booths

import "github.com/papi-dev/papi"

// API declares the booths API.
func API() *papi.API {
	api := papi.New("booths", "1.0.0", papi.Description(apiDescription))
	if err := papi.Handle(api, "Nearest", Nearest, papi.Description(nearestDescription)); err != nil {
		panic(err) // the types above are fixed: this cannot fail at run time
	}
	return api
}
