// Package disktest gives tests a real disk that fills up: a small tmpfs
// mounted in a temporary directory, and a filler file that takes what room
// is left. Mounting needs root (CAP_SYS_ADMIN); where it is refused the
// test is skipped, so CI that runs unprivileged passes over it.
package disktest
