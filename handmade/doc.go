// Package handmade is tcplab's hand-built TCP: its own segment codec and
// checksum, sequence arithmetic, a round-trip estimator and, for now, the
// "seed" profile that replays the article's flow (three-way handshake, a
// stop-and-wait upload in PSH-ACK chunks, FIN from each side).
//
// It imports nothing from gVisor: it is the thing under test, and a
// validation is worth nothing if it shares code with its oracle.
package handmade
