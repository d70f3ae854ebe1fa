package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/digestbot/digestbot/app"
	"github.com/digestbot/digestbot/store"
	"github.com/digestbot/digestbot/subscribers"
)

// withAddress loads the config, opens the store and runs fn on the
// command's one ADDRESS argument, normalised as the subscriptions store it.
func withAddress(ctx context.Context, in *invocation, what string, fn func(st *store.Store, address string) error) error {
	cfg, err := in.load()
	if err != nil {
		return err
	}
	if in.fs.NArg() != 1 {
		return codeError{exitUsage, fmt.Errorf("subscribers %s: want exactly one ADDRESS (an email address or a Telegram chat id)", what)}
	}
	address, err := subscribers.NormalizeAddress(in.fs.Arg(0))
	if err != nil {
		return codeError{exitUsage, fmt.Errorf("subscribers %s: %w", what, err)}
	}
	st, err := app.OpenStore(ctx, cfg, in.logger(false, ""))
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st, address)
}

func cmdSubscribersExport(ctx context.Context, in *invocation) error {
	return withAddress(ctx, in, "export", func(st *store.Store, address string) error {
		recs, err := st.SubscriberRecords(ctx, address)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(in.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(subscribers.Export{Address: address, Subscriptions: recs})
	})
}

func cmdSubscribersDelete(ctx context.Context, in *invocation) error {
	return withAddress(ctx, in, "delete", func(st *store.Store, address string) error {
		n, err := st.ForgetSubscriber(ctx, address)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("subscribers delete: nothing stored about " + address)
		}
		fmt.Fprintf(in.stdout, "erased %d subscription%s of %s; its deliveries are kept only as counts\n", n, plural(n), address)
		return nil
	})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
