package main

import (
	"context"
	"flag"
)

func cmdServe(ctx context.Context, in *invocation) error {
	_, err := in.load()
	return err
}

func cmdSendNow(ctx context.Context, in *invocation) error {
	_, err := in.load()
	return err
}

var _ = flag.ErrHelp
