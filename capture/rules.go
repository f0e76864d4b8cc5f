//go:build linux

package capture

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Plan is what the nat output chain of one capture does: connections to
// Exclude are left alone (for everyone), and the TCP connections of the
// sockets in cgroup CgroupID (at depth Level below the cgroup v2 root) to
// Ports (all when empty) go to the redirect listener of their address
// family. A family without a redirect listener is refused with a TCP
// reset, so that nothing of the command leaves uncaptured.
type Plan struct {
	CgroupID uint64
	Level    uint32
	Redirect []netip.AddrPort // at most one per family
	Exclude  []Endpoint
	Ports    []PortRange
}

// action is what a rule does with a matching connection.
type action int

const (
	actReturn   action = iota // leave it alone
	actRedirect               // redirect to a local port
	actDNAT                   // destination NAT to an address and port
	actReject                 // TCP reset
)

// rule is one rule of the chain before it becomes nftables expressions.
type rule struct {
	v6     bool
	cgroup bool       // the socket is in the capture's cgroup
	daddr  netip.Addr // destination address; invalid: any
	local  bool       // the destination is a local address (fib daddr type local)
	ports  PortRange  // destination ports; zero: any
	act    action
	to     netip.AddrPort // actRedirect: the port; actDNAT: address and port
}

// String renders the rule in nft's words, for tests and messages.
func (r rule) String() string {
	w := []string{"ip"}
	if r.v6 {
		w[0] = "ip6"
	}
	if r.cgroup {
		w = append(w, "socket cgroupv2")
	}
	w = append(w, "tcp")
	if r.daddr.IsValid() {
		w = append(w, "daddr "+r.daddr.String())
	}
	if r.local {
		w = append(w, "daddr local")
	}
	if !r.ports.all() {
		w = append(w, "dport "+r.ports.String())
	}
	switch r.act {
	case actReturn:
		w = append(w, "return")
	case actRedirect:
		w = append(w, fmt.Sprintf("redirect to :%d", r.to.Port()))
	case actDNAT:
		w = append(w, "dnat to "+r.to.String())
	case actReject:
		w = append(w, "reject with tcp reset")
	}
	return strings.Join(w, " ")
}

// rules returns the chain's rules in order: for each family the
// exclusions, then the capture.
func (p Plan) rules() []rule {
	var out []rule
	for _, v6 := range []bool{false, true} {
		var redir netip.AddrPort
		for _, r := range p.Redirect {
			if familyOf(r.Addr(), v6) {
				redir = r
				break
			}
		}
		excl := p.Exclude
		if redir.IsValid() {
			excl = append([]Endpoint{{Addr: redir.Addr(), Ports: PortRange{redir.Port(), redir.Port()}}}, excl...)
		}
		for _, e := range excl {
			r := rule{v6: v6, ports: e.Ports, act: actReturn}
			switch {
			case e.Addr.IsUnspecified() && (e.Addr.Is6() || !v6):
				// 0.0.0.0 is every local IPv4 address; :: is every
				// local address of both families (Go listens dual-stack).
				r.local = true
			case familyOf(e.Addr, v6):
				r.daddr = e.Addr.Unmap()
			default:
				continue
			}
			out = append(out, r)
		}
		capt := rule{v6: v6, cgroup: true, act: actReject}
		if redir.IsValid() {
			a := redir.Addr().Unmap()
			if a.IsUnspecified() || a == netip.IPv6Loopback() || a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
				capt.act, capt.to = actRedirect, redir
			} else {
				capt.act, capt.to = actDNAT, netip.AddrPortFrom(a, redir.Port())
			}
		}
		if len(p.Ports) == 0 {
			out = append(out, capt)
			continue
		}
		for _, pr := range p.Ports {
			c := capt
			c.ports = pr
			out = append(out, c)
		}
	}
	return out
}

// familyOf reports whether a belongs to IPv6 (v6) or IPv4 (!v6). An
// IPv4-mapped IPv6 address is IPv4.
func familyOf(a netip.Addr, v6 bool) bool {
	a = a.Unmap()
	return a.IsValid() && a.Is6() == v6
}

// exprs returns the nftables expressions of r for a rule of an inet
// table, in the cgroup given by id and level.
func (r rule) exprs(id uint64, level uint32) []expr.Any {
	proto := byte(unix.NFPROTO_IPV4)
	if r.v6 {
		proto = unix.NFPROTO_IPV6
	}
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
	if r.cgroup {
		e = append(e,
			&expr.Socket{Key: expr.SocketKeyCgroupv2, Level: level, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint64(id)},
		)
	}
	if r.daddr.IsValid() {
		off, n := uint32(16), uint32(4) // IPv4 header: destination address
		if r.v6 {
			off, n = 24, 16
		}
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: r.daddr.AsSlice()},
		)
	}
	if r.local {
		e = append(e,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		)
	}
	if !r.ports.all() {
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2})
		if r.ports.From == r.ports.To {
			e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.ports.From)})
		} else {
			e = append(e, &expr.Range{Op: expr.CmpOpEq, Register: 1,
				FromData: binaryutil.BigEndian.PutUint16(r.ports.From), ToData: binaryutil.BigEndian.PutUint16(r.ports.To)})
		}
	}
	switch r.act {
	case actReturn:
		e = append(e, &expr.Verdict{Kind: expr.VerdictReturn})
	case actRedirect:
		e = append(e,
			&expr.Immediate{Register: 1, Data: binaryutil.BigEndian.PutUint16(r.to.Port())},
			&expr.Redir{RegisterProtoMin: 1, Flags: unix.NF_NAT_RANGE_PROTO_SPECIFIED},
		)
	case actDNAT:
		e = append(e,
			&expr.Immediate{Register: 1, Data: r.to.Addr().AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(r.to.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: uint32(proto), RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
	case actReject:
		e = append(e, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
	}
	return e
}

// chainName is the name of the capture's chain in its table.
const chainName = "output"

// install adds table name (family inet) with the plan's nat output chain,
// in one netlink batch.
func (p Plan) install(name string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("capture: nftables: %w", err)
	}
	defer c.CloseLasting()
	t := c.AddTable(&nftables.Table{Name: name, Family: nftables.TableFamilyINet})
	ch := c.AddChain(&nftables.Chain{
		Name: chainName, Table: t,
		Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest,
	})
	for _, r := range p.rules() {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r.exprs(p.CgroupID, p.Level)})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("capture: add nftables table %s: %w", name, err)
	}
	return nil
}

// deleteTable removes the inet table name. A table that is not there is
// not an error.
func deleteTable(name string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("capture: nftables: %w", err)
	}
	defer c.CloseLasting()
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("capture: list nftables tables: %w", err)
	}
	for _, t := range ts {
		if t.Name == name {
			c.DelTable(t)
			if err := c.Flush(); err != nil {
				return fmt.Errorf("capture: delete nftables table %s: %w", name, err)
			}
		}
	}
	return nil
}

// tablesWithPrefix returns the names of the inet tables starting with
// prefix.
func tablesWithPrefix(prefix string) ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("capture: nftables: %w", err)
	}
	defer c.CloseLasting()
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("capture: list nftables tables: %w", err)
	}
	var out []string
	for _, t := range ts {
		if strings.HasPrefix(t.Name, prefix) {
			out = append(out, t.Name)
		}
	}
	return out, nil
}
