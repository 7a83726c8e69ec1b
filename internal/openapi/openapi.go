// Package openapi exports a papi spec as an OpenAPI 3.1 document: each
// method an operation, request and response schemas in JSON Schema 2020-12
// with their conditions as keywords, descriptions carried over.
//
// papi calls do not travel over HTTP; the document describes the methods in
// the form most tools read, POST /{method} with a JSON body, which is also
// what `papi call` takes.
package openapi

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/papi-dev/papi/internal/spec"
)

const componentPrefix = "#/components/schemas/"

// errorSchemaName is the schema of papi's error envelope, reserved in
// components (papi's own definition names never contain a dot).
const errorSchemaName = "papi.Error"

// Document returns the OpenAPI 3.1 document of s as JSON. hash, if not
// empty, is recorded as the API's content address (x-papi-api-hash).
func Document(s *spec.Spec, hash string) ([]byte, error) {
	schemas := map[string]any{
		errorSchemaName: map[string]any{
			"type":        "object",
			"description": "A failed call: a code (gRPC numbering and names) and a message.",
			"properties": map[string]any{
				"code":    map[string]any{"type": "string", "description": "snake_case code name, such as invalid_argument"},
				"message": map[string]any{"type": "string"},
			},
			"required": []string{"code", "message"},
		},
	}
	for _, name := range slices.Sorted(maps.Keys(s.Defs)) {
		schemas[name] = convert(s.Defs[name])
	}
	paths := map[string]any{}
	for _, m := range s.Methods {
		op := map[string]any{
			"operationId": m.Name,
			"requestBody": map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": convert(m.Request)}},
			},
			"responses": map[string]any{
				"200": map[string]any{
					"description": "The method's response.",
					"content":     map[string]any{"application/json": map[string]any{"schema": convert(m.Response)}},
				},
				"default": map[string]any{
					"description": "An error.",
					"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": componentPrefix + errorSchemaName}}},
				},
			},
		}
		if m.Description != "" {
			op["description"] = m.Description
		}
		paths["/"+m.Name] = map[string]any{"post": op}
	}
	info := map[string]any{"title": s.Name, "version": s.Version}
	if s.Description != "" {
		info["description"] = s.Description
	}
	if hash != "" {
		info["x-papi-api-hash"] = hash
	}
	doc := map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info":              info,
		"paths":             paths,
		"components":        map[string]any{"schemas": schemas},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// convert rewrites a papi schema as a JSON Schema 2020-12 object.
func convert(s *spec.Schema) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	if s.Ref != "" {
		ref := map[string]any{"$ref": componentPrefix + s.RefName()}
		if s.Description != "" {
			ref["description"] = s.Description
		}
		if s.Nullable {
			return map[string]any{"anyOf": []any{ref, map[string]any{"type": "null"}}}
		}
		return ref
	}
	out := map[string]any{}
	if s.Nullable {
		out["type"] = []string{s.Type, "null"}
	} else {
		out["type"] = s.Type
	}
	set := func(k string, v any, ok bool) {
		if ok {
			out[k] = v
		}
	}
	set("format", s.Format, s.Format != "")
	set("contentEncoding", s.ContentEncoding, s.ContentEncoding != "")
	set("description", s.Description, s.Description != "")
	set("pattern", s.Pattern, s.Pattern != "")
	set("enum", s.Enum, s.Enum != nil)
	for k, v := range map[string]*float64{"minimum": s.Minimum, "maximum": s.Maximum} {
		if v != nil {
			out[k] = *v
		}
	}
	for k, v := range map[string]*uint64{"minLength": s.MinLength, "maxLength": s.MaxLength, "minItems": s.MinItems, "maxItems": s.MaxItems} {
		if v != nil {
			out[k] = *v
		}
	}
	if s.Properties != nil {
		props := map[string]any{}
		for name, p := range s.Properties {
			props[name] = convert(p)
		}
		out["properties"] = props
		out["additionalProperties"] = false
	}
	set("required", s.Required, len(s.Required) > 0)
	if s.AdditionalProperties != nil {
		out["additionalProperties"] = convert(s.AdditionalProperties)
	}
	if s.Items != nil {
		out["items"] = convert(s.Items)
	}
	return out
}
