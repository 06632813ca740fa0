//! How many requests one [`super::Transport`] has in flight when the registry throttles: an
//! AIMD gate. It starts at the configured maximum (`HELM_CCR_PARALLEL`); a throttled answer
//! halves it (down to 1), and successes grow it back by one per round of requests (one more
//! after as many successes as the limit allows in flight), up to the maximum again.
//!
//! Every request holds a [`Permit`] from [`Gate::enter`] while it is on the wire. While the
//! registry does not throttle the limit stays at the maximum, which the worker pool never
//! exceeds, so no request waits: the cost is one uncontended lock on entry and one on exit (a
//! waiter is woken only when there is one, so no extra system call either).
//!
//! Several requests in flight are often throttled together (they met the same overload):
//! halving once per answer would take the limit to 1 at once. So a throttled answer halves the
//! limit only if no cut came since its request entered (as TCP cuts once per window).

use std::sync::{Condvar, Mutex, MutexGuard};

/// The adaptive limit on requests in flight, shared by all requests of one transport.
#[derive(Debug)]
pub struct Gate {
    max: usize,
    state: Mutex<State>,
    room: Condvar,
}

#[derive(Debug)]
struct State {
    /// Requests allowed in flight now, 1..=max.
    limit: usize,
    in_flight: usize,
    /// Threads waiting in [`Gate::enter`].
    waiting: usize,
    /// Successes since the limit last changed, towards the next increase.
    credit: usize,
    /// Cuts so far: a permit taken before the latest cut does not cut again.
    cuts: u64,
}

/// A place among the requests in flight; given back on drop.
#[derive(Debug)]
pub struct Permit<'g> {
    gate: &'g Gate,
    /// [`State::cuts`] when the request entered.
    cuts: u64,
    succeeded: bool,
}

