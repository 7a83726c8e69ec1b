package papi

import "github.com/papi-dev/papi/internal/openapi"

// OpenAPI returns the OpenAPI 3.1 document of b's spec, as JSON: each method
// an operation (POST /{method} with a JSON body), request and response
// schemas in JSON Schema 2020-12 with their conditions as keywords, the
// descriptions carried over, and the API hash as x-papi-api-hash.
func OpenAPI(b *Bundle) ([]byte, error) {
	return OpenAPIOf(b.spec, b.apiHash)
}

// OpenAPIOf is OpenAPI for a spec on its own, such as a Client's.
func OpenAPIOf(s *Spec, apiHash Hash) ([]byte, error) {
	return openapi.Document(s, apiHash.String())
}
