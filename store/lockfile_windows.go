package store

import (
	"context"
	"sync"
)

// localLocks holds a one-slot channel per lock file path.
var localLocks sync.Map

// lockFile on Windows excludes callers in this process only: cluster
// mode, the only case of several serving processes on one SQLite file, is
// refused there. path only names the lock.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	slot, _ := localLocks.LoadOrStore(path, make(chan struct{}, 1))
	ch := slot.(chan struct{})
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
