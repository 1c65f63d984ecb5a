package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// Exit codes, stable for scripts.
const (
	exitError = 1 // anything that went wrong
	exitUsage = 2 // bad command line
)

// usageError marks an error in the command line itself.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "wbctl",
		Usage: "track file changes with VFS write barriers",
		Description: `wbctl watches a filesystem through the wbarrier kernel module. Every
modifying operation on a watched filesystem queues a change record tagged
with the open epoch. "wbctl barrier" closes the epoch: when it returns, every
change that started before it is in core and recorded in the closed epoch,
and every change that starts after it is recorded in the next one.
"wbctl daemon" drains the records into a log file and seals each closed
epoch there once it is durable.

Most commands need CAP_SYS_ADMIN. A WATCH argument is a watch id or any
path on the watched filesystem.`,
		HideHelpCommand: true,

		Version:              version,
		EnableBashCompletion: true, // see "wbctl completion"
		Action:               rootAction,

		Commands: []*cli.Command{
			watchCommand,
			unwatchCommand,
			barrierCommand,
			statusCommand,
			recordsCommand,
			completionCommand,
			daemonCommand,
			logCommand,
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
	}
}
