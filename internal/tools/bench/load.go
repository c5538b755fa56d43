package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"github.com/strife-pay/strife/coordinator"
	"github.com/strife-pay/strife/ledger"
	"github.com/strife-pay/strife/participant"
	storagev1 "github.com/strife-pay/strife/proto/strife/storage/v1"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
	"github.com/strife-pay/strife/users"
	"github.com/strife-pay/strife/wal"
)

// History is what LoadHistory writes: Payments finished payments and Open
// held ones, between Accounts users, each with an account at BankA (which
// pays) and one at BankB (which is paid).
type History struct {
	Payments int
	Open     int
	Accounts int
	// BankEvents, if not 0, bounds the banks' files instead of the
	// gateway's size: the banks take part in the oldest payments only,
	// until each holds at least BankEvents records (its accounts' included),
	// and never hear of the later ones. It measures a bank of a given size
	// next to a larger gateway without making every gateway payment's
	// records at both banks (4 a payment at each today, so 10M events are
	// 2.5M payments). Such files are not a deployment's: each passes its own
	// checks, but the gateway holds committed payments the banks never saw,
	// so the cross-check between them fails. 0: the banks take part in
	// every finished payment.
	BankEvents int
}

// loadBatch is how many payments LoadHistory writes in one transaction of
// each file: a running gateway commits a few at a time; tens of thousands
// make the file in minutes instead of hours. The larger the batch, the more
// of a transaction's index writes (user_payments, keyed by user, 10,000
// places in the tree) land on a page the same transaction already
// rewrites.
const loadBatch = 20000

// Names and numbers of LoadHistory's deployment.
const (
	historyGateway  = "gateway-1"
	historyPayer    = "BankA"
	historyPayee    = "BankB"
	HistoryPassword = "history user password" // every user's
	historyOpening  = int64(1) << 40          // every BankA account's opening balance
	firstNumber     = 100000                  // user i has BankA/<firstNumber+i> and BankB/<firstNumber+i>
)

// HistoryUser is the name of LoadHistory's user i.
func HistoryUser(i int) string { return fmt.Sprintf("user%d", i) }

// LoadHistory writes, into dir, the data files of a gateway (gateway-1)
// and of two banks (BankA, BankB) that have made h.Payments payments of 1
// unit, each from a user's account at BankA to another user's at BankB, and
// hold h.Open more, PENDING because BankA was unreachable (half staged and
// undecided, half aborted and not acknowledged; the banks never saw them).
// It writes through the packages' own write paths, thousands of payments a
// transaction: the users through users.Store.Register, the accounts through
// ledger.Tx.OpenAccount, the gateway's payments through coordinator.Loader,
// the banks' Prepare and Commit through participant.Participant.Apply. The
// files are those a running deployment would have left, and pass
// strife-recover check (with h.BankEvents, each file on its own). Payment i
// was made at now - (Payments-i) ms: a history of 1,000 payments a second.
// The banks write a batch while the gateway writes the next (the machine's
// second core). progress, if not nil, is called after each gateway batch
// with the payments written so far.
func LoadHistory(dir string, h History, now time.Time, progress func(done int)) (err error) {
	if h.Accounts < 2 || h.Payments < 0 || h.Open < 0 || h.BankEvents < 0 {
		return fmt.Errorf("bench: cannot load %d payments and %d open between %d accounts", h.Payments, h.Open, h.Accounts)
	}
	files := map[string]*wal.Log{}
	defer func() {
		for _, l := range files {
			err = errors.Join(err, l.Close())
		}
	}()
	for _, name := range []string{historyGateway, historyPayer, historyPayee} {
		sub := filepath.Join(dir, name)
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return err
		}
		l, err := wal.Open(filepath.Join(sub, name+".db"), wal.Options{})
		if err != nil {
			return err
		}
		files[name] = l
	}
	g := &historyWriter{h: h, start: now.Add(-time.Duration(h.Payments) * time.Millisecond), entropy: ulid.Monotonic(rand.Reader, 0)}
	if err := g.users(files[historyGateway], now); err != nil {
		return err
	}
	if g.loader, err = coordinator.NewLoader(files[historyGateway], now); err != nil {
		return err
	}
	for _, name := range []string{historyPayer, historyPayee} {
		if err := g.bank(name, files[name], now); err != nil {
			return err
		}
	}
	defer g.closeBanks()
	if g.bankRecords, err = fewestRecords(files[historyPayer], files[historyPayee]); err != nil {
		return err
	}
	// The banks' side of batch k is written while the gateway writes batch
	// k+1: two transactions of different files, on the two cores.
	toBanks := make(chan []coordinator.Payment, 1)
	banksDone := make(chan error, 1)
	go func() {
		var err error
		for batch := range toBanks {
			if err == nil {
				err = g.banksBatch(files[historyPayer], files[historyPayee], batch)
			}
		}
		banksDone <- err
	}()
	for done := 0; done < h.Payments+h.Open && err == nil; {
		n := min(loadBatch, h.Payments+h.Open-done)
		var finished []coordinator.Payment
		if finished, err = g.batch(files[historyGateway], done, n); err == nil {
			toBanks <- finished
			done += n
			if progress != nil {
				progress(min(done, h.Payments))
			}
		}
	}
	close(toBanks)
	return errors.Join(err, <-banksDone)
}

