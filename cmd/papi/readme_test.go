package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/multiformats/go-multiaddr"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/booths"
)

// TestReadmeCommandLines runs every papi command line of README.md's code
// blocks as written there, in-process, so README cannot show a command that
// does not parse or does not work. The lines of one block run in order in a
// session of their own, as a reader would type them: a serve line keeps
// serving until the block ends, and what a line says it prints (README's
// "prints HASH and ADDR") is what the lines after it get.
func TestReadmeCommandLines(t *testing.T) {
	pv := startProvider(t)
	fixture := map[string]string{
		"DIR":    pv.dir,
		"HASH":   pv.hash,
		"NAME":   pv.name,
		"ADDR":   pv.addr,
		"METHOD": "Nearest",
		"JSON":   `{"lat":41.39,"lon":2.17,"limit":3}`,
	}
	goEnv := goCommandEnv(t)
	blocks := readmeBlocks(t)
	for _, blk := range blocks {
		t.Run(fmt.Sprintf("README.md:%d", blk.line), func(t *testing.T) {
			s := &session{t: t, values: maps.Clone(fixture), names: map[string]string{pv.name: pv.hash}, root: t.TempDir()}
			s.enter(goEnv)
			for _, l := range blk.lines {
				s.run(l)
			}
		})
	}
}

// readmeLine is one papi command line of README.md.
type readmeLine struct {
	n       int      // line number in README.md
	text    string   // as written
	args    []string // its words after "papi" (or "go run ./cmd/papi")
	comment string   // what follows its "#"
}

type readmeBlock struct {
	line  int // where the block starts
	lines []readmeLine
}

// commandPrefixes are how README starts a papi command line.
var commandPrefixes = [][]string{{"papi"}, {"go", "run", "./cmd/papi"}}

// readmeBlocks returns README.md's code blocks that hold papi command
// lines, but not those of Go code.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	inGo := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text := strings.TrimSpace(sc.Text())
		if info, ok := strings.CutPrefix(text, "```"); ok {
			if cur == nil {
				cur, inGo = &readmeBlock{line: n}, info == "go"
			} else {
				if len(cur.lines) > 0 {
					blocks = append(blocks, *cur)
				}
				cur = nil
			}
			continue
		}
		if cur == nil || inGo {
			continue
		}
		for _, prefix := range commandPrefixes {
			if !strings.HasPrefix(text, strings.Join(prefix, " ")+" ") {
				continue
			}
			words, comment, err := shellWords(text)
			if err != nil {
				t.Fatalf("README.md:%d: %v", n, err)
			}
			cur.lines = append(cur.lines, readmeLine{n: n, text: text, args: words[len(prefix):], comment: comment})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatal("README.md shows no papi command lines: has the test stopped finding them?")
	}
	return blocks
}

// alternatives is README's notation for one of several placeholders,
// HASH|NAME|DIR: the only unquoted "|" the test reads.
var alternatives = regexp.MustCompile(`^[A-Z]+(\|[A-Z]+)+$`)

// shellWords splits a command line as sh does, for the syntax README uses:
// words apart by blanks, quotes keeping what they hold together, and a
// comment from an unquoted "#" that starts a word. Syntax past that fails,
// rather than being run as something README does not mean.
func shellWords(line string) (words []string, comment string, err error) {
	var w strings.Builder
	inWord, pipe := false, false
	var quote rune
	end := func() error {
		if inWord {
			if pipe && !alternatives.MatchString(w.String()) {
				return fmt.Errorf("%q: a pipe, which this test does not run", w.String())
			}
			words = append(words, w.String())
		}
		w.Reset()
		inWord, pipe = false, false
		return nil
	}
	for i, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == '"' && strings.ContainsRune("$`\\", r):
			return nil, "", fmt.Errorf("%q in double quotes: this test does not expand it", r)
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if err := end(); err != nil {
				return nil, "", err
			}
		case r == '#' && !inWord:
			return words, strings.TrimSpace(line[i+1:]), nil
		case r == '~' && !inWord:
			return nil, "", fmt.Errorf("unquoted ~: a home directory, which this test does not expand")
		case strings.ContainsRune("$`\\;&<>()*?[]", r):
			return nil, "", fmt.Errorf("unquoted %q: shell syntax this test does not read", r)
		default:
			pipe = pipe || r == '|'
			w.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, "", fmt.Errorf("unbalanced %c", quote)
	}
	return words, "", end()
}

