/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stack frame of a direct-call stub, shared by direct_tramp.S and
 * direct.c (which checks the pt_regs offsets against the C layout).
 */
#ifndef _WBARRIER_DIRECT_H
#define _WBARRIER_DIRECT_H

/* Stubs in direct_tramp.S: at most this many functions are direct-called. */
#define WB_DIRECT_SLOTS		40

/* Entries of wb_direct_stub_any's table: a power of two above the slots. */
#define WB_DIRECT_HASH		128

/* Offsets in struct pt_regs (x86-64) of what the stub saves. */
#define WB_REGS_R9		64
#define WB_REGS_R8		72
#define WB_REGS_AX		80
#define WB_REGS_CX		88
#define WB_REGS_DX		96
#define WB_REGS_SI		104
#define WB_REGS_DI		112
#define WB_REGS_SP		152
#define WB_REGS_SIZE		168

/* The handlers' per-call data, after the pt_regs. */
#define WB_DIRECT_DATA		WB_REGS_SIZE
#define WB_DIRECT_DATA_SIZE	64

/* Below the saved %rbp; keeps %rsp 16-byte aligned for the C calls. */
#define WB_DIRECT_FRAME		(WB_DIRECT_DATA + WB_DIRECT_DATA_SIZE)

/* struct wb_sb_look, for the stubs. */
#define WB_LOOK_ARG		0
#define WB_LOOK_DEREFS		1
#define WB_LOOK_OFF1		4
#define WB_LOOK_OFF2		8
#define WB_LOOK_OFF3		12
#define WB_LOOK_SIZE		16

#ifndef __ASSEMBLY__
#include <linux/ftrace.h>

/* The most handler data a call may keep in its stub's frame. */
#define WB_DIRECT_MAX_DATA	WB_DIRECT_DATA_SIZE

/*
 * Where a hooked call's superblock is, for a quick look before anything
 * else: argument @arg (0-5) plus @off1, loaded; if @derefs is 2 or more,
 * plus @off2, loaded again; if 3, plus @off3, loaded again. No look if
 * @derefs is 0. A superblock that is not in wb_sb_slots[], or a NULL
 * argument (an anonymous mmap_region()), lets the call go: a stub returns
 * into the function at once.
 */
struct wb_sb_look {
	u8 arg;
	u8 derefs;
	u32 off1;
	u32 off2;
	u32 off3;
} __aligned(WB_LOOK_SIZE);

extern struct wb_sb_look wb_sb_looks[WB_DIRECT_SLOTS];
extern unsigned long wb_direct_hash_bodies[WB_DIRECT_HASH];
extern unsigned long wb_direct_hash_stubs[WB_DIRECT_HASH];
extern u8 wb_direct_by_return;

/*
 * A function called directly. @enter returns non-zero to bracket the call:
 * then @exit runs when it returns, with its value in regs->ax (the other
 * registers of @regs are no longer its arguments). @data is the call's own,
 * WB_DIRECT_MAX_DATA bytes, from enter to exit.
 */
struct wb_direct {
	/* Reached through the wrapper (wrapper.c) instead of a direct call. */
	bool wrapper;
	int (*enter)(struct wb_direct *d, struct pt_regs *regs, void *data);
	void (*exit)(struct wb_direct *d, struct pt_regs *regs, void *data);
	struct ftrace_ops ops;
	unsigned long addr;
	unsigned long stub;
	unsigned int slot;
};

bool wb_direct_choose(void);
int wb_direct_init(struct wb_direct *d, unsigned long addr,
		   const struct wb_sb_look *look);
int wb_direct_arm(struct wb_direct *d);
int wb_direct_disarm(struct wb_direct *d);
int wb_direct_arm_all(void);
int wb_direct_disarm_all(void);
void wb_direct_exit_all(void);

#ifdef WB_TESTING
/* Each function's body, just past its fentry call: for the wrapper stubs. */
extern unsigned long wb_wrapper_bodies[WB_DIRECT_SLOTS];
void wb_wrapper_init(struct wb_direct *d, unsigned long addr, unsigned int slot);
#else
static inline void wb_wrapper_init(struct wb_direct *d, unsigned long addr,
				   unsigned int slot)
{
}
#endif

/* The stubs' calls into C. */
int wb_direct_enter(unsigned int slot, struct pt_regs *regs, void *data);
void wb_direct_exit(unsigned int slot, struct pt_regs *regs, void *data);
#endif /* __ASSEMBLY__ */

#endif /* _WBARRIER_DIRECT_H */
