package cachedstore

// FileSignal on Windows is a LocalSignal: cluster mode, the only case of
// several serving processes, is refused there, and a change made by the
// `userhub user` command is seen once cached entries age out (within a
// second).
type FileSignal struct{ LocalSignal }

// OpenFileSignal returns a process-local signal; path is not used.
func OpenFileSignal(path string) (*FileSignal, error) { return &FileSignal{}, nil }
