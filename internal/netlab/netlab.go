//go:build linux

// Package netlab builds a small internet inside Linux network namespaces for
// tests: a public segment with a relay and a DHT bootstrap host, home
// networks behind NAT routers of two kinds, and a LAN segment with
// multicast. Peers run in it as separate processes, started with
// "ip netns exec": a goroutine cannot stay in another namespace, as libp2p
// opens sockets from many goroutines.
//
// Loopback has no NAT and no multicast, so hole punching and mDNS can only
// be exercised for real in a network like this one. It needs root, ip
// (iproute2) and nft (nftables); New skips the test when they are missing.
//
// The public segment uses 11.7.0.0/24, an address block libp2p takes for a
// public one: it hole punches only through public addresses and advertises
// only a relay's public addresses. The block exists only inside the
// namespaces, which have no route to any other network.
package netlab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Prefix starts the name of every namespace a lab makes, followed by the
// process ID of the test that made it: a namespace whose process is gone is
// a leftover of a run that was killed, and the next lab removes it.
const Prefix = "papilab-"

// The hosts of the lab, by the namespace each runs in.
const (
	Relay = "relay" // public segment: a relay
	Boot  = "boot"  // public segment: a DHT bootstrap host
	Pub   = "pub"   // public segment: a host with no NAT in front
	HomeA = "homea" // behind NATA, endpoint-independent mapping
	HomeB = "homeb" // behind NATB, endpoint-independent mapping
	HomeS = "homes" // behind NATS, symmetric (address- and port-dependent) mapping
	LAN1  = "lan1"  // LAN segment: multicast, no route beyond it
	LAN2  = "lan2"

	NATA = "nata" // HomeA's router
	NATB = "natb" // HomeB's router
	NATS = "nats" // HomeS's router
)

// Addresses of the hosts, for tests that build multiaddrs.
const (
	RelayIP = "11.7.0.2"
	BootIP  = "11.7.0.3"
	PubIP   = "11.7.0.4"
	NATAIP  = "11.7.0.11" // HomeA's public address
	NATBIP  = "11.7.0.12"
	NATSIP  = "11.7.0.13"
	HomeAIP = "192.168.11.2"
	HomeBIP = "192.168.12.2"
	HomeSIP = "192.168.13.2"
	LAN1IP  = "10.77.0.1"
	LAN2IP  = "10.77.0.2"
)

var (
	made    atomic.Int64
	skipped atomic.Int64
)

// Counts returns how many labs were made and how many tests skipped for
// want of namespaces, for a test binary to report.
func Counts() (ran, skip int64) { return made.Load(), skipped.Load() }

// Lab is one instance of the test network.
type Lab struct {
	id    string // unique among this process's labs
	names []string

	mu    sync.Mutex
	procs []*Proc
	down  bool
}

var (
	labsMu  sync.Mutex
	labs    = map[*Lab]bool{}
	nextLab atomic.Int64
	sigOnce sync.Once
)

// Unavailable says why namespaces cannot be made here, or "" when they can.
// It tries once per process.
func Unavailable() string { return unavailable() }

var unavailable = sync.OnceValue(func() string {
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not installed"
		}
	}
	ns := fmt.Sprintf("%s%d-probe", Prefix, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		return "ip netns add: " + strings.TrimSpace(string(out))
	}
	defer exec.Command("ip", "netns", "del", ns).Run()
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "ruleset").CombinedOutput(); err != nil {
		return "nft in a namespace: " + strings.TrimSpace(string(out))
	}
	return ""
})

// New builds the whole network, removes it when the test ends, and skips
// the test if namespaces cannot be made here.
func New(t testing.TB) *Lab {
	t.Helper()
	if why := Unavailable(); why != "" {
		skipped.Add(1)
		t.Skipf("netlab: network namespaces unavailable (%s): this test needs root, ip (iproute2) and nft (nftables)", why)
	}
	removeLeftovers(t)
	sigOnce.Do(teardownOnSignal)
	l := &Lab{id: fmt.Sprintf("%s%d-%d-", Prefix, os.Getpid(), nextLab.Add(1))}
	labsMu.Lock()
	labs[l] = true
	labsMu.Unlock()
	t.Cleanup(l.Close)
	if err := l.build(); err != nil {
		t.Fatalf("netlab: %v", err)
	}
	made.Add(1)
	return l
}

// NS returns the namespace name of host.
func (l *Lab) NS(host string) string { return l.id + host }

