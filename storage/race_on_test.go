//go:build race

package storage

// raceEnabled: the race detector instruments this build (tests that would
// take minutes under it run their measured part in a plain child process).
const raceEnabled = true
