package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// treeState is what a copy must keep of each path under a root: type and
// permissions, owner, content, symlink target, extended attributes (ACLs
// included). Not times, inode numbers or link counts: rsync -a does not
// keep hard links.
func treeState(root string) (map[string]string, error) {
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "lost+found" {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		s := fmt.Sprintf("%o %d:%d", st.Mode, st.Uid, st.Gid)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += fmt.Sprintf(" size=%d sha=%x", len(b), sha256.Sum256(b))
		case unix.S_IFLNK:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			s += " -> " + t
		}
		if rel == "." {
			s = "" // the roots themselves may differ: a mount point, a directory
		}
		x, err := xattrState(p)
		if err != nil {
			return err
		}
		m[rel] = s + x
		return nil
	})
	return m, err
}

// treeCmp SRC DEST: every path under SRC is under DEST with the same state,
// and nothing more.
func treeCmp(a []string) error {
	if len(a) != 2 {
		return errors.New("usage: treecmp SRC DEST")
	}
	src, err := treeState(a[0])
	if err != nil {
		return err
	}
	dst, err := treeState(a[1])
	if err != nil {
		return err
	}
	var diffs []string
	for p, s := range src {
		switch d, ok := dst[p]; {
		case !ok:
			diffs = append(diffs, "missing: "+p)
		case d != s:
			diffs = append(diffs, fmt.Sprintf("differs: %s: %s != %s", p, s, d))
		}
	}
	for p := range dst {
		if _, ok := src[p]; !ok {
			diffs = append(diffs, "extra: "+p)
		}
	}
	sort.Strings(diffs)
	for _, d := range diffs {
		fmt.Fprintln(os.Stderr, d)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%d of %d paths differ", len(diffs), len(src))
	}
	fmt.Fprintf(os.Stderr, "%d paths: the same\n", len(src))
	return nil
}

// runWorkload MOUNT N SEED|random: N random operations of the oracle's
// workload under MOUNT.
func runWorkload(a []string) error {
	if len(a) != 3 {
		return errors.New("usage: workload MOUNT N SEED|random")
	}
	seed := time.Now().UnixNano()
	if a[2] != "random" {
		seed = num(a[2])
	}
	wl := newWorkload(a[0], seed)
	defer wl.unmapHeld()
	for i := 0; i < 3; i++ {
		if err := os.MkdirAll(filepath.Join(a[0], fmt.Sprintf("d%d", i)), 0o755); err != nil {
			return err
		}
	}
	n := int(num(a[1]))
	for i := 0; i < n; i++ {
		wl.step()
	}
	fmt.Fprintf(os.Stderr, "workload %s: seed %d, %d operations %v\n", a[0], seed, n, wl.ran)
	return nil
}
