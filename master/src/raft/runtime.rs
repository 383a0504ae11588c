//! openraft's async runtime for the masters: tokio, except that the
//! randomness of election timeouts can be seeded per thread.
//!
//! openraft draws each node's election timeout from
//! `AsyncRuntime::thread_rng()` (in 0.9, once, in `Raft::new`). With
//! openraft's `TokioRuntime` that is rand's `thread_rng`, seeded from the
//! OS, so a deterministic simulation replaying a seed would still see
//! different timeouts, and different elections, on every run.
//! [`RaftRuntime`] is `TokioRuntime` in everything but that: after
//! [`seed_raft_rng`] on a thread, draws on that thread come from a
//! generator seeded with the given seed. A simulation (which runs every
//! simulated host on its one thread) seeds before starting its masters;
//! production never seeds, and draws from rand's `thread_rng` as before.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use openraft::{AsyncRuntime, OptionalSend, TokioRuntime};
use rand::rngs::{StdRng, ThreadRng};
use rand::{RngCore, SeedableRng};

thread_local! {
    static SEEDED: RefCell<Option<StdRng>> = const { RefCell::new(None) };
}

/// Makes openraft's draws on this thread (election timeouts) come from a
/// generator seeded with `seed`, from now on. Seeding again restarts the
/// sequence.
pub fn seed_raft_rng(seed: u64) {
    SEEDED.with(|seeded| *seeded.borrow_mut() = Some(StdRng::seed_from_u64(seed)));
}

/// Undoes [`seed_raft_rng`] on this thread: draws come from rand's
/// `thread_rng` again.
pub fn unseed_raft_rng() {
    SEEDED.with(|seeded| *seeded.borrow_mut() = None);
}

/// The random number generator openraft gets from [`RaftRuntime`].
#[derive(Debug)]
pub enum RaftRng {
    /// Draws from this thread's seeded generator (or, should the seed be
    /// removed meanwhile, from rand's `thread_rng`).
    Seeded,
    /// rand's `thread_rng`: no seed was installed on this thread.
    Thread(ThreadRng),
}

impl RaftRng {
    fn current() -> Self {
        if SEEDED.with(|seeded| seeded.borrow().is_some()) {
            Self::Seeded
        } else {
            Self::Thread(rand::thread_rng())
        }
    }

    fn draw<T>(&mut self, f: impl FnOnce(&mut dyn RngCore) -> T) -> T {
        match self {
            Self::Thread(rng) => f(rng),
            Self::Seeded => SEEDED.with(|seeded| match seeded.borrow_mut().as_mut() {
                Some(rng) => f(rng),
                None => f(&mut rand::thread_rng()),
            }),
        }
    }
}

impl RngCore for RaftRng {
    fn next_u32(&mut self) -> u32 {
        self.draw(|rng| rng.next_u32())
    }

    fn next_u64(&mut self) -> u64 {
        self.draw(|rng| rng.next_u64())
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.draw(|rng| rng.fill_bytes(dest));
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.draw(|rng| rng.try_fill_bytes(dest))
    }
}

/// openraft's tokio runtime with seedable randomness (see the module docs).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RaftRuntime;

type Tokio = TokioRuntime;

impl AsyncRuntime for RaftRuntime {
    type JoinError = <Tokio as AsyncRuntime>::JoinError;
    type JoinHandle<T: OptionalSend + 'static> = <Tokio as AsyncRuntime>::JoinHandle<T>;
    type Sleep = <Tokio as AsyncRuntime>::Sleep;
    type Instant = <Tokio as AsyncRuntime>::Instant;
    type TimeoutError = <Tokio as AsyncRuntime>::TimeoutError;
    type Timeout<R, T: Future<Output = R> + OptionalSend> = <Tokio as AsyncRuntime>::Timeout<R, T>;
    type ThreadLocalRng = RaftRng;
    type OneshotSender<T: OptionalSend> = <Tokio as AsyncRuntime>::OneshotSender<T>;
    type OneshotReceiverError = <Tokio as AsyncRuntime>::OneshotReceiverError;
    type OneshotReceiver<T: OptionalSend> = <Tokio as AsyncRuntime>::OneshotReceiver<T>;

    fn spawn<T>(future: T) -> Self::JoinHandle<T::Output>
    where
        T: Future + OptionalSend + 'static,
        T::Output: OptionalSend + 'static,
    {
        Tokio::spawn(future)
    }

    fn sleep(duration: Duration) -> Self::Sleep {
        Tokio::sleep(duration)
    }

    fn sleep_until(deadline: Self::Instant) -> Self::Sleep {
        Tokio::sleep_until(deadline)
    }

    fn timeout<R, F: Future<Output = R> + OptionalSend>(
        duration: Duration,
        future: F,
    ) -> Self::Timeout<R, F> {
        Tokio::timeout(duration, future)
    }

    fn timeout_at<R, F: Future<Output = R> + OptionalSend>(
        deadline: Self::Instant,
        future: F,
    ) -> Self::Timeout<R, F> {
        Tokio::timeout_at(deadline, future)
    }

    fn is_panic(join_error: &Self::JoinError) -> bool {
        Tokio::is_panic(join_error)
    }

    fn thread_rng() -> Self::ThreadLocalRng {
        RaftRng::current()
    }

    fn oneshot<T>() -> (Self::OneshotSender<T>, Self::OneshotReceiver<T>)
    where
        T: OptionalSend,
    {
        Tokio::oneshot()
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    fn timeouts() -> Vec<u64> {
        (0..8)
            .map(|_| RaftRuntime::thread_rng().gen_range(150..300))
            .collect()
    }

    #[test]
    fn a_seed_makes_the_draws_repeatable() {
        seed_raft_rng(7);
        let first = timeouts();
        seed_raft_rng(7);
        assert_eq!(timeouts(), first);
        seed_raft_rng(8);
        assert_ne!(timeouts(), first);
        // The seed is per thread.
        let elsewhere =
            std::thread::spawn(|| matches!(RaftRuntime::thread_rng(), RaftRng::Thread(_)));
        assert!(elsewhere.join().expect("thread"));
        unseed_raft_rng();
        assert!(matches!(RaftRuntime::thread_rng(), RaftRng::Thread(_)));
    }
}
