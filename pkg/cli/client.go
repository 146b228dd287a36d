package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sumprimes/sumprimes/pkg/client"
	"github.com/sumprimes/sumprimes/pkg/job"
)

// apiURL is where the user tools find the API: --api-url, else
// SUMPRIMES_API_URL, else the address `sumprimes dev` listens on.
func apiURL(cmd *cobra.Command) string {
	if u, _ := cmd.Flags().GetString("api-url"); u != "" {
		return u
	}
	if u := os.Getenv("SUMPRIMES_API_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:8080"
}

func addClientFlags(cmd *cobra.Command) {
	cmd.Flags().String("api-url", "", "API base URL (default $SUMPRIMES_API_URL or http://127.0.0.1:8080)")
	cmd.Flags().String("api-key", "", "API key, sent as X-API-Key (default $SUMPRIMES_API_KEY)")
}

func newClient(cmd *cobra.Command, opts ...client.Option) *client.Client {
	key, _ := cmd.Flags().GetString("api-key")
	if key == "" {
		key = os.Getenv("SUMPRIMES_API_KEY")
	}
	return client.New(apiURL(cmd), append([]client.Option{client.WithAPIKey(key)}, opts...)...)
}

// clientError turns an API problem into the CLI's error: the server's own
// sentence, and exit code 2 when the request itself was wrong.
func clientError(err error) error {
	var e *client.Error
	if errors.As(err, &e) {
		msg := e.Detail
		if msg == "" {
			msg = e.Title
		}
		err = fmt.Errorf("%s (HTTP %d)", msg, e.Status)
		if e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity {
			return usageError{err}
		}
	}
	return err
}

func submitCommand(stdout io.Writer) *cobra.Command {
	var (
		wait                     bool
		idempotencyKey, callback string
	)
	cmd := &cobra.Command{
		Use:   "submit A B",
		Short: "Submit [A, B] to the API; print the request id, or with --wait the sum",
		Example: `  sumprimes submit 1 1000000 --wait
  37550402023
  sumprimes submit 1 1000000 --idempotency-key report-2026-11 --output json`,
		Args: twoBounds,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, b, err := bounds(args)
			if err != nil {
				return err
			}
			out, err := outputOf(cmd)
			if err != nil {
				return err
			}
			var opts []client.SubmitOption
			if idempotencyKey != "" {
				opts = append(opts, client.IdempotencyKey(idempotencyKey))
			}
			if callback != "" {
				opts = append(opts, client.CallbackURL(callback))
			}
			c := newClient(cmd)
			rec, err := c.Submit(cmd.Context(), a, b, opts...)
			if err != nil {
				return clientError(err)
			}
			if wait {
				bar := newProgressBar(cmd.ErrOrStderr())
				rec, err = c.Wait(cmd.Context(), rec.RequestID, bar.update)
				bar.done()
				if err != nil {
					return clientError(err)
				}
			}
			switch {
			case out == "json":
				err = printJSON(stdout, rec)
			case !wait:
				fmt.Fprintln(stdout, rec.RequestID)
			case rec.Payload != nil:
				fmt.Fprintln(stdout, *rec.Payload)
			}
			if err == nil && wait && rec.Payload == nil {
				err = fmt.Errorf("request %s ended %s: %s", rec.RequestID, rec.Status, rec.Error)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "wait for the sum, with a progress bar on a terminal")
	f.StringVar(&idempotencyKey, "idempotency-key", "", "makes the submit safe to retry: the same key and range give the same job")
	f.StringVar(&callback, "callback-url", "", "an https URL the API POSTs the final record to when the job ends")
	addOutputFlag(cmd, "text")
	addClientFlags(cmd)
	return cmd
}

// addOutputFlag adds --output: text (what each command prints for people)
// or json (the record, or the result, as JSON).
func addOutputFlag(cmd *cobra.Command, def string) {
	cmd.Flags().StringP("output", "o", def, "text or json")
}

func outputOf(cmd *cobra.Command) (string, error) {
	out, _ := cmd.Flags().GetString("output")
	if out != "text" && out != "json" {
		return "", usageError{fmt.Errorf("--output must be text or json, got %q", out)}
	}
	return out, nil
}

func getCommand(stdout io.Writer) *cobra.Command {
	return recordCommand(stdout, "get ID", "Print a request's record as JSON", (*client.Client).Get)
}

func cancelCommand(stdout io.Writer) *cobra.Command {
	return recordCommand(stdout, "cancel ID", "Cancel a request in progress and print its record", (*client.Client).Cancel)
}

// recordCommand prints as JSON the record that call returns for the ID
// argument.
func recordCommand(stdout io.Writer, use, short string, call func(*client.Client, context.Context, string) (job.Record, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  oneID,
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := outputOf(cmd)
			if err != nil {
				return err
			}
			rec, err := call(newClient(cmd), cmd.Context(), args[0])
			if err != nil {
				return clientError(err)
			}
			if out == "json" {
				return printJSON(stdout, rec)
			}
			fmt.Fprintln(stdout, recordLine(rec))
			return nil
		},
	}
	addOutputFlag(cmd, "json")
	addClientFlags(cmd)
	return cmd
}

// recordLine is a record for people: id, status, then the sum, the
// progress or the error.
func recordLine(rec job.Record) string {
	line := rec.RequestID + " " + string(rec.Status)
	switch {
	case rec.Payload != nil:
		line += " " + *rec.Payload
	case rec.Error != "":
		line += " " + rec.Error
	case rec.Progress != nil:
		line += fmt.Sprintf(" %.0f%%", 100**rec.Progress)
	}
	return line
}

func oneID(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageError{fmt.Errorf("takes one request id, got %d arguments", len(args))}
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progressBar draws on a terminal only: piped output stays clean.
type progressBar struct {
	w    io.Writer
	tty  bool
	last string
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	tty := false
	if ok {
		if fi, err := f.Stat(); err == nil {
			tty = fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progressBar{w: w, tty: tty}
}

func (p *progressBar) update(rec client.Record) {
	if !p.tty {
		return
	}
	frac := 0.0
	if rec.Progress != nil {
		frac = *rec.Progress
	}
	if rec.Status.Final() {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	line := fmt.Sprintf("\r[%s%s] %3.0f%% %s", strings.Repeat("#", n), strings.Repeat(".", width-n), 100*frac, rec.Status)
	if line != p.last {
		fmt.Fprint(p.w, line)
		p.last = line
	}
}

func (p *progressBar) done() {
	if p.tty && p.last != "" {
		fmt.Fprintln(p.w)
	}
}

func listCommand(stdout io.Writer) *cobra.Command {
	var (
		status string
		limit  int
		all    bool
		token  string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the jobs the API keeps, newest first (yours, when it has API keys)",
		Example: `  sumprimes list --status FAILED
  sumprimes list --all --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := outputOf(cmd)
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit must not be negative")}
			}
			c, opt := newClient(cmd), client.ListOptions{Status: status, Limit: limit, PageToken: token}
			var jobs []job.Record
			for {
				page, err := c.List(cmd.Context(), opt)
				if err != nil {
					return clientError(err)
				}
				jobs = append(jobs, page.Jobs...)
				if opt.PageToken = page.NextPageToken; !all || page.NextPageToken == "" {
					break
				}
			}
			if out == "json" {
				return printJSON(stdout, client.Page{Jobs: jobs, NextPageToken: opt.PageToken})
			}
			for _, rec := range jobs {
				fmt.Fprintf(stdout, "%s  [%d, %d]\n", recordLine(rec), rec.A, rec.B)
			}
			if opt.PageToken != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "more: --page-token %s (or --all)\n", opt.PageToken)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only jobs with this status: IN_PROGRESS, FINISHED, FAILED or CANCELLED")
	f.IntVar(&limit, "limit", 0, "jobs per page (0: the API's default, 50)")
	f.BoolVar(&all, "all", false, "follow the pages to the end")
	f.StringVar(&token, "page-token", "", "start at this page (printed after a partial listing)")
	addOutputFlag(cmd, "text")
	addClientFlags(cmd)
	return cmd
}
