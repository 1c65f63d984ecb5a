package jetstream

import (
	"fmt"
	"strings"

	"github.com/wbarrier/wbarrier/export"
)

// SubjectPrefix starts every subject the sink publishes on:
//
//	wbarrier.HOST.FS.records   the batches of records of HOST's filesystem FS
//	wbarrier.HOST.FS.seal      the seals of its epochs
//
// so that one stream with the subject filter "wbarrier.>" holds a fleet,
// and a reader picks a host ("wbarrier.web1.>") or a filesystem.
const SubjectPrefix = "wbarrier"

// The last token of a subject: what its messages are.
const (
	KindRecords = "records"
	KindSeal    = "seal"
)

// Subject returns the subject of src's messages of the kind given.
func Subject(src export.Source, kind string) string {
	return SubjectPrefix + "." + src.Host + "." + src.FS + "." + kind
}

// CheckToken returns an error unless s can be a subject's token: not
// empty, only letters, digits, '-' and '_' (no '.', wildcard or space).
func CheckToken(what, s string) error {
	if s == "" {
		return fmt.Errorf("jetstream: the %s is empty", what)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("jetstream: the %s %q has %q: a subject token takes letters, digits, '-' and '_'", what, s, c)
		}
	}
	return nil
}

// parseSubject returns the host, filesystem and kind of a sink's subject.
func parseSubject(subj string) (host, fs, kind string, err error) {
	t := strings.Split(subj, ".")
	if len(t) != 4 || t[0] != SubjectPrefix || (t[3] != KindRecords && t[3] != KindSeal) {
		return "", "", "", fmt.Errorf("jetstream: %q is not a subject of wbarrier's (%s.HOST.FS.records or .seal)", subj, SubjectPrefix)
	}
	return t[1], t[2], t[3], nil
}
