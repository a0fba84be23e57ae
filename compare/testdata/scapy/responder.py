#!/usr/bin/env python3
"""A TCP responder written with Scapy: a three-way handshake and a
stop-and-wait receive, as the article's server.py, and nothing else.

tcplab's compare bench runs its catalogue against it as an external device
(compare/external_scapy_linux_test.go): a stack tcplab does not run, on
the far end of a veth pair. What it does, rule by rule:

  * It owns ADDR on IFACE without any kernel owning it: it answers ARP
    who-has ADDR itself, and the kernel of its namespace, with no address
    on IFACE, neither sees its connections nor resets them.
  * A SYN to PORT with no connection behind it gets a SYN-ACK with the
    article's fixed ISN, 5000, a window of 8192 and no options.
  * A SYN to any other port gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    (the declared capability closed-port); nothing else sent there gets an
    answer.
  * The ACK of ISS+1 completes the handshake. Text (or a FIN) that starts
    exactly at RCV.NXT and fits the window is taken and ACKed at once, one
    ACK a segment; the application keeps every octet and never closes
    (the declared capabilities listen and sink).
  * A RST whose SEQ lies in [RCV.NXT, RCV.NXT+8192) deletes the
    connection, silently.
  * Everything else is ignored: segments without ACK, segments with a bad
    TCP checksum, and every deviation listed in DEVIATIONS beside this
    file, which the test holds the bench's verdicts to.

It never retransmits, never sends text and never closes. Usage (as root,
inside the namespace IFACE is in):

    responder.py --iface ens224 --addr 198.19.78.2 --port 8080 [-v]

It prints "ready" on stdout once its socket is open (nothing sent to it
after that is missed) and runs until it is killed (SIGTERM ends it at once).
"""

import argparse
import os
import signal
import sys

from scapy.config import conf
from scapy.arch import get_if_hwaddr
from scapy.layers.l2 import ARP, Ether
from scapy.layers.inet import IP, TCP, in4_chksum

ISS = 5000  # the article's server.py: the same ISN for every connection
WINDOW = 8192  # Scapy's default TCP window, never scaled

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MOD = 1 << 32


class Conn:
    """One connection, keyed by the peer's address and port."""

    def __init__(self, irs):
        self.established = False
        self.rcv_nxt = (irs + 1) % MOD
        self.snd_nxt = (ISS + 1) % MOD
        self.fin = False
        self.received = 0  # octets the application kept


def in_window(seq, c):
    return (seq - c.rcv_nxt) % MOD < WINDOW


class Responder:
    def __init__(self, iface, addr, port, verbose):
        self.iface, self.addr, self.port, self.verbose = iface, addr, port, verbose
        self.mac = get_if_hwaddr(iface)
        self.sock = conf.L2socket(iface=iface)
        self.conns = {}

    def log(self, msg):
        if self.verbose:
            print(msg, file=sys.stderr, flush=True)

    def send_tcp(self, frame, flags, seq, ack, window=WINDOW):
        ip, tcp = frame[IP], frame[TCP]
        reply = (Ether(src=self.mac, dst=frame[Ether].src)
                 / IP(src=self.addr, dst=ip.src, ttl=64)
                 / TCP(sport=tcp.dport, dport=tcp.sport, flags=flags,
                       seq=seq, ack=ack, window=window))
        self.log(f"SENDING {flags} seq={seq} ack={ack} to {ip.src}:{tcp.sport}")
        self.sock.send(reply)

    def arp(self, frame):
        a = frame[ARP]
        if a.op != 1 or a.pdst != self.addr:
            return
        self.sock.send(Ether(src=self.mac, dst=a.hwsrc)
                       / ARP(op=2, hwsrc=self.mac, psrc=self.addr,
                             hwdst=a.hwsrc, pdst=a.psrc))

    def tcp(self, frame, raw):
        ip = frame[IP]
        ihl = ip.ihl * 4
        # The segment as it came, not as Scapy would rebuild it: options
        # with odd lengths must not change what the checksum covers.
        seg = raw[14 + ihl:14 + ip.len]
        if len(seg) < 20 or in4_chksum(6, ip, seg) != 0:
            self.log(f"DROPPED a segment from {ip.src} with a bad checksum")
            return
        tcp = frame[TCP]
        flags = int(tcp.flags) & 0x3f
        text = seg[tcp.dataofs * 4:]
        seq, ack = tcp.seq, tcp.ack
        self.log(f"RECEIVED {tcp.flags} seq={seq} ack={ack} len={len(text)} from {ip.src}:{tcp.sport}")

        if tcp.dport != self.port:
            # closed-port: a SYN anywhere else is refused; RFC 9293
            # §3.10.7.1 for the ACK-less case.
            if flags & SYN and not flags & (ACK | RST):
                n = len(text) + 1 + (1 if flags & FIN else 0)
                self.send_tcp(frame, "RA", 0, (seq + n) % MOD, window=0)
            return

        key = (ip.src, tcp.sport)
        c = self.conns.get(key)
        if flags & RST:
            # Deviation: RFC 793's rule, any RST in the window resets (no
            # RFC 5961 challenge ACK).
            if c is not None and in_window(seq, c):
                del self.conns[key]
                self.log(f"RESET by {ip.src}:{tcp.sport}")
            return
        if flags & SYN:
            # Deviation: a SYN for a connection that exists is ignored.
            if c is None and not flags & ACK:
                self.conns[key] = Conn(seq)
                self.send_tcp(frame, "SA", ISS, (seq + 1) % MOD)
            return
        if c is None or not flags & ACK:
            # Deviation: no RST for a segment of no connection. Without
            # ACK, RFC 9293 §3.10.7.4's fifth check drops it too.
            return
        if not c.established:
            if ack != (ISS + 1) % MOD:
                return  # Deviation: no RST for an unacceptable ACK
            c.established = True
            self.log(f"THREE-WAY HANDSHAKE COMPLETE with {ip.src}:{tcp.sport}")
        n = len(text) + (1 if flags & FIN else 0)
        # Stop and wait: only what starts at RCV.NXT and fits the window;
        # anything else, and a pure ACK, gets no answer (deviations).
        if n == 0 or c.fin or seq != c.rcv_nxt or n > WINDOW:
            return
        c.rcv_nxt = (c.rcv_nxt + n) % MOD
        c.received += len(text)
        c.fin = bool(flags & FIN)
        self.send_tcp(frame, "A", c.snd_nxt, c.rcv_nxt)

    def run(self):
        print("ready", flush=True)
        while True:
            frame = self.sock.recv()
            if frame is None:
                continue
            try:
                if ARP in frame:
                    self.arp(frame)
                elif IP in frame and TCP in frame and frame[IP].dst == self.addr:
                    self.tcp(frame, bytes(frame.original))
            except Exception as e:  # a frame Scapy cannot take apart
                print(f"responder: skipping a frame: {e!r}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iface", required=True, help="the Ethernet interface (its end of the veth)")
    ap.add_argument("--addr", required=True, help="the IPv4 address it answers for")
    ap.add_argument("--port", type=int, required=True, help="the port it listens on")
    ap.add_argument("-v", "--verbose", action="store_true", help="narrate every segment on stderr")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    conf.verb = 0
    r = Responder(args.iface, args.addr, args.port, args.verbose)
    r.run()


if __name__ == "__main__":
    main()
