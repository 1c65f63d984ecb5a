/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Direct-call stubs, one per slot. ftrace calls a stub from the fentry site
 * of its function: on entry, 0(%rsp) is the function's body (just past that
 * site) and 8(%rsp) the function's caller.
 *
 * The stub first looks at the call's superblock (wb_sb_looks[slot]): if
 * no watch has it, the stub returns into the body at once. Otherwise it
 * saves the argument registers as a struct pt_regs and calls
 * wb_direct_enter(slot, regs, data). If that returns 0, the stub returns
 * into the body, which runs as if never stopped. Otherwise the stub calls
 * the body itself, with the same arguments (by a return under indirect
 * branch tracking: WB_JUMP_BY_RETURN), saves its return value in the
 * pt_regs, calls wb_direct_exit(slot, regs, data) and returns the value to
 * the function's caller. Only functions whose arguments are all in
 * registers may be direct-called: the body of a function called from here
 * would find its stack arguments moved.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>
#include "direct.h"

/* Renamed in 6.4. */
#ifdef UNWIND_HINT_TYPE_UNDEFINED
#define WB_UNWIND_HINT_UNDEFINED UNWIND_HINT_UNDEFINED
#else
#define WB_UNWIND_HINT_UNDEFINED UNWIND_HINT_EMPTY
#endif

/*
 * Jumps to the address in \reg with the stack as it was, by a return: a
 * call pushes an address, which \reg replaces. Indirect branch tracking
 * lets a branch through a register reach only an ENDBR, and a function's
 * body has none; it does not track returns. The return's predicted target
 * is a pause loop, as in a retpoline.
 */
.macro WB_JUMP_BY_RETURN reg
	ANNOTATE_INTRA_FUNCTION_CALL
	call	.Lwb_rop_\@
.Lwb_trap_\@:
	WB_UNWIND_HINT_UNDEFINED
	pause
	lfence
	jmp	.Lwb_trap_\@
.Lwb_rop_\@:
	movq	%\reg, (%rsp)
	UNWIND_HINT_FUNC
#ifdef CONFIG_MITIGATION_CALL_DEPTH_TRACKING
	CALL_DEPTH_ACCOUNT	/* the call above was not counted */
#endif
	RET
.endm

.macro WB_SAVE_ARGS
	movq	%rdi, WB_REGS_DI(%rsp)
	movq	%rsi, WB_REGS_SI(%rsp)
	movq	%rdx, WB_REGS_DX(%rsp)
	movq	%rcx, WB_REGS_CX(%rsp)
	movq	%r8, WB_REGS_R8(%rsp)
	movq	%r9, WB_REGS_R9(%rsp)
.endm

.macro WB_RESTORE_ARGS
	movq	WB_REGS_DI(%rsp), %rdi
	movq	WB_REGS_SI(%rsp), %rsi
	movq	WB_REGS_DX(%rsp), %rdx
	movq	WB_REGS_CX(%rsp), %rcx
	movq	WB_REGS_R8(%rsp), %r8
	movq	WB_REGS_R9(%rsp), %r9
.endm

/*
 * The quick look: goes on to 9f if the call's superblock may be watched,
 * else returns into the body. Only %rax, %r10 and %r11, which no function
 * reads at its entry, are changed (ftrace's own trampolines change them).
 */
.macro WB_QUICK_LOOK slot
	leaq	wb_sb_looks+\slot*WB_LOOK_SIZE(%rip), %r11
	cmpb	$0, WB_LOOK_DEREFS(%r11)
	je	9f
	movzbl	WB_LOOK_ARG(%r11), %eax
	movq	%rdi, %r10
	cmpb	$0, %al
	je	2f
	movq	%rsi, %r10
	cmpb	$1, %al
	je	2f
	movq	%rdx, %r10
	cmpb	$2, %al
	je	2f
	movq	%rcx, %r10
	cmpb	$3, %al
	je	2f
	movq	%r8, %r10
	cmpb	$4, %al
	je	2f
	movq	%r9, %r10
	cmpb	$5, %al
	jne	9f
2:	testq	%r10, %r10		/* no object (mmap_region's file) */
	jz	8f
	movl	WB_LOOK_OFF1(%r11), %eax
	movq	(%r10,%rax), %r10
	cmpb	$2, WB_LOOK_DEREFS(%r11)
	jb	3f
	movl	WB_LOOK_OFF2(%r11), %eax
	movq	(%r10,%rax), %r10
	cmpb	$3, WB_LOOK_DEREFS(%r11)
	jne	3f
	movl	WB_LOOK_OFF3(%r11), %eax
	movq	(%r10,%rax), %r10
	/* %r10: the superblock; see wb_sb_maybe_watched() */
