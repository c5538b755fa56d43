package participant

import (
	"context"
	"fmt"

	"github.com/oklog/ulid/v2"

	"github.com/strife-pay/strife/internal/plumbing/rpc"
	strifev1 "github.com/strife-pay/strife/proto/strife/v1"
)

// MaxBatch is the most items one Batch call may carry.
const MaxBatch = 1024

// Batch applies the Prepare, Commit, Abort and Resolve items of many
// payments in one ledger transaction (Participant.Apply) and answers each
// as the single call would have: an item that fails validation gets its
// error and is not applied; the rest are applied in order. The call itself
// fails only if it is malformed as a whole, or its caller has no identity.
func (s *Service) Batch(ctx context.Context, req *strifev1.BatchRequest) (*strifev1.BatchResponse, error) {
	items := req.GetItems()
	if len(items) == 0 || len(items) > MaxBatch {
		return nil, s.reply("Batch", fmt.Errorf("%w: %d items, want 1 to %d", ErrInvalid, len(items), MaxBatch))
	}
	coordinator, _, err := rpc.Peer(ctx)
	if err != nil {
		return nil, s.reply("Batch", err)
	}
	results := make([]*strifev1.BatchResult, len(items))
	ops, at := make([]Op, 0, len(items)), make([]int, 0, len(items)) // at: the item of each op
	var ids idRange
	for i, item := range items {
		op, err := batchOp(item, coordinator)
		if err != nil {
			results[i] = s.itemError(err)
			continue
		}
		ids.add(op.id().TxID)
		ops, at = append(ops, op), append(at, i)
	}
	if len(ops) > 0 {
		for j, out := range s.p.Apply(ops) {
			results[at[j]] = s.result(ops[j].Kind, out)
		}
	}
	first, last := ids.strings()
	rpc.CallFrom(ctx).SetBatch(len(items), first, last)
	return &strifev1.BatchResponse{Results: results}, nil
}

// batchOp validates one item as its single call validates its request.
func batchOp(item *strifev1.BatchItem, coordinator string) (Op, error) {
	switch m := item.GetMessage().(type) {
	case *strifev1.BatchItem_Prepare:
		r, err := prepareRequest(m.Prepare)
		r.Coordinator = coordinator
		return Op{Kind: OpPrepare, Prepare: r}, err
	case *strifev1.BatchItem_Commit:
		k, err := attemptOf(m.Commit)
		return Op{Kind: OpCommit, Attempt: k}, err
	case *strifev1.BatchItem_Abort:
		k, err := attemptOf(m.Abort)
		return Op{Kind: OpAbort, Attempt: k}, err
	case *strifev1.BatchItem_Resolve:
		k, err := attemptOf(m.Resolve)
		return Op{Kind: OpResolve, Attempt: k}, err
	}
	return Op{}, fmt.Errorf("%w: a batch item must be a prepare, a commit, an abort or a resolve", ErrInvalid)
}

// result is the answer to one applied op.
func (s *Service) result(kind OpKind, out Outcome) *strifev1.BatchResult {
	if out.Err != nil {
		return s.itemError(out.Err)
	}
	switch kind {
	case OpPrepare:
		return &strifev1.BatchResult{Result: &strifev1.BatchResult_Prepare{Prepare: prepareResponse(out.Vote)}}
	case OpCommit:
		return &strifev1.BatchResult{Result: &strifev1.BatchResult_Commit{Commit: &strifev1.CommitResponse{}}}
	case OpAbort:
		return &strifev1.BatchResult{Result: &strifev1.BatchResult_Abort{Abort: &strifev1.AbortResponse{}}}
	case OpResolve:
		return &strifev1.BatchResult{Result: &strifev1.BatchResult_Resolve{Resolve: resolveResponse(out.Vote)}}
	}
	return s.itemError(fmt.Errorf("participant: no result for op kind %d", kind)) // batchOp makes no other
}

// itemError is an item's error as the single call would have returned it.
func (s *Service) itemError(err error) *strifev1.BatchResult {
	st := s.replyStatus("Batch", err)
	return &strifev1.BatchResult{Result: &strifev1.BatchResult_Error{Error: &strifev1.ItemError{Code: int32(st.Code()), Message: st.Message()}}}
}

// idRange is the smallest and largest transaction ID of a batch, for its
// audit line: ULIDs sort by time, so they bound when its payments began.
type idRange struct {
	first, last ulid.ULID
	any         bool
}

func (r *idRange) add(id ulid.ULID) {
	if !r.any || id.Compare(r.first) < 0 {
		r.first = id
	}
	if !r.any || id.Compare(r.last) > 0 {
		r.last = id
	}
	r.any = true
}

// strings are the range's IDs as text, empty if it has none.
func (r *idRange) strings() (first, last string) {
	if !r.any {
		return "", ""
	}
	return r.first.String(), r.last.String()
}
