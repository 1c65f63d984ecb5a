// Package jstest runs a NATS server with JetStream inside a test, on
// 127.0.0.1 with its store in a temporary directory, for the tests of the
// JetStream exporter and of the commands built on it.
package jstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wbarrier/wbarrier/changelog"
	"github.com/wbarrier/wbarrier/export"
	wbjs "github.com/wbarrier/wbarrier/export/jetstream"
)

// Server is an embedded NATS server that a test can stop and start again
// on the same port and store.
type Server struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// Start starts a server on a free port of 127.0.0.1, with JetStream storing
// in a temporary directory of t; t's cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, opts: options(t.TempDir())}
	s.start()
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	srv, err := run(s.opts)
	if err != nil {
		s.t.Fatal(err)
	}
	s.srv = srv
}

// NewServer starts a server on a free port of 127.0.0.1 with JetStream
// storing in dir, for a program or an Example (Start is for a test); its
// Shutdown stops it.
func NewServer(dir string) (*server.Server, error) { return run(options(dir)) }

// options are a server's on a free port of 127.0.0.1, storing in dir.
func options(dir string) server.Options {
	return server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
}

// run starts a server and waits until it takes connections.
func run(opts server.Options) (*server.Server, error) {
	srv, err := server.NewServer(&opts)
	if err != nil {
		return nil, fmt.Errorf("jstest: new server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("jstest: the server is not ready after 10s")
	}
	return srv, nil
}

// URL is the server's client URL.
func (s *Server) URL() string { return s.srv.ClientURL() }

// Stop shuts the server down; it can be started again by Restart.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts it again on the same port with the
// same store.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Connect returns a connection to the server that reconnects for ever and
// a JetStream context on it; t's cleanup closes it.
func (s *Server) Connect() (*nats.Conn, jetstream.JetStream) {
	s.t.Helper()
	nc, js, err := Dial(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	return nc, js
}

// Dial connects to the server at url and returns the connection, which the
// caller closes, and a JetStream context on it.
func Dial(url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("jstest: connecting to %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jstest: jetstream: %w", err)
	}
	return nc, js, nil
}

// ExportLog publishes the sealed epochs of the log at path, every one, to
// the stream named (created by wbjs.CreateStream if missing) as src's, as
// wbctl export does: for a test or an Example on the reading side.
func ExportLog(ctx context.Context, js jetstream.JetStream, stream, path string, src export.Source, opt export.Options) (export.Progress, error) {
	if err := wbjs.CreateStream(ctx, js, stream); err != nil {
		return export.Progress{}, err
	}
	sink, err := wbjs.New(ctx, js, stream)
	if err != nil {
		return export.Progress{}, err
	}
	l, err := changelog.Open(path)
	if err != nil {
		return export.Progress{}, err
	}
	return export.Export(ctx, l, src, sink, opt)
}
