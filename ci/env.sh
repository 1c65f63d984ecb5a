# shellcheck shell=bash
# Common settings for the ci/ scripts. Source it, do not run it:
#   . "$(dirname "$0")/env.sh"
# Everything is derived from this file's location, so the scripts work from any
# directory and in any clone.

WB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WB_BUILD=$WB_ROOT/build
export WB_ROOT WB_BUILD

# CI's environment may lack the Go toolchain in PATH; it is preinstalled here.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=/usr/local/go/bin:$PATH
	export PATH
fi

# The guest kernel is the newest installed Debian cloud kernel. Its version
# changes with security updates, so it is discovered, never pinned. Empty
# until ci/deps has installed one.
wb_discover_kernel() {
	local newest
	newest=$(find /boot -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n 1)
	VMLINUZ=$newest
	KVER=${newest#/boot/vmlinuz-}
	KERNELDIR=${KVER:+/usr/src/linux-headers-$KVER}
	export VMLINUZ KVER KERNELDIR
}
wb_discover_kernel

# Fails with a clear message when no cloud kernel is installed yet.
wb_require_kernel() {
	if [ -z "$KVER" ]; then
		echo "$(basename "$0"): no /boot/vmlinuz-*-cloud-amd64: run ci/deps first" >&2
		exit 1
	fi
}
