/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The direct-call stubs reached the way livepatch reaches a function, for
 * the benchmark only (WB_TESTING builds): ftrace's register-saving
 * trampoline, redirected here by an IPMODIFY ops, returns with the
 * function's caller on top of the stack; the body's address goes on top of
 * it, as a direct call would have left it.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/unwind_hints.h>
#include "direct.h"

.macro WB_WRAPPER_STUB slot
SYM_FUNC_START(wb_wrapper_stub_\slot)
	ANNOTATE_NOENDBR	/* reached by a return, see direct_tramp.S */
	pushq	wb_wrapper_bodies+\slot*8(%rip)
	UNWIND_HINT_FUNC
	jmp	wb_direct_stub_\slot
SYM_FUNC_END(wb_wrapper_stub_\slot)
.endm

	.text
.irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39
	WB_WRAPPER_STUB \slot
.endr

/* The stubs' addresses, by slot. */
	.section .rodata
	.balign 8
SYM_DATA_START(wb_wrapper_stubs)
.irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39
	.quad	wb_wrapper_stub_\slot
.endr
SYM_DATA_END(wb_wrapper_stubs)
