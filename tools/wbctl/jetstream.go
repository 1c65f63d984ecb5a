package main

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v2"
)

// The flags of the commands that reach a JetStream stream (export, and
// changes --nats).
var (
	natsFlag   = &cli.StringFlag{Name: "nats", Usage: "the NATS server's `URL`"}
	streamFlag = &cli.StringFlag{Name: "stream", Usage: "the JetStream stream's `NAME`"}
	hostFlag   = &cli.StringFlag{Name: "host", Usage: "the host's `NAME` in the subjects wbarrier.HOST.FS.*"}
	fsFlag     = &cli.StringFlag{Name: "fs", Usage: "the filesystem's `ID` in the subjects wbarrier.HOST.FS.*"}
)

// dialJetStream connects to --nats, waiting timeout at most for an answer;
// with retry, it keeps trying to connect and reconnect for ever. The
// caller closes the connection.
func dialJetStream(c *cli.Context, name string, timeout time.Duration, retry bool) (*nats.Conn, jetstream.JetStream, error) {
	url := c.String("nats")
	opts := []nats.Option{nats.Name(name), nats.Timeout(timeout)}
	if retry {
		opts = append(opts, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s (is the NATS server running there?): %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(timeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream at %s: %w", url, err)
	}
	return nc, js, nil
}
