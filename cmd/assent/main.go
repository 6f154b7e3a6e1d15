// Command assent is Assent's single binary: the server, the administration
// commands and the tools around them.
package main

import (
	"os"

	"github.com/assent-auth/assent/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