// build makes the namespaces, links, addresses, routes and NAT rules.
func (l *Lab) build() error {
	type step struct {
		args  []string
		stdin string
	}
	var steps []step
	ns := func(names ...string) {
		for _, n := range names {
			l.names = append(l.names, l.NS(n))
			steps = append(steps, step{args: []string{"ip", "netns", "add", l.NS(n)}})
		}
	}
	in := func(host string, args ...string) {
		steps = append(steps, step{args: append([]string{"ip", "netns", "exec", l.NS(host)}, args...)})
	}
	// veth makes a pair with one end in each namespace, named there as given.
	veth := func(a, aName, b, bName string) {
		steps = append(steps, step{args: []string{"ip", "link", "add", aName, "netns", l.NS(a), "type", "veth", "peer", "name", bName, "netns", l.NS(b)}})
	}
	up := func(host, dev, addr string) {
		if addr != "" {
			in(host, "ip", "addr", "add", addr, "dev", dev)
		}
		in(host, "ip", "link", "set", dev, "up")
	}
	const inet, lan = "inet", "lan"
	natA, natB, natS := NATA, NATB, NATS
	ns(inet, lan, Relay, Boot, Pub, natA, natB, natS, HomeA, HomeB, HomeS, LAN1, LAN2)
	for _, n := range []string{inet, lan, Relay, Boot, Pub, natA, natB, natS, HomeA, HomeB, HomeS, LAN1, LAN2} {
		up(n, "lo", "")
	}

	// The public segment: one bridge, every public host on it.
	in(inet, "ip", "link", "add", "br0", "type", "bridge")
	up(inet, "br0", "")
	public := []struct{ host, ip string }{{Relay, RelayIP}, {Boot, BootIP}, {Pub, PubIP}, {natA, NATAIP}, {natB, NATBIP}, {natS, NATSIP}}
	for _, p := range public {
		dev := "eth0"
		if strings.HasPrefix(p.host, "nat") {
			dev = "wan"
		}
		veth(inet, "p-"+p.host, p.host, dev)
		in(inet, "ip", "link", "set", "p-"+p.host, "master", "br0")
		up(inet, "p-"+p.host, "")
		up(p.host, dev, p.ip+"/24")
	}

	// Home networks: a host behind each router, the router masquerading.
	homes := []struct {
		home, router, net string
		random            bool
	}{
		{HomeA, natA, "192.168.11", false},
		{HomeB, natB, "192.168.12", false},
		{HomeS, natS, "192.168.13", true},
	}
	for _, h := range homes {
		veth(h.router, "lan", h.home, "eth0")
		up(h.router, "lan", h.net+".1/24")
		up(h.home, "eth0", h.net+".2/24")
		in(h.home, "ip", "route", "add", "default", "via", h.net+".1")
		in(h.router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
		in(h.router, "nft", "-f", "-")
		steps[len(steps)-1].stdin = natRules(h.random)
	}

	// The LAN: two hosts on a bridge, multicast on, nothing beyond.
	in(lan, "ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	up(lan, "br0", "")
	for _, h := range []struct{ host, ip string }{{LAN1, LAN1IP}, {LAN2, LAN2IP}} {
		veth(lan, "p-"+h.host, h.host, "eth0")
		in(lan, "ip", "link", "set", "p-"+h.host, "master", "br0")
		up(lan, "p-"+h.host, "")
		in(h.host, "ip", "link", "set", "eth0", "multicast", "on")
		up(h.host, "eth0", h.ip+"/24")
		in(h.host, "ip", "route", "add", "224.0.0.0/4", "dev", "eth0")
	}

	for _, s := range steps {
		cmd := exec.Command(s.args[0], s.args[1:]...)
		cmd.Stdin = strings.NewReader(s.stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(s.args, " "), err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// natRules are a home router's: masquerade what leaves by the WAN, let in
// only what answers it, and drop the rest in silence, as home routers do.
// Linux keeps a connection's source port when it can, so plain masquerade
// maps endpoint-independently; fully-random picks a new port for every
// connection, which is what a symmetric NAT does.
func natRules(symmetric bool) string {
	masq := "masquerade"
	if symmetric {
		masq = "masquerade fully-random"
	}
	return `table ip nat {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" ` + masq + `
	}
}
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan" oifname "wan" accept
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan" ct state established,related accept
		iifname "wan" drop
	}
}
`
}

// Block makes router drop every packet its home sends to ip, as a
// firewall that allows only some destinations would, until Unblock.
func (l *Lab) Block(router, ip string) error {
	rules := "table inet block {\n\tchain forward {\n\t\ttype filter hook forward priority -10; policy accept;\n\t\tiifname \"lan\" ip daddr " + ip + " drop\n\t}\n}\n"
	cmd := l.Command(context.Background(), router, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("block %s at %s: %w: %s", ip, router, err, bytes.TrimSpace(out))
	}
	return nil
}

// Unblock removes what Block set up at router.
func (l *Lab) Unblock(router string) error {
	if out, err := l.Command(context.Background(), router, "nft", "delete", "table", "inet", "block").CombinedOutput(); err != nil {
		return fmt.Errorf("unblock at %s: %w: %s", router, err, bytes.TrimSpace(out))
	}
	return nil
}

// Close stops the lab's processes and removes its namespaces. It is safe to
// call more than once.
func (l *Lab) Close() {
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		return
	}
	l.down = true
	procs := l.procs
	l.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	for _, n := range l.names {
		deleteNamespace(n)
	}
	labsMu.Lock()
	delete(labs, l)
	labsMu.Unlock()
}

// deleteNamespace kills what still runs in ns and removes it.
func deleteNamespace(ns string) {
	if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	exec.Command("ip", "netns", "del", ns).Run()
}

// removeLeftovers removes the namespaces of lab processes that are gone.
func removeLeftovers(t testing.TB) {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), Prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue // ours, or a run still going
		}
		t.Logf("netlab: removing %s, left by a run that ended without cleaning up", e.Name())
		deleteNamespace(e.Name())
	}
}

// teardownOnSignal removes every lab when the test process is interrupted,
// then lets the signal end it.
func teardownOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-ch
		labsMu.Lock()
		all := make([]*Lab, 0, len(labs))
		for l := range labs {
			all = append(all, l)
		}
		labsMu.Unlock()
		for _, l := range all {
			l.Close()
		}
		signal.Reset()
		syscall.Kill(os.Getpid(), s.(syscall.Signal))
	}()
}

