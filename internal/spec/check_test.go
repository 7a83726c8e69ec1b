package spec

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func check(t *testing.T, v any) error {
	t.Helper()
	val, err := ValidatorFor(reflect.TypeOf(v))
	if err != nil {
		t.Fatal(err)
	}
	return val.Check(reflect.ValueOf(v))
}

func wantViolation(t *testing.T, err error, path, rule string) {
	t.Helper()
	var viol *Violation
	if !errors.As(err, &viol) || viol.Path != path || viol.Rule != rule {
		t.Errorf("got %v, want %s: %s", err, path, rule)
	}
}

type (
	minLen struct {
		S string `cbor:"s" papi:"minLength=2"`
	}
	maxLen struct {
		S string `cbor:"s" papi:"maxLength=3"`
	}
	bytesLen struct {
		B []byte `cbor:"b" papi:"minLength=1,maxLength=2"`
	}
	pattern struct {
		S string `cbor:"s" papi:"pattern=^[a-z]+(,[a-z]+)*$"`
	}
	strEnum struct {
		S Party `cbor:"s" papi:"enum=host|guest"`
	}
	intRangeT struct {
		N int32 `cbor:"n" papi:"minimum=-5,maximum=5"`
	}
	fracRange struct {
		N int `cbor:"n" papi:"minimum=0.5,maximum=2.5"` // allows 1 and 2
	}
	uintRangeT struct {
		N uint64 `cbor:"n" papi:"minimum=10,maximum=18446744073709551615"`
	}
	intEnum struct {
		N int `cbor:"n" papi:"enum=-1|7"`
	}
	uintEnum struct {
		N uint16 `cbor:"n" papi:"enum=80|443"`
	}
	floatRangeT struct {
		F float64 `cbor:"f" papi:"minimum=-1.5,maximum=1.5"`
	}
	float32Range struct {
		F float32 `cbor:"f" papi:"maximum=0.1"`
	}
	floatEnum struct {
		F float32 `cbor:"f" papi:"enum=0.1|0.25"`
	}
	items struct {
		L []string `cbor:"l" papi:"minItems=1,maxItems=2"`
	}
	requiredPtr struct {
		P *int `cbor:"p" papi:"required"`
	}
	requiredSlice struct {
		L []int `cbor:"l" papi:"required"`
	}
	requiredMap struct {
		M map[string]int `cbor:"m" papi:"required"`
	}
	ptrPointee struct {
		P *string `cbor:"p" papi:"minLength=2"`
	}
	nestedSlice struct {
		Items []Item `cbor:"items"`
	}
	nestedMap struct {
		M map[string]Item `cbor:"m"`
	}
	nestedPtrs struct {
		P *[]*Item `cbor:"p"`
	}
	arrayOfItems struct {
		A [2]Item `cbor:"a"`
	}
	embeddedConds struct {
		*Item
		K int `cbor:"k" papi:"maximum=1"`
	}
)

