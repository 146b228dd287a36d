// Package cli is the sumprimes command line: one binary whose subcommands
// choose a role (api, worker, janitor, dev) or run a user tool (sum).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sumprimes/sumprimes/internal/app"
	"github.com/sumprimes/sumprimes/pkg/config"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line or configuration is wrong
)

// usageError marks errors the user can fix by changing the command line or
// configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Main runs the command line and returns the process exit code. SIGINT and
// SIGTERM cancel the command's context, which starts a graceful shutdown.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "sumprimes: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		return exitUsage
	}
	return exitError
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "sumprimes",
		Short:         "Exact sums of primes, computed asynchronously: API → Kafka → workers → Redis",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().String("config", "", "YAML configuration file (keys as in the README)")
	root.AddCommand(
		roleCommand("api", "Serve the HTTP API (stateless; run as many replicas as you like)", app.API),
		roleCommand("worker", "Consume jobs from Kafka, compute them and store the results in Redis", app.Worker),
		roleCommand("janitor", "Recover lost jobs and drain the dead-letter topic (one active at a time; replicas are safe)", app.Janitor),
		devCommand(stdout),
		sumCommand(stdout),
		submitCommand(stdout),
		getCommand(stdout),
		listCommand(stdout),
		cancelCommand(stdout),
		healthCommand(),
		benchCommand(stdout),
	)
	return root
}

// serviceFlags are the flags every role accepts, with the keys they set.
var serviceFlags = []config.Flag{
	{Name: "http-addr", Key: "http.addr"},
	{Name: "kafka-brokers", Key: "kafka.brokers"},
	{Name: "redis-addr", Key: "redis.addr"},
	{Name: "concurrency", Key: "worker.concurrency"},
	{Name: "log-level", Key: "log.level"},
	{Name: "log-format", Key: "log.format"},
}

func addServiceFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("http-addr", "", "HTTP listen address (http.addr)")
	f.String("kafka-brokers", "", "comma-separated Kafka brokers (kafka.brokers)")
	f.String("redis-addr", "", "comma-separated Redis addresses (redis.addr)")
	f.Int("concurrency", 0, "jobs one worker process runs at once (worker.concurrency)")
	f.String("log-level", "", "debug, info, warn or error (log.level)")
	f.String("log-format", "", "text or json (log.format)")
}

// loadConfig reads the configuration for cmd; only flags the user gave
// override the file and the environment.
func loadConfig(cmd *cobra.Command, defaults map[string]any) (config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	var bind []config.Flag
	for _, f := range serviceFlags {
		if cmd.Flags().Changed(f.Name) {
			bind = append(bind, f)
		}
	}
	cfg, err := config.Load(config.Source{File: file, Flags: cmd.Flags(), Bind: bind, Defaults: defaults})
	if err != nil {
		return config.Config{}, usageError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	return cfg, nil
}

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
