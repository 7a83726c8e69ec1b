// Command papi hashes, inspects, serves, calls and clones papi bundles.
//
// Usage:
//
//	papi hash DIR                       the bundle and API hashes of a bundle directory
//	papi inspect HASH|NAME|DIR          methods, schemas with conditions, datasets, lineage
//	papi build PKG -o DIR               compile a package of handlers to WebAssembly: a bundle with its code
//	papi serve DIR|HASH                 serve a bundle directory or a stored clone: with its own code if it has some, else seeded
//	papi call HASH|NAME METHOD JSON     call a method with a JSON request, print the JSON response
//	papi clone HASH|NAME                clone a bundle into the store, with a progress bar
//	papi openapi HASH|NAME|DIR          print the OpenAPI 3.1 document of a bundle
//	papi resolve NAME                   print the newest record of a name
//
// A NAME is "<publisher peer ID>/<label>": the newest bundle its publisher
// points it at. papi serve -name LABEL -identity FILE publishes one.
//
// Commands that reach the network take -provider ADDR (repeatable), -dht ADDR
// (join a private DHT through a peer; repeatable), -mdns, -listen ADDR and
// -identity FILE.
// Install with: go install github.com/papi-dev/papi/cmd/papi@latest
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/papi-dev/papi"
)

// Exit codes, in the convention of Go tools: 2 for a usage error.
const (
	exitError = 1
	exitUsage = 2
)

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, e *env, args []string) error
	network             bool
}

var commands = []command{
	{"hash", "DIR", "print the bundle and API hashes of a bundle directory", runHash, false},
	{"inspect", "HASH|NAME|DIR", "describe a bundle: methods, schemas, datasets, lineage", runInspect, true},
	{"build", "PKG", "compile a Go package of handlers to WebAssembly and write a bundle of it (-o DIR)", runBuild, false},
	{"serve", "DIR|HASH", "serve a bundle directory or a stored clone until interrupted; -name publishes it", runServe, true},
	{"call", "HASH|NAME METHOD JSON", "call a method with a JSON request", runCall, true},
	{"clone", "HASH|NAME", "clone a bundle into the local store", runClone, true},
	{"openapi", "HASH|NAME|DIR", "print the bundle's OpenAPI 3.1 document", runOpenAPI, true},
	{"resolve", "NAME", "print the newest record of a name: sequence and bundle", runResolve, true},
}

