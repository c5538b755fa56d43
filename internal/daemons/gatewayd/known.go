package gatewayd

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/rs/zerolog"

	"github.com/strife-pay/strife/coordinator"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// knownBanks is every bank the gateway has ever known to exist: given with
// --bank, registered in etcd at some time, or proven by its log (a user's
// account, a committed payment). A bank once known stays known, whatever
// happens to it since: a payment to a known bank that is away is held
// PENDING, and one to a bank never known is refused at once (check). The
// set is kept in memory, so the check costs no disk read, and durably in
// the log (BANK_KNOWN records and the known_banks bucket), so that a
// gateway restarted while etcd is down still knows its banks. It is safe
// for concurrent use.
type knownBanks struct {
	log    *wal.Log
	logger zerolog.Logger
	now    func() time.Time
	// complete is closed once the set holds every bank that exists, as far
	// as the gateway can know: at once with static banks only, and once
	// etcd has first answered with it (discovery.Directory.Synced). Until
	// then a bank not in the set may have registered while the gateway was
	// away, so check cannot say it does not exist. It is set before the
	// gateway serves.
	complete <-chan struct{}

	mu    sync.RWMutex
	names map[string]bool
}

// loadKnownBanks reads the known banks of the log. A log with none (a new
// one, or one written before BANK_KNOWN records existed) is first seeded
// with the banks its other records prove (provenBanks), so that upgrading
// a gateway does not make it refuse payments to banks it has paid before.
func loadKnownBanks(log *wal.Log, logger zerolog.Logger, now func() time.Time) (*knownBanks, error) {
	k := &knownBanks{log: log, logger: logger, now: now, names: map[string]bool{}}
	names, err := users.New(log).KnownBanks()
	for _, name := range names {
		k.names[name] = true
	}
	if err != nil || len(k.names) > 0 {
		return k, err
	}
	var proven []string
	if err := log.View(func(tx *wal.Tx) (err error) { proven, err = provenBanks(tx); return err }); err != nil {
		return nil, err
	}
	if len(proven) == 0 {
		return k, nil
	}
	if err := log.Append(k.record(proven)); err != nil {
		return nil, fmt.Errorf("gatewayd: recording the banks the log proves: %w", err)
	}
	for _, name := range proven {
		k.names[name] = true
	}
	logger.Info().Strs("banks", proven).Msg("known banks seeded from the log")
	return k, nil
}

// learn records that banks exist. Those new to the set are known at once,
// and written to the log with the next commit (wal.Log.AppendLater): learn
// does not wait for the disk, since the directory calls it while it holds
// its lock. A record lost in a crash or refused by the disk is written
// again the next time the bank is learned (at the next start, from etcd or
// --bank); meanwhile the bank stays known in memory.
func (k *knownBanks) learn(names ...string) {
	k.mu.Lock()
	var fresh []string
	for _, name := range names {
		if !k.names[name] {
			k.names[name] = true
			fresh = append(fresh, name)
		}
	}
	k.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	k.logger.Info().Strs("banks", fresh).Msg("new bank known")
	k.log.AppendLater(k.record(fresh), func(err error) {
		if err != nil {
			k.logger.Error().Err(err).Strs("banks", fresh).Msg("cannot record known banks; they are known until the gateway stops")
		}
	})
}

// record returns the append that writes a BANK_KNOWN record for each of
// names not known yet.
func (k *knownBanks) record(names []string) func(*wal.Tx) error {
	return users.RecordKnownBanks(names, k.now())
}

// check reports whether an account at bank may be paid or opened: nil for
// a known bank, up or not. A bank never known is ErrUnknownBank once the
// set is complete, and ErrBanksNotRead before (the gateway cannot tell a
// typo from a bank that registered while it was away).
func (k *knownBanks) check(bank string) error {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.names[bank] {
		return nil
	}
	select {
	case <-k.complete:
	default:
		if len(k.names) == 0 {
			return &noBankError{kind: ErrBanksNotRead, msg: "this gateway knows no bank yet: etcd has not answered since it started; try again later"}
		}
		return &noBankError{kind: ErrBanksNotRead, msg: fmt.Sprintf("bank %s is not known to this gateway yet: etcd has not answered since it started; try again later", bank)}
	}
	msg := fmt.Sprintf("no bank named %s is known to this gateway", bank)
	for name := range k.names {
		if strings.EqualFold(name, bank) {
			msg += fmt.Sprintf(" (bank names are case-sensitive: did you mean %s?)", name)
			break
		}
	}
	return &noBankError{kind: ErrUnknownBank, msg: msg}
}

// noBankError is ErrUnknownBank or ErrBanksNotRead with a whole sentence of
// its own for the caller, rather than the sentinel's text with details.
type noBankError struct {
	kind error
	msg  string
}

func (e *noBankError) Error() string { return e.msg }
func (e *noBankError) Unwrap() error { return e.kind }

// provenBanks returns the banks that the log in tx proves exist without any
// BANK_KNOWN record: those of the users' accounts (registration opened or
// found each one at its bank) and those of committed payments (both banks
// voted YES). A payment that did not commit proves nothing: the gateway
// used to accept payments to any well-formed bank name, and held them until
// they expired.
func provenBanks(tx *wal.Tx) ([]string, error) {
	proven := map[string]bool{}
	prove := func(accounts ...string) {
		for _, a := range accounts {
			if bank, _, err := users.SplitAccount(a); err == nil {
				proven[bank] = true
			}
		}
	}
	err := users.ForEachUser(tx, func(u *storagev1.UserState) { prove(u.GetAccounts()...) })
	if err != nil {
		return nil, err
	}
	accepted := map[ulid.ULID][2]string{} // payments whose banks are not all proven yet
	noEpoch := func(uint32) error { return nil }
	err = coordinator.ScanLog(tx, noEpoch, func(r wal.Record, rec coordinator.Record) error {
		switch m := rec.Payload.(type) {
		case *storagev1.PaymentAccepted:
			if !proven[bankOf(m.GetFromAccount())] || !proven[bankOf(m.GetToAccount())] {
				accepted[r.TxID] = [2]string{m.GetFromAccount(), m.GetToAccount()}
			}
		case *storagev1.Decided:
			if a := accepted[r.TxID]; r.Type == coordinator.TypeDecisionCommit {
				prove(a[0], a[1])
			}
			if m.GetFinalStatus() != strifev1.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED {
				delete(accepted, r.TxID) // final: nothing more to learn from it
			}
		case *storagev1.PaymentFinal:
			if a := accepted[r.TxID]; m.GetStatus() == strifev1.PaymentStatus_PAYMENT_STATUS_COMMITTED {
				prove(a[0], a[1])
			}
			delete(accepted, r.TxID)
		}
		return nil
	})
	return slices.Sorted(maps.Keys(proven)), err
}

// bankOf returns the bank of an account address, "" if it is malformed.
func bankOf(account string) string {
	bank, _, _ := users.SplitAccount(account)
	return bank
}
