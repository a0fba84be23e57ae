package flow

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Errors a reader returns, wrapped with where it happened; test with
// errors.Is.
var (
	// ErrNotCapture: the file starts with neither a pcap nor a pcapng
	// header.
	ErrNotCapture = errors.New("not a packet capture (neither pcap nor pcapng)")
	// ErrTruncated: the file ends inside a header or a packet.
	ErrTruncated = errors.New("capture truncated")
	// ErrMalformed: a length or field that cannot be right.
	ErrMalformed = errors.New("malformed capture")
	// ErrNoTCP: the capture holds no TCP segment that could be decoded.
	ErrNoTCP = errors.New("no TCP segment in the capture")
)

// Link types read (LINKTYPE_* values of the pcap and pcapng formats, which
// this package reads from the file header itself: gopacket v1.1.19 keeps
// them in a uint8, so LINUX_SLL2 reads back as 20 there).
const (
	LinkNull      = 0   // BSD loopback: 4-byte address family, host order
	LinkEthernet  = 1   // Ethernet II, 802.1Q and 802.1ad tags skipped
	LinkRaw       = 101 // raw IPv4 or IPv6, what wire.Tap writes
	LinkLinuxSLL  = 113 // Linux cooked capture v1 (tcpdump -i any, older)
	LinkIPv4      = 228
	LinkIPv6      = 229
	LinkLinuxSLL2 = 276 // Linux cooked capture v2 (tcpdump -i any on Debian 12)
	linkRawBSD12  = 12  // DLT_RAW as some systems write it
	linkRawBSD14  = 14
)

// maxRecord bounds a record's captured length: larger is a corrupt file,
// not a packet (pcap's own limit for the largest link types is 256 KiB;
// D-Bus and USB captures may reach 128 MiB, which this package never
// reads).
const maxRecord = 1 << 20

// Frame is one record of a capture: when it was taken, its link type, and
// the bytes captured (only valid until the next call of the callback).
type Frame struct {
	Number   int // 1-based, in file order
	Time     time.Time
	LinkType uint32
	Data     []byte
	OrigLen  int // length on the wire; >= len(Data) when snaplen cut it
}

// ReadFrames reads a pcap or pcapng stream and calls fn for each frame in
// order. It returns the format ("pcap" or "pcapng") and the first error:
// ErrNotCapture, ErrTruncated or ErrMalformed wrapped with the offset, or
// what fn returned.
func ReadFrames(r io.Reader, fn func(*Frame) error) (format string, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		if len(magic) == 0 {
			return "", fmt.Errorf("empty file: %w", ErrNotCapture)
		}
		return "", fmt.Errorf("%d bytes: %w", len(magic), ErrNotCapture)
	}
	switch {
	case binary.BigEndian.Uint32(magic) == 0x0a0d0d0a:
		return "pcapng", readPcapng(br, fn)
	default:
		switch binary.LittleEndian.Uint32(magic) {
		case 0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1:
			return "pcap", readPcap(br, fn)
		}
	}
	return "", fmt.Errorf("file starts with % x: %w", magic, ErrNotCapture)
}

// reader counts offsets and turns short reads into ErrTruncated.
type reader struct {
	r   *bufio.Reader
	off int64
}

func (r *reader) full(b []byte, what string) error {
	n, err := io.ReadFull(r.r, b)
	r.off += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s at offset %d: %d of %d bytes: %w", what, r.off-int64(n), n, len(b), ErrTruncated)
	}
	return err
}

// atEOF reports whether nothing is left to read.
func (r *reader) atEOF() bool {
	_, err := r.r.Peek(1)
	return err != nil
}

func readPcap(br *bufio.Reader, fn func(*Frame) error) error {
	r := &reader{r: br}
	var h [24]byte
	if err := r.full(h[:], "pcap file header"); err != nil {
		return err
	}
	var bo binary.ByteOrder = binary.LittleEndian
	magic := bo.Uint32(h[0:4])
	if magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1 {
		bo = binary.BigEndian
		magic = bo.Uint32(h[0:4])
	}
	nanos := magic == 0xa1b23c4d
	if major := bo.Uint16(h[4:6]); major != 2 {
		return fmt.Errorf("pcap version %d.%d: %w", major, bo.Uint16(h[6:8]), ErrMalformed)
	}
	// The link type is the low 16 bits; the high bits may carry the FCS
	// length (LINKTYPE_* spec, "LinkType and additional information").
	lt := bo.Uint32(h[20:24]) & 0xffff
	buf := make([]byte, 0, 2048)
	var rec [16]byte
	for n := 1; !r.atEOF(); n++ {
		if err := r.full(rec[:], fmt.Sprintf("record header of packet %d", n)); err != nil {
			return err
		}
		sec, frac := bo.Uint32(rec[0:4]), bo.Uint32(rec[4:8])
		incl, orig := bo.Uint32(rec[8:12]), bo.Uint32(rec[12:16])
		if incl > maxRecord {
			return fmt.Errorf("packet %d at offset %d claims %d captured bytes: %w", n, r.off-16, incl, ErrMalformed)
		}
		if cap(buf) < int(incl) {
			buf = make([]byte, incl)
		}
		buf = buf[:incl]
		if err := r.full(buf, fmt.Sprintf("packet %d", n)); err != nil {
			return err
		}
		ns := int64(frac)
		if !nanos {
			ns *= 1000
		}
		f := Frame{Number: n, Time: time.Unix(int64(sec), ns), LinkType: lt, Data: buf, OrigLen: int(max(orig, incl))}
		if err := fn(&f); err != nil {
			return err
		}
	}
	return nil
}