// historyWriter writes one History.
type historyWriter struct {
	h       History
	start   time.Time
	entropy *ulid.MonotonicEntropy
	loader  *coordinator.Loader
	banks   map[string]*participant.Participant
	clock   time.Time // the banks' clock: the time of the batch being written

	// With h.BankEvents: the records in the smaller bank file so far, and
	// how many a payment adds to it (learnt from the first payment).
	bankRecords uint64
	perPayment  int
}

func account(bank string, i int) string { return fmt.Sprintf("%s/%d", bank, firstNumber+i) }

// users registers the users, with one password hash for all (bcrypt's
// minimum cost), and records the banks as known.
func (g *historyWriter) users(log *wal.Log, now time.Time) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(HistoryPassword), bcrypt.MinCost)
	if err != nil {
		return err
	}
	store := users.New(log)
	for from := 0; from < g.h.Accounts; from += loadBatch {
		var batch []*storagev1.UserState
		for i := from; i < min(from+loadBatch, g.h.Accounts); i++ {
			batch = append(batch, &storagev1.UserState{
				Username: HistoryUser(i), Role: strifev1.UserRole_USER_ROLE_CUSTOMER, PasswordHash: hash,
				Accounts: []string{account(historyPayer, i), account(historyPayee, i)}, DefaultAccount: account(historyPayer, i),
				CreatedUnixNano: now.UnixNano(), CredentialVersion: 1,
			})
		}
		if err := store.Register(batch...); err != nil {
			return err
		}
	}
	return log.Append(users.RecordKnownBanks([]string{historyPayer, historyPayee}, now))
}

