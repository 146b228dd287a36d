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
	in := r.subscribe(ctx, r.eventsChannel())
	out := make(chan Change, 64)
	go func() {
		defer close(out)
		for m := range in {
			c := Change{ID: m.Payload}
			if strings.HasPrefix(m.Payload, "{") {
				rec, err := job.DecodeRecord([]byte(m.Payload))
				if err != nil {
					continue // not ours
				}
				c = Change{ID: rec.RequestID, Record: &rec}
			}
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Cancellations delivers the id of every job a client cancels, until ctx
// ends.
func (r *Redis) Cancellations(ctx context.Context) <-chan string {
	in := r.subscribe(ctx, r.cancelledChannel())
	out := make(chan string, 64)
	go func() {
		defer close(out)
		for m := range in {
			select {
			case out <- m.Payload:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// subscribe returns once Redis has confirmed the subscription (or could
// not be reached: the subscription then keeps trying in the background), so
// that a caller that subscribes and then acts misses nothing in between.
// Its messages come straight from the client's reader (a goroutine fewer
// for every change to pass through); the channel closes once ctx ends.
func (r *Redis) subscribe(ctx context.Context, channel string) <-chan *redis.Message {
	sub := r.client.Subscribe(ctx, channel)
	_, _ = sub.Receive(ctx)
	in := sub.Channel(redis.WithChannelSize(256))
	go func() {
		<-ctx.Done()
		sub.Close() // the client then closes in
	}()
	return in
}
