package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// An unknown command or flag is a usage error (exit 2) at every level.
// Left to itself, urfave/cli shows "No help topic" and exits with 3 (which
// means "rescan required" here) for an unknown command, and reports a bad
// flag of a command through the command's own OnUsageError, not the app's.

// rootAction runs for "wbctl" without a known command.
func rootAction(ctx *cli.Context) error {
	if ctx.NArg() > 0 {
		return usageError{fmt.Sprintf("no such command %q (see wbctl --help)", ctx.Args().First())}
	}
	return cli.ShowAppHelp(ctx)
}

// groupAction runs for a command that only groups subcommands ("wbctl log")
// when no known subcommand follows it.
func groupAction(ctx *cli.Context) error {
	if ctx.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: no such command %q (see wbctl %s --help)",
			ctx.Command.Name, ctx.Args().First(), ctx.Command.Name)}
	}
	return cli.ShowSubcommandHelp(ctx)
}

func init() {
	app := newApp()
	var setup func(cmds []*cli.Command)
	setup = func(cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Action == nil && len(c.Subcommands) > 0 {
				c.Action = groupAction
			}
			if c.OnUsageError == nil {
				c.OnUsageError = app.OnUsageError
			}
			setup(c.Subcommands)
		}
	}
	setup(app.Commands)
}
