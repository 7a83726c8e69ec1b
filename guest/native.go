//go:build !wasip1

package guest

import (
	"context"

	"github.com/papi-dev/papi/internal/datactx"
)

// source is the bundle papi put in the call's context.
func source(ctx context.Context) datactx.Source { return datactx.From(ctx) }

// register does nothing natively: papi.Handle serves native handlers.
func register(*API) {}
