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

// Every command of the module's family needs CAP_NET_ADMIN (genetlink's
// GENL_ADMIN_PERM) and CAP_SYS_ADMIN (the module): a unit without either
// fails at its first watch with EPERM (tests/100 found it on systemd).
func TestUnitCapabilities(t *testing.T) {
	b, err := os.ReadFile("wbarrier-daemon@.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CapabilityBoundingSet=(.*)$`).FindSubmatch(b)
	if m == nil {
		return // no bounding set: every capability root has
	}
	got := strings.Fields(string(m[1]))
	for _, c := range []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"} {
		if !slices.Contains(got, c) {
			t.Errorf("CapabilityBoundingSet=%s lacks %s", m[1], c)
		}
	}
}
