package sandbox

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/papi-dev/papi/internal/guestabi"
)

// instrument returns a copy of a WebAssembly module with fuel: a mutable
// i32 global, exported as guestabi.ExportFuel, that the head of every loop
// decrements, calling the host function guestabi.ImportTick when it reaches
// zero. A module can only run for long by looping (recursion runs out of
// stack), so the host hears from every call at least once per fuel's worth
// of iterations: it checks the call's deadline and its caller there, and
// refills the fuel or stops the call.
//
// The tick is also what keeps a long call from holding up the host's
// garbage collector: compiled code cannot be preempted, and a
// stop-the-world waits for it, but a host function call is Go code.
//
// wazero's own way, WithCloseOnContextDone, calls out of compiled code at
// every loop back-edge, which made a warm call several times slower; a
// decrement and a branch cost next to nothing.
func instrument(mod []byte) ([]byte, error) {
	r := &reader{b: mod}
	if len(mod) < 8 || !bytes.Equal(mod[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly module")
	}
	if !bytes.Equal(mod[4:8], []byte{1, 0, 0, 0}) {
		return nil, fmt.Errorf("WebAssembly version %x, want 1", mod[4:8])
	}
	r.off = 8
	type section struct {
		id   byte
		body []byte
	}
	var sections []section
	for !r.done() {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		sections = append(sections, section{id, body})
	}
	var importedGlobals, definedGlobals uint32
	tick := int64(-1)
	for _, s := range sections {
		switch s.id {
		case 2:
			n, t, err := scanImports(s.body)
			if err != nil {
				return nil, fmt.Errorf("import section: %w", err)
			}
			importedGlobals, tick = n, t
		case 6:
			sr := &reader{b: s.body}
			definedGlobals = sr.u32()
			if sr.err != nil {
				return nil, fmt.Errorf("global section: %w", sr.err)
			}
		}
	}
	if tick < 0 {
		return nil, fmt.Errorf("module does not import %s.%s: build it with papi's guest package", guestabi.ImportModule, guestabi.ImportTick)
	}
	fuel := importedGlobals + definedGlobals
	// fuel = fuel - 1; if fuel == 0 { tick() }
	check := appendU32([]byte{0x23}, fuel)
	check = append(check, 0x41, 0x01, 0x6B, 0x24)
	check = appendU32(check, fuel)
	check = appendU32(append(check, 0x23), fuel)
	check = append(check, 0x45, 0x04, 0x40, 0x10)
	check = appendU32(check, uint32(tick))
	check = append(check, 0x0B)

	var out bytes.Buffer
	out.Write(mod[:8])
	write := func(id byte, body []byte) {
		out.WriteByte(id)
		out.Write(appendU32(nil, uint32(len(body))))
		out.Write(body)
	}
	fuelGlobal := []byte{0x7F, 0x01, 0x41, 0x01, 0x0B} // mutable i32 = 1: the first loop ticks
	fuelExport := appendName(nil, guestabi.ExportFuel)
	fuelExport = appendU32(append(fuelExport, 0x03), fuel)
	// order is the position of a section id in the binary format's order,
	// so that missing global and export sections are put where they belong.
	order := map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}
	haveGlobal, haveExport := false, false
	for _, s := range sections {
		if s.id != 0 {
			if !haveGlobal && order[s.id] > order[6] {
				write(6, append(appendU32(nil, 1), fuelGlobal...))
				haveGlobal = true
			}
			if !haveExport && order[s.id] > order[7] {
				write(7, append(appendU32(nil, 1), fuelExport...))
				haveExport = true
			}
		}
		switch s.id {
		case 6:
			body, err := appendToVector(s.body, fuelGlobal)
			if err != nil {
				return nil, fmt.Errorf("global section: %w", err)
			}
			write(6, body)
			haveGlobal = true
		case 7:
			body, err := appendToVector(s.body, fuelExport)
			if err != nil {
				return nil, fmt.Errorf("export section: %w", err)
			}
			write(7, body)
			haveExport = true
		case 10:
			body, err := instrumentCode(s.body, check)
			if err != nil {
				return nil, fmt.Errorf("code section: %w", err)
			}
			write(10, body)
		default:
			write(s.id, s.body)
		}
	}
	if !haveGlobal {
		write(6, append(appendU32(nil, 1), fuelGlobal...))
	}
	if !haveExport {
		write(7, append(appendU32(nil, 1), fuelExport...))
	}
	return out.Bytes(), nil
}

// appendToVector adds one encoded element to a section that is a vector.
func appendToVector(body, elem []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	out := appendU32(nil, n+1)
	out = append(out, body[r.off:]...)
	return append(out, elem...), nil
}

