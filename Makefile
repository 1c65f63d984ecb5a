# SPDX-License-Identifier: GPL-2.0
# Builds wbarrier.ko out of tree; KERNELDIR selects the kernel headers.
KERNELDIR ?= /lib/modules/$(shell uname -r)/build

all: module

module:
	$(MAKE) -C $(KERNELDIR) M=$(CURDIR) modules

# Warnings are errors here: W=1 and sparse must stay silent. The module's
# objects are removed first so that every file is compiled (and checked)
# again: kbuild skips up-to-date objects, and their warnings with them. The
# build's own failure fails too (a pipe would hide make's status).
check:
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
	rm -f "$$log" && echo "make check: clean (W=1, sparse)"

# kbuild's clean deletes every *.mod under M=, go.mod included: keep it.
clean:
	cp go.mod .go.mod.keep
	$(MAKE) -C $(KERNELDIR) M=$(CURDIR) clean; rc=$$?; mv .go.mod.keep go.mod; exit $$rc

.PHONY: all module check clean