// env is what every command gets: its output streams and, for commands
// that reach the network, its flags.
type env struct {
	stdout, stderr io.Writer
	providers      multiFlag
	dht            multiFlag
	mdns           bool
	listen         multiFlag
	store          string
	timeout        time.Duration
	identity       string
	name           string    // serve: publish under this label
	data           multiFlag // build, serve: NAME=FILE datasets
	out            string    // build: the bundle directory to write
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: papi COMMAND [flags] ARGS\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %-18s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'papi COMMAND -h' for a command's flags")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		e := &env{stdout: stdout, stderr: stderr}
		fs := flag.NewFlagSet("papi "+c.name, flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = func() {
			fmt.Fprintf(stderr, "usage: papi %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
			fs.PrintDefaults()
		}
		if c.network {
			fs.Var(&e.providers, "provider", "multiaddr of a peer serving the hash, ending in /p2p/ID (repeatable)")
			fs.Var(&e.dht, "dht", "join a private papi DHT through this peer (repeatable)")
			fs.BoolVar(&e.mdns, "mdns", false, "find peers on the local network by mDNS")
			fs.Var(&e.listen, "listen", "multiaddr to listen on (repeatable; default: all interfaces, TCP and QUIC)")
			fs.DurationVar(&e.timeout, "timeout", time.Minute, "give up finding a provider after this long")
			fs.StringVar(&e.store, "store", "", "store directory (default: papi under the user cache directory)")
			fs.StringVar(&e.identity, "identity", "", "file with the peer's private key, made if missing (a publisher needs the same one every run)")
		}
		if c.name == "serve" {
			fs.StringVar(&e.name, "name", "", "publish the bundle under this label, as <peer ID>/<label> (use with -identity)")
		}
		if c.name == "serve" || c.name == "build" {
			fs.Var(&e.data, "data", "NAME=FILE: a dataset of CBOR bytes from FILE, added or in place of the bundle's (repeatable)")
		}
		if c.name == "build" {
			fs.StringVar(&e.out, "o", "", "the bundle directory to write (required)")
		}
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return exitUsage
		}
		if want := len(strings.Fields(c.args)); fs.NArg() != want {
			fs.Usage()
			return exitUsage
		}
		if err := c.run(ctx, e, fs.Args()); err != nil {
			fmt.Fprintf(stderr, "papi %s: %v\n", c.name, err)
			return exitError
		}
		return 0
	}
	fmt.Fprintf(stderr, "papi: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func (e *env) peer(ctx context.Context) (*papi.Peer, error) {
	var opts []papi.PeerOption
	if len(e.listen) > 0 {
		opts = append(opts, papi.ListenAddrs(e.listen...))
	}
	if len(e.dht) > 0 {
		opts = append(opts, papi.PrivateDHT(e.dht...))
	}
	if e.mdns {
		opts = append(opts, papi.MDNS())
	}
	if e.identity != "" {
		opts = append(opts, papi.IdentityFile(e.identity))
	}
	return papi.NewPeer(ctx, opts...)
}

// target reads a HASH|NAME argument: a hash as it is, a name resolved to
// the bundle of its newest record.
func (e *env) target(ctx context.Context, p *papi.Peer, arg string) (papi.Hash, error) {
	if !strings.Contains(arg, "/") {
		return papi.ParseHash(arg)
	}
	n, err := papi.ParseName(arg)
	if err != nil {
		return papi.Hash{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	r, err := p.Resolve(ctx, n, e.dialOptions()...)
	if err != nil {
		return papi.Hash{}, err
	}
	return r.Bundle, nil
}

func (e *env) dialOptions() []papi.DialOption {
	var opts []papi.DialOption
	if len(e.providers) > 0 {
		opts = append(opts, papi.Provider(e.providers...))
	}
	return opts
}

func (e *env) cloneOptions() []papi.CloneOption {
	var opts []papi.CloneOption
	if len(e.providers) > 0 {
		opts = append(opts, papi.Provider(e.providers...))
	}
	if e.store != "" {
		opts = append(opts, papi.StoreDir(e.store))
	}
	return opts
}

// isDir tells a directory argument from a hash.
func isDir(arg string) bool {
	fi, err := os.Stat(arg)
	return err == nil && fi.IsDir()
}

func runHash(_ context.Context, e *env, args []string) error {
	b, err := papi.OpenBundle(args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "bundle %s\napi    %s\n", b.Hash(), b.APIHash())
	return nil
}

// inspection is what inspect prints, as JSON.
type inspection struct {
	Bundle   string             `json:"bundle"`
	API      string             `json:"api"`
	Parent   string             `json:"parent,omitempty"`
	Spec     *papi.Spec         `json:"spec"`
	Datasets []inspectedDataset `json:"datasets"`
}

type inspectedDataset struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	Hash string `json:"hash"`
}

func runInspect(ctx context.Context, e *env, args []string) error {
	var out inspection
	if isDir(args[0]) {
		b, err := papi.OpenBundle(args[0])
		if err != nil {
			return err
		}
		out = inspection{Bundle: b.Hash().String(), API: b.APIHash().String(), Spec: b.Spec()}
		if p, ok := b.Parent(); ok {
			out.Parent = p.String()
		}
		for _, d := range b.Datasets() {
			out.Datasets = append(out.Datasets, inspectedDataset{d.Name(), d.Size(), d.Hash().String()})
		}
	} else {
		c, closePeer, err := e.dial(ctx, args[0])
		if err != nil {
			return err
		}
		defer closePeer()
		out = inspection{Bundle: c.Hash().String(), API: c.APIHash().String(), Spec: c.Spec()}
		if p, ok := c.Parent(); ok {
			out.Parent = p.String()
		}
		for _, d := range c.Datasets() {
			out.Datasets = append(out.Datasets, inspectedDataset{d.Name, d.Size, d.Hash.String()})
		}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (e *env) dial(ctx context.Context, arg string) (*papi.Client, func(), error) {
	p, err := e.peer(ctx)
	if err != nil {
		return nil, nil, err
	}
	h, err := e.target(ctx, p, arg)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	c, err := p.Dial(ctx, h, e.dialOptions()...)
	if err != nil {
		p.Close()
		return nil, nil, err
	}
	return c, func() { p.Close() }, nil
}

func runServe(ctx context.Context, e *env, args []string) error {
	b, err := e.openLocal(args[0])
	if err != nil {
		return err
	}
	if b, err = e.withData(b); err != nil {
		return err
	}
	p, err := e.peer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	// A bundle that carries its handlers answers calls with them; one
	// without is seeded: others can dial it for its spec and clone it.
	var opts []papi.ServeOption
	if _, ok := b.CodeHash(); !ok {
		opts = append(opts, papi.SeedOnly())
	}
	srv, err := p.Serve(ctx, b, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "serving %s (API %s)\n", srv.Hash(), b.APIHash())
	if e.name != "" {
		r, err := p.Publish(ctx, e.name, srv.Hash())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "published %s sequence %d\n", r.Name, r.Seq)
	}
	for _, a := range srv.Addrs() {
		fmt.Fprintf(e.stdout, "  %s\n", a)
	}
	<-ctx.Done()
	return nil
}

func runCall(ctx context.Context, e *env, args []string) error {
	c, closePeer, err := e.dial(ctx, args[0])
	if err != nil {
		return err
	}
	defer closePeer()
	out, err := c.CallJSON(ctx, args[1], []byte(args[2]))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", out)
	return nil
}

func runClone(ctx context.Context, e *env, args []string) error {
	p, err := e.peer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	h, err := e.target(ctx, p, args[0])
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	opts := append(e.cloneOptions(), papi.OnProgress(func(pr papi.Progress) {
		if bar == nil {
			bar = progressbar.NewOptions64(pr.Total, progressbar.OptionSetWriter(e.stderr),
				progressbar.OptionShowBytes(true), progressbar.OptionSetDescription("cloning"),
				progressbar.OptionThrottle(100*time.Millisecond))
		}
		bar.Describe(fmt.Sprintf("cloning from %d provider(s)", pr.Providers))
		bar.Set64(pr.Verified)
	}))
	b, err := p.Clone(ctx, h, opts...)
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(e.stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "cloned %s (API %s)\n", b.Hash(), b.APIHash())
	return nil
}

func runResolve(ctx context.Context, e *env, args []string) error {
	n, err := papi.ParseName(args[0])
	if err != nil {
		return err
	}
	p, err := e.peer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	r, err := p.Resolve(ctx, n, e.dialOptions()...)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s sequence %d bundle %s\n", r.Name, r.Seq, r.Bundle)
	return nil
}

func runOpenAPI(ctx context.Context, e *env, args []string) error {
	var doc []byte
	if isDir(args[0]) {
		b, err := papi.OpenBundle(args[0])
		if err != nil {
			return err
		}
		if doc, err = papi.OpenAPI(b); err != nil {
			return err
		}
	} else {
		// The spec is all the document needs: dial, do not clone the data.
		c, closePeer, err := e.dial(ctx, args[0])
		if err != nil {
			return err
		}
		defer closePeer()
		if doc, err = papi.OpenAPI(c); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(e.stdout, "%s\n", doc)
	return err
}