// scanImports counts the imported globals and finds the function index of
// the tick import, -1 if there is none.
func scanImports(body []byte) (globals uint32, tick int64, err error) {
	r := &reader{b: body}
	tick = -1
	var funcs int64
	for n := r.u32(); n > 0 && r.err == nil; n-- {
		mod := string(r.bytes(int(r.u32())))
		name := string(r.bytes(int(r.u32())))
		switch kind := r.byte(); kind {
		case 0: // function
			r.u32()
			if mod == guestabi.ImportModule && name == guestabi.ImportTick {
				tick = funcs
			}
			funcs++
		case 1: // table
			r.byte()
			r.limits()
		case 2: // memory
			r.limits()
		case 3: // global
			r.byte()
			r.byte()
			globals++
		case 4: // tag
			r.byte()
			r.u32()
		default:
			return 0, 0, fmt.Errorf("import kind %d", kind)
		}
	}
	return globals, tick, r.err
}

func instrumentCode(body []byte, check []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := appendU32(make([]byte, 0, len(body)+len(body)/8), n)
	var fn []byte
	for i := uint32(0); i < n && r.err == nil; i++ {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			break
		}
		var err error
		if fn, err = instrumentFunction(fn[:0], code, check); err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if r.err != nil {
		return nil, r.err
	}
	if !r.done() {
		return nil, errors.New("bytes after the last function")
	}
	return out, nil
}

// instrumentFunction copies one function body to out with check inserted
// after every loop instruction.
func instrumentFunction(out, code, check []byte) ([]byte, error) {
	r := &reader{b: code}
	for groups := r.u32(); groups > 0 && r.err == nil; groups-- {
		r.u32()
		r.byte()
	}
	out = append(out, code[:r.off]...)
	for !r.done() && r.err == nil {
		start := r.off
		op := r.byte()
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
		out = append(out, code[start:r.off]...)
		if op == 0x03 { // loop
			out = append(out, check...)
		}
	}
	return out, r.err
}

// skipImmediates steps over the immediates of instruction op.
func (r *reader) skipImmediates(op byte) error {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
		r.blockType()
	case op == 0x0C || op == 0x0D: // br, br_if
		r.u32()
	case op == 0x0E: // br_table
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.u32()
		}
		r.u32()
	case op == 0x10 || op == 0x12: // call, return_call
		r.u32()
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1C: // select t*
		for n := r.u32(); n > 0 && r.err == nil; n-- {
			r.byte()
		}
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3E: // loads and stores: memarg
		r.u32()
		r.u32()
	case op == 0x3F || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41 || op == 0x42: // i32.const, i64.const
		r.sleb()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xD0: // ref.null
		r.byte()
	case op == 0xD2: // ref.func
		r.u32()
	case op == 0xFC:
		switch sub := r.u32(); {
		case sub <= 7: // saturating truncations
		case sub == 8: // memory.init
			r.u32()
			r.u32()
		case sub == 9, sub == 13, sub == 15, sub == 16, sub == 17: // data.drop, elem.drop, table.grow/size/fill
			r.u32()
		case sub == 10, sub == 12, sub == 14: // memory.copy, table.init, table.copy
			r.u32()
			r.u32()
		case sub == 11: // memory.fill
			r.u32()
		default:
			return fmt.Errorf("instruction 0xfc %d not supported", sub)
		}
	case op == 0xFD:
		return errors.New("SIMD instructions are not supported")
	case op <= 0x01, op == 0x05, op == 0x0B, op == 0x0F, op == 0x1A, op == 0x1B, op == 0xD1,
		op >= 0x45 && op <= 0xC4:
		// no immediates
	default:
		return fmt.Errorf("unknown instruction 0x%02x", op)
	}
	return r.err
}

// reader decodes the parts of the binary format that instrument needs.
type reader struct {
	b   []byte
	off int
	err error
}

var errTruncated = errors.New("truncated")

func (r *reader) done() bool { return r.err != nil || r.off >= len(r.b) }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errTruncated
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = errTruncated
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint32(c&0x7F) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errors.New("integer too long")
	return 0
}

func (r *reader) sleb() {
	for i := 0; i < 10; i++ {
		if c := r.byte(); r.err != nil || c&0x80 == 0 {
			return
		}
	}
	r.err = errors.New("integer too long")
}

func (r *reader) limits() {
	flags := r.byte()
	r.u32()
	if flags&1 != 0 {
		r.u32()
	}
}

func (r *reader) blockType() {
	if r.err != nil || r.off >= len(r.b) {
		r.err = errTruncated
		return
	}
	switch c := r.b[r.off]; c {
	case 0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
		r.off++
	default:
		r.sleb() // a type index, as s33
	}
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}
