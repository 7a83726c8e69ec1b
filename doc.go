// Package papi shares an API from peer to peer: a Go program declares an API
// with typed handlers, bundles it with a spec derived from its types and the
// data behind it, and serves it from its own process over libp2p, with no
// server and no daemon. Another program dials it by content hash and calls
// it with typed requests.
//
// # Declaring an API
//
// An API is a name, a version and methods. Each method has a request and a
// response type, usually plain Go structs, and a handler:
//
//	type NearestReq struct {
//		Lat   float64 `cbor:"lat" papi:"minimum=-90,maximum=90"`
//		Lon   float64 `cbor:"lon" papi:"minimum=-180,maximum=180"`
//		Limit int     `cbor:"limit" papi:"minimum=1,maximum=50"`
//	}
//
//	api := papi.New("booths", "1.0.0", papi.Description("Polling stations"))
//	papi.Handle(api, "Nearest", func(ctx context.Context, req NearestReq) (NearestResp, error) { … })
//
// [Handle] derives the method's [Spec] from the types: field names (from the
// cbor or json tag), types, which fields are required (every field but
// pointers and omitempty ones), and descriptions from `doc:"…"` tags. Types
// that cannot cross the wire (channels, functions, interfaces) are refused
// at declaration, with an error naming the field. Any other type works as a
// request or a response too (a string, a slice, a map), but conditions live
// on struct fields and only a struct can grow optional fields later, so
// structs are the ones to prefer. Each Handle call reports its own error;
// an API with any error refuses to bundle and lists them all.
//
// # Conditions
//
// Pre- and post-conditions come from `papi:"…"` struct tags, in the JSON
// Schema vocabulary: required, minimum, maximum, minLength, maxLength,
// minItems, maxItems, enum=a|b|c and pattern=REGEX (last in the tag). They
// are compiled once per type. A request that breaks one never reaches the
// handler and its caller gets [ErrPrecondition]; a response that breaks one
// is not sent and its caller gets [ErrPostcondition]. Both name the field
// and the rule. The server reads a request's bytes for its required fields
// before decoding them, as decoding would make a missing field its zero:
// a caller in any language that leaves one out, or sends null where the
// spec has none, gets ErrPrecondition naming the field as missing.
//
// # Compatibility
//
// One set of rules says whether a new spec keeps the callers of an old one
// working. `papi diff OLD NEW` lists every change with its verdict and
// exits 1 when one breaks, for a project's own CI as `buf breaking` is
// used; [Call] asks the same rules whether the caller's Go types can talk
// to the remote spec; and a derived API ([Extends]) must pass them against
// its parent.
//
// A schema is a set of values, and a change to it widens the set (a
// looser condition, a type that holds more), narrows it, or does both (a
// changed pattern, another type). Callers keep sending what the old spec
// allowed, so a request may only widen; callers expect only what the old
// spec allowed, so a response may only narrow. This is JSON Schema's
// subschema relation (Habib et al., "Finding Data Compatibility Bugs with
// JSON Subschema Checking", ISSTA 2021) applied per direction, as Confluent
// Schema Registry's backward and forward compatibility do. Change by change:
//
//   - method added: compatible; removed: breaking; renamed (removed, and
//     another added that takes and gives the same): breaking, as a call
//     names its method (buf's RPC_NO_DELETE, SERVICE_NO_DELETE).
//   - request field added optional: compatible; added required: breaking;
//     removed or renamed: breaking, as callers still send it and the new
//     spec knows no such field (protobuf and buf's FIELD_NO_DELETE,
//     FIELD_SAME_JSON_NAME; oasdiff's request-property-removed).
//   - response field added: compatible, as readers ignore fields they do
//     not know (protobuf's rule for unknown fields); removed: compatible if
//     it was optional, breaking if it was required; renamed: breaking.
//   - optional to required: breaking in a request, compatible in a
//     response; required to optional the other way round. Value to pointer
//     (nullable, optional) is the same pair of rules: compatible in a
//     request, breaking in a response; pointer to value the reverse.
//   - type widened (integer to number, int32 to int64, float to double,
//     date-time to any text): compatible in a request, breaking in a
//     response; narrowed: the reverse. Any other change of type, an object
//     to a map, text to bytes: breaking both ways (buf's FIELD_SAME_TYPE).
//   - a condition (minimum, maximum, minLength, maxLength, minItems,
//     maxItems) loosened or removed: compatible in a request, breaking in a
//     response; tightened or added: the reverse, as oasdiff judges
//     request-property-max-decreased and response-property-max-increased.
//     An enum value added widens and one removed narrows; a pattern added
//     narrows, removed widens, changed does both, as whether one regular
//     expression matches less than another is not decided.
//   - descriptions, the name and the version: compatible, listed.
//
// A derived API, papi.New(name, version, papi.Extends(parent)), where the
// parent is a bundle, a client or a stored hash, records the parent bundle
// and every ancestor API in its manifest and carries their specs. Its
// bundles are refused when they break the parent's callers, unless
// [NewLine] says the API starts a new line. A server answers dials and
// calls addressed to each ancestor it keeps working, and announces itself
// under their hashes; a dialer of an ancestor judges the two specs itself
// before it accepts the answer.
//
// $refs are followed on both sides, so a definition renamed is no change;
// a definition walked once per direction ends recursion; a definition
// reached from a request and from a response is judged for each.
//
// # Bundles and hashes
//
// [API.Bundle] puts the spec together with datasets ([Data], [DataFile],
// [DataReader]) into a [Bundle]. Spec and manifest are encoded as DAG-CBOR
// (RFC 8949 core deterministic encoding as IPFS reads it, with CID links to
// the parts) and hashed with BLAKE3, so a bundle has two content addresses,
// written as CIDv1 strings ([Hash]):
//
//   - the API hash names the spec alone: this interface;
//   - the bundle hash names the manifest, which names the spec, every
//     dataset and the bundle it derives from: this interface with this data.
//
// Renaming a field or changing a type or a condition changes the API hash;
// changing only data changes only the bundle hash. [Bundle.WithData] derives
// a bundle with other data and records its parent. Handlers reach the data
// of the bundle they serve with [Load], so one handler serves any bundle of
// its API. Bundles are written to and read from directories
// ([Bundle.WriteDir], [OpenBundle]) and byte streams ([Bundle.WriteTo],
// [ReadBundle]); reading verifies every part. Large datasets are verified
// piece by piece ([VerifyDataset], [PieceSize]) in bounded memory.
//
// # Serving
//
// [Serve] serves a bundle from a libp2p host embedded in the process: TCP,
// QUIC, WebTransport and WebRTC-direct, Noise and TLS, libp2p's resource
// manager. The last two are on by default because they are what a web page
// can dial (a browser opens no raw TCP or QUIC connection): their
// addresses carry the hash of the peer's self-signed certificate
// (/certhash/…), which the browser checks instead of a certificate
// authority, so any peer is reachable from a page with no domain name and
// no setup. [ListenAddrs] replaces the default; leave out
// /webtransport and /webrtc-direct to keep browsers out. WebTransport
// certificates last two weeks and rotate; an address lists the current
// and the next certificate, so a page holding an address from before a
// rotation still connects. A [Peer] is that host;
// the package-level functions use a default one, and [NewPeer] makes others
// (with a persistent identity, [IdentityFile]). One peer serves any number
// of bundles. A server lives until the context given to Serve ends or
// [Server.Close] is called; either stops taking calls and drains those in
// flight. [Peer.Close] stops the peer and its servers; closing the
// [DefaultPeer] is allowed, and the next package-level call starts another.
// A bundle without handlers of its own, one read from disk or cloned, is
// served with [Implement], which refuses handlers whose spec differs.
//
// # Options
//
// Each call takes the options of its own kind: [PeerOption] for [NewPeer],
// [ServeOption] for Serve, [DialOption] for Dial, DialName and Resolve,
// [CloneOption] for Clone, and [ProviderOption] (such as [Provider]) for all
// of the last four. An option that cannot work fails the call it is given
// to; options do no I/O until the call runs.
//
// # Handlers in the bundle
//
// A bundle can carry its handlers as a WebAssembly module, so that whoever
// clones it runs exactly the code the hash names, with no Go code of its
// own. Handlers keep Handle's signature and reach their data through package
// guest (guest.Load, guest.Size, guest.ReadAt), which works natively too: one
// source serves both ways. A main package declares the API with guest.New
// and guest.Handle in init; [Build] compiles it for GOOS=wasip1 GOARCH=wasm
// (the go command is needed) and [BundleModule] bundles a compiled module:
//
//	b, err := papi.Build(ctx, "./module", papi.Data("stations", stations))
//
// What is hashed: the manifest names the module by hash (with the version of
// the module contract) beside the spec and the datasets, so the bundle hash
// covers code, spec and data. The API hash is still the spec's alone, and
// the spec is derived from the Go types by the same code in the module as in
// Handle: a native implementation of the same interface has the same API
// hash, and so stays interchangeable. [Bundle.WithData] keeps the code (same
// API hash, same code hash, new bundle hash, parent recorded);
// [Bundle.WithCode] puts in another module of the same spec, with the
// bundle it improves on as its parent.
//
// [Serve] runs a bundle's module when no [Implement] is given; native
// handlers given with Implement win. Before serving, the module is asked for
// its spec, which must be exactly the manifest's. The module runs in a
// sandbox (wazero, pure Go): no file system, network, environment or
// arguments; a real clock and random source; datasets read-only through
// host functions. [SandboxLimits] bound each instance's memory, each call's
// time (the caller's deadline, capped by CallTimeout), the module's size
// and the response's. A trap, an exit, running out of memory or time fails
// that one call with a coded error (CodeInternal, CodeResourceExhausted,
// CodeDeadlineExceeded) and discards the instance; the server and other
// callers carry on. Time is enforced by fuel: the host adds a counter to
// every loop of the module as it loads it, and when the counter runs out the
// module calls the host, which checks the deadline and the caller there; it
// costs a few instructions per loop iteration, where wazero's context checks
// made a call several times slower. Modules compile once per process, in
// the background after a clone, into an on-disk cache ([CompileCache]), and
// a pool of instances per bundle (SandboxLimits.Instances) means no call
// waits for one to start.
//
// # Dialing and calling
//
// [Dial] finds a peer serving a hash, fetches the manifest and spec,
// verifies them against the hash and returns a [Client]. Dialing a bundle
// hash requires that exact data; dialing an API hash reaches any peer that
// serves the interface. [Call] makes a typed call; the local types are
// checked against the remote spec first, by shape: a caller's own structs,
// with the wire names in their tags and no conditions, work, as the server
// enforces the spec (see Compatibility). [Client.CallJSON] is the untyped
// form for tools. Handlers learn who calls with [CallerFromContext].
//
// A caller need not copy the author's types: the command papi gen go
// writes, from a bundle's spec, a type for each definition with the tags
// that derive the same spec (so the same API hash), the API hash, and a
// typed client whose methods call Call.
//
// # Cloning
//
// [Clone] fetches a bundle's manifest, spec and datasets from every peer
// that serves it, verifies every 256 KiB piece against the hash as it
// arrives, and keeps the bundle in a content-addressed store on disk
// ([StoreDir]). A provider that sends a bad piece is dropped and the piece
// fetched from another; an interrupted clone resumes from what it verified;
// [OnProgress] reports bytes verified for a progress bar. What a peer
// serves, it also seeds: a clone can be cloned again.
//
// # Finding providers
//
// A dial or clone asks, all at once, the peers given with [Provider], the
// peers already connected, and every discovery source of the peer:
// [PrivateDHT] (a Kademlia DHT among the application's peers), [PublicDHT]
// (the IPFS Amino DHT), [MDNS] (the local network, no internet needed), or a
// source of the application's own ([Discover]). Serving announces the bundle
// and API hashes through every source and renews them until the server is
// closed.
//
// A peer behind a NAT is reached through [NATTraversal] (port mapping,
// AutoNAT, hole punching) and, failing that, through relays it names with
// [Relays]: calls and clones then run over the relayed connection until hole
// punching replaces it with a direct one, and the calls move to it
// ([Client.Relayed] says which way they go now). [Peer.Reachability] reports
// what the peer has learnt of its own reachability; [ForceReachability]
// states it instead. A peer of the application's own with a public address
// relays for the others with [RelayService], within [RelayLimit].
//
// # IPFS
//
// A bundle is also an IPFS DAG: the manifest links the spec and every
// dataset by CID, and each dataset has a UnixFS view (raw 256 KiB BLAKE3
// leaves under balanced dag-pb nodes, as IPFS would import the same bytes)
// whose root the manifest records beside the bao root. Every peer answers
// bitswap from the bundles it serves, reading leaves from the dataset files,
// within the limits of its own protocols and SeedRate; so an IPFS node can
// pin, fetch and verify a bundle from a papi peer, and serve it again.
//
// # Errors
//
// Every failed call returns an [*Error] with a [Code]; the code and the
// sentinel errors of this package ([ErrUnknownMethod], [ErrHashMismatch],
// [ErrPrecondition], …) cross the wire, so errors.Is and errors.As give the
// same answer on both sides. A handler chooses its caller's code by
// returning an error made with [Errorf] or [NewError].
//
// # Publishers and names
//
// [Bundle.Sign] signs a bundle's hash with a publisher's libp2p key; the
// signature travels beside the bundle (and is kept by [Bundle.WriteDir] and
// clones), and [RequirePublisher] makes Dial and Clone accept only bundles
// it signed.
//
// A [Name], "<publisher peer ID>/<label>", is a line of versions. The
// publisher points it at a bundle with [Peer.Publish], which signs a
// [NameRecord] with a sequence number one above the last; [Peer.DialName]
// dials the newest version:
//
//	srv, _ := p.Serve(ctx, v2)
//	rec, _ := p.Publish(ctx, "stations", srv.Hash())   // rec.Name is p.ID()/stations
//	c, _ := other.DialName(ctx, rec.Name)              // the newest bundle, verified
//
// [Peer.Resolve] asks every peer it can reach (those named with Provider,
// those connected, and those that announced the name through a discovery
// source) and keeps the record with the highest sequence number whose
// signature verifies. A peer never goes back to an older record than one it
// has seen, and forged records are dropped. Records are self-certifying, so
// any peer may hold and pass one on ([Peer.PublishRecord]): a mirror keeps a
// name resolvable while its publisher is offline.
//
// # Observability
//
// A peer logs through log/slog ([Logger]) and is quiet by default. With
// [Metrics] it keeps Prometheus metrics, on the client libp2p already uses:
// calls served by method and code, their latency, and bytes cloned.
//
// # Security
//
// A bundle is served to every peer unless [Access] gives it a [Policy]:
// [AllowPeers], [PerMethod], or a function of the caller's peer ID, the
// method and the request. A denied call never reaches its handler; the
// caller gets [ErrPermissionDenied].
//
// Everything fetched is verified against the hash it was asked for before it
// is used; a peer whose answer does not verify is dropped. Every decoder of
// bytes from the network has limits on size, depth and element counts and
// rejects non-canonical input where a hash depends on it. The transport
// bounds message sizes, read times, and the calls in flight and the
// request bytes they hold, per peer and in all; a panicking handler costs
// its caller an internal error, not the process.
// A peer that breaks the protocol (a malformed or oversized message, one
// trickled past the message timeout) is disconnected and refused for a
// minute (transport.Limits.BanDuration); a peer that meets a limit or
// vanishes mid-message is not.
// [SeedRate] bounds the bandwidth a peer gives to others cloning from it,
// and [CloneRate] the bandwidth a clone takes.
package papi
