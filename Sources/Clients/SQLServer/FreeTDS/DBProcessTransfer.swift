/// Carries a ``DBProcessHandle`` into thread-pool work items.
///
/// Why `@unchecked Sendable` is safe: the handle is only touched inside work items submitted by its
/// ``SQLServerConnection``, whose state machine admits one operation at a time and awaits each work
/// item before submitting the next, so no two threads use the handle at once.
struct DBProcessTransfer: @unchecked Sendable {
    let handle: DBProcessHandle
}
