// Compiles every key of `#[evl::main]`; not run (SCHED_FIFO and memory locking need
// privileges), so the attributed function is not called `main`.
/// Docs stay on the generated function.
#[evl::main(
    priority = 80,
    cpu = 0,
    capacity = 64,
    slot_size = 2048,
    backend = "auto",
    name = "control.1",
    signals = true,
    lock_memory = true
)]
#[allow(unused_variables)]
async fn control() {
    let unused = 1;
}

#[evl::main(backend = "evl")]
async fn on_evl() -> u8 {
    7
}

fn main() {
    let _: fn() = control;
    let _: fn() -> u8 = on_evl;
}
