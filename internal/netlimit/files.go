package netlimit

// Defaults for the global cap.
const (
	// FileReserve is how many descriptors DefaultMax leaves for everything
	// but client connections: the database, log files, the metrics
	// listener, outgoing connections, and the moment between accepting a
	// connection over the cap and closing it.
	FileReserve = 256
	// MaxDefault bounds DefaultMax when the open-files limit is very high.
	MaxDefault = 16384
)

// DefaultMax is the global cap for an open-files limit: the limit less
// FileReserve (a quarter of it for small limits), at most MaxDefault. An
// unknown limit (0) counts as 1024, the usual default.
func DefaultMax(fileLimit uint64) int {
	if fileLimit == 0 {
		fileLimit = 1024
	}
	if fileLimit > MaxDefault+FileReserve {
		return MaxDefault
	}
	reserve := min(uint64(FileReserve), fileLimit/4)
	return max(int(fileLimit-reserve), 1)
}
