package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// runApp runs wbctl with args, capturing its output.
func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = &out
	err := app.Run(append([]string{"wbctl"}, args...))
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := runApp(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if want := "wbctl version " + version + "\n"; out != want {
		t.Errorf("wbctl --version = %q, want %q", out, want)
	}
}

func TestCompletion(t *testing.T) {
	out, err := runApp(t, "completion", "bash")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "complete -o bashdefault -o default -F _wbctl_complete wbctl") {
		t.Errorf("wbctl completion bash does not register the completion:\n%s", out)
	}
	if _, err := runApp(t, "completion", "tcsh"); exitCode(err) != exitUsage {
		t.Errorf("wbctl completion tcsh: exit code %d (%v), want %d", exitCode(err), err, exitUsage)
	}

	// What the script asks for: the commands, then a command's flags.
	// urfave/cli reads the word before the request from os.Args.
	defer func(old []string) { os.Args = old }(os.Args)
	os.Args = []string{"wbctl", "--generate-bash-completion"}
	out, err = runApp(t, "--generate-bash-completion")
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"watch", "barrier", "daemon", "completion"} {
		if !strings.Contains(out, cmd+"\n") {
			t.Errorf("completion of commands lacks %q:\n%s", cmd, out)
		}
	}
	os.Args = []string{"wbctl", "daemon", "-", "--generate-bash-completion"}
	out, err = runApp(t, os.Args[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "--log") {
		t.Errorf("completion of daemon's flags lacks --log:\n%s", out)
	}
}

// Every command's help shows an example: its own, or, for a subcommand, its
// group's (wbctl consumer --help shows how add, ack and list go together).
func TestExamples(t *testing.T) {
	has := func(c *cli.Command) bool { return strings.Contains(c.Description, "Example") }
	for _, c := range newApp().Commands {
		if len(c.Subcommands) == 0 {
			if !has(c) {
				t.Errorf("%s: no example in its help", c.Name)
			}
			continue
		}
		for _, sc := range c.Subcommands {
			if sc.Name != "help" && !has(sc) && !has(c) {
				t.Errorf("%s %s: no example in its help or its group's", c.Name, sc.Name)
			}
		}
	}
}

func TestNotLoadedAdvice(t *testing.T) {
	write := func(root, p string, b []byte) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		files     map[string][]byte
		want      []string
		wantNot   []string
		secureMsg bool
	}{
		{
			name:    "plain",
			files:   map[string][]byte{"sys/kernel/security/lockdown": []byte("[none] integrity confidentiality\n")},
			want:    []string{"modprobe wbarrier", "insmod wbarrier.ko"},
			wantNot: []string{"signed"},
		},
		{
			name:  "secure boot",
			files: map[string][]byte{secureBootVar: {6, 0, 0, 0, 1}},
			want:  []string{"Secure Boot is on", "Key was rejected by service", "Operation not permitted", "mokutil --import"},
		},
		{
			name:    "secure boot off",
			files:   map[string][]byte{secureBootVar: {6, 0, 0, 0, 0}},
			wantNot: []string{"Secure Boot", "signed"},
		},
		{
			name:  "lockdown",
			files: map[string][]byte{"sys/kernel/security/lockdown": []byte("none [integrity] confidentiality\n")},
			want:  []string{"locked down", "only modules signed"},
		},
		{
			name:  "sig_enforce",
			files: map[string][]byte{"sys/module/module/parameters/sig_enforce": []byte("Y\n")},
			want:  []string{"module.sig_enforce", "only modules signed"},
		},
		{
			name:  "half loaded",
			files: map[string][]byte{"sys/module/wbarrier/refcnt": []byte("0\n")},
			want:  []string{"rmmod wbarrier; modprobe wbarrier"},
		},
	}
	defer func(old string) { sysRoot = old }(sysRoot)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sysRoot = t.TempDir()
			for p, b := range tt.files {
				write(sysRoot, p, b)
			}
			got := notLoadedAdvice()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("advice lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(got, w) {
					t.Errorf("advice has %q:\n%s", w, got)
				}
			}
		})
	}
}

// Unknown commands are usage errors: exit 3 means "rescan required".
func TestUnknownCommand(t *testing.T) {
	for _, args := range [][]string{{"nosuch"}, {"log", "nosuch"}, {"watch", "--nosuch", "/"}, {"log", "dump", "--nosuch", "f"}} {
		if _, err := runApp(t, args...); exitCode(err) != exitUsage {
			t.Errorf("wbctl %s: exit code %d (%v), want %d", strings.Join(args, " "), exitCode(err), err, exitUsage)
		}
	}
	for _, args := range [][]string{{}, {"log"}} {
		if out, err := runApp(t, args...); err != nil || !strings.Contains(out, "USAGE") {
			t.Errorf("wbctl %s: %v, want help, got:\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// A missing --log is a usage error (exit 2) on stderr: nothing on stdout,
// which a script may pipe on (to rsync, say).
func TestMissingLog(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"changes", "--since", "1"}, "changes: --log FILE is required"},
		{[]string{"daemon", "/mnt"}, "daemon: --log FILE is required"},
		{[]string{"consumer", "add", "backup"}, "consumer add: --log FILE is required"},
		{[]string{"consumer", "ack", "backup", "3"}, "consumer ack: --log FILE is required"},
		{[]string{"consumer", "list"}, "consumer list: --log FILE is required"},
		{[]string{"consumer", "rm", "backup"}, "consumer rm: --log FILE is required"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			app := newApp()
			var out, errOut bytes.Buffer
			app.Writer, app.ErrWriter = &out, &errOut
			err := app.Run(append([]string{"wbctl"}, tt.args...))
			if code := exitCode(err); code != exitUsage {
				t.Errorf("exit code %d (%v), want %d", code, err, exitUsage)
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if out.Len() != 0 || errOut.Len() != 0 {
				t.Errorf("printed %q and %q, want nothing (main prints the error)", out.String(), errOut.String())
			}
		})
	}
}
