// Package job holds the model shared by every role: the message a worker
// consumes (Job) and the record a client polls (Record).
package job

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

// Status is where a request stands.
type Status string

// The statuses a record moves through: IN_PROGRESS, then FINISHED, FAILED
// or CANCELLED; the first final status stands for good.
const (
	InProgress Status = "IN_PROGRESS"
	Finished   Status = "FINISHED"
	Failed     Status = "FAILED"
	Cancelled  Status = "CANCELLED"
	// Rejected marks a job whose publish the API could not confirm and
	// whose client was told it was not accepted: it must never run. The
	// store keeps it as a tombstone and shows it to no one.
	Rejected Status = "REJECTED"
)

// Final reports whether no further change is expected.
func (s Status) Final() bool { return s != InProgress && s != "" }

// Job is the message on the queue: what to compute, for which request, and
// how. The record a client polls embeds it, so the two never disagree.
type Job struct {
	RequestID   string    `json:"requestId"`
	A           uint64    `json:"a"`
	B           uint64    `json:"b"`
	CreatedAt   time.Time `json:"createdAt"`
	CallbackURL string    `json:"callbackUrl,omitempty"`
	// Owner names the client that submitted the job, when the API has keys:
	// no other client can see or cancel it.
	Owner string `json:"owner,omitempty"`
	// Plan is the planner's choice, made once when the job is accepted and
	// carried from there to the worker and the record.
	Plan Plan `json:"plan,omitzero"`
	// Generation is the result store's generation when the job was
	// accepted: a worker that finds no record computes the job only if the
	// store has been wiped since (a new generation), never for a job the
	// API did not accept.
	Generation string `json:"generation,omitempty"`
	// TraceParent is the W3C trace context of the request that submitted
	// the job, when it is traced: it travels in the Kafka message's
	// headers, never in its value or the record.
	TraceParent string `json:"-"`
	// Lane is the queue the job travels in: Heavy for jobs the planner
	// expects to take long, empty (light) for the rest, so that a light
	// job never waits behind a heavy one.
	Lane Lane `json:"lane,omitempty"`
	// Batch is the request id of the first job of the submits the API
	// accepted together with this one, when there were others: the whole
	// batch goes to one partition of its lane's topic, one record batch
	// for the broker to append instead of one per partition (the sticky
	// partitioning Kafka's own producer does for records without a key).
	Batch string `json:"batch,omitempty"`
	// Task, on the task topic only, makes the message one task of a
	// scattered job: which piece of the job's sum to compute. The rest of
	// the message is the job's own.
	Task *Task `json:"task,omitempty"`
}

// Task is one piece of a scattered job: task Index of Count.
type Task struct {
	Index int          `json:"index"`
	Count int          `json:"count"`
	Piece primes.Piece `json:"piece"`
}

// Key names the message's work: the request id, and for a task its index
// too ("id/3").
func (j Job) Key() string {
	if j.Task != nil {
		return fmt.Sprintf("%s/%d", j.RequestID, j.Task.Index)
	}
	return j.RequestID
}

// PartitionKey is what the job's partition is hashed from: its batch's
// id, or its own for a job accepted alone.
func (j Job) PartitionKey() string {
	if j.Batch != "" {
		return j.Batch
	}
	return j.RequestID
}

// Lane names a cost lane: its own topic, consumer group and workers.
type Lane string

// The two lanes. Light is the zero value: jobs published before lanes
// existed travel in it. Tasks is not a job's lane but the queue of the
// tasks scattered jobs are cut into: a worker consumes it as it does a
// lane, and a task message keeps its job's Lane.
const (
	Light Lane = ""
	Heavy Lane = "heavy"
	Tasks Lane = "tasks"
)

// Lanes lists every lane a job can travel in.
var Lanes = []Lane{Light, Heavy}

// Queues lists what a worker can consume: the lanes and the tasks.
var Queues = []Lane{Light, Heavy, Tasks}

func (l Lane) String() string {
	if l == Light {
		return "light"
	}
	return string(l)
}

// ParseLane reads a lane's name as String writes it.
func ParseLane(s string) (Lane, error) {
	switch s {
	case "light":
		return Light, nil
	case "heavy":
		return Heavy, nil
	case "tasks":
		return Tasks, nil
	}
	return Light, fmt.Errorf("unknown lane %q: want light, heavy or tasks", s)
}

// LaneFor is the lane of a job the planner expects to take estimate:
// heavy from heavyFrom on (0 puts every job in the light lane).
func LaneFor(estimate, heavyFrom time.Duration) Lane {
	if heavyFrom > 0 && estimate >= heavyFrom {
		return Heavy
	}
	return Light
}

