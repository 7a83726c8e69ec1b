package papi

// Options, in the style of connect-go: each kind is an interface with an
// unexported method, so that only this package makes them, and the type
// says which calls take an option. An option that fails (an address that
// does not parse, a negative rate) makes the call it is given to fail;
// options do no I/O when made or applied, the call does.

// PeerOption configures a Peer in NewPeer.
type PeerOption interface{ applyToPeer(*peerConfig) }

// ServeOption configures Serve.
type ServeOption interface{ applyToServe(*serveConfig) }

// DialOption configures Dial, DialName and Resolve.
type DialOption interface{ applyToDial(*dialConfig) }

// CloneOption configures Clone.
type CloneOption interface{ applyToClone(*cloneConfig) }

// ProviderOption says where to find providers and which to trust; Dial,
// DialName, Resolve and Clone all take it.
type ProviderOption interface {
	DialOption
	CloneOption
}

type peerOptionFunc func(*peerConfig) error

func (f peerOptionFunc) applyToPeer(c *peerConfig) {
	if err := f(c); err != nil && c.err == nil {
		c.err = err
	}
}

type serveOptionFunc func(*serveConfig) error

func (f serveOptionFunc) applyToServe(c *serveConfig) {
	if err := f(c); err != nil && c.err == nil {
		c.err = err
	}
}

type providerOptionFunc func(*dialConfig) error

func (f providerOptionFunc) applyToDial(c *dialConfig) {
	if err := f(c); err != nil && c.err == nil {
		c.err = err
	}
}

func (f providerOptionFunc) applyToClone(c *cloneConfig) { f.applyToDial(&c.dialConfig) }

type cloneOptionFunc func(*cloneConfig) error

func (f cloneOptionFunc) applyToClone(c *cloneConfig) {
	if err := f(c); err != nil && c.err == nil {
		c.err = err
	}
}

func newDialConfig(opts []DialOption) (*dialConfig, error) {
	c := &dialConfig{}
	for _, o := range opts {
		o.applyToDial(c)
	}
	return c, c.err
}

func newCloneConfig(opts []CloneOption) (*cloneConfig, error) {
	c := &cloneConfig{}
	for _, o := range opts {
		o.applyToClone(c)
	}
	return c, c.err
}
