package store

// HoldDataDir is a no-op on Windows: there, restore cannot tell whether a
// server uses the data directory; stop the server first.
func HoldDataDir(dir string) (release func(), err error) { return func() {}, nil }

// DataDirInUse always says no on Windows (see HoldDataDir).
func DataDirInUse(dir string) (inUse bool, release func(), err error) {
	return false, func() {}, nil
}
