package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// sysRoot prefixes the /sys paths read by notLoadedAdvice (tests point it
// at a fake tree).
var sysRoot = "/"

// The EFI global variable SecureBoot: 4 bytes of attributes, then 1 when
// Secure Boot is on.
const secureBootVar = "sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

// notLoadedAdvice says how to load the module when its netlink family is
// missing and, when the kernel accepts only signed modules, why loading an
// unsigned one fails and what to do about it.
func notLoadedAdvice() string {
	read := func(p string) []byte {
		b, _ := os.ReadFile(filepath.Join(sysRoot, p))
		return b
	}
	var b strings.Builder
	if _, err := os.Stat(filepath.Join(sysRoot, "sys/module/wbarrier")); err == nil {
		// Loaded, yet no family: it failed half-way or is unloading.
		b.WriteString("the module is present but has no netlink family: reload it with: rmmod wbarrier; modprobe wbarrier")
	} else {
		b.WriteString("load it with: modprobe wbarrier (installed with DKMS), or insmod wbarrier.ko")
	}

	var why []string
	if v := read(secureBootVar); len(v) == 5 && v[4] == 1 {
		why = append(why, "Secure Boot is on")
	}
	if bytes.Equal(bytes.TrimSpace(read("sys/module/module/parameters/sig_enforce")), []byte("Y")) {
		why = append(why, "module.sig_enforce is set")
	}
	// "none [integrity] confidentiality": the bracketed mode is in force.
	if l := string(read("sys/kernel/security/lockdown")); l != "" && !strings.Contains(l, "[none]") {
		why = append(why, "the kernel is locked down")
	}
	if len(why) > 0 {
		b.WriteString("\n" + strings.Join(why, ", ") +
			`: the kernel loads only modules signed with a key it trusts. If loading fails with` +
			` "Key was rejected by service" (signatures enforced) or "Operation not permitted" (lockdown),` +
			" sign the module and enroll its key (for DKMS: mokutil --import /var/lib/dkms/mok.pub, then reboot" +
			" and confirm in the MOK manager); see docs/install.md")
	}
	return b.String()
}
