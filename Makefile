# SPDX-License-Identifier: GPL-2.0
# Builds wbarrier.ko out of tree; KERNELDIR selects the kernel headers.
KERNELDIR ?= /lib/modules/$(shell uname -r)/build

all: module

module:
	$(MAKE) -C $(KERNELDIR) M=$(CURDIR) modules

# Warnings are errors here: W=1 and sparse must stay silent.
check:
	$(MAKE) -C $(KERNELDIR) M=$(CURDIR) W=1 C=2 CF="-D__CHECK_ENDIAN__" modules 2>&1 | tee /dev/stderr | \
		(! grep -E 'warning:|error:')

clean:
	$(MAKE) -C $(KERNELDIR) M=$(CURDIR) clean

.PHONY: all module check clean
