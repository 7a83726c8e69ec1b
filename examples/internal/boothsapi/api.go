// Package boothsapi declares the booths API natively, with papi.Handle and
// the handler of package booths, for the example programs.
package boothsapi

import (
	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/booths"
)

// API declares the booths API.
func API() *papi.API {
	api := papi.New("booths", "1.0.0", papi.Description(booths.APIDescription))
	if err := papi.Handle(api, "Nearest", booths.Nearest, papi.Description(booths.NearestDescription)); err != nil {
		panic(err) // the types above are fixed: this cannot fail at run time
	}
	return api
}