// pcapng: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html
type ngIface struct {
	linkType uint32
	// resolution of timestamps: units per second
	unitsPerSec uint64
}

func readPcapng(br *bufio.Reader, fn func(*Frame) error) error {
	r := &reader{r: br}
	var bo binary.ByteOrder = binary.LittleEndian
	var ifaces []ngIface
	n := 0
	var hdr [8]byte
	body := make([]byte, 0, 2048)
	first := true
	for !r.atEOF() {
		start := r.off
		if err := r.full(hdr[:], "pcapng block header"); err != nil {
			return err
		}
		typ := bo.Uint32(hdr[0:4])
		if binary.BigEndian.Uint32(hdr[0:4]) == 0x0a0d0d0a {
			// Section header: the byte order is set by its magic, which
			// follows the length (whose byte order it sets too).
			var m [4]byte
			if err := r.full(m[:], "pcapng byte-order magic"); err != nil {
				return err
			}
			switch binary.LittleEndian.Uint32(m[:]) {
			case 0x1a2b3c4d:
				bo = binary.LittleEndian
			case 0x4d3c2b1a:
				bo = binary.BigEndian
			default:
				return fmt.Errorf("pcapng section at offset %d has byte-order magic % x: %w", start, m, ErrMalformed)
			}
			typ = 0x0a0d0d0a
			ifaces = ifaces[:0]
		} else if first {
			return fmt.Errorf("pcapng does not start with a section header: %w", ErrMalformed)
		}
		first = false
		total := bo.Uint32(hdr[4:8])
		if total < 12 || total%4 != 0 || total > maxRecord+64 {
			return fmt.Errorf("pcapng block at offset %d has length %d: %w", start, total, ErrMalformed)
		}
		rest := int(total) - 8
		if typ == 0x0a0d0d0a {
			rest -= 4 // the magic, read above
			if rest < 4 {
				return fmt.Errorf("pcapng section header at offset %d has length %d: %w", start, total, ErrMalformed)
			}
		}
		if cap(body) < rest {
			body = make([]byte, rest)
		}
		body = body[:rest]
		if err := r.full(body, fmt.Sprintf("pcapng block at offset %d", start)); err != nil {
			return err
		}
		if bo.Uint32(body[rest-4:]) != total {
			return fmt.Errorf("pcapng block at offset %d: trailing length %d differs from %d: %w", start, bo.Uint32(body[rest-4:]), total, ErrMalformed)
		}
		b := body[:rest-4]
		switch typ {
		case 1: // interface description
			if len(b) < 8 {
				return fmt.Errorf("pcapng interface block at offset %d too short: %w", start, ErrMalformed)
			}
			ifc := ngIface{linkType: uint32(bo.Uint16(b[0:2])), unitsPerSec: 1e6}
			// Options: code, length, value padded to 4.
			opts := b[8:]
			for len(opts) >= 4 {
				code, l := bo.Uint16(opts[0:2]), int(bo.Uint16(opts[2:4]))
				if code == 0 || 4+l > len(opts) {
					break
				}
				if code == 9 && l >= 1 { // if_tsresol
					v := opts[4]
					if v&0x80 != 0 {
						if e := v & 0x7f; e < 63 {
							ifc.unitsPerSec = 1 << e
						}
					} else if v <= 19 {
						ifc.unitsPerSec = uint64(math.Pow10(int(v)))
					}
				}
				opts = opts[min(len(opts), 4+(l+3)&^3):]
			}
			ifaces = append(ifaces, ifc)
		case 6, 3, 2: // enhanced, simple, obsolete packet
			var ifc ngIface
			var ts uint64
			var incl, orig uint32
			var data []byte
			switch typ {
			case 6, 2:
				if len(b) < 20 {
					return fmt.Errorf("pcapng packet block at offset %d too short: %w", start, ErrMalformed)
				}
				var id uint32
				if typ == 6 {
					id = bo.Uint32(b[0:4])
				} else {
					id = uint32(bo.Uint16(b[0:2]))
				}
				if int(id) >= len(ifaces) {
					return fmt.Errorf("pcapng packet block at offset %d names interface %d of %d: %w", start, id, len(ifaces), ErrMalformed)
				}
				ifc = ifaces[id]
				ts = uint64(bo.Uint32(b[4:8]))<<32 | uint64(bo.Uint32(b[8:12]))
				incl, orig = bo.Uint32(b[12:16]), bo.Uint32(b[16:20])
				data = b[20:]
			case 3:
				if len(b) < 4 || len(ifaces) == 0 {
					return fmt.Errorf("pcapng simple packet block at offset %d without interface: %w", start, ErrMalformed)
				}
				ifc = ifaces[0]
				orig = bo.Uint32(b[0:4])
				data = b[4:]
				incl = min(orig, uint32(len(data)))
			}
			if int64(incl) > int64(len(data)) {
				return fmt.Errorf("pcapng packet block at offset %d claims %d bytes, holds %d: %w", start, incl, len(data), ErrMalformed)
			}
			n++
			sec := ts / ifc.unitsPerSec
			frac := ts % ifc.unitsPerSec
			ns := int64(float64(frac) * 1e9 / float64(ifc.unitsPerSec))
			if sec > math.MaxInt64/2 {
				sec = 0
			}
			f := Frame{Number: n, Time: time.Unix(int64(sec), ns), LinkType: ifc.linkType, Data: data[:incl], OrigLen: int(max(orig, incl))}
			if err := fn(&f); err != nil {
				return err
			}
		}
	}
	if first {
		return fmt.Errorf("pcapng without a section header: %w", ErrTruncated)
	}
	return nil
}
