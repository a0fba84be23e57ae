package tun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"tcplab/wire"
)

// DefaultMTU is the MTU Open uses when Config.MTU is 0.
const DefaultMTU = 1500

// maxPacket is the largest IPv4 packet; reads go into a buffer this long
// when the caller's is shorter, so truncation is detected, never silent.
const maxPacket = 65535

// Config describes the TUN device Open creates or attaches to.
type Config struct {
	// Name is the interface name. "" lets the kernel pick "tcplabN".
	// A name that exists already attaches to that device (it must be a
	// TUN device nobody holds open): Open then restores its persist
	// flag, which water clears unconditionally (TUNSETPERSIST 0), so the
	// device outlives Close; Close undoes the address, MTU and up state
	// Open changed. A device Open created is not persistent: it vanishes
	// with its file descriptor, that is on Close or when the process dies.
	Name string
	// KernelAddr is the address the kernel side owns, with its prefix
	// (for example 198.18.0.1/24): the kernel routes the prefix into the
	// device. The zero Prefix assigns no address.
	KernelAddr netip.Prefix
	// MTU of the device, IP header included; 0 means DefaultMTU.
	MTU int
}

// Device is a TUN device carrying IPv4 packets, without packet
// information header. It implements wire.Link: safe for one reader and
// any number of concurrent writers. Packets other than IPv4 that the
// kernel sends into the device (IPv6 if it could not be disabled) are
// skipped and counted.
type Device struct {
	name string
	mtu  int
	f    *os.File // non-blocking, registered with the runtime poller

	readMu  sync.Mutex // one reader at a time; guards buf
	buf     []byte
	skipped atomic.Uint64

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
	undo      func() error // restores an attached device; nil otherwise
}

var _ wire.Link = (*Device)(nil)

// Name returns the interface name.
func (d *Device) Name() string { return d.name }

// MTU returns the device MTU.
func (d *Device) MTU() int { return d.mtu }

// Skipped returns how many non-IPv4 packets reads have skipped.
func (d *Device) Skipped() uint64 { return d.skipped.Load() }

// Close closes the device's file descriptor, which unblocks a pending
// ReadPacket. A device Open created disappears with it; an attached one
// stays, with what Open changed undone. Close is idempotent: later calls
// return the first call's result.
func (d *Device) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		err := d.f.Close()
		if d.undo != nil {
			err = errors.Join(err, d.undo())
		}
		if err != nil {
			d.closeErr = fmt.Errorf("tun: closing %s: %w", d.name, err)
		}
	})
	return d.closeErr
}

func (d *Device) errClosed() error {
	return fmt.Errorf("tun: %s: %w", d.name, net.ErrClosed)
}

// ReadPacket reads the next IPv4 packet into b. It returns ctx.Err() when
// ctx is done, an error wrapping net.ErrClosed once the device is closed,
// and wire.ErrTruncated (with len(b) bytes in b) for a packet longer
// than b.
func (d *Device) ReadPacket(ctx context.Context, b []byte) (int, error) {
	d.readMu.Lock()
	defer d.readMu.Unlock()
	if d.closed.Load() {
		return 0, d.errClosed()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// A cancelled ctx expires the file's read deadline, which wakes the
	// read; the deadline is cleared again before ReadPacket returns.
	if ctx.Done() != nil {
		var (
			mu          sync.Mutex
			done, fired bool
		)
		stop := context.AfterFunc(ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if !done {
				fired = true
				d.f.SetReadDeadline(time.Unix(1, 0))
			}
		})
		defer func() {
			if !stop() {
				mu.Lock()
				done = true
				if fired {
					d.f.SetReadDeadline(time.Time{})
				}
				mu.Unlock()
			}
		}()
	}
	for {
		buf, direct := b, true
		if len(b) < maxPacket {
			direct = false
			if d.buf == nil {
				d.buf = make([]byte, maxPacket)
			}
			buf = d.buf
		}
		n, err := d.f.Read(buf)
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
				return 0, ctx.Err()
			case errors.Is(err, os.ErrClosed) || d.closed.Load():
				return 0, d.errClosed()
			}
			return 0, fmt.Errorf("tun: reading %s: %w", d.name, err)
		}
		if n == 0 || buf[0]>>4 != 4 {
			d.skipped.Add(1)
			continue
		}
		if !direct {
			if n > len(b) {
				return copy(b, buf[:n]), wire.ErrTruncated
			}
			copy(b, buf[:n])
		}
		return n, nil
	}
}

// WritePacket writes one IPv4 packet into the device: the kernel receives
// it as if from a network. The kernel verifies its checksums and silently
// drops a packet with a bad one (TcpInCsumErrors in nstat). Writes fail
// (EIO) while the device is down.
func (d *Device) WritePacket(ctx context.Context, p []byte) error {
	if d.closed.Load() {
		return d.errClosed()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(p) > d.mtu {
		return fmt.Errorf("tun: writing to %s: packet of %d bytes exceeds the MTU %d", d.name, len(p), d.mtu)
	}
	if _, err := d.f.Write(p); err != nil {
		if errors.Is(err, os.ErrClosed) || d.closed.Load() {
			return d.errClosed()
		}
		return fmt.Errorf("tun: writing to %s: %w", d.name, err)
	}
	return nil
}

func (c Config) withDefaults() (Config, error) {
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < 68 || c.MTU > maxPacket {
		return c, fmt.Errorf("tun: MTU %d out of range [68, %d]", c.MTU, maxPacket)
	}
	if c.KernelAddr.IsValid() && !c.KernelAddr.Addr().Is4() {
		return c, fmt.Errorf("tun: kernel address %v is not IPv4", c.KernelAddr)
	}
	if len(c.Name) > 15 {
		return c, fmt.Errorf("tun: interface name %q longer than 15 bytes", c.Name)
	}
	return c, nil
}
