package gen

import (
	"context"
	"testing"
	"time"

	"github.com/papi-dev/papi"
	"github.com/papi-dev/papi/internal/booths"
)

// The APIs below are the tricky schemas: each kind of type and condition
// derivation knows, in the places it can stand. The golden files and the
// round trip both run on every one of them.

// Scalars has a field of each scalar type, each form of presence, and
// every condition a tag can carry.
type Scalars struct {
	Bool   bool    `cbor:"bool"`
	I8     int8    `cbor:"i8" papi:"enum=-1|0|1"`
	I16    int16   `cbor:"i16" papi:"minimum=-300,maximum=300"`
	I32    int32   `cbor:"i32"`
	I64    int64   `cbor:"i64" papi:"minimum=-9007199254740992"`
	Int    int     `cbor:"int"`
	U8     uint8   `cbor:"u8" papi:"maximum=200"`
	U16    uint16  `cbor:"u16"`
	U32    uint32  `cbor:"u32"`
	U64    uint64  `cbor:"u64" papi:"enum=0|18446744073709551615"`
	Uint   uint    `cbor:"uint"`
	F32    float32 `cbor:"f32" papi:"enum=0.1|0.5|2"`
	F64    float64 `cbor:"f64" papi:"minimum=-1e21,maximum=0.001"`
	Text   string  `cbor:"text" papi:"minLength=1,maxLength=10,pattern=^[a-z, ]+$" doc:"letters, commas and blanks"`
	Plan   string  `cbor:"plan" papi:"enum=free|pro|two words"`
	Email  *string `cbor:"email" papi:"required,maxLength=254"`
	Nick   *string `cbor:"nick" papi:"maxLength=16"`
	Count  int     `cbor:"count,omitempty" papi:"minimum=1"`
	Blob   []byte  `cbor:"blob" papi:"minLength=1,maxLength=64"`
	Hash   [32]byte
	When   time.Time  `cbor:"when"`
	Since  *time.Time `cbor:"since"`
	Until  *time.Time `cbor:"until" papi:"required"`
	Later  time.Time  `cbor:"later,omitempty"`
	Quoted int        "cbor:\"quoted\" doc:\"a `quoted` description\\nover two lines\""
}

// Shapes nests: inline structs, arrays fixed and not, maps, pointers among
// items, definitions by value and by pointer, a generic instantiation.
type Shapes struct {
	Point struct {
		X    float64 `cbor:"x"`
		Y    float64 `cbor:"y"`
		Tags struct {
			Names []string `cbor:"names" papi:"minItems=1,maxItems=4"`
		} `cbor:"tags"`
	} `cbor:"point"`
	Matrix   [][2]float64               `cbor:"matrix"`
	Triple   [3]int16                   `cbor:"triple"`
	Grid     [2][2]Station              `cbor:"grid"`
	ByName   map[string]Station         `cbor:"by_name"`
	Groups   map[string][]*Station      `cbor:"groups"`
	Nullable map[string]*[4]byte        `cbor:"nullable"`
	Page     Page[Station]              `cbor:"page"`
	Maybe    *Station                   `cbor:"maybe"`
	Must     *Station                   `cbor:"must" papi:"required"`
	Later    *Station                   `cbor:"later,omitempty"`
	Nested   map[string]map[string]bool `cbor:"nested"`
	Base
}

// Base is embedded: its fields are Shapes' on the wire, in the middle of
// the required list.
type Base struct {
	Kind  string `cbor:"kind" papi:"enum=a|b"`
	Extra *int   `cbor:"extra"`
}

// Page is generic: its definition is named Page_Station.
type Page[T any] struct {
	Items []T  `cbor:"items" papi:"maxItems=100"`
	More  bool `cbor:"more"`
}

// Station is the booths API's.
type Station = booths.Station

// Tree refers to itself through a slice and a pointer; Ring through a
// required pointer, which Go can only declare as a pointer; Left and Right
// hold each other, one by value.
type Tree struct {
	Value    int32  `cbor:"value"`
	Children []Tree `cbor:"children,omitempty"`
	Parent   *Tree  `cbor:"parent"`
	Ring     Ring   `cbor:"ring"`
	Left     Left   `cbor:"left"`
}

type Ring struct {
	Next *Ring `cbor:"next" papi:"required"`
}

type Left struct {
	Right Right `cbor:"right"`
}

type Right struct {
	Left  *Left    `cbor:"left" papi:"required"`
	Pairs [2]*Left `cbor:"pairs"`
}

// Wire names that are no Go names, and Go names that are no wire names.
type Names struct {
	UserID    string `cbor:"user_id"`
	Kebab     string `cbor:"kebab-case"`
	Upper     string `cbor:"UPPER"`
	Lat       string `cbor:"lat"`
	Lat2      string `cbor:"Lat"`
	Dash      string `cbor:"-,"`
	Blank     string `cbor:"two words"`
	Digit     string `cbor:"1st"`
	Unicode   string `cbor:"übung"`
	Han       string `cbor:"名前"`
	Quote     string `cbor:"say \"hi\""`
	NoTag     string
	JSONOnly  string `json:"json_only"`
	lowercase string
}

// station is a definition whose name is in lower case.
type station struct {
	Code string `cbor:"code"`
}

// Ok is an answer with no fields.
type Ok struct{}

func noop[Req, Resp any](context.Context, Req) (Resp, error) {
	var r Resp
	return r, nil
}

// trickyAPIs declares the APIs the golden files and the round trip check.
func trickyAPIs(t testing.TB) map[string]*papi.API {
	t.Helper()
	apis := map[string]*papi.API{}
	declare := func(name, version, description string, methods func(api *papi.API) []error) {
		api := papi.New(name, version, papi.Description(description))
		for _, err := range methods(api) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		apis[name] = api
	}
	declare("booths", "1.0.0", booths.APIDescription, func(api *papi.API) []error {
		return []error{papi.Handle(api, "Nearest", booths.Nearest, papi.Description(booths.NearestDescription))}
	})
	declare("scalars", "0.1.0", "The scalars of papi gen's tests", func(api *papi.API) []error {
		return []error{
			papi.Handle(api, "Put", noop[Scalars, Ok], papi.Description("Stores every kind of scalar.\n\nIt answers nothing.")),
			papi.Handle(api, "Echo", noop[*Scalars, *Scalars]),
		}
	})
	declare("shapes", "0.1.0", "The shapes of papi gen's tests", func(api *papi.API) []error {
		return []error{
			papi.Handle(api, "Shape", noop[Shapes, Shapes]),
			papi.Handle(api, "List", noop[[]string, map[string]int]),
			papi.Handle(api, "Inline", noop[struct {
				Q     string `cbor:"q" papi:"minLength=1"`
				Limit int    `cbor:"limit,omitempty"`
			}, struct {
				Hits []Station `cbor:"hits"`
			}]),
			papi.Handle(api, "Bytes", noop[[16]byte, []byte]),
			papi.Handle(api, "Time", noop[time.Time, []time.Time]),
		}
	})
	declare("recursion", "0.1.0", "The recursion of papi gen's tests", func(api *papi.API) []error {
		return []error{papi.Handle(api, "Walk", noop[Tree, Tree])}
	})
	declare("names", "0.1.0", "The names of papi gen's tests", func(api *papi.API) []error {
		return []error{
			papi.Handle(api, "Names", noop[Names, station]),
			papi.Handle(api, "names_lower", noop[station, Ok]),
		}
	})
	return apis
}
