// Package buildinfo says which build of userhub is running: its version
// and the VCS revision it was built from, read from the binary's own build
// information (go build stamps it from git; make build asks for it with
// -buildvcs=auto, which a GOFLAGS of -buildvcs=false would otherwise turn
// off). The version command, the start-up line, /healthz and the
// build-info metric all show it.
package buildinfo

import (
	"runtime/debug"
	"strings"
	"sync"
)

// Info is the build's identity.
type Info struct {
	Version  string // "v1.2.3", or "devel" for a build from a working tree
	Revision string // the git commit, "" when unknown
	Time     string // the commit's time (RFC 3339), "" when unknown
	Modified bool   // built from a tree with uncommitted changes
}

// Get returns the running binary's Info.
var Get = sync.OnceValue(func() Info {
	info := Info{Version: "devel"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		info.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
})

// String is the one-line form: the version, which for a build from a git
// tree is a pseudo-version naming the commit and its time
// ("v0.0.0-20261201192317-f8ade2a1c65c", "+dirty" with uncommitted
// changes), and the revision when the version does not name it.
func (i Info) String() string {
	if i.Revision != "" && !strings.Contains(i.Version, i.Short()) {
		return i.Version + " (revision " + i.Short() + ")"
	}
	return i.Version
}

// Short is the revision's first 12 characters.
func (i Info) Short() string { return i.Revision[:min(12, len(i.Revision))] }
