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
//	papi diff OLD NEW                   list the changes from one API to another; exit 1 if one breaks callers
//	papi resolve NAME                   print the newest record of a name
//	papi gen go HASH|NAME|DIR           write Go types with their tags and a typed client for a bundle's spec
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
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/spec"
	"github.com/papi-dev/papi/internal/store"
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
	{"diff", "OLD NEW", "list every change from the API of OLD to NEW (each HASH|NAME|DIR) with its verdict; exit 1 when one breaks OLD's callers", runDiff, true},
	{"resolve", "NAME", "print the newest record of a name: sequence and bundle", runResolve, true},
	{"gen", "LANG HASH|NAME|DIR", "write code for a bundle's spec: Go types with their tags and a typed client (LANG: go)", runGen, true},
	{"gateway", "", "answer HTTP clients: calls, OpenAPI documents and datasets of any bundle, until interrupted", runGateway, true},
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
	out            string    // build: the bundle directory to write; gen: the file
	pkg            string    // gen: the package name
	http           string    // gateway: the HTTP address to listen on
	origins        multiFlag // gateway: web origins allowed to call
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: papi COMMAND ARGS [flags]\n\ncommands:")
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
		fset := c.flags(e, stderr)
		pos, err := parseInterspersed(fset, args[1:])
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return exitUsage
		}
		if want := len(strings.Fields(c.args)); len(pos) != want {
			fset.Usage()
			return exitUsage
		}
		if err := c.run(ctx, e, pos); err != nil {
			fmt.Fprintf(stderr, "papi %s: %s\n", c.name, forHumans(err))
			return exitError
		}
		return 0
	}
	fmt.Fprintf(stderr, "papi: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// flags is the flag set of c, setting e's fields.
func (c command) flags(e *env, stderr io.Writer) *flag.FlagSet {
	fset := flag.NewFlagSet("papi "+c.name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() {
		fmt.Fprintf(stderr, "usage: papi %s %s [flags]\n\n%s\n\nflags may stand before, between or after the arguments:\n", c.name, c.args, c.summary)
		fset.PrintDefaults()
	}
	if c.network {
		fset.Var(&e.providers, "provider", "multiaddr of a peer serving the hash, ending in /p2p/ID (repeatable)")
		fset.Var(&e.dht, "dht", "join a private papi DHT through this peer (repeatable)")
		fset.BoolVar(&e.mdns, "mdns", false, "find peers on the local network by mDNS")
		fset.Var(&e.listen, "listen", "multiaddr to listen on (repeatable; default: all interfaces, TCP, QUIC, WebTransport and WebRTC-direct)")
		fset.DurationVar(&e.timeout, "timeout", time.Minute, "give up finding a provider after this long")
		fset.StringVar(&e.store, "store", "", "store directory (default: papi under the user cache directory)")
		fset.StringVar(&e.identity, "identity", "", "file with the peer's private key, made if missing (a publisher needs the same one every run)")
	}
	if c.name == "serve" {
		fset.StringVar(&e.name, "name", "", "publish the bundle under this label, as <peer ID>/<label> (use with -identity)")
	}
	if c.name == "serve" || c.name == "build" {
		fset.Var(&e.data, "data", "NAME=FILE: a dataset of CBOR bytes from FILE, added or in place of the bundle's (repeatable)")
	}
	if c.name == "build" {
		fset.StringVar(&e.out, "o", "", "the bundle directory to write (required)")
	}
	if c.name == "gen" {
		fset.StringVar(&e.out, "o", "", "the file to write (default: standard output)")
		fset.StringVar(&e.pkg, "package", "", "the package name (default: the API's name, lower case)")
	}
	if c.name == "gateway" {
		fset.StringVar(&e.http, "http", "127.0.0.1:8080", "HTTP address to listen on (loopback unless you mean otherwise)")
		fset.Var(&e.origins, "allow-origin", "a web origin whose pages may call through the gateway, or * (repeatable)")
	}
	return fset
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments, as git, go and grpcurl do: "papi clone HASH -provider ADDR"
// and "papi clone -provider ADDR HASH" mean the same. Everything after a
// lone "--" is positional, so an argument that starts with "-" can still be
// given.
func parseInterspersed(fset *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return nil, err
		}
		rest := fset.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
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
	r, err := e.resolve(ctx, p, n)
	if err != nil {
		return papi.Hash{}, err
	}
	return r.Bundle, nil
}

// resolve finds the newest record of n. When no record is found and the
// command was given no peer to ask, it says how to give one, as the
// library's dial does: asking only the peers a new host happens to know
// finds nothing.
func (e *env) resolve(ctx context.Context, p *papi.Peer, n papi.Name) (*papi.NameRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	r, err := p.Resolve(ctx, n, e.dialOptions()...)
	if errors.Is(err, papi.ErrNoProvider) && len(e.providers) == 0 && len(e.dht) == 0 && !e.mdns {
		return nil, fmt.Errorf("%w (give a peer to ask with -provider ADDR, or join a DHT with -dht ADDR, or use -mdns)", err)
	}
	return r, err
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

// local opens the bundle arg names when it is on this machine: a bundle
// directory, or a bundle hash already in the store (-store, or the default
// store). It returns nil and no error when arg must be looked up on the
// network: a hash the store does not hold, or a NAME. An argument that is
// clearly a path but names no directory fails here, saying so, rather than
// failing later as a malformed hash or name.
func (e *env) local(arg string) (*papi.Bundle, error) {
	if _, err := os.Stat(arg); err == nil || looksLikePath(arg) {
		return openDir(arg)
	}
	if strings.Contains(arg, "/") {
		if _, err := papi.ParseName(arg); err != nil {
			return nil, fmt.Errorf("directory %s does not exist, and it is not a NAME (<peer ID>/<label>) either: %w", arg, err)
		}
		return nil, nil
	}
	h, err := papi.ParseHash(arg)
	if err != nil {
		return nil, fmt.Errorf("directory %s does not exist, and it is not a hash either: %w", arg, err)
	}
	return e.stored(h)
}

// openDir opens the bundle directory dir, telling a directory that is not
// there, or a file, from a directory that holds no bundle: the library's
// "open bundle: open DIR/manifest.cbor: no such file or directory" leaves
// the user to work out which.
func openDir(dir string) (*papi.Bundle, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is a file, not a bundle directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.cbor")); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a bundle directory: it has no manifest.cbor", dir)
	}
	return papi.OpenBundle(dir)
}

// storeDir is the store the commands read and clone into.
func (e *env) storeDir() (string, error) {
	if e.store != "" {
		return e.store, nil
	}
	return papi.DefaultStoreDir()
}

// stored opens the bundle h from the store if the store holds it, and
// returns nil otherwise. It makes no store that is not there yet, and a
// store it cannot open (not writable, say) counts as holding nothing: the
// network may still have the bundle.
func (e *env) stored(h papi.Hash) (*papi.Bundle, error) {
	dir, err := e.storeDir()
	if err != nil {
		return nil, nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, nil
	}
	st, err := store.Open(dir)
	if err != nil || !st.HasBundle(h.String()) {
		return nil, nil
	}
	return papi.OpenBundle(st.BundleDir(h.String()))
}

// looksLikePath reports whether arg can only be a file path: absolute,
// relative to . or .., or under the home directory. Hashes and names never
// start so.
func looksLikePath(arg string) bool {
	if filepath.IsAbs(arg) || arg == "." || arg == ".." || strings.HasPrefix(arg, "~") {
		return true
	}
	for _, prefix := range []string{"./", "../", "." + string(filepath.Separator), ".." + string(filepath.Separator)} {
		if strings.HasPrefix(arg, prefix) {
			return true
		}
	}
	return false
}

// goHints maps the Go names that the library's errors suggest to the flags
// a user of the command gives instead.
var goHints = strings.NewReplacer(
	"papi.Provider", "-provider ADDR",
	"or join a DHT", "or join a DHT with -dht ADDR, or use -mdns",
	"papi.PrivateDHT", "-dht ADDR",
	"papi.MDNS", "-mdns",
	"papi.StoreDir", "-store DIR",
	"papi.ListenAddrs", "-listen ADDR",
	"papi.IdentityFile", "-identity FILE",
)

// forHumans is the message of err for a command-line user: the library's
// hints name Go options, the command's user needs its flags.
func forHumans(err error) string { return goHints.Replace(err.Error()) }

func runHash(_ context.Context, e *env, args []string) error {
	b, err := openDir(args[0])
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
	Lineage  []inspectedStep    `json:"lineage,omitempty"`
	Spec     *papi.Spec         `json:"spec"`
	Datasets []inspectedDataset `json:"datasets"`
}

// inspectedStep is one step of an API's line of descent: the API it came
// from, and the verdict of the step from it to the API after it (the
// inspected API, for the parent), with the changes that break.
type inspectedStep struct {
	API      string   `json:"api"`
	Name     string   `json:"name"`
	Version  string   `json:"version"`
	Verdict  string   `json:"verdict"`
	Breaking []string `json:"breaking,omitempty"`
	// Answered says whether a server of the inspected API answers dials
	// for this ancestor: it does for those whose callers it keeps working.
	Answered bool `json:"answered"`
}

// lineage is the line of descent of s, parent first, with the verdict of
// each step.
func lineage(s *papi.Spec, ancestors []papi.Ancestor) []inspectedStep {
	out := make([]inspectedStep, len(ancestors))
	next := s
	for i, a := range ancestors {
		step := inspectedStep{API: a.API.String(), Name: a.Spec.Name, Version: a.Spec.Version, Verdict: "compatible", Answered: a.Compatible}
		for _, c := range spec.Diff(a.Spec, next) {
			if c.Breaking {
				step.Verdict = "breaking"
				step.Breaking = append(step.Breaking, strings.TrimSpace(strings.TrimPrefix(c.String(), "breaking")))
			}
		}
		out[i], next = step, a.Spec
	}
	return out
}

type inspectedDataset struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	Hash string `json:"hash"`
}

