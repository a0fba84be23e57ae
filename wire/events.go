package wire

import (
	"encoding/json"
	"io"
	"sync"
)

// EventLog writes Events as JSON lines, one object per line with the fields
// time (RFC 3339 with nanoseconds), dir, kind, index, len, detail and
// packet. It is safe for concurrent use.
type EventLog struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewEventLog returns an EventLog writing to w.
func NewEventLog(w io.Writer) *EventLog { return &EventLog{w: w} }

// Record writes e as one line. It can be used as PipeConfig.Events. After
// the first error it writes nothing more; see Err.
func (l *EventLog) Record(e Event) {
	b, err := json.Marshal(e)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	if err != nil {
		l.err = err
		return
	}
	b = append(b, '\n')
	if _, err := l.w.Write(b); err != nil {
		l.err = err
	}
}

// Err returns the first error met while writing.
func (l *EventLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
