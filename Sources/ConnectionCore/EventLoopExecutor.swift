/// A loop runs Swift tasks too: a task that prefers it as its executor
/// (`Task(executorPreference:)`, `withTaskExecutorPreference(_:operation:)`) runs its
/// nonisolated code on the loop's thread, between the loop's reads, in the order its jobs
/// were enqueued.
///
/// What it is for: a consumer resumed by the loop thread (a reading handed over on the loop)
/// is then run by that same thread right after the read, without waking a thread of the
/// cooperative pool. What it costs: while such a task runs, the loop serves no other
/// connection; work that blocks or takes long stalls them all.
extension EventLoop: TaskExecutor {
    /// Runs `job` on the loop's thread after what the loop is doing now.
    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        execute { [self] in job.runSynchronously(on: asUnownedTaskExecutor()) }
    }
}
