package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	in := `goos: linux
BenchmarkUnary/stream-2         	   46327	     20000 ns/op	     119 B/op	       4 allocs/op
BenchmarkUnary/stream-2         	   46327	     30000 ns/op	     119 B/op	       4 allocs/op
BenchmarkUnary/stream-2         	   46327	     25000 ns/op	     119 B/op	       4 allocs/op
BenchmarkUnary/papi-2           	   22039	     40000 ns/op	    1602 B/op	       9 allocs/op
BenchmarkUnary/papi-2           	   22039	     30000 ns/op	    1602 B/op	       9 allocs/op
BenchmarkUnary/papi-2           	   22039	     50000 ns/op	    1602 B/op	       9 allocs/op
BenchmarkCloneProcess256MiB/papi-2  	1	900000000 ns/op	 300.00 MB/s
BenchmarkCloneProcess256MiB/tls-stream-2  	1	900000000 ns/op	 400.00 MB/s
PASS
`
	var out bytes.Buffer
	if err := table(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"stream  3  20.0  25.0  4  1.00",
		"papi  3  30.0  40.0  9  1.60",
		"papi  1  300  300  0.75",
	} {
		if !strings.Contains(strings.Join(strings.Fields(got), "  "), want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}
