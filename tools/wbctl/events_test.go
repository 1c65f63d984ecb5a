package main

import (
	"encoding/json"
	"testing"

	"github.com/wbarrier/wbarrier/genl"
)

func TestEventOutString(t *testing.T) {
	tests := []struct {
		e    eventOut
		want string
	}{
		{eventOut{Kind: "records", Watch: 1, NextSeq: 5}, "records watch=1 next_seq=5"},
		{eventOut{Kind: "overflow", Watch: 2, Epoch: 7}, "overflow watch=2 epoch=7"},
		{eventOut{Kind: "unmount", Watch: 3, NextSeq: 9}, "unmount watch=3 next_seq=9"},
		{eventOut{Kind: "unwatch", Watch: 4}, "unwatch watch=4"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestEventsUsage(t *testing.T) {
	if _, err := runApp(t, "events", "1", "2"); exitCode(err) != exitUsage {
		t.Errorf("wbctl events 1 2: exit code %d (%v), want %d", exitCode(err), err, exitUsage)
	}
	// A path is a WATCH, resolved by the module (absent here; test 076
	// follows a watch by its mount).
	if _, err := runApp(t, "events", "/mnt"); err == nil || exitCode(err) == exitUsage {
		t.Errorf("wbctl events /mnt: %v (exit code %d), want the module's error, not a usage error", err, exitCode(err))
	}
}

// The watch id has one name in every JSON output: "watch".
func TestWatchIDName(t *testing.T) {
	for _, v := range []any{
		watchJSON(genl.Watch{ID: 7}),
		barrierOut{Watch: 7},
		eventOut{Kind: "records", Watch: 7},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["id"]; ok || m["watch"] != 7.0 {
			t.Errorf("%T prints %s: want the id as \"watch\", and no \"id\"", v, b)
		}
	}
}
