package worker

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/sumprimes/sumprimes/pkg/primes"
)

func TestLightFirst(t *testing.T) {
	t.Run("OffLeavesHeavyJobsAlone", func(t *testing.T) {
		g := newLightFirst(false)
		if opt := g.heavy(primes.Options{Threads: 2}); opt.Background || opt.Yield != nil || opt.Threads != 2 {
			t.Fatalf("heavy options = %+v; want them unchanged", opt)
		}
	})

	t.Run("HeavyThreadsPauseWhileALightJobIsIn", func(t *testing.T) {
		g := newLightFirst(true)
		g.maxPause = time.Hour
		opt := g.heavy(primes.Options{})
		if !opt.Background || opt.Yield == nil {
			t.Fatalf("heavy options = %+v; want Background and a Yield", opt)
		}
		opt.Yield() // nothing light in flight: returns at once

		g.begin()
		g.begin()
		var ended atomic.Bool
		returned := make(chan bool)
		go func() {
			opt.Yield()
			returned <- ended.Load()
		}()
		g.end()
		ended.Store(true)
		g.end()
		if !<-returned {
			t.Fatal("Yield returned while light jobs were still in flight")
		}
	})

	t.Run("APauseIsBounded", func(t *testing.T) {
		g := newLightFirst(true)
		g.maxPause = time.Millisecond
		g.begin() // and never done
		opt := g.heavy(primes.Options{})
		opt.Yield()
		opt.Yield() // right after a pause: runs on
	})
}
