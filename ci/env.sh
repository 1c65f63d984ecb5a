# shellcheck shell=bash
# Common settings for the ci/ scripts. Source it, do not run it:
#   . "$(dirname "$0")/env.sh"
# Everything is derived from this file's location, so the scripts work from any
# directory and in any clone.
#
# WB_KVER selects the guest kernel (and the headers the module is built
# against): a series such as "6.1" or "6.12", which means the newest installed
# Debian cloud kernel of that series, an exact version such as
# "6.1.0-56-cloud-amd64", or "debug", the kernel ci/debug-kernel built (its
# exact version ends in -wbdebug). Default: 6.1, bookworm's own kernel. The series in
# the CI matrix are WB_KVERS ("6.1 6.12 7.3"): ci/check runs the suite on
# each.
# A series the host's archive does not have (7.3, from trixie-backports) is
# installed into the trixie build root WB_BUILDROOT (ci/buildroot), and its
# modules are built there (wb_kmake).

WB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WB_BUILD=$WB_ROOT/build
WB_BUILDROOT=$WB_BUILD/trixie
WB_KVER=${WB_KVER:-6.1}
WB_KVERS=${WB_KVERS:-"6.1 6.12 7.3"}
# The in-VM tests that ci/check lets skip: the crash and reboot tests need
# two boots (ci/crash), the systemd machine's test a Debian guest
# (ci/systemd).
WB_EXPECTED_SKIPS=${WB_EXPECTED_SKIPS:-060 095 100}
# The series ci/check runs the systemd machine's test on: a DKMS build in
# the TCG guest and two systemd boots take minutes, so one kernel.
WB_SYSD_KVERS=${WB_SYSD_KVERS:-6.1}
# The kernel modules the guest loads for its disks and filesystems (and the
# legacy pmem's, for DAX): ci/initramfs packs them, ci/debug-kernel keeps
# only them.
WB_GUEST_MODS="virtio_pci virtio_blk loop null_blk xfs btrfs nd_e820 nd_pmem"
# ci/debug-kernel's lockdep and KASAN kernel, installed in its root as a
# package would; WB_KVER=debug selects it.
WB_DEBUG_KERNEL=$WB_BUILD/debug-kernel
export WB_ROOT WB_BUILD WB_BUILDROOT WB_KVER WB_KVERS WB_EXPECTED_SKIPS WB_SYSD_KVERS
export WB_GUEST_MODS WB_DEBUG_KERNEL

# CI's environment may lack the Go toolchain in PATH; it is preinstalled here.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	PATH=/usr/local/go/bin:$PATH
	export PATH
fi

# wb_discover_kernel sets, for WB_KVER:
#   KVER       the exact version (empty until ci/deps has installed one)
#   VMLINUZ    the guest kernel image
#   KERNELDIR  its headers
#   KROOT      the root its files are in: empty for the host's, WB_BUILDROOT
#              for a kernel of the build root
#   WB_KBUILD  build/KVER: this kernel's module, initramfs, disks and logs
# The version changes with security updates, so it is discovered, never pinned.
# The host's kernels come first; inside the build root (WB_IN_ROOT) its own
# /boot is the host's.
wb_discover_kernel() {
	local newest= r
	local roots=("")
	[ -n "${WB_IN_ROOT:-}" ] || roots+=("$WB_BUILDROOT")
	case $WB_KVER in debug | *-wbdebug) roots=("$WB_DEBUG_KERNEL/root") ;; esac
	for r in "${roots[@]}"; do
		case $WB_KVER in
		*-cloud-amd64 | *-wbdebug) newest=$r/boot/vmlinuz-$WB_KVER ;;
		debug) newest=$(find "$r/boot" -maxdepth 1 -name 'vmlinuz-*-wbdebug' 2>/dev/null | head -n 1 || true) ;;
		*) # "6.1." does not match 6.12.*: the dot ends the series.
			# No such root yet (a fresh clone): no kernel, not a failure.
			newest=$(find "$r/boot" -maxdepth 1 -name "vmlinuz-$WB_KVER.*-cloud-amd64" 2>/dev/null |
				sort -V | tail -n 1 || true) ;;
		esac
		[ -f "$newest" ] && break
		newest=
	done
	KROOT=
	[ -n "$newest" ] && KROOT=${newest%/boot/vmlinuz-*}
	VMLINUZ=$newest
	KVER=${newest##*/boot/vmlinuz-}
	KERNELDIR=${KVER:+$KROOT/usr/src/linux-headers-$KVER}
	WB_KBUILD=$WB_BUILD/${KVER:-none}
	export VMLINUZ KVER KERNELDIR KROOT WB_KBUILD
}
wb_discover_kernel

# wb_kmake ARGS...: make, run where KERNELDIR's modules can be built: on the
# host, or for a kernel of the build root inside it (a chroot in a private
# mount namespace that sees this tree at its own path, so every path stays
# valid), with trixie's compiler.
wb_kmake() {
	case $KERNELDIR in
	# kbuild writes an external module's objects beside it only when
	# KERNELDIR is the path the root itself knows.
	"$WB_BUILDROOT"/*) wb_in_root make "${@/#KERNELDIR=$WB_BUILDROOT\//KERNELDIR=/}" ;;
	*) make "$@" ;;
	esac
}

# wb_in_root CMD ARGS...: runs CMD in the build root, in the current
# directory, with this tree mounted at its own path, and /proc and /dev
# (objtool reads /proc).
wb_in_root() {
	mkdir -p "$WB_BUILDROOT$WB_ROOT"
	unshare --mount --propagation private -- sh -c '
		mount --bind "$WB_ROOT" "$WB_BUILDROOT$WB_ROOT" &&
		mount -t proc proc "$WB_BUILDROOT/proc" &&
		mount --bind /dev "$WB_BUILDROOT/dev" &&
		exec chroot "$WB_BUILDROOT" sh -c "cd \"\$0\" && exec \"\$@\"" "$0" "$@"' \
		"$PWD" env WB_IN_ROOT=1 PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# Fails with a clear message when no cloud kernel of WB_KVER is installed yet.
wb_require_kernel() {
	if [ -z "$KVER" ]; then
		echo "$(basename "$0"): no /boot/vmlinuz-$WB_KVER*-cloud-amd64: run ci/deps first (WB_KVER=$WB_KVER)" >&2
		exit 1
	fi
}
