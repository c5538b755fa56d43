package chaos

import (
	"testing"

	"github.com/oklog/ulid/v2"
	"github.com/stretchr/testify/require"
)

// Each invariant judged on a made-up end state: what holds passes, and
// each way of breaking it is counted.
func TestInvariants(t *testing.T) {
	ids := []ulid.ULID{ulid.Make(), ulid.Make(), ulid.Make()}
	pay := func(i int, final string) payment {
		return payment{id: ids[i], from: "BankA/1", to: "BankB/2", amount: 100, final: final, sends: 1}
	}
	debit, credit := posting{"BankA/1", -100}, posting{"BankB/2", 100}
	for _, tc := range []struct {
		name     string
		payments []payment
		postings map[ulid.ULID][]posting
		check    func([]payment, *bankState) Invariant
		want     int
	}{
		{"committed once", []payment{pay(0, Committed)}, map[ulid.ULID][]posting{ids[0]: {debit, credit}}, committedOnce, 0},
		{"committed, never applied", []payment{pay(0, Committed)}, nil, committedOnce, 1},
		{"committed, credited only", []payment{pay(0, Committed)}, map[ulid.ULID][]posting{ids[0]: {credit}}, committedOnce, 1},
		{"committed twice", []payment{pay(0, Committed)}, map[ulid.ULID][]posting{ids[0]: {debit, credit, debit, credit}}, committedOnce, 1},
		{"committed, wrong amount", []payment{pay(0, Committed)}, map[ulid.ULID][]posting{ids[0]: {{"BankA/1", -10}, {"BankB/2", 10}}}, committedOnce, 1},
		{"failed, nothing moved", []payment{pay(0, Failed), pay(1, Rejected)}, nil, nothingMoved, 0},
		{"failed, moved", []payment{pay(0, Failed), pay(1, Rejected)}, map[ulid.ULID][]posting{ids[0]: {debit, credit}, ids[1]: {debit}}, nothingMoved, 2},
		{"unanswered, whole or nothing", []payment{pay(0, ""), pay(1, "")}, map[ulid.ULID][]posting{ids[0]: {debit, credit}}, wholeOrNothing, 0},
		{"unanswered, half", []payment{pay(0, "")}, map[ulid.ULID][]posting{ids[0]: {debit}}, wholeOrNothing, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := tc.check(tc.payments, &bankState{postings: tc.postings})
			require.Equal(t, tc.want, inv.Violations, "%+v", inv)
		})
	}
	t.Run("no payment pending", func(t *testing.T) {
		require.Equal(t, 1, noPending([]payment{pay(0, Committed), pay(1, "")}).Violations)
	})
	t.Run("an ID never sent", func(t *testing.T) {
		s := &bankState{postings: map[ulid.ULID][]posting{ids[2]: {debit}}, unknown: map[ulid.ULID]string{ids[2]: "BankA record 7"}}
		require.Equal(t, 1, noneUnsent(s).Violations)
	})
	t.Run("money and holds", func(t *testing.T) {
		openings := map[string]int64{"BankA/1": 500, "BankB/2": 0}
		s := &bankState{balance: map[string]int64{"BankA/1": 400, "BankB/2": 100}, held: map[string]int64{}, pending: map[string]int64{}}
		require.True(t, moneyUnchanged(openings, s).OK())
		require.True(t, noHolds([]string{"BankA/1", "BankB/2"}, s).OK())
		s.balance["BankB/2"] = 200
		s.pending["BankB/2"] = 5
		require.Equal(t, 1, moneyUnchanged(openings, s).Violations)
		require.Equal(t, 1, noHolds([]string{"BankA/1", "BankB/2"}, s).Violations)
	})
}
