package supervisor

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// signalIntake receives the signals certinit forwards, so that a storm of
// them can never lose the last one of a kind.
//
// os/signal never blocks: when the channel a signal would go to is full,
// the signal is dropped. With one channel for every kind, a burst of SIGHUP
// fills it, and a SIGUSR1 sent right after the burst is lost for good; if
// that was a request to the server, nothing ever delivers it. So each kind
// has a channel of its own with room for one, emptied by a goroutine of its
// own that hands the signal on. When the channel is full, a signal of that
// kind is already waiting and will be forwarded after the one dropped.
// Hence, for every kind, the last signal sent to certinit is followed by
// at least one forwarded to the child. Several signals of one kind may
// arrive as one, which is what the kernel does with standard signals too;
// the order between kinds is not kept.
type signalIntake struct {
	C    <-chan syscall.Signal
	subs []chan os.Signal
	stop chan struct{}
	wg   sync.WaitGroup
}

// newSignalIntake subscribes to sigs; close ends the subscription.
func newSignalIntake(sigs []syscall.Signal) *signalIntake {
	out := make(chan syscall.Signal) // unbuffered: a pending signal waits in its own channel
	in := &signalIntake{C: out, stop: make(chan struct{})}
	for _, sig := range sigs {
		sub := make(chan os.Signal, 1)
		signal.Notify(sub, sig)
		in.subs = append(in.subs, sub)
		in.wg.Add(1)
		go in.relay(sub, out)
	}
	return in
}

func (in *signalIntake) relay(sub <-chan os.Signal, out chan<- syscall.Signal) {
	defer in.wg.Done()
	for {
		select {
		case <-in.stop:
			return
		case sig := <-sub:
			select {
			case out <- sig.(syscall.Signal):
			case <-in.stop:
				return
			}
		}
	}
}

// close stops the subscriptions and the relaying goroutines. Signals that
// arrive afterwards get Go's default behaviour again.
func (in *signalIntake) close() {
	for _, sub := range in.subs {
		signal.Stop(sub)
	}
	close(in.stop)
	in.wg.Wait()
}
