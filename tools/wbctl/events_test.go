package main

import "testing"

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
	for _, args := range [][]string{
		{"events", "/mnt"},
		{"events", "1", "2"},
	} {
		if _, err := runApp(t, args...); exitCode(err) != exitUsage {
			t.Errorf("wbctl %v: exit code %d (%v), want %d", args, exitCode(err), err, exitUsage)
		}
	}
}