// Plan is the engine chosen for a job and how long it should take on one
// core.
type Plan struct {
	Engine   primes.Engine `json:"engine"`
	Estimate time.Duration `json:"estimateNs"`
}

// New returns the job for [a, b] under plan, with a fresh request id.
func New(a, b uint64, plan primes.Plan, callbackURL string, at time.Time, generation string) Job {
	return Job{RequestID: uuid.NewString(), A: a, B: b, CreatedAt: at, CallbackURL: callbackURL,
		Plan: Plan{Engine: plan.Engine, Estimate: plan.Estimate}, Generation: generation}
}

// Same reports whether o asks for the same computation as j: a message
// that names j's request but not its range is not j.
func (j Job) Same(o Job) bool { return j.RequestID == o.RequestID && j.A == o.A && j.B == o.B }

// Planned returns the plan the job carries, or plans it now for a job
// published without one.
func (j Job) Planned() primes.Plan {
	if j.Plan.Engine == "" {
		return primes.PlanRange(j.A, j.B)
	}
	return primes.Plan{Engine: j.Plan.Engine, A: j.A, B: j.B, Estimate: j.Plan.Estimate}
}

// Record is what the result store keeps and what GET /sumPrime/{id} returns:
// the job and where it stands. Payload is the exact decimal sum, a string
// because sums pass 2^64; it is null until the status is FINISHED.
type Record struct {
	Job
	Status  Status  `json:"status"`
	Payload *string `json:"payload"`
	Error   string  `json:"error,omitempty"`
	// Progress is the fraction computed (0..1) while a worker runs the job.
	Progress *float64 `json:"progress,omitempty"`
	// Tasks is how many tasks a scattered job was cut into, and TasksDone
	// how many of them are done: while it is IN_PROGRESS, and in its
	// FINISHED record.
	Tasks      int        `json:"tasks,omitempty"`
	TasksDone  int        `json:"tasksDone,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// Pending returns the IN_PROGRESS record written when j is accepted.
func Pending(j Job) Record { return Record{Job: j, Status: InProgress} }

// Finished returns the record for j once its sum is known (for a task's
// message, its job's).
func (j Job) Finished(sum string, at time.Time) Record {
	j.Task = nil
	return Record{Job: j, Status: Finished, Payload: &sum, FinishedAt: &at}
}

// Failed returns the record for j when it cannot be computed (for a task's
// message, its job's).
func (j Job) Failed(reason string, at time.Time) Record {
	j.Task = nil
	return Record{Job: j, Status: Failed, Error: reason, FinishedAt: &at}
}

// Cancelled returns rec as cancelled by its client.
func (rec Record) Cancelled(at time.Time) Record {
	rec.Status, rec.FinishedAt, rec.Progress = Cancelled, &at, nil
	return rec
}

// Rejected returns rec's tombstone: not accepted after all.
func (rec Record) Rejected(at time.Time) Record {
	rec.Status, rec.FinishedAt, rec.Progress = Rejected, &at, nil
	return rec
}

// Limits bound the ranges a client may ask for.
type Limits struct {
	MaxB uint64 // largest b
	// MaxCost is the most one job may take on one core, as the planner
	// estimates it: the span is limited by what can be done, not by a
	// fixed width.
	MaxCost time.Duration
}

// FieldError is a problem with one field of a request; Detail is a whole
// sentence that names the field.
type FieldError struct {
	Field  string
	Detail string
}

func (e *FieldError) Error() string { return e.Detail }

// Check returns the plan for [a, b], or a *FieldError unless 1 ≤ a ≤ b ≤
// MaxB and the planner expects [a, b] to take at most MaxCost.
func (l Limits) Check(a, b uint64) (primes.Plan, error) {
	switch {
	case a < 1:
		return primes.Plan{}, &FieldError{"a", fmt.Sprintf("a must be at least 1, got %d", a)}
	case b < 1:
		return primes.Plan{}, &FieldError{"b", fmt.Sprintf("b must be at least 1, got %d", b)}
	case a > b:
		return primes.Plan{}, &FieldError{"a", fmt.Sprintf("a must not exceed b (a=%d, b=%d)", a, b)}
	case b > l.MaxB:
		return primes.Plan{}, &FieldError{"b", fmt.Sprintf("b must be at most %d, got %d", l.MaxB, b)}
	}
	plan := primes.PlanRange(a, b)
	if plan.Estimate > l.MaxCost {
		return plan, &FieldError{"b", fmt.Sprintf("[%d, %d] would take about %s to compute, over the limit of %s: narrow the range",
			a, b, plan.Estimate.Round(time.Second), l.MaxCost)}
	}
	return plan, nil
}
