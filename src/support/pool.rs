//! A bounded pool of worker threads over a queue of tasks that may add tasks: at most N run at
//! once, and the first error stops every task not yet started.
//!
//! The getter's index uses it as a pipeline (a page of charts adds the next page and one task
//! per chart); multi-chart push uses it to bound uploads.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use anyhow::{anyhow, Result};

/// Tasks waiting to run. Workers take them from the front.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
}

struct State<T> {
    tasks: VecDeque<T>,
    running: usize,
    /// The first error.
    failed: Option<anyhow::Error>,
}

impl<T> Queue<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a task to run before those already waiting.
    pub fn push_front(&self, task: T) {
        self.lock().tasks.push_front(task);
        self.changed.notify_one();
    }

    /// Adds a task to run after those already waiting.
    pub fn push_back(&self, task: T) {
        self.lock().tasks.push_back(task);
        self.changed.notify_one();
    }
}

/// Runs `work` on every task, those given and those the tasks add, with at most `workers`
/// running at once. Returns when all are done, or with the first error once the tasks already
/// running have finished (no new task starts after an error).
pub fn run<T, F>(workers: usize, initial: impl IntoIterator<Item = T>, work: F) -> Result<()>
where
    T: Send,
    F: Fn(T, &Queue<T>) -> Result<()> + Sync,
{
    let queue = Queue {
        state: Mutex::new(State {
            tasks: initial.into_iter().collect(),
            running: 0,
            failed: None,
        }),
        changed: Condvar::new(),
    };
    let workers = workers.max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| worker(&queue, &work));
        }
    });
    let state = queue
        .state
        .into_inner()
        .map_err(|_| anyhow!("a worker panicked"))?;
    match state.failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs `f` on every item with at most `workers` at once and returns the results in the
/// items' order. The first error stops new items and is returned.
pub fn map<T, R, F>(items: &[T], workers: usize, f: F) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R> + Sync,
{
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    run(workers.min(items.len()), 0..items.len(), |i, _| {
        let r = f(&items[i])?;
        results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
        Ok(())
    })?;
    results
        .into_inner()
        .map_err(|_| anyhow!("a worker panicked"))?
        .into_iter()
        .map(|r| r.ok_or_else(|| anyhow!("a worker stopped early")))
        .collect()
}

fn worker<T, F>(queue: &Queue<T>, work: &F)
where
    F: Fn(T, &Queue<T>) -> Result<()>,
{
    loop {
        let task = {
            let mut st = queue.lock();
            loop {
                if st.failed.is_some() {
                    return;
                }
                if let Some(t) = st.tasks.pop_front() {
                    st.running += 1;
                    break t;
                }
                if st.running == 0 {
                    // Nothing waiting, nothing that could add more: done.
                    queue.changed.notify_all();
                    return;
                }
                st = queue.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        };
        let result = work(task, queue);
        let mut st = queue.lock();
        st.running -= 1;
        if let Err(e) = result {
            if st.failed.is_none() {
                st.failed = Some(e);
            }
        }
        drop(st);
        queue.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use anyhow::bail;

    use super::*;

    #[test]
    fn runs_every_task_and_those_they_add_within_the_bound() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let done = Mutex::new(Vec::new());
        // Task n < 10 adds n + 10: 20 tasks in all.
        run(4, 0..10usize, |n, q| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(3));
            if n < 10 {
                q.push_back(n + 10);
            }
            done.lock().unwrap().push(n);
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        let mut done = done.into_inner().unwrap();
        done.sort();
        assert_eq!(done, (0..20).collect::<Vec<_>>());
        let peak = peak.load(Ordering::SeqCst);
        assert!((2..=4).contains(&peak), "peak {peak}");
    }

    #[test]
    fn one_worker_runs_in_queue_order_with_front_first() {
        let order = Mutex::new(Vec::new());
        run(1, [1, 2, 3], |n, q| {
            order.lock().unwrap().push(n);
            if n == 1 {
                q.push_front(10);
                q.push_back(20);
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(order.into_inner().unwrap(), vec![1, 10, 2, 3, 20]);
    }

    #[test]
    fn the_first_error_stops_new_tasks() {
        let calls = AtomicUsize::new(0);
        let err = run(1, 0..100, |n, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            if n == 3 {
                bail!("task {n} failed");
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "task 3 failed");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Several workers: the others finish what they run, start nothing new.
        let calls = AtomicUsize::new(0);
        let err = run(3, 0..100, |n, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                bail!("first task failed");
            }
            std::thread::sleep(Duration::from_millis(5));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "first task failed");
        // Tasks 1 and 2 may have started before task 0 failed; nothing after.
        assert!(calls.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn map_keeps_the_order_within_the_bound() {
        let items: Vec<usize> = (0..50).collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let out = map(&items, 4, |&i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(i * 2)
        })
        .unwrap();
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 4);
        assert!(map(&Vec::<u8>::new(), 8, |_| Ok(1)).unwrap().is_empty());
        let err = map(
            &items,
            3,
            |&i| if i == 7 { bail!("item {i}") } else { Ok(i) },
        );
        assert_eq!(err.unwrap_err().to_string(), "item 7");
    }

    #[test]
    fn no_tasks_no_work() {
        run(8, Vec::<u8>::new(), |_, _| bail!("never called")).unwrap();
    }
}
