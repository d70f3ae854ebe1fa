package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/digestbot/digestbot/config"
)

// env is the process's outside world, injected so tests run commands in
// process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// ready, when set, is told serve's listening address (tests use :0).
	ready func(addr string)
}

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitPending = 3 // send-now: messages still wait for a retry
)

// exitError carries a specific exit code out of a command.
type codeError struct {
	code int
	err  error
}

func (e codeError) Error() string { return e.err.Error() }
func (e codeError) Unwrap() error { return e.err }

type command struct {
	name    string
	args    string // usage after the flags
	summary string
	run     func(ctx context.Context, in *invocation) error
}

// invocation is one command line being run: its flags are declared by the
// command, then load parses them and reads the config.
type invocation struct {
	env
	fs         *flag.FlagSet
	args       []string
	configPath *string
}

func commands() []command {
	return []command{
		{"serve", "", "run everything: scheduler, feed poller, bot, web, delivery workers", cmdServe},
		{"send-now", "", "build today's edition if needed, deliver it, exit when done (3: retries pending)", cmdSendNow},
		{"preview", "", "print the next edition without sending (--format html|text|telegram)", cmdPreview},
		{"import", "PATH|URL", "store articles from a feed file, a JSON-lines file, a text file or an article page", cmdImport},
		{"subscribers import", "CSV", "bulk-add confirmed email subscriptions (columns: email[,sections])", cmdSubscribersImport},
		{"subscribers export", "ADDRESS", "print everything stored about an email address or Telegram chat id, as JSON", cmdSubscribersExport},
		{"subscribers delete", "ADDRESS", "erase an email address or Telegram chat id (its deliveries stay as anonymous counts)", cmdSubscribersDelete},
		{"templates", "DIR", "write the embedded email and archive templates into DIR, to edit for a newsletter's template_dir", cmdTemplates},
		{"migrate", "", "apply database migrations and exit", cmdMigrate},
		{"healthcheck", "", "exit 0 when the running serve answers /healthz (--ready: /readyz); for Docker's HEALTHCHECK", cmdHealthcheck},
		{"version", "", "print the version", nil},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "digestbot — a self-hosted newsletter digest bot\n\nUsage:\n  digestbot COMMAND [--config FILE] [ARGS]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'digestbot COMMAND --help' for a command's flags. The config file may also be\ngiven as DIGESTBOT_CONFIG; secrets as DIGESTBOT_* variables (see config.example.toml).\n")
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(e.stdout)
		return exitOK
	case "version", "--version":
		if len(args) > 1 && (args[1] == "--help" || args[1] == "-h") {
			fmt.Fprintln(e.stdout, "Usage:\n  digestbot version\n\nprint the version")
			return exitOK
		}
		fmt.Fprintf(e.stdout, "digestbot %s\n", version)
		return exitOK
	}
	name := args[0]
	rest := args[1:]
	if name == "subscribers" {
		const use = "digestbot subscribers import --config FILE CSV\n  digestbot subscribers export --config FILE ADDRESS\n  digestbot subscribers delete --config FILE ADDRESS"
		if len(rest) == 0 || (rest[0] != "import" && rest[0] != "export" && rest[0] != "delete") {
			if len(rest) > 0 && (rest[0] == "--help" || rest[0] == "-h") {
				fmt.Fprintln(e.stdout, "Usage:\n  "+use)
				return exitOK
			}
			fmt.Fprintln(e.stderr, "digestbot: usage:\n  "+use)
			return exitUsage
		}
		name, rest = "subscribers "+rest[0], rest[1:]
	}
	for _, c := range commands() {
		if c.name != name || c.run == nil {
			continue
		}
		fs := flag.NewFlagSet("digestbot "+c.name, flag.ContinueOnError)
		fs.SetOutput(e.stderr)
		configPath := fs.String("config", e.getenv("DIGESTBOT_CONFIG"), "configuration `FILE` (TOML); default $DIGESTBOT_CONFIG")
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage:\n  digestbot %s [flags] %s\n\n%s\n\nFlags:\n", c.name, c.args, c.summary)
			fs.PrintDefaults()
		}
		err := c.run(ctx, &invocation{env: e, fs: fs, args: rest, configPath: configPath})
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		}
		var ce codeError
		if errors.As(err, &ce) {
			if ce.err != nil {
				fmt.Fprintf(e.stderr, "digestbot: %s\n", oneLine(ce.err))
			}
			return ce.code
		}
		fmt.Fprintf(e.stderr, "digestbot: %s\n", oneLine(err))
		return exitError
	}
	fmt.Fprintf(e.stderr, "digestbot: unknown command %q\n", args[0])
	usage(e.stderr)
	return exitUsage
}

// load parses the flags and loads the config; usage errors exit 2.
func (in *invocation) load() (config.Config, error) {
	if err := in.parse(); err != nil {
		return config.Config{}, err
	}
	return config.Load(*in.configPath, in.getenv)
}

// parse parses the command's flags (load without the config).
func (in *invocation) parse() error {
	for _, a := range in.args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			in.fs.SetOutput(in.stdout)
			in.fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := in.fs.Parse(in.args); err != nil {
		return codeError{exitUsage, nil} // the flag package printed why
	}
	return nil
}

// oneLine keeps an error on one line, as SPEC §4 asks.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// logger returns the command's logger on stderr. serve logs at info: it is
// the operator's record. The one-shot commands print their own results and
// log only warnings and errors, so that a failure reads as one line; the
// DIGESTBOT_LOG_LEVEL variable (debug, info, warn, error) overrides both.
// format is log.format: "json" or "text", or "auto" (or "" before the
// config is read): JSON lines for serve when stderr is not a terminal (a
// container, a service manager, a pipe into a log shipper), text otherwise.
func (in *invocation) logger(serve bool, format string) *slog.Logger {
	level := slog.LevelWarn
	if serve {
		level = slog.LevelInfo
	}
	if v := in.getenv("DIGESTBOT_LOG_LEVEL"); v != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(v)); err == nil {
			level = l
		}
	}
	if format == "" || format == "auto" {
		format = in.getenv("DIGESTBOT_LOG_FORMAT")
	}
	if format != "json" && format != "text" { // auto
		format = "text"
		if serve && !isTerminal(in.stderr) {
			format = "json"
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(in.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(in.stderr, opts))
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
