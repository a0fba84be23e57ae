package rstfilter

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TablePrefix starts the name of every table Install creates; the pid of
// the installing process and a random suffix follow
// ("tcplab_rst_4242_9f86d081").
const TablePrefix = "tcplab_rst_"

const chainName = "output"

// tableFlagOwner is NFT_TABLE_F_OWNER from linux/netfilter/nf_tables.h
// (Linux 5.12). google/nftables v0.3.0 has no constant for it and always
// sends NFTA_TABLE_FLAGS as 0, so Install creates the table itself.
const tableFlagOwner = 0x2

// withoutOwner creates the table without NFT_TABLE_F_OWNER, as on a kernel
// older than 5.12: how tests reach the fallback and Sweep.
func withoutOwner() Option { return func(c *config) { c.noOwner = true } }

// Filter is one installed table. Its methods are safe for concurrent use.
type Filter struct {
	rule  Rule
	table *nftables.Table
	chain *nftables.Chain
	owned bool

	mu      sync.Mutex
	conn    *nftables.Conn // lasting: its socket owns the table
	nl      *netlink.Conn  // that socket, for the messages the library cannot send
	removed bool
	dropped uint64 // the counters' last reading, kept after Remove
}

// Install creates the table, its output chain and one rule per port, and
// returns the Filter that owns them. Call Remove when done; if the process
// dies first, the kernel deletes the table (see Owned).
func Install(r Rule, opts ...Option) (*Filter, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	r, err := r.normalize()
	if err != nil {
		return nil, fmt.Errorf("rstfilter: %w", err)
	}
	name, err := tableName()
	if err != nil {
		return nil, fmt.Errorf("rstfilter: %w", err)
	}

	var nl *netlink.Conn
	connOpts := []nftables.ConnOption{
		nftables.AsLasting(),
		nftables.WithSockOptions(func(c *netlink.Conn) error { nl = c; return nil }),
	}
	if cfg.netnsFd != 0 {
		connOpts = append(connOpts, nftables.WithNetNSFd(cfg.netnsFd))
	}
	conn, err := nftables.New(connOpts...)
	if err != nil {
		return nil, fmt.Errorf("rstfilter: opening a netfilter netlink socket: %w", explain(err, cfg.netnsFd != 0))
	}
	if nl == nil { // cannot happen with AsLasting; a library change would make it
		conn.CloseLasting()
		return nil, errors.New("rstfilter: google/nftables did not hand over its lasting socket")
	}
	f := &Filter{
		rule:  r,
		table: &nftables.Table{Name: name, Family: nftables.TableFamilyIPv4},
		conn:  conn,
		nl:    nl,
	}
	f.chain = &nftables.Chain{
		Name:     chainName,
		Table:    f.table,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookOutput,
		Priority: nftables.ChainPriorityFilter,
	}

	// The table first, in a batch of its own: the library cannot set its
	// flags. If what follows fails, closing the socket deletes an owned
	// table; an unowned one is deleted explicitly.
	if !cfg.noOwner {
		err = f.newTable(tableFlagOwner)
		f.owned = err == nil
	}
	if cfg.noOwner || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EINVAL) {
		// Kernels before 5.12 refuse the flag they do not know, with
		// EOPNOTSUPP or EINVAL.
		err = f.newTable(0)
	}
	if err != nil {
		conn.CloseLasting()
		if errors.Is(err, unix.EOPNOTSUPP) {
			err = ErrNoNFTables
		}
		return nil, fmt.Errorf("rstfilter: creating table ip %s: %w", name, explain(err, false))
	}

	conn.AddChain(f.chain)
	comment := fmt.Sprintf("tcplab pid %d: drop the RSTs the kernel sends for a userspace TCP stack", os.Getpid())
	for _, p := range r.rulePorts() {
		conn.AddRule(&nftables.Rule{
			Table:    f.table,
			Chain:    f.chain,
			Exprs:    dropRST(r, p),
			UserData: userdata.AppendString(nil, userdata.TypeComment, comment),
		})
	}
	if err := conn.Flush(); err != nil {
		err = fmt.Errorf("rstfilter: adding chain and rules to table ip %s: %w", name, explain(err, false))
		if !f.owned {
			conn.DelTable(f.table)
			if derr := conn.Flush(); derr != nil {
				err = errors.Join(err, fmt.Errorf("and deleting the table again: %w", derr))
			}
		}
		conn.CloseLasting()
		return nil, err
	}
	return f, nil
}

