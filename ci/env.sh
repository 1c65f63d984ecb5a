# shellcheck shell=bash
# Common settings for the ci/ scripts. Source it, do not run it:
#   . "$(dirname "$0")/env.sh"
# Everything is derived from this file's location, so the scripts work from any
# directory and in any clone.
#
# WB_KVER selects the guest kernel (and the headers the module is built
# against): a series such as "6.1" or "6.12", which means the newest installed
# Debian cloud kernel of that series, or an exact version such as
# "6.1.0-56-cloud-amd64". Default: 6.1, bookworm's own kernel. The series in
# the CI matrix are WB_KVERS ("6.1 6.12"): ci/check runs the suite on each.

WB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WB_BUILD=$WB_ROOT/build
WB_KVER=${WB_KVER:-6.1}
WB_KVERS=${WB_KVERS:-"6.1 6.12"}
# The in-VM tests that ci/check lets skip: the crash test needs two boots.
WB_EXPECTED_SKIPS=${WB_EXPECTED_SKIPS:-060}
export WB_ROOT WB_BUILD WB_KVER WB_KVERS WB_EXPECTED_SKIPS

# CI's environment may lack the Go toolchain in PATH; it is preinstalled here.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=/usr/local/go/bin:$PATH
	export PATH
fi

# wb_discover_kernel sets, for WB_KVER:
#   KVER       the exact version (empty until ci/deps has installed one)
#   VMLINUZ    the guest kernel image
#   KERNELDIR  its headers
#   WB_KBUILD  build/KVER: this kernel's module, initramfs, disks and logs
# The version changes with security updates, so it is discovered, never pinned.
wb_discover_kernel() {
	local newest
	case $WB_KVER in
	*-cloud-amd64) newest=/boot/vmlinuz-$WB_KVER ;;
	*) # "6.1." does not match 6.12.*: the dot ends the series.
		newest=$(find /boot -maxdepth 1 -name "vmlinuz-$WB_KVER.*-cloud-amd64" 2>/dev/null |
			sort -V | tail -n 1) ;;
	esac
	[ -f "$newest" ] || newest=
	VMLINUZ=$newest
	KVER=${newest#/boot/vmlinuz-}
	KERNELDIR=${KVER:+/usr/src/linux-headers-$KVER}
	WB_KBUILD=$WB_BUILD/${KVER:-none}
	export VMLINUZ KVER KERNELDIR WB_KBUILD
}
wb_discover_kernel

# Fails with a clear message when no cloud kernel of WB_KVER is installed yet.
wb_require_kernel() {
	if [ -z "$KVER" ]; then
		echo "$(basename "$0"): no /boot/vmlinuz-$WB_KVER*-cloud-amd64: run ci/deps first (WB_KVER=$WB_KVER)" >&2
		exit 1
	fi
}
