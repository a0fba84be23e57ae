//go:build !linux

package throughput

import (
	"context"
	"errors"
	"io"
)

var errNoTUN = errors.New("the TUN pairings need Linux (network namespaces and TUN devices)")

// TUNAvailable says whether the TUN pairings can run here.
func TUNAvailable() error { return errNoTUN }

func transferTUN(context.Context, Pairing, Options, io.Writer) Run {
	return Run{Error: errNoTUN.Error()}
}
