//go:build wasip1

package guest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"unsafe"

	"github.com/papi-dev/papi/internal/canon"
	"github.com/papi-dev/papi/internal/datactx"
	"github.com/papi-dev/papi/internal/guestabi"
)

// served is the API this module serves: the last one declared.
var served *API

func register(a *API) { served = a }

var (
	in  []byte // what the host writes a call into
	out []byte // the frame of the last answer, kept alive until the next call
)

//go:wasmexport papi_buffer
func papiBuffer(n uint32) uint32 {
	if uint32(cap(in)) < max(n, 1) {
		in = make([]byte, max(n, 1))
	}
	in = in[:n]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(in[:1]))))
}

// tick is where the host checks a call's time; the host's loader inserts
// calls of it into every loop, so the module must import it.
//
//go:wasmimport papi tick
func tick()

// tickOnCall is never set: it keeps the linker from dropping tick.
var tickOnCall bool

//go:wasmexport papi_call
func papiCall(methodLen, requestLen uint32) uint64 {
	if tickOnCall {
		tick()
	}
	if served == nil {
		return frame(nil, Errorf(CodeUnimplemented, "module declares no API"))
	}
	if uint64(methodLen)+uint64(requestLen) > uint64(len(in)) {
		return frame(nil, Errorf(CodeInternal, "call of %d+%d bytes in a buffer of %d", methodLen, requestLen, len(in)))
	}
	method := string(in[:methodLen])
	resp, err := served.invoke(datactx.With(context.Background(), hostData), method, in[methodLen:methodLen+requestLen])
	return frame(resp, err)
}

//go:wasmexport papi_spec
func papiSpec() uint64 {
	if served == nil {
		return frame(nil, Errorf(CodeUnimplemented, "module declares no API: call guest.New in init"))
	}
	return frame(served.Spec())
}

// frame lays out an answer as the host reads it: a status byte, then the
// response or an error frame.
func frame(body []byte, err error) uint64 {
	out = out[:0]
	if err == nil {
		out = append(out, guestabi.StatusOK)
		out = append(out, body...)
	} else {
		ef := guestabi.ErrorFrame{Code: uint32(CodeUnknown), Message: err.Error()}
		var ge *Error
		if errors.As(err, &ge) {
			ef.Code, ef.Reason = uint32(ge.code), ge.reason
		}
		b, _ := canon.Marshal(ef)
		out = append(out, guestabi.StatusError)
		out = append(out, b...)
	}
	return guestabi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(out)))), uint32(len(out)))
}

//go:wasmimport papi dataset_size
func datasetSize(name unsafe.Pointer, nameLen uint32) int64

//go:wasmimport papi dataset_read
func datasetRead(name unsafe.Pointer, nameLen uint32, off int64, buf unsafe.Pointer, n uint32) int32

// hostData reaches the bundle's datasets through the host.
var hostData = &moduleData{decoded: map[string]map[reflect.Type]reflect.Value{}}

type moduleData struct {
	decoded map[string]map[reflect.Type]reflect.Value // a module runs one call at a time
}

func (d *moduleData) Size(name string) (int64, bool) {
	n := datasetSize(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)))
	return n, n >= 0
}

// readChunk bounds one host read, so a large dataset is copied in pieces.
const readChunk = 4 << 20

func (d *moduleData) ReadAt(name string, p []byte, off int64) (int, error) {
	total := 0
	for total < len(p) {
		chunk := p[total:min(len(p), total+readChunk)]
		n := datasetRead(unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), off+int64(total), unsafe.Pointer(unsafe.SliceData(chunk)), uint32(len(chunk)))
		switch {
		case n == -1:
			return total, Errorf(CodeNotFound, "no dataset %q", name)
		case n < 0:
			return total, Errorf(CodeOutOfRange, "dataset %s: offset %d out of range", name, off+int64(total))
		case n == 0:
			return total, io.EOF
		}
		total += int(n)
	}
	return total, nil
}

func (d *moduleData) Load(name string, t reflect.Type) (reflect.Value, error) {
	if v, ok := d.decoded[name][t]; ok {
		return v, nil
	}
	size, ok := d.Size(name)
	if !ok {
		return reflect.Value{}, Errorf(CodeNotFound, "no dataset %q", name)
	}
	b := make([]byte, size)
	if _, err := d.ReadAt(name, b, 0); err != nil && !errors.Is(err, io.EOF) {
		return reflect.Value{}, err
	}
	p := reflect.New(t)
	dec := canon.NewDecoder(canon.Limits{MaxBytes: int(max(size, 1)), MaxDepth: 64, MaxElements: 1 << 30})
	if err := dec.Unmarshal(b, p.Interface()); err != nil {
		return reflect.Value{}, Errorf(CodeDataLoss, "dataset %s: %v", name, fmt.Sprint(err))
	}
	if d.decoded[name] == nil {
		d.decoded[name] = map[reflect.Type]reflect.Value{}
	}
	d.decoded[name][t] = p.Elem()
	return p.Elem(), nil
}

// source is the host's datasets: a module serves one bundle.
func source(context.Context) datactx.Source { return hostData }
