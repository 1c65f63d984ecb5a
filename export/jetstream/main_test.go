package jetstream_test

import (
	"os"
	"testing"

	"github.com/wbarrier/wbarrier/export/jetstream/jstest"
)

func TestMain(m *testing.M) {
	jstest.ServeIfChild() // the server process of TestServerPaused
	os.Exit(m.Run())
}