// bank opens the accounts of a bank (with money at the paying bank) and
// makes its participant, whose clock is g.clock.
func (g *historyWriter) bank(name string, log *wal.Log, now time.Time) error {
	g.clock = now
	l, err := ledger.New(log, func() time.Time { return g.clock })
	if err != nil {
		return err
	}
	opening := int64(0)
	if name == historyPayer {
		opening = historyOpening
	}
	for from := 0; from < g.h.Accounts; from += loadBatch {
		err := l.Update(func(tx *ledger.Tx) error {
			for i := from; i < min(from+loadBatch, g.h.Accounts); i++ {
				_, number, _ := users.Split(account(name, i))
				if _, _, err := tx.OpenAccount(number, HistoryUser(i), opening); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	p, err := participant.New(l, noCoordinator{}, participant.Config{InDoubtTimeout: time.Hour})
	if err != nil {
		return err
	}
	if g.banks == nil {
		g.banks = map[string]*participant.Participant{}
	}
	g.banks[name] = p
	return nil
}

func (g *historyWriter) closeBanks() {
	for _, p := range g.banks {
		p.Close()
	}
}

// noCoordinator is the coordinator of the banks while they are loaded:
// every attempt they prepare is committed in the same transaction, so none
// is ever in doubt.
type noCoordinator struct{}

func (noCoordinator) GetDecision(context.Context, string, ulid.ULID, uint32) (participant.Decision, error) {
	return 0, errors.New("bench: no coordinator while loading")
}

// params are payment i's: user i%Accounts pays a user further on.
func (g *historyWriter) params(i int) coordinator.Params {
	payer, payee := i%g.h.Accounts, (i*7+1)%g.h.Accounts
	if payee == payer {
		payee = (payer + 1) % g.h.Accounts
	}
	return coordinator.Params{
		Payer: HistoryUser(payer), From: account(historyPayer, payer),
		Payee: HistoryUser(payee), To: account(historyPayee, payee), Amount: 1,
	}
}

// batch writes payments from to from+n-1 (those past h.Payments are the
// open ones) into the gateway's file in one transaction, and returns the
// finished ones, for the banks.
func (g *historyWriter) batch(gateway *wal.Log, from, n int) ([]coordinator.Payment, error) {
	var finished []coordinator.Payment
	at := func(i int) time.Time { return g.start.Add(time.Duration(min(i, g.h.Payments)) * time.Millisecond) }
	ids := make([]ulid.ULID, n)
	for k := range ids {
		ids[k] = ulid.MustNew(ulid.Timestamp(at(from+k)), g.entropy)
	}
	err := gateway.Append(func(tx *wal.Tx) error {
		finished = finished[:0] // the function may run more than once
		for k, id := range ids {
			i := from + k
			if i >= g.h.Payments {
				if _, err := g.loader.Held(tx, id, g.params(i), i%2 == 0, at(i)); err != nil {
					return err
				}
				continue // the banks never heard of it
			}
			p, err := g.loader.Finished(tx, id, g.params(i), at(i))
			if err != nil {
				return err
			}
			finished = append(finished, p)
		}
		return nil
	})
	return finished, err
}

// banksBatch writes the banks' side of finished payments, each bank's in
// one transaction, the two banks in parallel; with h.BankEvents, only as
// many as bring the smaller of the two files (the payee's: its accounts
// open with no deposit) to BankEvents records, and none once it is there.
func (g *historyWriter) banksBatch(payer, payee *wal.Log, payments []coordinator.Payment) error {
	if g.h.BankEvents > 0 && g.perPayment == 0 && len(payments) > 1 {
		// Learn from one payment what each adds, then cut to measure.
		if err := g.banksBatch(payer, payee, payments[:1]); err != nil {
			return err
		}
		return g.banksBatch(payer, payee, payments[1:])
	}
	if g.h.BankEvents > 0 {
		left := g.h.BankEvents - int(g.bankRecords)
		switch {
		case left <= 0:
			return nil
		case g.perPayment > 0:
			payments = payments[:min(len(payments), (left+g.perPayment-1)/g.perPayment)]
		}
	}
	var ops = map[string][]participant.Op{}
	for _, p := range payments {
		for _, bank := range p.Participants() {
			k := participant.AttemptID{TxID: p.ID, Attempt: p.Attempt}
			legs, err := legs(p, bank)
			if err != nil {
				return err
			}
			ops[bank] = append(ops[bank],
				participant.Op{Kind: participant.OpPrepare, Prepare: participant.Request{TxID: p.ID, Attempt: p.Attempt, Legs: legs, Memo: p.Params.Memo, Coordinator: historyGateway}},
				participant.Op{Kind: participant.OpCommit, Attempt: k})
		}
	}
	if len(payments) > 0 {
		g.clock = payments[len(payments)-1].Updated
	}
	var wg sync.WaitGroup
	errs := make([]error, 0, len(ops))
	var mu sync.Mutex
	for bank, bankOps := range ops {
		wg.Go(func() {
			err := apply(g.banks[bank], bankOps)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	before := g.bankRecords
	var err error
	if g.bankRecords, err = fewestRecords(payer, payee); err != nil {
		return err
	}
	if g.perPayment == 0 && len(payments) > 0 {
		g.perPayment = max(1, int(g.bankRecords-before)/len(payments))
	}
	return nil
}

// fewestRecords is how many records the smaller of logs holds.
func fewestRecords(logs ...*wal.Log) (uint64, error) {
	fewest := uint64(math.MaxUint64)
	for _, l := range logs {
		err := l.View(func(tx *wal.Tx) error { fewest = min(fewest, tx.LastSeq()); return nil })
		if err != nil {
			return 0, err
		}
	}
	return fewest, nil
}

// apply runs a bank's ops in one transaction; every Prepare must vote YES.
func apply(p *participant.Participant, ops []participant.Op) error {
	for i, out := range p.Apply(ops) {
		switch {
		case out.Err != nil:
			return fmt.Errorf("bench: loading %v of %v: %w", ops[i].Kind, ops[i].Prepare.TxID, out.Err)
		case ops[i].Kind == participant.OpPrepare && !out.Vote.Yes:
			return fmt.Errorf("bench: loading: %v voted NO (%v)", ops[i].Prepare.TxID, out.Vote.Reason)
		}
	}
	return nil
}

// legs are what the coordinator asks bank to do for p (Payment.Legs), as
// the bank checks and stores them (participant.StoredLeg).
func legs(p coordinator.Payment, bank string) ([]*storagev1.Leg, error) {
	var out []*storagev1.Leg
	for _, l := range p.Legs(bank) {
		leg, err := participant.StoredLeg(l)
		if err != nil {
			return nil, err
		}
		out = append(out, leg)
	}
	return out, nil
}