// Command returns a command that runs name with args in host's namespace.
func (l *Lab) Command(ctx context.Context, host, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.NS(host), name}, args...)...)
}

// Proc is a process running in one of the lab's namespaces. It speaks JSON
// lines: what it writes to stdout are replies, what Send writes to its stdin
// are requests.
type Proc struct {
	Name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan []byte
	done  chan struct{}

	mu     sync.Mutex
	stderr bytes.Buffer
}

// Start runs name with args in host's namespace, with env added to the
// test's environment. The process is killed when the lab closes, and also
// when the test process dies, by the kernel (Pdeathsig).
func (l *Lab) Start(t testing.TB, host string, env []string, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.NS(host), name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	p := &Proc{Name: host, cmd: cmd, lines: make(chan []byte, 64), done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{p: p}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		t.Fatal("netlab: start on a closed lab")
	}
	if err := cmd.Start(); err != nil {
		l.mu.Unlock()
		t.Fatalf("netlab: start %s in %s: %v", name, host, err)
	}
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.lines <- bytes.Clone(sc.Bytes())
		}
		cmd.Wait()
		close(p.lines)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			if s := p.Stderr(); s != "" {
				t.Logf("netlab: stderr of the process in %s:\n%s", host, s)
			}
		}
	})
	return p
}

type lockedWriter struct{ p *Proc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	if w.p.stderr.Len() < 1<<20 {
		w.p.stderr.Write(b)
	}
	return len(b), nil
}

// Stderr returns what the process wrote to stderr so far (its first MiB).
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Send writes v to the process's stdin as one JSON line.
func (p *Proc) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

// Line returns the next line the process wrote to stdout.
func (p *Proc) Line(ctx context.Context) ([]byte, error) {
	select {
	case b, ok := <-p.lines:
		if !ok {
			return nil, fmt.Errorf("process in %s exited: %v", p.Name, p.cmd.ProcessState)
		}
		return b, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the process in %s: %w", p.Name, ctx.Err())
	}
}

// Recv decodes the next JSON line into v.
func (p *Proc) Recv(ctx context.Context, v any) error {
	b, err := p.Line(ctx)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("process in %s wrote %q: %w", p.Name, b, err)
	}
	return nil
}

// Kill ends the process (its whole process group) and waits for it.
func (p *Proc) Kill() {
	if p.cmd.Process == nil {
		return
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
