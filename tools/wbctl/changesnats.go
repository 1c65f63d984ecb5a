package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/wbarrier/wbarrier/consumer"
)

// streamChanges answers changes --nats: from what wbctl export published
// of --host's filesystem --fs to --stream, since --since or the cursor of
// the consumer --consumer kept by the server.
func streamChanges(c *cli.Context) (*consumer.Changes, error) {
	for _, f := range []string{"stream", "host", "fs"} {
		if c.String(f) == "" {
			return nil, usageError{"changes --nats: --stream, --host and --fs are required"}
		}
	}
	for _, f := range []string{"log", "until"} {
		if c.IsSet(f) {
			return nil, usageError{fmt.Sprintf("changes --nats: --%s is for a log file, not a stream", f)}
		}
	}
	if err := checkHostFS(c, "changes"); err != nil {
		return nil, err
	}
	var since consumer.Cursor
	if c.IsSet("since") {
		var err error
		if since, err = consumer.ParseCursor(c.String("since")); err != nil {
			return nil, usageError{fmt.Sprintf("changes: --since %q: want N or LOGID:N", c.String("since"))}
		}
	}
	nc, js, err := dialJetStream(c, "wbctl changes", 10*time.Second, false)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer nc.Close()
	if c.String("consumer") != "" {
		return streamConsumerChanges(c, js)
	}
	st, err := consumer.ReadStreamSince(context.Background(), js, c.String("stream"), c.String("host"), c.String("fs"), since)
	if err != nil {
		return nil, err
	}
	return st.Changes(since)
}
