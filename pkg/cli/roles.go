package cli

import (
	"fmt"
	"io"
	"net"
	"slices"

	"github.com/spf13/cobra"

	"github.com/sumprimes/sumprimes/internal/app"
)

// roleCommand runs targets from the module map until a signal stops them.
func roleCommand(use, short string, targets ...app.Module) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, nil)
			if err != nil {
				return err
			}
			tuneGC()
			opts := app.Options{Config: cfg, Log: newLogger(cfg.Log, cmd.ErrOrStderr())}
			if slices.Contains(targets, app.API) {
				if opts.Listener, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
					return usageError{fmt.Errorf("http.addr: %w", err)}
				}
			}
			return app.Run(cmd.Context(), opts, targets...)
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
runs the api, worker and janitor roles through the same module map as
production, sharing one set of clients.
It listens on 127.0.0.1:8080 unless http.addr says otherwise. Nothing is
persisted: use it to try the service, not to run it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd, map[string]any{"http.addr": "127.0.0.1:8080", "metrics.addr": "", "http.public_metrics": true})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", cfg.HTTP.Addr)
			if err != nil {
				return usageError{fmt.Errorf("http.addr: %w", err)}
			}
			tuneGC()
			return app.Run(cmd.Context(), app.Options{
				Config:   cfg,
				Log:      newLogger(cfg.Log, cmd.ErrOrStderr()),
				Listener: ln,
				Started:  func() { printWelcome(stdout, ln.Addr()) },
			}, app.Dev...)
		},
	}
	addServiceFlags(cmd)
	return cmd
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