// normalize checks r and returns it with an IPv4 address and its ports
// sorted, without duplicates, in a slice of its own.
func (r Rule) normalize() (Rule, error) {
	if !r.Addr.IsValid() {
		return r, fmt.Errorf("%w (got no address)", ErrNotIPv4)
	}
	a := r.Addr.Unmap()
	if !a.Is4() {
		return r, fmt.Errorf("%w (got %s)", ErrNotIPv4, r.Addr)
	}
	peer := r.Peer.Unmap()
	if r.Peer.IsValid() && !peer.Is4() {
		return r, fmt.Errorf("%w (peer %s)", ErrNotIPv4, r.Peer)
	}
	if len(r.Ports) == 0 && !peer.IsValid() {
		return r, ErrNoPorts
	}
	ports := slices.Clone(r.Ports)
	slices.Sort(ports)
	ports = slices.Compact(ports)
	if len(ports) > 0 && ports[0] == 0 {
		return r, errors.New("port 0 is not a TCP port")
	}
	return Rule{Addr: a, Ports: ports, Peer: peer, SpareMark: r.SpareMark}, nil
}

// rulePorts are the ports to write one rule each for; 0 stands for every
// port (a rule without tcp sport).
func (r Rule) rulePorts() []uint16 {
	if len(r.Ports) == 0 {
		return []uint16{0}
	}
	return r.Ports
}

func tableName() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return TablePrefix + strconv.Itoa(os.Getpid()) + "_" + hex.EncodeToString(b[:]), nil
}

// newTable sends NFT_MSG_NEWTABLE with flags on the Filter's own socket,
// as a batch of its own, and waits for the kernel's answer.
func (f *Filter) newTable(flags uint32) error {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TABLE_NAME, Data: []byte(f.table.Name + "\x00")},
		{Type: unix.NFTA_TABLE_FLAGS, Data: binary.BigEndian.AppendUint32(nil, flags)},
	})
	if err != nil {
		return err
	}
	msgs := []netlink.Message{
		{
			Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN), Flags: netlink.Request},
			Data:   nfgenmsg(0, unix.NFNL_SUBSYS_NFTABLES),
		},
		{
			Header: netlink.Header{
				Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE),
				Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl,
			},
			Data: append(nfgenmsg(uint8(f.table.Family), 0), attrs...),
		},
		{
			Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_MSG_BATCH_END), Flags: netlink.Request},
			Data:   nfgenmsg(0, unix.NFNL_SUBSYS_NFTABLES),
		},
	}
	if _, err := f.nl.SendMessages(msgs); err != nil {
		return err
	}
	// One NLMSG_ERROR answers the one message that asked for an
	// acknowledgement: errno 0, or the error (Receive returns it).
	_, err = f.nl.Receive()
	return err
}

// nfgenmsg is struct nfgenmsg: family, version, resource id (big endian).
func nfgenmsg(family uint8, resID uint16) []byte {
	return binary.BigEndian.AppendUint16([]byte{family, unix.NFNETLINK_V0}, resID)
}

// dropRST is `ip saddr ADDR [ip daddr PEER] [tcp sport PORT] tcp flags
// rst [meta mark != MARK] counter drop` for rule r and port (0: every
// port), as nft would compile it.
func dropRST(r Rule, port uint16) []expr.Any {
	a4 := r.Addr.As4()
	e := []expr.Any{
		// ip saddr addr
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a4[:]},
	}
	if r.Peer.IsValid() {
		p4 := r.Peer.As4()
		e = append(e, // ip daddr peer
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p4[:]})
	}
	e = append(e, // tcp (the dependency nft adds for tcp sport and tcp flags)
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}})
	if port != 0 {
		e = append(e, // tcp sport port
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
	}
	e = append(e, // tcp flags & rst != 0
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x04}, Xor: []byte{0x00}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0x00}})
	if r.SpareMark != 0 {
		e = append(e, // meta mark != mark
			&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, r.SpareMark)})
	}
	return append(e, &expr.Counter{}, &expr.Verdict{Kind: expr.VerdictDrop})
}

// Table is the name of the Filter's table (family ip).
func (f *Filter) Table() string { return f.table.Name }

// Owned reports whether the table carries the owner flag, so that the
// kernel deletes it when this process dies, however it dies. False only
// on kernels older than 5.12: then a process killed before Remove leaves
// the table behind for Sweep.
func (f *Filter) Owned() bool { return f.owned }

// Rule is the rule as installed: the address unmapped to IPv4, the ports
// sorted and without duplicates.
func (f *Filter) Rule() Rule {
	return Rule{Addr: f.rule.Addr, Ports: slices.Clone(f.rule.Ports), Peer: f.rule.Peer, SpareMark: f.rule.SpareMark}
}

