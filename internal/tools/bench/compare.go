package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Ratio is one level of a comparison: Strife's payments/s and p50 latency
// against the bare pipeline's in the same rounds.
type Ratio struct {
	Payers int
	// Strife and Bare are each round's results at this level.
	Strife, Bare []Result
}

// Throughput is Strife's payments/s over the bare pipeline's, all rounds
// together.
func (r Ratio) Throughput() float64 {
	var strife, bare float64
	for i := range r.Strife {
		strife += r.Strife[i].PerSecond
		bare += r.Bare[i].PerSecond
	}
	return strife / bare
}

// Latency is Strife's p50 over the bare pipeline's, all rounds together.
func (r Ratio) Latency() float64 {
	var strife, bare float64
	for i := range r.Strife {
		strife += float64(r.Strife[i].P50)
		bare += float64(r.Bare[i].P50)
	}
	return strife / bare
}

func (r Ratio) String() string {
	var rounds []string
	for i := range r.Strife {
		rounds = append(rounds, fmt.Sprintf("%.2f", r.Strife[i].PerSecond/r.Bare[i].PerSecond))
	}
	return fmt.Sprintf("%4d payers: strife/bare %.2fx payments/s (rounds: %s), %.2fx p50",
		r.Payers, r.Throughput(), strings.Join(rounds, " "), r.Latency())
}

// MarshalJSON is the --json form: payers, ratio (payments/s), p50_ratio,
// and each round's payments/s of both pipelines.
func (r Ratio) MarshalJSON() ([]byte, error) {
	out := struct {
		Payers     int       `json:"payers"`
		Ratio      float64   `json:"ratio"`
		P50Ratio   float64   `json:"p50_ratio"`
		StrifeRate []float64 `json:"strife_payments_per_s"`
		BareRate   []float64 `json:"bare_payments_per_s"`
	}{Payers: r.Payers, Ratio: roundTo(r.Throughput(), 2), P50Ratio: roundTo(r.Latency(), 2)}
	for i := range r.Strife {
		out.StrifeRate = append(out.StrifeRate, r.Strife[i].PerSecond)
		out.BareRate = append(out.BareRate, r.Bare[i].PerSecond)
	}
	return json.Marshal(out)
}

// ErrRounds is Compare's answer to fewer than one round.
var ErrRounds = errors.New("bench: a comparison needs at least one round")

// Compare measures the bare pipeline and Strife alternately, bare first,
// rounds times each, each run a deployment of its own with every level of
// opts.Payers, so that both see the same minutes of a noisy machine. It
// prints every run's levels as Run and RunBare do, each under a heading
// (or, with opts.JSON, with "round" and "pipeline" fields), then the ratio
// Strife/bare per level. With opts.ProfileDir, each run's profiles go to a
// subdirectory of it named after the round and the pipeline.
func Compare(opts Options, rounds int) ([]Ratio, error) {
	if rounds < 1 {
		return nil, ErrRounds
	}
	ratios := make([]Ratio, len(opts.Payers))
	for i, n := range opts.Payers {
		ratios[i].Payers = n
	}
	for round := 1; round <= rounds; round++ {
		for _, pipeline := range []string{"bare", "strife"} {
			results, err := compareRun(opts, round, pipeline)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", round, pipeline, err)
			}
			for i, r := range results {
				if pipeline == "bare" {
					ratios[i].Bare = append(ratios[i].Bare, r)
				} else {
					ratios[i].Strife = append(ratios[i].Strife, r)
				}
			}
		}
	}
	if !opts.JSON {
		fmt.Fprintln(opts.Out, "ratio, Strife over the bare pipeline:")
	}
	for _, r := range ratios {
		printLine(opts, r)
	}
	return ratios, nil
}

// compareRun is one run of a comparison. Its levels are printed once the
// run is over, labelled with the round and the pipeline.
func compareRun(opts Options, round int, pipeline string) ([]Result, error) {
	run := Run
	if pipeline == "bare" {
		run = RunBare
	}
	quiet := opts // its levels are printed below, labelled
	quiet.Out = io.Discard
	if opts.ProfileDir != "" {
		quiet.ProfileDir = filepath.Join(opts.ProfileDir, fmt.Sprintf("%d-%s", round, pipeline))
	}
	results, err := run(quiet)
	if err != nil {
		return nil, err
	}
	if !opts.JSON {
		fmt.Fprintf(opts.Out, "round %d, %s:\n", round, pipeline)
	}
	for _, r := range results {
		printLine(opts, labelled{round: round, pipeline: pipeline, r: r})
	}
	return results, nil
}

// labelled is a level of one run of a comparison.
type labelled struct {
	round    int
	pipeline string
	r        Result
}

func (l labelled) String() string { return l.r.String() }

// MarshalJSON is the level's JSON object with "round" and "pipeline" added.
func (l labelled) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Round    int    `json:"round"`
		Pipeline string `json:"pipeline"`
		resultJSON
	}{l.round, l.pipeline, l.r.json()})
}
