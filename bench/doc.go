// Package bench measures papi against what a user would pick instead and
// against the limits underneath it, in the same run, so that every change
// is judged by a ratio rather than by a figure from another machine:
//
//   - calls: papi's call, typed (papi.Call) and untyped (transport), beside
//     one round trip on a libp2p stream already open (the floor) and
//     grpc-go, plaintext and TLS, with one caller and with 16;
//   - clones: papi cloning 256 MiB from a provider in another process into
//     a file with fsync, beside one libp2p TCP+TLS stream and one plain TCP
//     connection copied from that process into a file with fsync.
//
// It is a module of its own so that grpc-go stays out of papi's go.mod.
// The comparison table:
//
//	go test -run '^$' -bench . -count 3 | go run ./cmd/table
package bench