func runInspect(ctx context.Context, e *env, args []string) error {
	var out inspection
	b, err := e.local(args[0])
	if err != nil {
		return err
	}
	if b != nil {
		out = inspection{Bundle: b.Hash().String(), API: b.APIHash().String(), Spec: b.Spec(), Lineage: lineage(b.Spec(), b.Ancestors())}
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
		out = inspection{Bundle: c.Hash().String(), API: c.APIHash().String(), Spec: c.Spec(), Lineage: lineage(c.Spec(), c.Ancestors())}
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
	printAddrs(e.stdout, srv.Addrs())
	<-ctx.Done()
	return nil
}

// printAddrs lists the addresses Go peers dial first, then under a heading
// those a web page can dial, whose certhash a page must be given whole.
func printAddrs(w io.Writer, addrs []string) {
	var web []string
	for _, a := range addrs {
		if forBrowsers(a) {
			web = append(web, a)
			continue
		}
		fmt.Fprintf(w, "  %s\n", a)
	}
	if len(web) == 0 {
		return
	}
	fmt.Fprintln(w, "for web pages (WebTransport, WebRTC-direct):")
	for _, a := range web {
		fmt.Fprintf(w, "  %s\n", a)
	}
}

// forBrowsers reports whether a web page can dial addr.
func forBrowsers(addr string) bool {
	return strings.Contains(addr, "/webtransport/") || strings.Contains(addr, "/webrtc-direct/")
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
	r, err := e.resolve(ctx, p, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s sequence %d bundle %s\n", r.Name, r.Seq, r.Bundle)
	return nil
}

func runOpenAPI(ctx context.Context, e *env, args []string) error {
	var doc []byte
	b, err := e.local(args[0])
	if err != nil {
		return err
	}
	if b != nil {
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
	_, err = fmt.Fprintf(e.stdout, "%s\n", doc)
	return err
}

func runGateway(ctx context.Context, e *env, _ []string) error {
	p, err := e.peer(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	opts := []papi.GatewayOption{papi.AllowOrigin(e.origins...)}
	if len(e.providers) > 0 {
		opts = append(opts, papi.GatewayProviders(papi.Provider(e.providers...)))
	}
	if e.store != "" {
		opts = append(opts, papi.GatewayStoreDir(e.store))
	}
	ln, err := net.Listen("tcp", e.http)
	if err != nil {
		return err
	}
	// A request must arrive whole within ReadTimeout, so a client that
	// trickles its body cannot hold a connection; answers (datasets) take
	// as long as they take.
	srv := &http.Server{Handler: papi.Gateway(p, opts...), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(e.stdout, "gateway at http://%s/api/\n", ln.Addr())
	for _, a := range p.Addrs() {
		fmt.Fprintf(e.stdout, "  %s\n", a)
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// errBreaking is diff's verdict when a change breaks callers: the command
// exits 1, as buf breaking does, so a project's CI can run it.
var errBreaking = errors.New("breaking")

func runDiff(ctx context.Context, e *env, args []string) error {
	var p *papi.Peer
	defer func() {
		if p != nil {
			p.Close()
		}
	}()
	specs := make([]*papi.Spec, 2)
	for i, arg := range args {
		b, err := e.local(arg)
		if err != nil {
			return err
		}
		if b != nil {
			specs[i] = b.Spec()
			continue
		}
		if p == nil {
			if p, err = e.peer(ctx); err != nil {
				return err
			}
		}
		h, err := e.target(ctx, p, arg)
		if err != nil {
			return err
		}
		dctx, cancel := context.WithTimeout(ctx, e.timeout)
		c, err := p.Dial(dctx, h, e.dialOptions()...)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", arg, err)
		}
		specs[i] = c.Spec()
	}
	changes := spec.Diff(specs[0], specs[1])
	broken := 0
	for _, c := range changes {
		fmt.Fprintln(e.stdout, c)
		if c.Breaking {
			broken++
		}
	}
	switch {
	case broken > 0:
		return fmt.Errorf("%w: %d of %d changes break callers of %s %s", errBreaking, broken, len(changes), specs[0].Name, specs[0].Version)
	case len(changes) == 0:
		fmt.Fprintln(e.stdout, "no changes")
	default:
		fmt.Fprintf(e.stdout, "compatible: %d %s, none breaks callers of %s %s\n", len(changes), plural(len(changes)), specs[0].Name, specs[0].Version)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return "change"
	}
	return "changes"
}