func TestShellWords(t *testing.T) {
	tests := []struct {
		line, comment string
		want          []string
		wantErr       bool
	}{
		{line: "papi hash DIR", want: []string{"papi", "hash", "DIR"}},
		{line: `papi call H M '{"a": 1}' -provider A   # JSON in and out`, want: []string{"papi", "call", "H", "M", `{"a": 1}`, "-provider", "A"}, comment: "JSON in and out"},
		{line: `papi call H M '#1|2'`, want: []string{"papi", "call", "H", "M", "#1|2"}},
		{line: "papi inspect HASH|NAME|DIR", want: []string{"papi", "inspect", "HASH|NAME|DIR"}},
		{line: `papi serve "a b"`, want: []string{"papi", "serve", "a b"}},
		{line: "papi hash DIR | jq .", wantErr: true},
		{line: "papi hash $DIR", wantErr: true},
		{line: "papi serve -identity ~/key DIR", wantErr: true},
		{line: "papi serve -identity '~/key' DIR", want: []string{"papi", "serve", "-identity", "~/key", "DIR"}},
		{line: "papi hash 'DIR", wantErr: true},
	}
	for _, tt := range tests {
		words, comment, err := shellWords(tt.line)
		if (err != nil) != tt.wantErr || !slices.Equal(words, tt.want) || comment != tt.comment {
			t.Errorf("shellWords(%q) = %q, %q, %v; want %q, %q, error %v", tt.line, words, comment, err, tt.want, tt.comment, tt.wantErr)
		}
	}
}

// session is what the lines of one README block share.
type session struct {
	t      *testing.T
	values map[string]string // the placeholders' values
	names  map[string]string // bundle hash of each name published
	root   string            // where README's absolute paths are made
}

