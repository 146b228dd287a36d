// Package embedded runs a Kafka-protocol broker (kfake) and a Redis-protocol
// store (miniredis) inside the process, for `sumprimes dev`: someone with
// only Go can try the whole service, and since both speak the real wire
// protocols the service runs the same code paths as in production.
// Nothing is persisted; this is not for production.
package embedded

import (
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Stack is a running embedded broker and store.
type Stack struct {
	kafka *kfake.Cluster
	redis *miniredis.Miniredis
	done  chan struct{}
}

// Start starts both on random loopback ports.
func Start() (*Stack, error) {
	k, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("embedded kafka: %w", err)
	}
	r, err := miniredis.Run()
	if err != nil {
		k.Close()
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	s := &Stack{kafka: k, redis: r, done: make(chan struct{})}
	go s.tick()
	return s, nil
}

// tick advances miniredis's clock with the wall clock: miniredis expires keys
// only when told time has passed, and results must expire as in Redis.
func (s *Stack) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.redis.FastForward(now.Sub(last))
			last = now
		}
	}
}

// KafkaBrokers returns the broker's addresses.
func (s *Stack) KafkaBrokers() []string { return s.kafka.ListenAddrs() }

// RedisAddr returns the store's address.
func (s *Stack) RedisAddr() string { return s.redis.Addr() }

// Close stops both.
func (s *Stack) Close() {
	close(s.done)
	s.redis.Close()
	s.kafka.Close()
}
