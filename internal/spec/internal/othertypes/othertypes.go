// Package othertypes holds types whose names collide with those of the
// spec tests, to test that two types of one name are refused.
package othertypes

// Item has the same name as the tests' own Item.
type Item struct {
	Other int `cbor:"other"`
}

// Other is a named struct whose definition a failed derivation must not leave behind.
type Other struct {
	V int `cbor:"v"`
}
