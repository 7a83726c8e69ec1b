package papi

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIDocumentsValidate checks the exported document of every API
// the tests and examples declare with kin-openapi's validator.
func TestOpenAPIDocumentsValidate(t *testing.T) {
	probe, _ := probeAPI(t).Bundle()
	bench, err := benchAPI20().Bundle()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Bundle{boothsBundle(t), probe, bench} {
		doc, err := OpenAPI(b)
		if err != nil {
			t.Fatal(err)
		}
		loader := openapi3.NewLoader()
		parsed, err := loader.LoadFromData(doc)
		if err != nil {
			t.Fatalf("%s: load: %v", b.Spec().Name, err)
		}
		if err := parsed.Validate(context.Background()); err != nil {
			t.Fatalf("%s: invalid OpenAPI document: %v\n%s", b.Spec().Name, err, doc)
		}
		if len(parsed.Paths.Map()) != len(b.Spec().Methods) {
			t.Errorf("%s: %d operations for %d methods", b.Spec().Name, len(parsed.Paths.Map()), len(b.Spec().Methods))
		}
	}
	// Conditions and descriptions survive as JSON Schema keywords.
	doc, _ := OpenAPI(boothsBundle(t))
	var v struct {
		Info       map[string]any `json:"info"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	lat := v.Components.Schemas["NearestReq"].Properties["lat"]
	if lat["minimum"] != -90.0 || lat["maximum"] != 90.0 || lat["description"] != "latitude in degrees" {
		t.Errorf("NearestReq.lat = %v", lat)
	}
	if v.Info["x-papi-api-hash"] != boothsBundle(t).APIHash().String() {
		t.Errorf("info = %v", v.Info)
	}
}
