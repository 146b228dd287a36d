package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// DeadLetter is a message of the dead-letter topic as an operator sees it.
type DeadLetter struct {
	ID        string    `json:"id"` // "partition-offset"
	Partition int       `json:"partition"`
	Offset    int64     `json:"offset"`
	Key       string    `json:"key"`
	Job       *job.Job  `json:"job,omitempty"` // nil for a message that is not a job
	Reason    string    `json:"reason"`
	Source    string    `json:"sourceTopic,omitempty"`
	FailedAt  time.Time `json:"failedAt"`
}

// ErrNoDeadLetter reports a dead-letter id that names no message (never
// written, purged, or past the topic's retention).
var ErrNoDeadLetter = errors.New("queue: no such dead letter")

// DeadLetterID parses a DeadLetter's ID.
func DeadLetterID(id string) (partition int, offset int64, err error) {
	p, o, ok := strings.Cut(id, "-")
	partition, perr := strconv.Atoi(p)
	offset, oerr := strconv.ParseInt(o, 10, 64)
	if !ok || perr != nil || oerr != nil || partition < 0 || offset < 0 {
		return 0, 0, fmt.Errorf("%w: %q is not partition-offset", ErrNoDeadLetter, id)
	}
	return partition, offset, nil
}

// ListDeadLetters returns up to limit of the newest dead letters, newest first.
func (k *Kafka) ListDeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	bounds, err := k.bounds(ctx, k.cfg.DLQTopic)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for p, b := range bounds {
		got, err := k.readDeadLetters(ctx, p, max(b[0], b[1]-int64(limit)), b[1])
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	slices.SortFunc(out, func(a, b DeadLetter) int { return b.FailedAt.Compare(a.FailedAt) })
	return out[:min(len(out), limit)], nil
}

// ReadDeadLetter returns the dead letter id names.
func (k *Kafka) ReadDeadLetter(ctx context.Context, id string) (DeadLetter, error) {
	p, offset, err := DeadLetterID(id)
	if err != nil {
		return DeadLetter{}, err
	}
	bounds, err := k.bounds(ctx, k.cfg.DLQTopic)
	if err != nil {
		return DeadLetter{}, err
	}
	if b, ok := bounds[p]; !ok || offset < b[0] || offset >= b[1] {
		return DeadLetter{}, fmt.Errorf("%w: %s", ErrNoDeadLetter, id)
	}
	got, err := k.readDeadLetters(ctx, p, offset, offset+1)
	if err != nil {
		return DeadLetter{}, err
	}
	if len(got) == 0 {
		return DeadLetter{}, fmt.Errorf("%w: %s", ErrNoDeadLetter, id)
	}
	return got[0], nil
}

// PurgeDeadLetters deletes every dead letter written so far (Kafka's
// DeleteRecords, up to each partition's end) and returns how many there
// were.
func (k *Kafka) PurgeDeadLetters(ctx context.Context) (int64, error) {
	bounds, err := k.bounds(ctx, k.cfg.DLQTopic)
	if err != nil {
		return 0, err
	}
	var n int64
	for p, b := range bounds {
		if b[1] == b[0] {
			continue
		}
		if err := k.deleteRecords(ctx, k.cfg.DLQTopic, p, b[1]); err != nil {
			return n, err
		}
		n += b[1] - b[0]
	}
	return n, nil
}

// bounds returns each partition's first offset and log-end offset.
func (k *Kafka) bounds(ctx context.Context, topic string) (map[int][2]int64, error) {
	parts, err := k.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	var requests []kafka.OffsetRequest
	for _, p := range parts {
		requests = append(requests, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := k.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: requests}})
	if err != nil {
		return nil, fmt.Errorf("queue: offsets of %s: %w", topic, err)
	}
	out := map[int][2]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("queue: offsets of %s partition %d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = [2]int64{p.FirstOffset, p.LastOffset}
	}
	return out, nil
}

// readDeadLetters reads the dead letters of partition p in [from, to).
func (k *Kafka) readDeadLetters(ctx context.Context, p int, from, to int64) ([]DeadLetter, error) {
	var out []DeadLetter
	for from < to {
		resp, err := k.client.Fetch(ctx, &kafka.FetchRequest{Topic: k.cfg.DLQTopic, Partition: p, Offset: from, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			return nil, fmt.Errorf("queue: read dead letters of partition %d: %w", p, err)
		}
		next := from
		for {
			r, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("queue: read dead letters of partition %d: %w", p, err)
			}
			if r.Offset >= from && r.Offset < to {
				out = append(out, deadLetter(p, r))
			}
			next = max(next, r.Offset+1)
		}
		if next == from {
			break // nothing more to read (the rest was deleted meanwhile)
		}
		from = next
	}
	return out, nil
}

func deadLetter(p int, r *kafka.Record) DeadLetter {
	d := DeadLetter{ID: fmt.Sprintf("%d-%d", p, r.Offset), Partition: p, Offset: r.Offset, FailedAt: r.Time.UTC()}
	if r.Key != nil {
		key, _ := io.ReadAll(r.Key)
		d.Key = string(key)
	}
	for _, h := range r.Headers {
		switch h.Key {
		case "x-error":
			d.Reason = string(h.Value)
		case "x-source-topic":
			d.Source = string(h.Value)
		case "x-failed-at":
			if at, err := time.Parse(time.RFC3339Nano, string(h.Value)); err == nil {
				d.FailedAt = at
			}
		}
	}
	if r.Value != nil {
		value, _ := io.ReadAll(r.Value)
		if j, err := job.DecodeJob(value); err == nil && j.RequestID != "" {
			d.Job = &j
		}
	}
	return d
}

// Member is one consumer-group member and the partitions it holds.
type Member struct {
	ID         string `json:"memberId"`
	Owner      string `json:"owner"` // the worker's name, as its leases give it (the Kafka client id)
	Host       string `json:"host"`
	Partitions []int  `json:"partitions"`
}

// Members describes each lane's consumer group: who is in it and which
// partitions each holds.
func (k *Kafka) Members(ctx context.Context) (map[job.Lane][]Member, error) {
	groups := map[string]job.Lane{}
	var ids []string
	for _, lane := range k.queues() {
		groups[k.Group(lane)] = lane
		ids = append(ids, k.Group(lane))
	}
	resp, err := k.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: ids})
	if err != nil {
		return nil, fmt.Errorf("queue: describe groups: %w", err)
	}
	out := map[job.Lane][]Member{}
	for _, g := range resp.Groups {
		if g.Error != nil && !errors.Is(g.Error, kafka.GroupIdNotFound) {
			return nil, fmt.Errorf("queue: describe group %s: %w", g.GroupID, g.Error)
		}
		lane := groups[g.GroupID]
		for _, m := range g.Members {
			member := Member{ID: m.MemberID, Owner: m.ClientID, Host: m.ClientHost, Partitions: []int{}}
			for _, t := range m.MemberAssignments.Topics {
				member.Partitions = append(member.Partitions, t.Partitions...)
			}
			slices.Sort(member.Partitions)
			out[lane] = append(out[lane], member)
		}
		slices.SortFunc(out[lane], func(a, b Member) int { return strings.Compare(a.Owner+a.ID, b.Owner+b.ID) })
	}
	return out, nil
}
