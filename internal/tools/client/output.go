package client

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// PaymentJSON is a payment in --json output (see doc.go).
type PaymentJSON struct {
	TransactionID string `json:"transaction_id"`
	Status        string `json:"status"`
	Reason        string `json:"reason,omitempty"`
	Message       string `json:"message,omitempty"`
	// Code is the gRPC code name of a REJECTED payment's refusal
	// ("NOT_FOUND").
	Code       string `json:"code,omitempty"`
	From       string `json:"from_account,omitempty"`
	To         string `json:"to"`
	Amount     int64  `json:"amount"`
	AmountText string `json:"amount_text"`
	Memo       string `json:"memo,omitempty"`
	Attempts   int    `json:"attempts,omitempty"`
	CreatedAt  string `json:"created_at,omitempty"`
	// SettledAt is when every bank had applied a COMMITTED payment; until
	// then its amount shows as held and pending in balances.
	SettledAt string `json:"settled_at,omitempty"`
}

// AccountJSON is an account in `balance --json`.
type AccountJSON struct {
	Account        string `json:"account"`
	Posted         int64  `json:"posted"`
	Available      int64  `json:"available"`
	Held           int64  `json:"held"`
	PendingCredits int64  `json:"pending_credits"`
	AvailableText  string `json:"available_text"`
}

func paymentJSON(p *strifev1.Payment) PaymentJSON {
	to := p.GetToAccount()
	if p.GetPayee() != "" {
		to = p.GetPayee() + " " + to
	}
	out := PaymentJSON{
		TransactionID: p.GetTransactionId(), Status: statusText(p.GetStatus()), Reason: reasonText(p), From: p.GetFromAccount(), To: to,
		Amount: p.GetAmount(), AmountText: FormatAmount(p.GetAmount()), Memo: p.GetMemo(), Attempts: int(p.GetAttempts()),
	}
	if p.GetCreatedAt() != nil {
		out.CreatedAt = p.GetCreatedAt().AsTime().Format(time.RFC3339)
	}
	if p.GetSettledAt() != nil {
		out.SettledAt = p.GetSettledAt().AsTime().Format(time.RFC3339)
	}
	return out
}

func statusText(s strifev1.PaymentStatus) string {
	return strings.TrimPrefix(s.String(), "PAYMENT_STATUS_")
}

// reasonText is p's reason (FAILED only), "" when it has none.
func reasonText(p *strifev1.Payment) string {
	if p.GetReason() == strifev1.Reason_REASON_UNSPECIFIED {
		return ""
	}
	return ReasonText(p.GetReason())
}

// entryJSON describes a local queue entry; Status is the entry's outcome
// when done, else QUEUED or PENDING.
func entryJSON(e *Entry) PaymentJSON {
	r := e.Request
	to := r.GetToUser()
	if to == "" {
		to = r.GetToAccount()
	}
	out := PaymentJSON{
		TransactionID: e.ID(), Status: string(OutcomeQueued), Message: e.LastError, From: r.GetFromAccount(), To: to,
		Amount: r.GetAmount(), AmountText: FormatAmount(r.GetAmount()), Memo: r.GetMemo(), Attempts: e.Attempts,
		CreatedAt: e.CreatedAt.Format(time.RFC3339),
	}
	switch {
	case e.Outcome != nil:
		out.Status, out.Reason = statusText(e.Outcome.GetStatus()), reasonText(e.Outcome)
	case e.State == StateDone:
		out.Status = string(OutcomeRejected)
	case e.State == StateSent:
		out.Status = string(OutcomePending)
	}
	return out
}

// resultJSON is a send's result: the local entry with the outcome.
func resultJSON(r *Result) PaymentJSON {
	out := entryJSON(r.Entry)
	out.Status, out.Message, out.Code = string(r.Outcome), r.Message, r.Code
	if r.Payment != nil {
		out.Reason = reasonText(r.Payment)
	}
	return out
}

// resultLine is a result for a person.
func resultLine(r *Result) string {
	j := resultJSON(r)
	return fmt.Sprintf("%s %s to %s: %s", j.TransactionID, j.AmountText, j.To, r.Message)
}

func writeJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// jsonOf maps xs with f; the result is never nil, so that an empty list is
// [] in JSON.
func jsonOf[T any](xs []T, f func(T) PaymentJSON) []PaymentJSON {
	out := make([]PaymentJSON, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}

// balanceLine is an account on one line, as `balance` and the menu's
// balance screen show it.
func balanceLine(a AccountJSON) string {
	return fmt.Sprintf("%-12s %s available (%s posted)", a.Account, a.AvailableText, FormatAmount(a.Posted))
}

// pendingLine is a queued or pending payment on one line, as `queue list`
// and the menu's queue screen show it.
func pendingLine(p PaymentJSON) string {
	return fmt.Sprintf("%s %-7s %10s to %s, %d attempts", p.TransactionID, p.Status, p.AmountText, p.To, p.Attempts)
}