func TestEveryCondition(t *testing.T) {
	tests := []struct {
		name       string
		ok         []any
		bad        any
		path, rule string
		detail     string
	}{
		{"minLength", []any{minLen{"ab"}, minLen{"ñé"}}, minLen{"ñ"}, "s", "minLength", "1 < 2"},
		{"maxLength counts code points", []any{maxLen{"abc"}, maxLen{"ñéü"}, maxLen{""}}, maxLen{"ñéüa"}, "s", "maxLength", "4 > 3"},
		{"bytes count bytes", []any{bytesLen{[]byte{1}}, bytesLen{[]byte{1, 2}}}, bytesLen{[]byte{1, 2, 3}}, "b", "maxLength", "3 > 2"},
		{"bytes minLength", nil, bytesLen{}, "b", "minLength", "0 < 1"},
		{"pattern", []any{pattern{"a"}, pattern{"ab,cd"}}, pattern{"ab,"}, "s", "pattern", `"ab," does not match ^[a-z]+(,[a-z]+)*$`},
		{"enum string", []any{strEnum{"host"}, strEnum{"guest"}}, strEnum{"crew"}, "s", "enum", `"crew" is not one of ["host" "guest"]`},
		{"minimum int", []any{intRangeT{-5}, intRangeT{0}}, intRangeT{-6}, "n", "minimum", "-6 < -5"},
		{"maximum int", []any{intRangeT{5}}, intRangeT{6}, "n", "maximum", "6 > 5"},
		{"fractional bounds on an int", []any{fracRange{1}, fracRange{2}}, fracRange{0}, "n", "minimum", "0 < 0.5"},
		{"fractional maximum on an int", nil, fracRange{3}, "n", "maximum", "3 > 2.5"},
		{"minimum uint", []any{uintRangeT{10}, uintRangeT{math.MaxUint64}}, uintRangeT{9}, "n", "minimum", "9 < 10"},
		{"enum int", []any{intEnum{-1}, intEnum{7}}, intEnum{1}, "n", "enum", "1 is not one of [-1 7]"},
		{"enum uint", []any{uintEnum{80}, uintEnum{443}}, uintEnum{8080}, "n", "enum", "8080 is not one of [80 443]"},
		{"minimum float", []any{floatRangeT{-1.5}, floatRangeT{0}}, floatRangeT{-1.51}, "f", "minimum", "-1.51 < -1.5"},
		{"maximum float", []any{floatRangeT{1.5}}, floatRangeT{1.6}, "f", "maximum", "1.6 > 1.5"},
		{"NaN meets no bound", nil, floatRangeT{math.NaN()}, "f", "minimum", "NaN < -1.5"},
		{"float32 bounds at float32 precision", []any{float32Range{0.1}}, float32Range{0.11}, "f", "maximum", ""},
		{"float32 enum", []any{floatEnum{0.1}, floatEnum{0.25}}, floatEnum{0.2}, "f", "enum", ""},
		{"minItems", []any{items{[]string{"a"}}}, items{}, "l", "minItems", "0 < 1"},
		{"maxItems", []any{items{[]string{"a", "b"}}}, items{[]string{"a", "b", "c"}}, "l", "maxItems", "3 > 2"},
		{"required pointer", []any{requiredPtr{ptr(0)}}, requiredPtr{}, "p", "required", "nil"},
		{"required slice", []any{requiredSlice{[]int{}}}, requiredSlice{}, "l", "required", "nil"},
		{"required map", []any{requiredMap{map[string]int{}}}, requiredMap{}, "m", "required", "nil"},
		{"pointee", []any{ptrPointee{}, ptrPointee{ptr("ab")}}, ptrPointee{ptr("a")}, "p", "minLength", "1 < 2"},
		{"in a slice", []any{nestedSlice{}, nestedSlice{[]Item{{Name: "a"}}}}, nestedSlice{[]Item{{Name: "a"}, {Name: "a", Price: -1}}}, "items[1].price", "minimum", "-1 < 0"},
		{"in a map", []any{nestedMap{map[string]Item{"x": {Name: "a"}}}}, nestedMap{map[string]Item{"y": {}, "x": {}, "z": {Name: "a"}}}, `m["x"].name`, "minLength", "0 < 1"},
		{"through pointers", []any{nestedPtrs{}, nestedPtrs{&[]*Item{nil, {Name: "a"}}}}, nestedPtrs{&[]*Item{nil, {Name: "123456789"}}}, "p[1].name", "maxLength", "9 > 8"},
		{"in an array", []any{arrayOfItems{[2]Item{{Name: "a"}, {Name: "b"}}}}, arrayOfItems{[2]Item{{Name: "a"}}}, "a[1].name", "minLength", "0 < 1"},
		{"embedded pointer", []any{embeddedConds{}, embeddedConds{Item: &Item{Name: "a"}}}, embeddedConds{Item: &Item{}}, "name", "minLength", "0 < 1"},
		{"recursive", []any{Node{Label: "abc", Children: []Node{{Label: "x"}}}},
			Node{Label: "a", Children: []Node{{Label: "b"}, {Label: "c", Children: []Node{{Label: "toolong"}}}}}, "children[1].children[0].label", "maxLength", "7 > 3"},
		{"mutually recursive", []any{Ping{N: 9, Next: &Pong{Back: &Ping{N: 1}}}}, Ping{Next: &Pong{Back: &Ping{N: 10}}}, "next.back.n", "maximum", "10 > 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ok := range tt.ok {
				if err := check(t, ok); err != nil {
					t.Errorf("%+v: %v", ok, err)
				}
			}
			err := check(t, tt.bad)
			wantViolation(t, err, tt.path, tt.rule)
			var viol *Violation
			if errors.As(err, &viol) && tt.detail != "" && viol.Detail != tt.detail {
				t.Errorf("detail %q, want %q", viol.Detail, tt.detail)
			}
		})
	}
}

