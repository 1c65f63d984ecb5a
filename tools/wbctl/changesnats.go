package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wbarrier/wbarrier/consumer"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
)

// streamChanges answers changes --nats: from what wbctl export published
// of --host's filesystem --fs to --stream, since --since.
func streamChanges(c *cli.Context) (*consumer.Changes, error) {
	for _, f := range []string{"stream", "host", "fs", "since"} {
		if c.String(f) == "" {
			return nil, usageError{"changes --nats: --stream, --host, --fs and --since are required"}
		}
	}
	for _, f := range []string{"log", "consumer", "until"} {
		if c.IsSet(f) {
			return nil, usageError{fmt.Sprintf("changes --nats: --%s is for a log file, not a stream", f)}
		}
	}
	for _, f := range []string{"host", "fs"} {
		if err := wbjs.CheckToken(f, c.String(f)); err != nil {
			return nil, usageError{"changes: " + err.Error()}
		}
	}
	since, err := consumer.ParseCursor(c.String("since"))
	if err != nil {
		return nil, usageError{fmt.Sprintf("changes: --since %q: want N or LOGID:N", c.String("since"))}
	}
	nc, js, err := dialJetStream(c, "wbctl changes", 10*time.Second, false)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer nc.Close()
	st, err := consumer.ReadStreamSince(context.Background(), js, c.String("stream"), c.String("host"), c.String("fs"), since)
	if err != nil {
		return nil, err
	}
	return st.Changes(since)
}
