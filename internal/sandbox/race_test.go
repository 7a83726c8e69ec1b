//go:build race

package sandbox

// raceEnabled is whether the race detector is on, under which wazero's
// compiler runs about ten times slower.
const raceEnabled = true
