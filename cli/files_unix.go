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

// chownLike gives path the owner and group of like (the data directory):
// a file an operator made as root stays usable by the service's user.
func chownLike(path, like string) error {
	info, err := os.Stat(like)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return os.Chown(path, int(st.Uid), int(st.Gid))
}
