//go:build unix

package cachedstore

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// FileSignal is a Signal shared by every process that opens the same file:
// an 8-byte counter in a memory-mapped page (the way SQLite keeps its own
// -shm file). Reading it is one atomic load; asking SQLite (PRAGMA
// data_version) costs a statement and two file-lock system calls, which
// was the largest part of serving GET /users.
type FileSignal struct {
	counter *uint64
}

// OpenFileSignal maps path (created, mode 0600, if missing). The mapping
// lasts as long as the process: a request still running at shutdown may
// use it after the store is closed.
func OpenFileSignal(path string) (*FileSignal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()   // the mapping outlives the descriptor
	const size = 4096 // one page: the counter is page-aligned, so 8-byte aligned
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if fi.Size() < size {
		if err := f.Truncate(size); err != nil {
			return nil, err
		}
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	return &FileSignal{counter: (*uint64)(unsafe.Pointer(&mem[0]))}, nil
}

// Generation implements Signal.
func (f *FileSignal) Generation() uint64 { return atomic.LoadUint64(f.counter) }

// Changed implements Signal.
func (f *FileSignal) Changed() { atomic.AddUint64(f.counter, 1) }
