package store

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sumprimes/sumprimes/pkg/job"
)

// Changes delivers every change of a job's record or progress, until ctx
// ends: a final record written by Put whole, other changes by id. One
// subscription serves a whole process: callers fan them out to their
// waiters. Changes may be missed while Redis is unreachable (pub/sub does
// not queue), so waiters must also read the record itself.
func (r *Redis) Changes(ctx context.Context) <-chan Change {
	return subscribeTo(ctx, r, r.eventsChannel(), func(payload string) (Change, bool) {
		if !strings.HasPrefix(payload, "{") {
			return Change{ID: payload}, true
		}
		rec, err := job.DecodeRecord([]byte(payload))
		if err != nil {
			return Change{}, false // not ours
		}
		return Change{ID: rec.RequestID, Record: &rec}, true
	})
}

// Cancellations delivers the id of every job a client cancels, until ctx
// ends.
func (r *Redis) Cancellations(ctx context.Context) <-chan string {
	return subscribeTo(ctx, r, r.cancelledChannel(), func(payload string) (string, bool) { return payload, true })
}

// subscribeTo returns once Redis has confirmed the subscription (or could
// not be reached: the subscription then keeps trying in the background), so
// that a caller that subscribes and then acts misses nothing in between.
// Each message, as read converts it (those it refuses are dropped), comes
// straight from the client's reader, a goroutine fewer for every change to
// pass through; the channel closes once ctx ends.
func subscribeTo[T any](ctx context.Context, r *Redis, channel string, read func(payload string) (T, bool)) <-chan T {
	sub := r.client.Subscribe(ctx, channel)
	_, _ = sub.Receive(ctx)
	in := sub.Channel(redis.WithChannelSize(256))
	go func() {
		<-ctx.Done()
		sub.Close() // the client then closes in
	}()
	out := make(chan T, 64)
	go func() {
		defer close(out)
		for m := range in {
			v, ok := read(m.Payload)
			if !ok {
				continue
			}
			select {
			case out <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
