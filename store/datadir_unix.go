//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// dataDirLock is the file a serving process holds a shared lock on, for
// as long as it serves from the data directory (see HoldDataDir).
const dataDirLock = "userhub.lock"

// HoldDataDir marks dir as in use by a server until release is called
// (or the process exits): a shared flock on dir/userhub.lock, which the
// processes of one data directory may all hold at once.
func HoldDataDir(dir string) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, dataDirLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// DataDirInUse reports whether a server holds dir (HoldDataDir). If not,
// it keeps dir for the caller until release: no server can start on it
// meanwhile.
func DataDirInUse(dir string) (inUse bool, release func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, dataDirLock), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, nil, err
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return true, nil, nil
	}
	if err != nil {
		f.Close()
		return false, nil, err
	}
	return false, func() { f.Close() }, nil
}
