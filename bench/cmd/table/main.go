// Table reads the output of go test -bench on its standard input and prints
// each benchmark's contenders side by side: the minimum and median of its
// runs, allocations, and the ratio of each median to the baseline's, the
// contender every other in its benchmark is measured against.
//
//	go test -run '^$' -bench . -count 3 | go run ./cmd/table
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// baselines names, per benchmark, the contender the others are measured
// against, the first of those present: the names in this module, then
// those of papi's own benchmarks (./transport, the clone benchmarks of the
// root package), so that their output reads the same way. A benchmark not
// listed is measured against its first contender.
var baselines = map[string][]string{
	"Unary":              {"stream", "rawstream"},
	"Concurrent16":       {"grpc", "gorpc"},
	"CloneProcess256MiB": {"tls-stream"},
	"Clone256MiB":        {"rawstream-to-file"},
}

// runs are the figures of one contender, one per run.
type runs struct {
	nsPerOp, mbPerS, allocs []float64
}

func main() {
	if err := table(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
}

func table(in io.Reader, out io.Writer) error {
	var order []string // benchmarks, as they came
	contenders := map[string][]string{}
	figures := map[string]*runs{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		bench, contender, r, ok := parse(line)
		if !ok {
			continue
		}
		key := bench + "/" + contender
		if _, seen := contenders[bench]; !seen {
			order = append(order, bench)
		}
		if !slices.Contains(contenders[bench], contender) {
			contenders[bench] = append(contenders[bench], contender)
		}
		f := figures[key]
		if f == nil {
			f = &runs{}
			figures[key] = f
		}
		f.nsPerOp = append(f.nsPerOp, r.nsPerOp...)
		f.mbPerS = append(f.mbPerS, r.mbPerS...)
		f.allocs = append(f.allocs, r.allocs...)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, bench := range order {
		base := contenders[bench][0]
		for _, b := range baselines[bench] {
			if slices.Contains(contenders[bench], b) {
				base = b
				break
			}
		}
		bf := figures[bench+"/"+base]
		throughput := len(bf.mbPerS) > 0
		fmt.Fprintf(w, "%s\truns\t", bench)
		if throughput {
			fmt.Fprintf(w, "MB/s min\tMB/s median\tx %s\t\n", base)
		} else {
			fmt.Fprintf(w, "µs min\tµs median\tallocs\tx %s\t\n", base)
		}
		for _, c := range contenders[bench] {
			f := figures[bench+"/"+c]
			if throughput && len(f.mbPerS) > 0 {
				// For a rate the best run is the highest: "min" is the worst.
				fmt.Fprintf(w, "%s\t%d\t%.0f\t%.0f\t%.2f\t\n", c, len(f.mbPerS), minOf(f.mbPerS), median(f.mbPerS), median(f.mbPerS)/median(bf.mbPerS))
				continue
			}
			allocs := "-"
			if len(f.allocs) > 0 {
				allocs = strconv.FormatFloat(median(f.allocs), 'f', 0, 64)
			}
			fmt.Fprintf(w, "%s\t%d\t%.1f\t%.1f\t%s\t%.2f\t\n", c, len(f.nsPerOp), minOf(f.nsPerOp)/1e3, median(f.nsPerOp)/1e3, allocs, median(f.nsPerOp)/median(bf.nsPerOp))
		}
		fmt.Fprintln(w, "\t\t\t\t\t\t")
	}
	return w.Flush()
}

// parse reads one result line: BenchmarkName/contender-N  iters  v unit  v unit ...
func parse(line string) (bench, contender string, r runs, ok bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", "", r, false
	}
	name := strings.TrimPrefix(f[0], "Benchmark")
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i] // the GOMAXPROCS suffix
		}
	}
	bench, contender, found := strings.Cut(name, "/")
	if !found {
		contender = bench
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			continue
		}
		switch f[i+1] {
		case "ns/op":
			r.nsPerOp = append(r.nsPerOp, v)
		case "MB/s":
			r.mbPerS = append(r.mbPerS, v)
		case "allocs/op":
			r.allocs = append(r.allocs, v)
		}
	}
	return bench, contender, r, len(r.nsPerOp) > 0
}

func minOf(v []float64) float64 { return slices.Min(v) }

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
