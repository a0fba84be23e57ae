package compare

// Section C of CONFORMANCE.md: data transfer and the window.
var dataScenarios = []Scenario{
	{ID: "DT-06a", Title: "Receiver SWS avoidance: reading a few octets sends no window update",
		RFC: "RFC 9293 §3.8.6.2.2", Requirements: []string{"MUST-39"}, Run: noWindowUpdateForSmallRead},
}

// noWindowUpdateForSmallRead: the receiver moves the right edge only when
// it can move by min(RCV.BUFF/2, Eff.snd.MSS) (RFC 9293 §3.8.6.2.2,
// MUST-39), so the application reading four octets does not produce a
// window update; least of all one that repeats the last ACK's window,
// which is a duplicate ACK to a sender with data in flight (RFC 5681 §2).
func noWindowUpdateForSmallRead(t *T) {
	c, s := t.Established()
	data := []byte("ping")
	t.Send(c, TCP{Flags: Ptr(ACK | PSH), Payload: data})
	t.Expect(c, TCP{Flags: Ptr(ACK), Ack: Ptr(c.SndNxt())})
	t.Recv(s, data)
	t.ExpectNone(c, "no window update after a read of 4 octets")
}
