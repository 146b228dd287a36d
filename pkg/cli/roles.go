package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/sumprimes/sumprimes/api"
	"github.com/sumprimes/sumprimes/janitor"
	"github.com/sumprimes/sumprimes/pkg/embedded"
	"github.com/sumprimes/sumprimes/worker"
)

func apiCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API (stateless; run as many replicas as you like)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, cmd.ErrOrStderr()).With("role", "api")
			ln, err := net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return usageError{fmt.Errorf("http.addr: %w", err)}
			}
			return api.Run(cmd.Context(), cfg, ln, log)
		},
	}
	addServiceFlags(cmd)
	return cmd
}

func workerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Consume jobs from Kafka, compute them and store the results in Redis",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, cmd.ErrOrStderr()).With("role", "worker")
			return worker.Run(cmd.Context(), cfg, log)
		},
	}
	addServiceFlags(cmd)
	return cmd
}

func janitorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "janitor",
		Short: "Recover lost jobs and drain the dead-letter topic (one active at a time; replicas are safe)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, cmd.ErrOrStderr()).With("role", "janitor")
			return janitor.Run(cmd.Context(), cfg, log)
		},
	}
	addServiceFlags(cmd)
	return cmd
}

func devCommand(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run every role in one process on an embedded broker and store (needs nothing but this binary)",
		Long: `dev starts an in-process Kafka-protocol broker and Redis-protocol store, then
runs the api, worker and janitor roles through the same start-up path as
production.
It listens on 127.0.0.1:8080 unless http.addr says otherwise. Nothing is
persisted: use it to try the service, not to run it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, map[string]any{"http.addr": "127.0.0.1:8080", "metrics.addr": ""})
			if err != nil {
				return err
			}
			log := newLogger(cfg.Log, cmd.ErrOrStderr())
			ln, err := net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return usageError{fmt.Errorf("http.addr: %w", err)}
			}
			stack, err := embedded.Start()
			if err != nil {
				ln.Close()
				return err
			}
			defer stack.Close()
			cfg.Kafka.Brokers = stack.KafkaBrokers()
			cfg.Redis.Addrs = []string{stack.RedisAddr()}
			log.Info("embedded broker and store up", "kafka", strings.Join(cfg.Kafka.Brokers, ","), "redis", stack.RedisAddr())
			printWelcome(stdout, ln.Addr())
			return runRoles(cmd.Context(),
				func(ctx context.Context) error { return api.Run(ctx, cfg, ln, log.With("role", "api")) },
				func(ctx context.Context) error { return worker.Run(ctx, cfg, log.With("role", "worker")) },
				func(ctx context.Context) error { return janitor.Run(ctx, cfg, log.With("role", "janitor")) },
			)
		},
	}
	addServiceFlags(cmd)
	return cmd
}

// runRoles runs roles side by side until ctx ends or one fails, which stops
// the others.
func runRoles(ctx context.Context, roles ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, run := range roles {
		g.Go(func() error {
			err := run(ctx)
			if err == nil && ctx.Err() == nil {
				err = fmt.Errorf("role stopped unexpectedly")
			}
			return err
		})
	}
	return g.Wait()
}

func printWelcome(w io.Writer, addr net.Addr) {
	url := "http://" + addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		url = fmt.Sprintf("http://127.0.0.1:%d", tcp.Port)
	}
	fmt.Fprintf(w, `sumprimes dev is up on %[1]s (Ctrl-C to stop)

  curl -s -XPOST %[1]s/sumPrime -H 'Content-Type: application/json' -d '{"a":1,"b":1000000}'
  curl -s %[1]s/sumPrime/<requestId>

`, url)
}
