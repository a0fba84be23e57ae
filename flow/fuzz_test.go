package flow

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// FuzzRead: whatever the bytes, Read returns a capture or an error, never
// panics, and whatever it returns renders.
func FuzzRead(f *testing.F) {
	pkts, times := build(articleFlow())
	f.Add(pcapFile(LinkRaw, pkts, times, nil))
	f.Add(pcapngFile(LinkRaw, pkts, times))
	f.Add(pcapFile(LinkRaw, pkts, times, nil)[:200])
	b, tt := build(bulk(5, 2))
	f.Add(pcapFile(LinkRaw, b, tt, nil))
	f.Add([]byte("not a capture"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(c.Conns) == 0 {
			t.Fatal("no error and no connection")
		}
		ev := WireEvent{Time: t0.Add(time.Millisecond), Kind: "drop", Index: 2,
			Packet: "198.18.0.1:40000 > 198.18.0.2:12345 [PA] seq=1001 ack=5001 len=1400"}
		c.ApplyEvents([]WireEvent{ev, {Kind: "dup", Index: 1, Packet: ev.Packet}})
		for _, conn := range c.Conns {
			o := RenderOptions{MaxFull: 4}
			WriteMermaid(io.Discard, conn, o)
			WriteText(io.Discard, conn, o)
			WriteSVG(io.Discard, conn, o)
			WriteTSG(io.Discard, conn, conn.DataDir(), o)
		}
	})
}