func TestCheckOrder(t *testing.T) {
	v, err := ValidatorFor(reflect.TypeFor[Order]())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(reflect.ValueOf(validOrder())); err != nil {
		t.Fatalf("valid order: %v", err)
	}
	if err := v.Check(reflect.ValueOf(fullOrder())); err != nil {
		t.Fatalf("full order: %v", err)
	}
	o := validOrder()
	o.Kind, o.Items = "drone", nil // two violations: the first field's is reported
	err = v.Check(reflect.ValueOf(o))
	wantViolation(t, err, "kind", "enum")
	if !strings.HasPrefix(err.Error(), `kind: enum: "drone" is not one of`) {
		t.Errorf("message %q", err)
	}
	// A pointer to the value is checked as the value.
	wantViolation(t, v.Check(reflect.ValueOf(&o)), "kind", "enum")
	wantViolation(t, v.Check(reflect.ValueOf(42)), "", "type")
	wantViolation(t, v.Check(reflect.Value{}), "", "type")
}

func TestViolationMessage(t *testing.T) {
	v := &Violation{Path: "stations[2].name", Rule: "maxLength", Detail: "70 > 64"}
	if got := v.Error(); got != "stations[2].name: maxLength: 70 > 64" {
		t.Errorf("%q", got)
	}
	long := strings.Repeat("ñ", 100)
	err := check(t, pattern{long})
	if n := len(err.Error()); n > 200 {
		t.Errorf("a long value is quoted whole: %d bytes", n)
	}
}

func TestTypesWithoutConditionsAreNotWalked(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[Tree](), reflect.TypeFor[*Tree](), reflect.TypeFor[[]Tree](), reflect.TypeFor[int](),
		reflect.TypeFor[struct {
			M map[string][]*Tree
			P Page[Tree]
		}](),
		reflect.TypeFor[struct {
			Implied int `papi:"required"`
		}](),
	} {
		v, err := ValidatorFor(typ)
		if err != nil {
			t.Fatal(err)
		}
		if v.check != nil {
			t.Errorf("%s has no condition but would be walked", typ)
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Node](), reflect.TypeFor[Pong](), reflect.TypeFor[map[string][]*Item]()} {
		if v, _ := ValidatorFor(typ); v.check == nil {
			t.Errorf("%s has conditions but would not be checked", typ)
		}
	}
}

func TestValidatorForIsSafeForConcurrentUse(t *testing.T) {
	type Fresh struct {
		S string `papi:"maxLength=1"`
	}
	var wg sync.WaitGroup
	vals := make([]*Validator, 8)
	for i := range vals {
		wg.Go(func() {
			v, err := ValidatorFor(reflect.TypeFor[Fresh]())
			if err != nil {
				t.Error(err)
				return
			}
			vals[i] = v
			wantViolation(t, v.Check(reflect.ValueOf(Fresh{"ab"})), "S", "maxLength")
		})
	}
	wg.Wait()
	for _, v := range vals[1:] {
		if v != vals[0] {
			t.Error("two validators for one type")
		}
	}
}
