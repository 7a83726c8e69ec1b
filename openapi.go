package papi

import "github.com/papi-dev/papi/internal/openapi"

// Described is anything that carries a verified API spec: a *Bundle, or a
// *Client of a remote one.
type Described interface {
	Spec() *Spec
	APIHash() Hash
}

// OpenAPI returns the OpenAPI 3.1 document of an API's spec, as JSON: each
// method an operation (POST /{method} with a JSON body), request and
// response schemas in JSON Schema 2020-12 with their conditions as
// keywords, the descriptions carried over, and the API hash as
// x-papi-api-hash. api is a Bundle, local, or a Client, for a remote one.
func OpenAPI(api Described) ([]byte, error) {
	return openapi.Document(api.Spec(), api.APIHash().String())
}