// goCommandEnv is where the go command keeps its caches and settings, which
// build's go command must keep once the session moves HOME.
func goCommandEnv(t *testing.T) map[string]string {
	t.Helper()
	vars := []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOENV"}
	out, err := exec.Command("go", append([]string{"env"}, vars...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(vars) {
		t.Fatalf("go env printed %q", out)
	}
	env := make(map[string]string)
	for i, v := range vars {
		if lines[i] != "" { // unset is its own setting: leave it so
			env[v] = lines[i]
		}
	}
	return env
}

// enter moves the session into a checkout of its own, as README's relative
// paths assume (./examples/portable/module), where the commands' files
// (the identity "key", stations.cbor) go, and gives it a user cache
// directory of its own, so that commands given no -store use a store that
// is the session's.
func (s *session) enter(goEnv map[string]string) {
	t := s.t
	t.Helper()
	work := filepath.Join(t.TempDir(), "papi")
	copyCheckout(t, filepath.Join("..", ".."), work)
	t.Chdir(work)
	// What README's "go run ./examples/portable -write ." writes.
	for file, stations := range map[string][]booths.Station{
		"stations.cbor":       booths.Stations,
		"other-stations.cbor": {{ID: "tgn-001", Name: "Escola Mediterrani", Lat: 41.1189, Lon: 1.2445}},
	} {
		b, err := papi.Data("stations", stations).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range goEnv {
		t.Setenv(k, v)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	t.Setenv("LocalAppData", filepath.Join(home, "AppData", "Local"))
	if dir, err := papi.DefaultStoreDir(); err != nil || !strings.HasPrefix(dir, home) {
		t.Fatalf("the default store is %q (%v), not under the session's home", dir, err)
	}
}

// copyCheckout copies the files of the checkout at src to dst, leaving
// git's out.
func copyCheckout(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(target)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// run runs a README line: each of its alternatives, placeholders filled in.
func (s *session) run(l readmeLine) {
	t := s.t
	t.Helper()
	for _, args := range s.expand(l) {
		if len(args) == 0 {
			t.Fatalf("README.md:%d: %s: no command", l.n, l.text)
		}
		i := slices.IndexFunc(commands, func(c command) bool { return c.name == args[0] })
		if i < 0 {
			t.Fatalf("README.md:%d: %s: papi has no command %q", l.n, l.text, args[0])
		}
		c := commands[i]
		args = s.networkFlags(c, args)
		var out string
		if c.name == "serve" || c.name == "gateway" {
			out = strings.Join(servePapi(t, args...), "\n") + "\n"
		} else {
			stdout, stderr, code := runPapi(t, args...)
			if code != 0 {
				t.Fatalf("README.md:%d: %s\nran: papi %s\nexit %d: %s", l.n, l.text, strings.Join(args, " "), code, stderr)
			}
			out = stdout
		}
		e, pos := s.parse(l, c, args)
		check, ok := checks[c.name]
		if !ok {
			t.Fatalf("README.md:%d: %s: the test does not know what papi %s should print: teach it, in checks", l.n, l.text, c.name)
		}
		if err := check(s, e, pos, out); err != nil {
			t.Fatalf("README.md:%d: %s\nran: papi %s\n%v; it printed:\n%s", l.n, l.text, strings.Join(args, " "), err, out)
		}
		s.learn(l, out)
		t.Logf("README.md:%d: papi %s: ok", l.n, strings.Join(args, " "))
	}
}

// expand makes a command line of each alternative of l (HASH|NAME|DIR gives
// three), with the placeholders' values and the absolute paths moved under
// the session's root.
func (s *session) expand(l readmeLine) [][]string {
	t := s.t
	t.Helper()
	out := [][]string{nil}
	for _, w := range l.args {
		alts := []string{w}
		if alternatives.MatchString(w) {
			alts = strings.Split(w, "|")
		}
		var next [][]string
		for _, line := range out {
			for _, a := range alts {
				next = append(next, append(slices.Clone(line), s.fill(l, a)))
			}
		}
		out = next
	}
	return out
}

var placeholder = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)

// fill gives a word of a README line its value: a placeholder's, or for an
// absolute path (README's /tmp/booths, a reader's machine's) the same path
// under the session's root, so that runs share no file.
func (s *session) fill(l readmeLine, w string) string {
	if placeholder.MatchString(w) {
		v, ok := s.values[w]
		if !ok {
			s.t.Fatalf("README.md:%d: %s: the test has no value for %s", l.n, l.text, w)
		}
		return v
	}
	key, path, isFlagValue := strings.Cut(w, "=")
	if !isFlagValue {
		key, path = "", w
	}
	if !strings.HasPrefix(path, "/") && !filepath.IsAbs(path) {
		return w
	}
	if _, err := multiaddr.NewMultiaddr(path); err == nil {
		return w
	}
	path = filepath.Join(s.root, path)
	if isFlagValue {
		return key + "=" + path
	}
	return path
}

// networkFlags adds what README's next paragraph says network commands
// take, when a line leaves it out: -listen on loopback, so no test listens
// on the machine's interfaces, and the provider, for commands that look a
// bundle or a name up.
func (s *session) networkFlags(c command, args []string) []string {
	if !c.network {
		return args
	}
	var e env
	if _, err := parseInterspersed(c.flags(&e, io.Discard), args[1:]); err != nil {
		return args // run reports it
	}
	args = slices.Clone(args)
	if len(e.listen) == 0 {
		args = append(args, "-listen", "/ip4/127.0.0.1/tcp/0")
	}
	if c.name != "serve" && len(e.providers) == 0 && len(e.dht) == 0 && !e.mdns {
		args = append(args, "-provider", s.values["ADDR"])
	}
	if c.name == "gateway" {
		args = append(args, "-http", "127.0.0.1:0") // never README's fixed port
	}
	return args
}

// parse reads args as run does, for the checks.
func (s *session) parse(l readmeLine, c command, args []string) (*env, []string) {
	e := &env{}
	pos, err := parseInterspersed(c.flags(e, io.Discard), args[1:])
	if err != nil {
		s.t.Fatalf("README.md:%d: %s\nran: papi %s\n%v", l.n, l.text, strings.Join(args, " "), err)
	}
	return e, pos
}

// bundleOf is the bundle hash a HASH|NAME|DIR argument stands for, or the
// hash itself (which may be an API hash).
func (s *session) bundleOf(arg string) (string, error) {
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		b, err := papi.OpenBundle(arg)
		if err != nil {
			return "", err
		}
		return b.Hash().String(), nil
	}
	if h, ok := s.names[arg]; ok {
		return h, nil
	}
	return arg, nil
}

var (
	printsRE   = regexp.MustCompile(`\bprints ([A-Z]+(?:(?:, | and )[A-Z]+)*)`)
	printedRE  = map[string]*regexp.Regexp{"HASH": regexp.MustCompile(`(?m)^(?:serving|bundle|cloned) (\S+)`), "ADDR": regexp.MustCompile(`(?m)^\s*(/\S+)`), "NAME": regexp.MustCompile(`(?m)^published (\S+)`)}
	servingRE  = regexp.MustCompile(`^serving (\S+) \(API (\S+)\)$`)
	publishRE  = regexp.MustCompile(`^published (\S+) sequence (\d+)$`)
	clonedRE   = regexp.MustCompile(`^cloned (\S+) \(API (\S+)\)\n$`)
	builtRE    = regexp.MustCompile(`^bundle (\S+)\napi    (\S+)\ncode   (\S+)\nwritten to (.+)\n$`)
	resolvedRE = regexp.MustCompile(`^(\S+) sequence (\d+) bundle (\S+)\n$`)
)

// learn takes from out the values README says the line prints: "prints
// HASH and ADDR" makes them the HASH and ADDR of the lines after it.
func (s *session) learn(l readmeLine, out string) {
	m := printsRE.FindStringSubmatch(l.comment)
	if m == nil {
		return
	}
	for _, name := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
		if name == "and" {
			continue
		}
		re, ok := printedRE[name]
		if !ok {
			s.t.Fatalf("README.md:%d: %s: the test does not know how to find %s in what it prints", l.n, l.text, name)
		}
		v := re.FindStringSubmatch(out)
		if v == nil {
			s.t.Fatalf("README.md:%d: %s: README says it prints %s, but it printed:\n%s", l.n, l.text, name, out)
		}
		s.values[name] = v[1]
	}
}

// checks says, for each command, whether what it printed is what it should
// have: e and pos are its flags and arguments.
var checks = map[string]func(s *session, e *env, pos []string, out string) error{
	"hash": func(s *session, e *env, pos []string, out string) error {
		b, err := papi.OpenBundle(pos[0])
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("bundle %s\napi    %s\n", b.Hash(), b.APIHash()); out != want {
			return fmt.Errorf("want %q", want)
		}
		return nil
	},
	"inspect": func(s *session, e *env, pos []string, out string) error {
		want, err := s.bundleOf(pos[0])
		if err != nil {
			return err
		}
		var got inspection
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			return err
		}
		if got.Bundle != want && got.API != want {
			return fmt.Errorf("want bundle %s", want)
		}
		if got.Spec == nil || len(got.Spec.Methods) == 0 {
			return fmt.Errorf("no methods")
		}
		return nil
	},
	"openapi": func(s *session, e *env, pos []string, out string) error {
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			return err
		}
		if doc.OpenAPI != "3.1.0" || len(doc.Paths) == 0 {
			return fmt.Errorf("want an OpenAPI 3.1.0 document with paths")
		}
		return nil
	},
	"call": func(s *session, e *env, pos []string, out string) error {
		// Every bundle of the test serves the booths API.
		var resp booths.NearestResp
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			return err
		}
		if len(resp.Stations) == 0 {
			return fmt.Errorf("no stations")
		}
		return nil
	},
	"clone": func(s *session, e *env, pos []string, out string) error {
		want, err := s.bundleOf(pos[0])
		if err != nil {
			return err
		}
		if m := clonedRE.FindStringSubmatch(out); m == nil || m[1] != want && m[2] != want {
			return fmt.Errorf("want %q", "cloned "+want)
		}
		return nil
	},
	"diff": func(s *session, e *env, pos []string, out string) error {
		// README diffs the test's one bundle with itself, found two ways.
		if out != "no changes\n" {
			return fmt.Errorf("want no changes")
		}
		return nil
	},
	"resolve": func(s *session, e *env, pos []string, out string) error {
		m := resolvedRE.FindStringSubmatch(out)
		if m == nil || m[1] != pos[0] || m[3] != s.names[pos[0]] {
			return fmt.Errorf("want %s sequence N bundle %s", pos[0], s.names[pos[0]])
		}
		return nil
	},
	"serve": func(s *session, e *env, pos []string, out string) error {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		m := servingRE.FindStringSubmatch(lines[0])
		if m == nil {
			return fmt.Errorf("want serving HASH (API HASH) first")
		}
		served, err := s.bundleOf(pos[0])
		if err != nil {
			return err
		}
		// Other data makes another bundle of the same API.
		if same := m[1] == served; same != (len(e.data) == 0) {
			return fmt.Errorf("serves %s, given %s and -data %q", m[1], served, e.data)
		}
		if e.name != "" {
			p := publishRE.FindStringSubmatch(lines[1])
			if p == nil || !strings.HasSuffix(p[1], "/"+e.name) {
				return fmt.Errorf("want published <peer ID>/%s sequence N second", e.name)
			}
			s.names[p[1]] = m[1]
		}
		if !strings.HasPrefix(lines[len(lines)-1], "/ip4/127.0.0.1/") {
			return fmt.Errorf("want an address on loopback")
		}
		return nil
	},
	"gateway": func(s *session, e *env, pos []string, out string) error {
		url, ok := strings.CutPrefix(strings.SplitN(out, "\n", 2)[0], "gateway at ")
		if !ok {
			return fmt.Errorf("want gateway at URL first")
		}
		resp, err := http.Post(url+s.values["HASH"]+"/Nearest", "application/json", strings.NewReader(`{"lat":41.39,"lon":2.17,"limit":1}`))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"stations"`) {
			return fmt.Errorf("a call through the gateway: %d %s", resp.StatusCode, body)
		}
		return nil
	},
	"gen": func(s *session, e *env, pos []string, out string) error {
		src := []byte(out)
		if e.out != "" {
			var err error
			if src, err = os.ReadFile(e.out); err != nil {
				return err
			}
		}
		f, err := parser.ParseFile(token.NewFileSet(), "generated.go", src, parser.ParseComments)
		if err != nil {
			return err
		}
		if !ast.IsGenerated(f) {
			return fmt.Errorf("no Code generated ... DO NOT EDIT. header")
		}
		if want := cmp.Or(e.pkg, "booths"); f.Name.Name != want {
			return fmt.Errorf("package %s, want %s", f.Name.Name, want)
		}
		if !bytes.Contains(src, []byte("func NewBoothsClient(c *papi.Client) *BoothsClient")) {
			return fmt.Errorf("no typed client in\n%s", src)
		}
		return nil
	},
	"build": func(s *session, e *env, pos []string, out string) error {
		m := builtRE.FindStringSubmatch(out)
		if m == nil || m[4] != e.out {
			return fmt.Errorf("want bundle, api, code and written to %s", e.out)
		}
		b, err := papi.OpenBundle(e.out)
		if err != nil {
			return err
		}
		if code, ok := b.CodeHash(); b.Hash().String() != m[1] || !ok || code.String() != m[3] {
			return fmt.Errorf("%s holds bundle %s, code %v", e.out, b.Hash(), ok)
		}
		return nil
	},
}
