//! Panics never cross the FFI boundary: synchronous work runs under [`catch`], asynchronous work
//! runs as a task of the node's runtime ([`spawn`]) whose panic comes back as a join error; both
//! become [`PdsError::Internal`].

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use tokio::runtime::Handle;

use crate::error::PdsError;

/// Runs `f`, turning a panic into [`PdsError::Internal`].
pub(crate) fn catch<T>(what: &str, f: impl FnOnce() -> Result<T, PdsError>) -> Result<T, PdsError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => Err(PdsError::internal(format!(
            "{what} panicked: {}",
            panic_message(panic.as_ref())
        ))),
    }
}

/// Runs `future` as a task on the runtime of `handle` and waits for it from whatever executor polls
/// the returned future (the app's coroutine or Swift task); a panic in the task, or a runtime shut
/// down under it, becomes [`PdsError::Internal`].
pub(crate) async fn spawn<T, F>(
    handle: &Handle,
    what: &'static str,
    future: F,
) -> Result<T, PdsError>
where
    F: Future<Output = Result<T, PdsError>> + Send + 'static,
    T: Send + 'static,
{
    match handle.spawn(future).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => Err(PdsError::internal(format!(
            "{what} panicked: {}",
            panic_message(join.into_panic().as_ref())
        ))),
        Err(_) => Err(PdsError::internal(format!(
            "{what} was cancelled: the node's runtime is shutting down"
        ))),
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let e = catch::<()>("work", || panic!("boom")).unwrap_err();
        assert_eq!(
            e,
            PdsError::Internal {
                reason: "work panicked: boom".into()
            }
        );
        assert_eq!(catch("work", || Ok(3)).unwrap(), 3);
    }

    #[test]
    fn a_panicking_task_becomes_an_internal_error() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let handle = runtime.handle().clone();
        let result = runtime.block_on(spawn::<(), _>(&handle, "task", async {
            panic!("{}", String::from("dynamic"))
        }));
        assert_eq!(
            result.unwrap_err(),
            PdsError::Internal {
                reason: "task panicked: dynamic".into()
            }
        );
    }
}
