# SPDX-License-Identifier: GPL-2.0
# Builds wbarrier.ko out of tree; KERNELDIR selects the kernel headers.
KERNELDIR ?= /lib/modules/$(shell uname -r)/build
# The module's version is dkms.conf's, so that the two cannot disagree.
VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(CURDIR)/dkms.conf 2>/dev/null)
DESTDIR ?=
# Where dkms looks for the sources of wbarrier-$(VERSION).
DKMS_SRC ?= /usr/src/wbarrier-$(VERSION)

all: module

# WB_TESTING=y adds the tests' fault knobs and the benchmark's wrapper (Kbuild).
module:
	$(MAKE) -C $(KERNELDIR) M=$(CURDIR) modules

# Warnings are errors here: W=1 and sparse must stay silent, in the build
# users install and in the tests' (WB_TESTING=y). The module's objects are
# removed first so that every file is compiled (and checked) again: kbuild
# skips up-to-date objects, and their warnings with them. The build's own
# failure fails too (a pipe would hide make's status).
check:
	@$(MAKE) --no-print-directory check-one WB_TESTING=
	@$(MAKE) --no-print-directory check-one WB_TESTING=y

comma := ,
check-one:
	@rm -f $(CURDIR)/kmod/*.o $(CURDIR)/wbarrier.o
	@log=$$(mktemp) && \
	{ $(MAKE) -C $(KERNELDIR) M=$(CURDIR) W=1 C=2 CF="-D__CHECK_ENDIAN__" \
		modules >"$$log" 2>&1; rc=$$?; } && \
	cat "$$log" && \
	if [ $$rc -ne 0 ]; then \
		rm -f "$$log"; echo "make check: the build failed" >&2; exit 1; \
	fi && \
	if grep -E 'warning:|error:' "$$log" >/dev/null; then \
		rm -f "$$log"; echo "make check: warnings (W=1 or sparse)" >&2; exit 1; \
	fi && \
	rm -f "$$log" && echo "make check: clean (W=1, sparse$(if $(WB_TESTING),$(comma) WB_TESTING=y))"

# Installs the built module for KERNELDIR's kernel under updates/ and runs
# depmod; then "modprobe wbarrier" loads it. With SIGN_KEY and SIGN_CERT (a
# key enrolled as a MOK, e.g. dkms's /var/lib/dkms/mok.key and mok.pub) it
# signs the module first, for Secure Boot. Kbuild's own signing is off: its
# key stays with the kernel's builder.
SIGN_HASH ?= sha256
# The release the headers are for (Debian's kernel.release holds the upstream
# version; the release is in utsrelease.h).
WB_KRELEASE = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KERNELDIR)/include/generated/utsrelease.h)
install: module
ifneq ($(SIGN_KEY),)
	$(KERNELDIR)/scripts/sign-file $(SIGN_HASH) $(SIGN_KEY) $(SIGN_CERT) wbarrier.ko
endif
	$(MAKE) -C $(KERNELDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates CONFIG_MODULE_SIG_ALL= modules_install
	@# Kbuild skips depmod when the headers lack System.map (Debian's do).
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) -a $(WB_KRELEASE)

# Copies the module's sources and dkms.conf to /usr/src/wbarrier-VERSION,
# where "dkms install wbarrier/VERSION" finds them.
dkms-install:
	install -d $(DESTDIR)$(DKMS_SRC)/kmod/uapi
	install -m 0644 Kbuild Makefile dkms.conf $(DESTDIR)$(DKMS_SRC)/
	install -m 0644 kmod/*.c kmod/*.S kmod/*.h $(DESTDIR)$(DKMS_SRC)/kmod/
	install -m 0644 kmod/uapi/*.h $(DESTDIR)$(DKMS_SRC)/kmod/uapi/

# The module's own outputs only: kbuild's clean would delete every *.o, *.a,
# *.ko* and *.mod under this tree, go.mod and the trixie build root's
# libraries and kernel modules (build/trixie) among them.
clean:
	rm -f wbarrier.ko wbarrier.o wbarrier.mod wbarrier.mod.c wbarrier.mod.o \
		.module-common.o modules.order Module.symvers .*.cmd \
		kmod/*.o kmod/.*.cmd

.PHONY: all module check check-one install dkms-install clean
