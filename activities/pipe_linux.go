package activities

import (
	"os"

	"golang.org/x/sys/unix"
)

// growPipe widens a pipe's buffer to 1 MiB (from 64 KiB): the feeder and DuckDB take turns less often.
// Best effort: a system that refuses keeps the default.
func growPipe(f *os.File) {
	_, _ = unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
}
