package papi

import (
	"io"

	"github.com/papi-dev/papi/transport"
)

// lookupData finds a dataset of a served bundle by its digest: what a peer
// serves, it seeds for others to clone.
func (p *Peer) lookupData(digest [32]byte) (transport.DataSource, error) {
	p.mu.RLock()
	var found *Dataset
	for _, s := range p.bundle {
		for _, d := range s.b.datasets {
			if d.digest == digest {
				found = d
			}
		}
		if c := s.b.code; c != nil && c.digest == digest {
			found = c
		}
	}
	p.mu.RUnlock()
	if found == nil {
		return nil, transport.ErrDataNotFound
	}
	ra, closer, err := found.readerAt()
	if err != nil {
		return nil, err
	}
	return &datasetSource{ReaderAt: ra, Closer: closer, d: found}, nil
}

// datasetSource is a dataset opened for seeding.
type datasetSource struct {
	io.ReaderAt
	io.Closer
	d *Dataset
}

func (s *datasetSource) Size() int64               { return s.d.size }
func (s *datasetSource) Outboard() ([]byte, error) { return s.d.Outboard() }
