/* SPDX-License-Identifier: GPL-2.0 */
/* Kernel version differences, in one place; force-included into every file. */
#ifndef _WBARRIER_COMPAT_H
#define _WBARRIER_COMPAT_H
#endif
