// Command tcplab is a lab for hand-built TCP: it runs the hand-built stack
// against gVisor's netstack (and, later, the Linux kernel) and shows, segment
// by segment, where they agree.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newApp().RunContext(ctx, os.Args)
	interrupted := ctx.Err() != nil
	stop()
	if err == nil {
		return
	}
	if interrupted {
		fmt.Fprintln(os.Stderr, "tcplab: interrupted; links closed and captures flushed")
		os.Exit(130)
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "tcplab:", msg)
		}
		os.Exit(ec.ExitCode())
	}
	fmt.Fprintln(os.Stderr, "tcplab:", err)
	os.Exit(1)
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "tcplab",
		Usage: "a lab for hand-built TCP, checked against gVisor netstack",
		Description: `tcplab runs a TCP written by hand (package handmade) against gVisor's
userspace netstack on a packet link, narrates the conversation the way the
article it grew from does, and reports what each side saw.

Examples:
   tcplab demo                                  # both directions, clean in-memory wire
   tcplab demo --loss 0.05 --seed 7             # 5% loss each way, reproducible
   tcplab demo --corrupt 0.01 --pcap-dir caps   # captures at both ends, open in Wireshark
   tcplab demo --json | jq .runs[].goodput_mbps`,
		Commands:             []*cli.Command{demoCommand(), clientCommand(), serverCommand(), compareCommand(), benchCommand(), flowCommand()},
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		ExitErrHandler:       func(*cli.Context, error) {}, // main prints and exits
	}
}
