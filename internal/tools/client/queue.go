package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/oklog/ulid/v2"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/wal"
)

// Queue errors.
var (
	ErrNotQueued = errors.New("no such queued payment")
	ErrCorrupt   = errors.New("corrupt queue entry")
)

// State is where a payment stands in the local queue.
type State string

// States of a queued payment.
const (
	// StateQueued: stored, not yet acknowledged by the gateway.
	StateQueued State = "queued"
	// StateSent: the gateway answered PENDING; it holds the payment.
	StateSent State = "sent"
	// StateDone: a final outcome is known; the entry is in the done bucket.
	StateDone State = "done"
)

var (
	queueBucket = []byte("queue")
	doneBucket  = []byte("done")
)

// Entry is one payment in the queue or in the done history.
type Entry struct {
	Request   *strifev1.PayRequest
	State     State
	LastError string
	Attempts  int
	// Outcome is the final payment (COMMITTED or FAILED) once done; nil
	// when the gateway refused the request itself (see LastError).
	Outcome   *strifev1.Payment
	CreatedAt time.Time
}

// ID is the payment's ULID, its idempotency key.
func (e *Entry) ID() string { return e.Request.GetTransactionId() }

// record is the JSON value of an entry; proto messages are stored as their
// binary encoding.
type record struct {
	Request   []byte    `json:"request"`
	State     State     `json:"state"`
	LastError string    `json:"last_error,omitempty"`
	Attempts  int       `json:"attempts"`
	Outcome   []byte    `json:"outcome,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Queue is the client's durable list of payments: a bbolt file. Every
// change is one bbolt transaction, fsynced before the call returns, so a
// payment written by Add survives a crash at any later moment. Keys are
// ULIDs, so iteration is creation order. Safe for concurrent use.
type Queue struct {
	db *bolt.DB
}

// OpenQueue opens (creating) the queue file at path. bbolt locks the file:
// a second client on the same state dir waits up to a second, then fails.
// An existing file is checked first (wal.CheckFile): a damaged one is an
// error naming it, never a crash.
func OpenQueue(path string) (*Queue, error) {
	if _, err := wal.CheckFile(path, time.Second); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open the payment queue: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open the payment queue %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{queueBucket, doneBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open the payment queue %s: %w", path, err)
	}
	return &Queue{db: db}, nil
}

// Close closes the file.
func (q *Queue) Close() error { return q.db.Close() }

// Add gives req a new ULID (overwriting its transaction_id) and stores it,
// durably, as queued. It returns the stored entry.
func (q *Queue) Add(req *strifev1.PayRequest) (*Entry, error) { return q.add(req, 0) }

// add is Add with the entry's Attempts set.
func (q *Queue) add(req *strifev1.PayRequest, attempts int) (*Entry, error) {
	req = proto.CloneOf(req)
	req.TransactionId = ulid.Make().String()
	e := &Entry{Request: req, State: StateQueued, Attempts: attempts, CreatedAt: time.Now().UTC()}
	return e, q.db.Update(func(tx *bolt.Tx) error { return put(tx.Bucket(queueBucket), e) })
}

// Pending returns the queued and sent payments in creation order.
func (q *Queue) Pending() ([]*Entry, error) { return q.list(queueBucket) }

// Done returns the payments with a final outcome, in creation order.
func (q *Queue) Done() ([]*Entry, error) { return q.list(doneBucket) }

// Get returns a payment from either bucket.
func (q *Queue) Get(id string) (*Entry, error) {
	var e *Entry
	err := q.db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{queueBucket, doneBucket} {
			if v := tx.Bucket(b).Get([]byte(id)); v != nil {
				var err error
				e, err = decode(v)
				return err
			}
		}
		return fmt.Errorf("%w: %s", ErrNotQueued, id)
	})
	return e, err
}

// Len returns the number of pending payments without decoding them.
func (q *Queue) Len() (int, error) {
	n := 0
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(queueBucket).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// getPending decodes the payment id of the queue bucket b, or fails with
// ErrNotQueued.
func getPending(b *bolt.Bucket, id string) (*Entry, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotQueued, id)
	}
	return decode(v)
}

// Update changes a pending payment with fn, durably.
func (q *Queue) Update(id string, fn func(*Entry)) (*Entry, error) {
	var e *Entry
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket)
		var err error
		if e, err = getPending(b, id); err != nil {
			return err
		}
		fn(e)
		return put(b, e)
	})
	return e, err
}

// Finish moves a pending payment to the done bucket with its outcome (or,
// when outcome is nil, with the refusal in lastErr), in one transaction.
func (q *Queue) Finish(id string, outcome *strifev1.Payment, lastErr string) (*Entry, error) {
	var e *Entry
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket)
		var err error
		if e, err = getPending(b, id); err != nil {
			return err
		}
		e.State, e.Outcome, e.LastError = StateDone, outcome, lastErr
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		return put(tx.Bucket(doneBucket), e)
	})
	return e, err
}

func (q *Queue) list(bucket []byte) ([]*Entry, error) {
	var out []*Entry
	err := q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			e, err := decode(v)
			out = append(out, e)
			return err
		})
	})
	return out, err
}

func put(b *bolt.Bucket, e *Entry) error {
	req, err := proto.Marshal(e.Request)
	if err != nil {
		return err
	}
	r := record{Request: req, State: e.State, LastError: e.LastError, Attempts: e.Attempts, CreatedAt: e.CreatedAt}
	if e.Outcome != nil {
		if r.Outcome, err = proto.Marshal(e.Outcome); err != nil {
			return err
		}
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(e.ID()), v)
}

func decode(v []byte) (*Entry, error) {
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	e := &Entry{Request: &strifev1.PayRequest{}, State: r.State, LastError: r.LastError, Attempts: r.Attempts, CreatedAt: r.CreatedAt}
	if err := proto.Unmarshal(r.Request, e.Request); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if r.Outcome != nil {
		e.Outcome = &strifev1.Payment{}
		if err := proto.Unmarshal(r.Outcome, e.Outcome); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	return e, nil
}