3:	cmpl	$0, wb_sb_slotless(%rip)
	jne	9f
	movl	wb_sb_slots_used(%rip), %eax
	leaq	wb_sb_slots(%rip), %r11
4:	testl	%eax, %eax
	jz	8f
	decl	%eax
	cmpq	%r10, (%r11,%rax,8)
	jne	4b
	jmp	9f
8:	RET
9:
.endm

/* handler(slot, regs, data) */
.macro WB_CALL_HANDLER handler, slot
	movl	$\slot, %edi
	movq	%rsp, %rsi
	leaq	WB_DIRECT_DATA(%rsp), %rdx
	call	\handler
.endm

.macro WB_STUB slot
SYM_FUNC_START(wb_direct_stub_\slot)
	/*
	 * Reached by the direct call that ftrace patches in, by a return
	 * (the wrapper; wb_direct_stub_any under indirect branch tracking),
	 * or by wb_direct_stub_any's branch through a register where nothing
	 * tracks it: no ENDBR needed.
	 */
	ANNOTATE_NOENDBR
#ifdef CONFIG_MITIGATION_CALL_DEPTH_TRACKING
	CALL_DEPTH_ACCOUNT
#endif
	WB_QUICK_LOOK \slot
	pushq	%rbp
	movq	%rsp, %rbp
	subq	$WB_DIRECT_FRAME, %rsp
	WB_SAVE_ARGS
	/* regs->sp as at the function's entry: at its return address */
	leaq	16(%rbp), %rax
	movq	%rax, WB_REGS_SP(%rsp)
	WB_CALL_HANDLER wb_direct_enter, \slot
	testl	%eax, %eax
	jz	1f

	WB_RESTORE_ARGS
	movq	8(%rbp), %rax
	cmpb	$0, wb_direct_by_return(%rip)
	jne	5f
	CALL_NOSPEC rax
	jmp	6f
5:	call	wb_direct_call_rax
6:	movq	%rax, WB_REGS_AX(%rsp)
	movq	%rdx, WB_REGS_DX(%rsp)
	WB_CALL_HANDLER wb_direct_exit, \slot
	movq	WB_REGS_AX(%rsp), %rax
	movq	WB_REGS_DX(%rsp), %rdx
	leave
	/* Drop the body's address: return to the function's caller. */
	addq	$8, %rsp
	UNWIND_HINT_FUNC
	RET

1:	WB_RESTORE_ARGS
	leave
	RET
SYM_FUNC_END(wb_direct_stub_\slot)
.endm

	.text
.irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39
	WB_STUB \slot
.endr

/*
 * The one address that wb_direct_all, every function's direct call, calls:
 * jumps to the function's own stub, the one that wb_direct_hash_stubs
 * holds where wb_direct_hash_bodies holds its body, 0(%rsp) (direct.c).
 * Changes only %rax, %r10 and %r11, as the quick look does. The stub
 * counts the call's depth; a body not found (none is) returns into it.
 */
SYM_FUNC_START(wb_direct_stub_any)
	ANNOTATE_NOENDBR
	movq	(%rsp), %rax
	movq	%rax, %r10
	shrq	$4, %r10
	leaq	wb_direct_hash_bodies(%rip), %r11
1:	andl	$(WB_DIRECT_HASH - 1), %r10d
	cmpq	%rax, (%r11,%r10,8)
	je	2f
	cmpq	$0, (%r11,%r10,8)
	je	3f
	incl	%r10d
	jmp	1b
2:	leaq	wb_direct_hash_stubs(%rip), %r11
	movq	(%r11,%r10,8), %r11
	cmpb	$0, wb_direct_by_return(%rip)
	jne	4f
	JMP_NOSPEC r11
4:	WB_JUMP_BY_RETURN r11
3:
#ifdef CONFIG_MITIGATION_CALL_DEPTH_TRACKING
	CALL_DEPTH_ACCOUNT
#endif
	RET
SYM_FUNC_END(wb_direct_stub_any)

/*
 * Called by a stub, with the function's body in %rax, when it must not
 * branch there through a register (wb_direct_by_return): the body runs as
 * if the stub had called it, and returns into the stub.
 */
SYM_FUNC_START(wb_direct_call_rax)
	WB_JUMP_BY_RETURN rax
SYM_FUNC_END(wb_direct_call_rax)

/* The stubs' addresses, by slot. */
	.section .rodata
	.balign 8
SYM_DATA_START(wb_direct_stubs)
.irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39
	.quad	wb_direct_stub_\slot
.endr
SYM_DATA_END(wb_direct_stubs)
