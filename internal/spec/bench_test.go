package spec

import (
	"reflect"
	"testing"
	"time"

	"github.com/papi-dev/papi/internal/canon"
)

// searchReq is a typical request: two strings with lengths, one with a
// pattern, a float range, an enum and a list with a bound.
type searchReq struct {
	Query    string   `cbor:"query" papi:"minLength=1,maxLength=200"`
	Region   string   `cbor:"region" papi:"minLength=2,maxLength=8,pattern=^[a-z]{2}(-[a-z0-9]{1,5})?$"`
	Lat      float64  `cbor:"lat" papi:"minimum=-90,maximum=90"`
	Lon      float64  `cbor:"lon" papi:"minimum=-180,maximum=180"`
	Sort     string   `cbor:"sort" papi:"enum=near|name|new"`
	Tags     []string `cbor:"tags" papi:"maxItems=8"`
	Page     int      `cbor:"page"`
	Verbose  bool     `cbor:"verbose"`
	Deadline *time.Time
}

func validSearch() searchReq {
	return searchReq{Query: "polling stations", Region: "es-ct", Lat: 41.39, Lon: 2.17, Sort: "near", Tags: []string{"open", "ramp"}}
}

func BenchmarkCheck(b *testing.B) {
	v, err := ValidatorFor(reflect.TypeFor[searchReq]())
	if err != nil {
		b.Fatal(err)
	}
	req := validSearch()
	rv := reflect.ValueOf(&req).Elem()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(rv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckInvalid(b *testing.B) {
	v, err := ValidatorFor(reflect.TypeFor[searchReq]())
	if err != nil {
		b.Fatal(err)
	}
	req := validSearch()
	req.Sort = "random"
	rv := reflect.ValueOf(&req).Elem()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(rv); err == nil {
			b.Fatal("no violation")
		}
	}
}

// BenchmarkCheckNested checks an order with three items, each with its
// own conditions.
func BenchmarkCheckNested(b *testing.B) {
	v, err := ValidatorFor(reflect.TypeFor[Order]())
	if err != nil {
		b.Fatal(err)
	}
	o := validOrder()
	o.Items = []Item{{Name: "tea", Price: 2}, {Name: "cake", Price: 3}, {Name: "jam", Price: 1}}
	rv := reflect.ValueOf(&o).Elem()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(rv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckNoConditions(b *testing.B) {
	v, err := ValidatorFor(reflect.TypeFor[Tree]())
	if err != nil {
		b.Fatal(err)
	}
	tree := Tree{Kids: make([]Tree, 1000)}
	rv := reflect.ValueOf(&tree).Elem()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(rv); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConform(b *testing.B) {
	s, defs := derive(b, Order{})
	in := decodeJSON(b, goodOrderJSON)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Conform(in, s, defs); err != nil {
			b.Fatal(err)
		}
	}
}

// Types for a 20-method API.
type (
	station struct {
		ID      string            `cbor:"id" papi:"minLength=1,maxLength=32"`
		Name    string            `cbor:"name" papi:"minLength=1,maxLength=200" doc:"as on the door"`
		Lat     float64           `cbor:"lat" papi:"minimum=-90,maximum=90"`
		Lon     float64           `cbor:"lon" papi:"minimum=-180,maximum=180"`
		Address *address          `cbor:"address,omitempty"`
		Opens   time.Time         `cbor:"opens"`
		Tags    map[string]string `cbor:"tags"`
	}
	address struct {
		Street  string `cbor:"street"`
		City    string `cbor:"city" papi:"minLength=1"`
		Country string `cbor:"country" papi:"pattern=^[A-Z]{2}$"`
	}
	listReq struct {
		Cursor string `cbor:"cursor,omitempty"`
		Limit  uint16 `cbor:"limit" papi:"maximum=500"`
	}
	listResp struct {
		Stations []station `cbor:"stations"`
		Next     string    `cbor:"next,omitempty"`
	}
	getReq struct {
		ID string `cbor:"id" papi:"minLength=1,maxLength=32"`
	}
	getResp struct {
		Station *station `cbor:"station"`
	}
	countResp struct {
		N     uint64 `cbor:"n"`
		Since time.Time
	}
	report struct {
		Station string         `cbor:"station"`
		Queue   int            `cbor:"queue" papi:"minimum=0,maximum=10000"`
		Kind    string         `cbor:"kind" papi:"enum=open|closed|moved"`
		Photo   []byte         `cbor:"photo,omitempty" papi:"maxLength=1048576"`
		Meta    map[string]any `cbor:"-"`
	}
	ack struct {
		OK bool   `cbor:"ok"`
		ID []byte `cbor:"id"`
	}
	empty struct{}
)

type apiMethod struct {
	name      string
	req, resp reflect.Type
}

func apiTypes() []apiMethod {
	var ms []apiMethod
	add := func(name string, req, resp reflect.Type) { ms = append(ms, apiMethod{name, req, resp}) }
	for _, prefix := range []string{"", "Admin"} {
		add(prefix+"List", reflect.TypeFor[listReq](), reflect.TypeFor[listResp]())
		add(prefix+"Get", reflect.TypeFor[getReq](), reflect.TypeFor[getResp]())
		add(prefix+"Count", reflect.TypeFor[empty](), reflect.TypeFor[countResp]())
		add(prefix+"Report", reflect.TypeFor[report](), reflect.TypeFor[ack]())
		add(prefix+"Search", reflect.TypeFor[searchReq](), reflect.TypeFor[listResp]())
		add(prefix+"Nearest", reflect.TypeFor[searchReq](), reflect.TypeFor[Page[station]]())
		add(prefix+"Order", reflect.TypeFor[Order](), reflect.TypeFor[ack]())
		add(prefix+"Tree", reflect.TypeFor[Node](), reflect.TypeFor[Tree]())
		add(prefix+"Ping", reflect.TypeFor[Ping](), reflect.TypeFor[Pong]())
		add(prefix+"Addresses", reflect.TypeFor[empty](), reflect.TypeFor[map[string][]address]())
	}
	return ms
}

func BenchmarkDerive(b *testing.B) {
	methods := apiTypes()
	b.ReportAllocs()
	for b.Loop() {
		bld := NewBuilder()
		for _, m := range methods {
			if _, err := bld.Schema(m.req); err != nil {
				b.Fatal(err)
			}
			if _, err := bld.Schema(m.resp); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPresence checks the bytes of a typical request for its required
// fields, against decoding the same bytes into the Go type (which the
// server does next anyway): the check should cost a fraction of it.
func BenchmarkPresence(b *testing.B) {
	s, defs := derive(b, searchReq{})
	p, err := NewPresence(s, defs)
	if err != nil {
		b.Fatal(err)
	}
	in := enc(b, validSearch())
	b.Run("check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := p.Check(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	dec := canon.NewDecoder(canon.Limits{MaxBytes: 1 << 30, MaxDepth: 64, MaxElements: 1 << 24})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req searchReq
			if err := dec.Unmarshal(in, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
