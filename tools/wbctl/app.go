package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v2"
	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/consumer"
)

// Exit codes, stable for scripts.
const (
	exitError   = 1 // anything that went wrong
	exitUsage   = 2 // bad command line
	exitRescan  = 3 // changes: the log cannot vouch for the range; rescan
	exitCorrupt = 4 // the log is corrupt: damage before its tail (changelog.ErrCorrupt)
	exitPerson  = 5 // daemon: it cannot go on until a person acts (personError)
	exitTimeout = 6 // barrier, unwatch: --timeout passed; the kernel finishes later by itself
)

// personError is what the daemon cannot get past by being restarted: the
// message says what a person must do. Exit code exitPerson, which the
// systemd unit's RestartPreventExitStatus= lists.
type personError struct{ msg string }

func (e personError) Error() string { return e.msg }

// usageError marks an error in the command line itself.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	var re *consumer.RescanError
	var pe personError
	switch {
	case errors.As(err, &pe):
		return exitPerson
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &re):
		return exitRescan
	case errors.Is(err, changelog.ErrCorrupt):
		return exitCorrupt
	case errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
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
path on the watched filesystem.

Exit status:
   0  success
   1  any other error
   2  bad command line
   3  "rescan required" (changes): an epoch in the range is not sealed or is
      lossy, so the log cannot say what changed; the consumer must rescan
      (on lazytime mounts not by ctime alone: timestamps may be stale on
      disk after a crash)
   4  the log file is corrupt (damage before its tail; log verify, changes,
      log dump, daemon)
   5  the daemon cannot go on until a person acts: the message says what
      to do (restarting it does not help)
   6  barrier --timeout passed before the epoch closed (it closes later,
      by itself, once its operations finish)`,
		HideHelpCommand: true,

		Version:              version,
		EnableBashCompletion: true, // see "wbctl completion"
		Action:               rootAction,

		Commands: []*cli.Command{
			watchCommand,
			unwatchCommand,
			barrierCommand,
			syncCommand,
			statusCommand,
			recordsCommand,
			completionCommand,
			daemonCommand,
			logCommand,
			changesCommand,
			consumerCommand,
			exportCommand,
			eventsCommand,
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
	}
}
