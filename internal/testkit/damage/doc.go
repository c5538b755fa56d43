// Package damage damages data files on purpose, for the tests of what
// opens them: bytes flipped in pages of each type (found by reading the
// intact file's page headers), truncations, and files of other programs.
// Every case starts from a copy of an intact bbolt file.
package damage
