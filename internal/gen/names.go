package gen

import (
	"go/token"
	"strconv"
	"strings"
	"unicode"
)

// initialisms are the words Go's naming conventions write in one case,
// as oapi-codegen and protoc-gen-go do for the common ones: a field "id"
// is ID, "user_url" UserURL.
var initialisms = map[string]bool{
	"api": true, "cbor": true, "cid": true, "dns": true, "html": true, "http": true, "https": true, "id": true,
	"ip": true, "json": true, "tcp": true, "tls": true, "udp": true, "uri": true, "url": true, "utc": true, "uuid": true,
}

// exportedName makes an exported Go identifier of a name from a spec:
// words split at anything not a letter or digit, each capitalised. A name
// that cannot start an exported identifier (a digit, a letter with no
// upper case) gets an X in front.
func exportedName(name string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if initialisms[strings.ToLower(w)] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		r := []rune(w)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	s := b.String()
	if s == "" || !unicode.IsUpper([]rune(s)[0]) {
		s = "X" + s
	}
	return s
}

// predeclared are Go's predeclared identifiers: a type of the package
// named one of them would hide it from the rest of the file.
var predeclared = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`any bool byte comparable complex64 complex128 error float32 float64
		int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota nil
		append cap clear close complex copy delete imag len make max min new panic print println real recover`) {
		predeclared[n] = true
	}
}

// names hands out the package-level identifiers of a generated file, each
// once.
type names map[string]bool

// usable reports whether name can be declared as it is.
func (n names) usable(name string) bool {
	return token.IsIdentifier(name) && name != "_" && !predeclared[name] && !n[name]
}

// take declares name as it is, if it can be.
func (n names) take(name string) bool {
	if !n.usable(name) {
		return false
	}
	n[name] = true
	return true
}

// fresh declares base, or base with the smallest number after it that
// is free.
func (n names) fresh(base string) string {
	if n.take(base) {
		return base
	}
	for i := 2; ; i++ {
		if s := base + strconv.Itoa(i); n.take(s) {
			return s
		}
	}
}

// packageName makes a package name of an API's name: its letters and
// digits, lower case, as Go package names are.
func packageName(api string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(api) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) && b.Len() > 0) {
			b.WriteRune(r)
		}
	}
	if s := b.String(); s != "" && !token.IsKeyword(s) && !predeclared[s] {
		return s
	}
	return "api"
}
