// Runs: the smallest `#[evl::main]`, on the host backend, without privileges.
#[evl::main(
    backend = "host",
    lock_memory = false,
    signals = false,
    capacity = 8,
    name = "ui-main"
)]
async fn main() -> Result<(), evl::Error> {
    let task = evl::spawn(async { 6 * 7 }).expect("a free task slot");
    evl::time::sleep(core::time::Duration::from_micros(100)).await?;
    assert_eq!(task.await.expect("the task finished"), 42);
    Ok(())
}
