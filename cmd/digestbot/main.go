// Command digestbot is a self-hosted newsletter digest bot: it stores
// articles, builds a daily headline digest on a schedule and delivers it by
// email and Telegram. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	_ "time/tzdata" // time zones inside the static binary
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	stopProfile := cpuProfile(os.Getenv("DIGESTBOT_CPUPROFILE"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
	})
	stop()
	stopProfile()
	os.Exit(code)
}

// cpuProfile writes a CPU profile of the whole run to path (the benchmark
// sets DIGESTBOT_CPUPROFILE to see where send-now's time goes); "" does
// nothing.
func cpuProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "digestbot: DIGESTBOT_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