// Dropped returns how many packets the rules have dropped, summed over
// the ports (their counters). After Remove it returns the last reading,
// taken just before the table was deleted.
func (f *Filter) Dropped() (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removed {
		return f.dropped, nil
	}
	return f.readCounters()
}

func (f *Filter) readCounters() (uint64, error) {
	rules, err := f.conn.GetRules(f.table, f.chain)
	if err != nil {
		return 0, fmt.Errorf("rstfilter: reading the counters of table ip %s: %w", f.table.Name, err)
	}
	var n uint64
	for _, r := range rules {
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				n += c.Packets
			}
		}
	}
	f.dropped = n
	return n, nil
}

// Remove deletes the table and closes the socket that owns it. It is
// idempotent: later calls return nil. A table someone else already
// deleted (nft flush ruleset) is not an error.
func (f *Filter) Remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removed {
		return nil
	}
	f.removed = true
	f.readCounters() // best effort: Dropped after Remove returns the last reading
	f.conn.DelTable(f.table)
	err := f.conn.Flush()
	if errors.Is(err, unix.ENOENT) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("rstfilter: deleting table ip %s: %w", f.table.Name, err)
		if f.owned {
			err = fmt.Errorf("%w (closing its owner socket deletes it anyway)", err)
		}
	}
	// For an owned table, closing the socket deletes it if DelTable did not.
	if cerr := f.conn.CloseLasting(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("rstfilter: closing the netlink socket: %w", cerr))
	}
	return err
}

// abandon closes the owner socket without deleting the table, as the
// death of the process would: tests use it to see the kernel delete an
// owned table.
func (f *Filter) abandon() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = true
	f.conn.CloseLasting()
}

// Describe returns the rules in nft syntax, one line per port, for
// narration. `nft list table ip NAME` shows the same rules ("tcp flags
// rst" is nft's spelling of "tcp flags & rst != 0"), with the counters.
func (f *Filter) Describe() string {
	var b strings.Builder
	for i, p := range f.rule.rulePorts() {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "nft add rule ip %s %s ip saddr %s", f.table.Name, chainName, f.rule.Addr)
		if f.rule.Peer.IsValid() {
			fmt.Fprintf(&b, " ip daddr %s", f.rule.Peer)
		}
		if p != 0 {
			fmt.Fprintf(&b, " tcp sport %d", p)
		}
		b.WriteString(" tcp flags rst")
		if f.rule.SpareMark != 0 {
			fmt.Fprintf(&b, " meta mark != %#x", f.rule.SpareMark)
		}
		b.WriteString(" counter drop")
	}
	return b.String()
}

// Sweep deletes the tables Install left behind without the owner flag
// (kernels older than 5.12) in processes that are gone: those named
// TablePrefix + PID + "_..." where no process PID exists. It returns the
// names it deleted. Owned tables are never left behind, and only their
// owner may delete them, so Sweep skips them. Only WithNetNSFd applies.
//
// A PID is looked up in this process's PID namespace: run Sweep where the
// processes that install filters run.
func Sweep(opts ...Option) ([]string, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	var connOpts []nftables.ConnOption
	if cfg.netnsFd != 0 {
		connOpts = append(connOpts, nftables.WithNetNSFd(cfg.netnsFd))
	}
	conn, err := nftables.New(connOpts...)
	if err != nil {
		return nil, fmt.Errorf("rstfilter: %w", explain(err, cfg.netnsFd != 0))
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("rstfilter: listing tables: %w", explain(err, cfg.netnsFd != 0))
	}
	var dead []string
	for _, t := range tables {
		pid, ok := tablePid(t.Name)
		if !ok || t.Flags&tableFlagOwner != 0 || processExists(pid) {
			continue
		}
		conn.DelTable(t)
		dead = append(dead, t.Name)
	}
	if len(dead) == 0 {
		return nil, nil
	}
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("rstfilter: deleting %s: %w", strings.Join(dead, ", "), explain(err, false))
	}
	return dead, nil
}

// tablePid parses the pid out of a name Install made.
func tablePid(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, TablePrefix)
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, "_")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}

func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// explain turns the errors that have a plain cause into one that says it.
func explain(err error, inNetNS bool) error {
	switch {
	case errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES):
		if inNetNS {
			return fmt.Errorf("%w (entering the network namespace also needs CAP_SYS_ADMIN): %v", ErrNoCapNetAdmin, err)
		}
		return fmt.Errorf("%w: %v", ErrNoCapNetAdmin, err)
	case errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%w: %v", ErrNoNFTables, err)
	}
	return err
}
