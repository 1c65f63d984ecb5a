package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The unit must not restart the daemon after an exit that needs a person:
// a restart loop would fail every 5 s for ever.
func TestUnitRestartPrevent(t *testing.T) {
	b, err := os.ReadFile("wbarrier-daemon@.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RestartPreventExitStatus=(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no RestartPreventExitStatus= in the unit")
	}
	got := strings.Fields(string(m[1]))
	for _, code := range []string{"2", "4", "5"} {
		if !slices.Contains(got, code) {
			t.Errorf("RestartPreventExitStatus=%s lacks %s", m[1], code)
		}
	}
	if exitUsage != 2 || exitCorrupt != 4 || exitPerson != 5 {
		t.Errorf("exit codes changed: update the unit")
	}
	if c := exitCode(personError{"x"}); c != exitPerson {
		t.Errorf("exitCode(personError) = %d, want %d", c, exitPerson)
	}
}

// The unit that records the clean unmount drains the daemon's log, and is
// stopped after the unmount: started before the mount.
func TestUnmountUnit(t *testing.T) {
	logOf := func(unit, key string) string {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^` + key + `=.* --log (\S+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s: no %s= with --log", unit, key)
		}
		return string(m[1])
	}
	if d, u := logOf("wbarrier-daemon@.service", "ExecStart"), logOf("wbarrier-unmount@.service", "ExecStop"); d != u {
		t.Errorf("the daemon logs into %s, the unmount unit drains %s", d, u)
	}
	b, err := os.ReadFile("wbarrier-unmount@.service")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Before=.*%i\.mount`).Match(b) {
		t.Error("wbarrier-unmount@ is not ordered before the mount: it would be stopped before the unmount")
	}
	if !regexp.MustCompile(`(?m)^ExecStop=\S*wbctl daemon --once --log \S+$`).Match(b) {
		t.Error("wbarrier-unmount@'s ExecStop is not \"wbctl daemon --once --log LOG\" (no WATCH: the log's)")
	}
}

// Every command of the module's family needs CAP_NET_ADMIN (genetlink's
// GENL_ADMIN_PERM) and CAP_SYS_ADMIN (the module): a unit without either
// fails at its first command with EPERM (tests/100 found it on systemd).
func TestUnitCapabilities(t *testing.T) {
	for _, unit := range []string{"wbarrier-daemon@.service", "wbarrier-unmount@.service"} {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.*)$`).FindSubmatch(b)
		if m == nil {
			continue // no bounding set: every capability root has
		}
		got := strings.Fields(string(m[1]))
		for _, c := range []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"} {
			if !slices.Contains(got, c) {
				t.Errorf("%s: CapabilityBoundingSet=%s lacks %s", unit, m[1], c)
			}
		}
	}
}