impl Gate {
    /// A gate letting `max` requests (at least 1) in flight until the registry throttles.
    pub fn new(max: usize) -> Gate {
        let max = max.max(1);
        Gate {
            max,
            state: Mutex::new(State {
                limit: max,
                in_flight: 0,
                waiting: 0,
                credit: 0,
                cuts: 0,
            }),
            room: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a place under the current limit and takes it.
    pub fn enter(&self) -> Permit<'_> {
        let mut s = self.lock();
        if s.in_flight >= s.limit {
            s.waiting += 1;
            while s.in_flight >= s.limit {
                s = self.room.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            s.waiting -= 1;
        }
        s.in_flight += 1;
        Permit {
            gate: self,
            cuts: s.cuts,
            succeeded: false,
        }
    }

    /// Requests allowed in flight now.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// The configured maximum.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Wakes one waiter when a place is free (called with the lock held).
    fn wake(&self, s: &State) {
        if s.waiting > 0 && s.in_flight < s.limit {
            self.room.notify_one();
        }
    }
}

impl Permit<'_> {
    /// The registry answered this request (not throttled): counts towards growing the limit
    /// when the permit is given back.
    pub fn succeeded(&mut self) {
        self.succeeded = true;
    }

    /// The registry throttled this request: halves the limit (unless it was cut since this
    /// request entered) and gives the place back. Returns the requests that were in flight,
    /// this one included.
    pub fn throttled(self) -> usize {
        let gate = self.gate;
        let mut s = gate.lock();
        let in_flight = s.in_flight;
        if self.cuts == s.cuts {
            s.limit = (s.limit / 2).max(1);
            s.credit = 0;
            s.cuts += 1;
        }
        s.in_flight -= 1;
        gate.wake(&s);
        drop(s);
        std::mem::forget(self);
        in_flight
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let gate = self.gate;
        let mut s = gate.lock();
        if self.succeeded && s.limit < gate.max {
            s.credit += 1;
            if s.credit >= s.limit {
                s.limit += 1;
                s.credit = 0;
            }
        }
        s.in_flight -= 1;
        gate.wake(&s);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    use super::*;

    fn ok(gate: &Gate) {
        let mut p = gate.enter();
        p.succeeded();
    }

    #[test]
    fn unthrottled_the_limit_stays_at_the_maximum() {
        let gate = Gate::new(4);
        let held: Vec<_> = (0..4).map(|_| gate.enter()).collect();
        assert_eq!((gate.in_flight(), gate.limit()), (4, 4));
        drop(held);
        for _ in 0..100 {
            ok(&gate);
        }
        assert_eq!((gate.in_flight(), gate.limit(), gate.max()), (0, 4, 4));
        assert_eq!(Gate::new(0).limit(), 1, "at least one");
    }

    #[test]
    fn a_throttled_answer_halves_the_limit_down_to_one() {
        let gate = Gate::new(32);
        for want in [16, 8, 4, 2, 1, 1] {
            let p = gate.enter();
            assert_eq!(p.throttled(), 1);
            assert_eq!(gate.limit(), want);
        }
        assert_eq!(gate.in_flight(), 0);
    }

    #[test]
    fn requests_throttled_together_cut_once() {
        let gate = Gate::new(32);
        let together: Vec<_> = (0..32).map(|_| gate.enter()).collect();
        let mut seen = Vec::new();
        for p in together {
            seen.push(p.throttled());
        }
        assert_eq!(seen.first(), Some(&32));
        assert_eq!(gate.limit(), 16, "one cut for one round");
        // A request that entered after the cut cuts again.
        gate.enter().throttled();
        assert_eq!(gate.limit(), 8);
    }

    #[test]
    fn successes_grow_the_limit_back_one_per_round_up_to_the_maximum() {
        let gate = Gate::new(8);
        for _ in 0..3 {
            gate.enter().throttled();
        }
        assert_eq!(gate.limit(), 1);
        // 1 success to reach 2, 2 more to reach 3, ... 7 more to reach 8.
        let mut successes = 0;
        let mut limits = vec![gate.limit()];
        while gate.limit() < 8 {
            ok(&gate);
            successes += 1;
            if gate.limit() != *limits.last().unwrap() {
                limits.push(gate.limit());
            }
        }
        assert_eq!(limits, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(successes, 1 + 2 + 3 + 4 + 5 + 6 + 7);
        for _ in 0..100 {
            ok(&gate);
        }
        assert_eq!(gate.limit(), 8, "never above the maximum");
        // Neither a failure (a permit dropped without success) nor a throttle grows it.
        gate.enter().throttled();
        for _ in 0..10 {
            drop(gate.enter());
        }
        assert_eq!(gate.limit(), 4);
    }

    #[test]
    fn a_cut_resets_the_credit_towards_growth() {
        let gate = Gate::new(8);
        gate.enter().throttled();
        assert_eq!(gate.limit(), 4);
        for _ in 0..3 {
            ok(&gate);
        }
        gate.enter().throttled();
        assert_eq!(gate.limit(), 2);
        ok(&gate);
        assert_eq!(gate.limit(), 2, "the credit before the cut is gone");
        ok(&gate);
        assert_eq!(gate.limit(), 3);
    }

    #[test]
    fn above_the_limit_a_request_waits_for_a_place() {
        let gate = Gate::new(4);
        let first = gate.enter();
        gate.enter().throttled();
        gate.enter().throttled();
        assert_eq!((gate.limit(), gate.in_flight()), (1, 1));
        let entered = AtomicUsize::new(0);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let p = gate.enter();
                entered.store(1, Ordering::SeqCst);
                tx.send(()).unwrap();
                drop(p);
            });
            // The waiter cannot enter while the place is taken: wait until it is waiting.
            while gate.lock().waiting == 0 {
                std::thread::yield_now();
            }
            assert_eq!(entered.load(Ordering::SeqCst), 0);
            assert_eq!(gate.in_flight(), 1);
            drop(first);
            rx.recv().unwrap();
            waiter.join().unwrap();
        });
        assert_eq!(entered.load(Ordering::SeqCst), 1);
        assert_eq!((gate.in_flight(), gate.lock().waiting), (0, 0));
    }

    #[test]
    fn growth_lets_a_waiter_in() {
        let gate = Gate::new(2);
        gate.enter().throttled();
        assert_eq!(gate.limit(), 1);
        let mut holder = gate.enter();
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _p = gate.enter();
                tx.send(gate.limit()).unwrap();
            });
            while gate.lock().waiting == 0 {
                std::thread::yield_now();
            }
            // The holder's success grows the limit to 2 as it leaves: the waiter enters.
            holder.succeeded();
            drop(holder);
            assert_eq!(rx.recv().unwrap(), 2);
        });
    }

    #[test]
    fn many_threads_never_exceed_the_limit() {
        let gate = Gate::new(6);
        let peak = AtomicUsize::new(0);
        let now = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..12 {
                let (gate, peak, now) = (&gate, &peak, &now);
                s.spawn(move || {
                    for i in 0..200 {
                        let mut p = gate.enter();
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        assert!(n <= 6);
                        now.fetch_sub(1, Ordering::SeqCst);
                        if (t + i) % 17 == 0 {
                            p.throttled();
                        } else {
                            p.succeeded();
                        }
                    }
                });
            }
        });
        assert_eq!(gate.in_flight(), 0);
        assert!(peak.load(Ordering::SeqCst) <= 6);
    }
}
