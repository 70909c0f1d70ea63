//go:build unix

package cli

import (
	"os"
	"syscall"
)

// fileOwner is the uid that owns a file.
func fileOwner(info os.FileInfo) (int, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
