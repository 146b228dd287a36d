// Command sumprimes is the whole service in one binary: the subcommand
// chooses the role (api, worker, janitor, dev) or a user tool (sum). See README.md.
package main

import (
	"os"

	"github.com/sumprimes/sumprimes/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
