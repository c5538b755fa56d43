package certscli

import "errors"

// Sentinel errors, classified with errors.Is. Bad roles and names wrap
// certs.ErrUnknownRole and certs.ErrInvalidName instead.
var (
	// ErrExists: Init or Issue would overwrite a file and Force is off.
	ErrExists = errors.New("certscli: file exists")
	// ErrReservedName: a program name would collide with the CA's files or
	// the token key.
	ErrReservedName = errors.New("certscli: reserved name")
	// ErrDuplicateName: Init was given the same name twice (ignoring case,
	// since the files of both would collide on some file systems).
	ErrDuplicateName = errors.New("certscli: duplicate name")
	// ErrInvalidHost: a --hosts entry is neither an IP address nor a DNS name.
	ErrInvalidHost = errors.New("certscli: invalid host")
	// ErrNotFound: revoke was given a name that no certificate of the
	// directory signed by its CA has.
	ErrNotFound = errors.New("certscli: no such certificate")
	// ErrInvalidOptions: a required option is missing or out of range.
	ErrInvalidOptions = errors.New("certscli: invalid options")
)

// refusal is an error whose message is written for the operator, whole,
// and which still matches its sentinel with errors.Is.
type refusal struct {
	sentinel error
	msg      string
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.sentinel }
