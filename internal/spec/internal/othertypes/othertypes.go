// Package othertypes holds a type whose name collides with one in the spec
// tests, to test that two types of one name are refused.
package othertypes

// Item has the same name as the tests' own Item.
type Item struct {
	Other int `cbor:"other"`
}
